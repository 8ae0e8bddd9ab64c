"""The base of the metrics' results: a frozen dataclass whose per-sample fields concatenate.

Every metric returns one result for a batch; :meth:`Result.concatenate` joins the results of
consecutive parts of a data set (the dask adapter's chunks, or batches a caller ran with their
``first_index``) into the result of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

__all__ = ["Result", "ChangeCurve", "score_change"]


@dataclass(frozen=True)
class Result:
    """Base class: ``settings`` holds every option used (with the seed of the random streams);
    ``PER_SAMPLE`` names the fields with one entry per sample (arrays, or dicts of arrays)."""

    settings: dict

    PER_SAMPLE: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def concatenate(cls, parts):
        """One result from the results of consecutive parts: per-sample fields joined, the others from the first part."""
        parts = list(parts)
        if not parts:
            raise ValueError("nothing to concatenate")
        values = {}
        for field in fields(cls):
            value = getattr(parts[0], field.name)
            if field.name in cls.PER_SAMPLE:
                if isinstance(value, dict):
                    value = {key: np.concatenate([getattr(part, field.name)[key] for part in parts]) for key in value}
                else:
                    value = np.concatenate([getattr(part, field.name) for part in parts])
            values[field.name] = value
        return cls(**values)


@dataclass(frozen=True)
class ChangeCurve(Result):
    """Score changes of perturbed inputs: ``change[n, j]`` of sample ``n`` at the ``j``-th setting of the x axis.

    ``original`` ``(N,)`` is the target's score of the unperturbed input, ``perturbed`` ``(N, T)``
    the scores of the perturbed inputs, ``change`` ``(N, T)`` their difference (absolute
    ``P_j − P_0``, or relative ``(P_j − P_0) / P_0``), ``target`` the explained classes.
    """

    original: np.ndarray
    perturbed: np.ndarray
    change: np.ndarray
    target: np.ndarray

    PER_SAMPLE = ("original", "perturbed", "change", "target")

    @property
    def curve(self) -> np.ndarray:
        """The expected change ``E_X[change]`` at every setting, ``(T,)``."""
        return self.change.mean(axis=0)


def score_change(scores: np.ndarray, change: str) -> np.ndarray:
    """``scores[:, 1:] − scores[:, :1]`` (``"absolute"``) or that divided by ``scores[:, :1]`` (``"relative"``)."""
    difference = scores[:, 1:] - scores[:, :1]
    if change == "absolute":
        return difference
    zero = scores[:, 0] == 0
    if zero.any():
        raise ValueError(f"the relative change is undefined: sample {int(np.argmax(zero))} has an original score of 0")
    return difference / scores[:, :1]
