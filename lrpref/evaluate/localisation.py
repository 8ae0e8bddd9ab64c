"""Relevance inside a ground-truth mask (Arras, Osman, Samek 2022, CLEVR-XAI; the DESIGN's "relevance mass in a mask").

Maps are channel-summed first (math.md §13); ``GT`` is a boolean mask per sample,
never empty. ``values`` chooses what is measured: ``"positive"`` ``R⁺ = max(R, 0)``,
``"signed"`` ``R`` as it is, ``"absolute"`` ``|R|``.

* **Relevance mass accuracy** — the share of the relevance that falls inside the mask,
  ``sum_{p in GT} R_p / sum_p R_p`` (default ``values="positive"``: Arras et al. score positive
  relevance). A map with zero total gets NaN (the share is undefined), so ``mean`` is NaN
  too; use ``np.nanmean(result.values)`` to skip such samples.
* **Relevance rank accuracy** — with ``K = |GT|``, the share of the ``K`` highest-ranked
  positions that lie inside the mask, ``|top_K(R) ∩ GT| / K`` (default ``values="signed"``:
  ranked by ``R``). Ties at the cut are broken by the lower row-major index (a stable sort of
  ``−R``), so the value is deterministic.

Both lie in ``[0, 1]`` for non-negative values, are 1 for a perfect map (all relevance inside the
mask; the mask's positions ranked first) and are unchanged by scaling a map by a positive number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._inputs import choice, heatmap, masks
from .chunks import over_chunks
from .result import Result

__all__ = ["relevance_mass_accuracy", "relevance_rank_accuracy", "Localisation", "VALUES"]

VALUES = ("positive", "signed", "absolute")


@dataclass(frozen=True)
class Localisation(Result):
    """Per-sample ``values`` ``(N,)`` of a localisation metric and the ``settings`` used; ``mean`` their average."""

    values: np.ndarray

    PER_SAMPLE = ("values",)

    @property
    def mean(self) -> float:
        return float(self.values.mean())


def _maps_and_mask(relevance, mask, values):
    maps = heatmap(relevance)
    values = choice(values, VALUES, "values")
    if values == "positive":
        maps = np.maximum(maps, 0)
    elif values == "absolute":
        maps = np.abs(maps)
    return maps.reshape(len(maps), -1), masks(mask, maps).reshape(len(maps), -1), values


@over_chunks("relevance", "mask")
def relevance_mass_accuracy(relevance, mask, *, values: str = "positive") -> Localisation:
    """``sum_{p in GT} R_p / sum_p R_p`` per sample (see the module docstring); NaN where the total is 0."""
    maps, inside, values = _maps_and_mask(relevance, mask, values)
    total = maps.sum(axis=1)
    within = np.where(inside, maps, 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total != 0, within / np.where(total != 0, total, 1), np.nan)
    return Localisation(values=share.astype(np.float64), settings=dict(metric="relevance mass accuracy", values=values))


@over_chunks("relevance", "mask")
def relevance_rank_accuracy(relevance, mask, *, values: str = "signed") -> Localisation:
    """``|top_K(R) ∩ GT| / K`` with ``K = |GT|`` per sample (see the module docstring)."""
    maps, inside, values = _maps_and_mask(relevance, mask, values)
    ranked = np.argsort(-maps, axis=1, kind="stable")
    k = inside.sum(axis=1)
    hits = np.array([inside[n, ranked[n, :k[n]]].sum() for n in range(len(maps))])
    return Localisation(values=hits / k, settings=dict(metric="relevance rank accuracy", values=values))
