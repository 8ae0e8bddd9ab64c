"""How sure a mean over images is: Student-t confidence intervals for a metric's mean, and for the
difference of two methods measured on the same images.

A metric's per-sample values ``v_1 … v_n`` (e.g. ``result.values`` of a localisation metric or
``result.aopc_per_sample`` of region perturbation) give the interval

    mean ± t_{(1+level)/2, n−1} · s / sqrt(n),       s the sample standard deviation (ddof 1),

which covers the true mean with probability ``level`` when the images are drawn independently
(approximately, by the central limit theorem, for n of a few dozen). NaN values (a map with zero
total, where a share is undefined) are left out and counted.

Two methods scored on the same images are compared by the **paired** differences
``d_i = a_i − b_i``: their interval is much narrower than what two separate intervals suggest,
because the images' own difficulty cancels. A difference is significant at ``1 − level`` when
its interval excludes 0 — for one planned comparison; with many comparisons some intervals
exclude 0 by chance (about ``1 − level`` of them when nothing differs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "mean_interval", "paired_difference"]


@dataclass(frozen=True)
class Interval:
    """``mean`` and its ``level`` confidence interval ``[low, high]`` over ``n`` values (``dropped`` NaNs left out)."""

    mean: float
    low: float
    high: float
    level: float
    n: int
    dropped: int = 0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval (for a difference: significant at ``1 − level``)."""
        return not self.low <= value <= self.high

    def __str__(self):
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_interval(values, level: float = 0.95) -> Interval:
    """The mean of ``values`` (1-D, NaNs left out) with its Student-t ``level`` confidence interval."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one value per sample (n,), got shape {values.shape}")
    finite = values[~np.isnan(values)]
    if np.isinf(finite).any():
        raise ValueError("values contain ±inf")
    if len(finite) < 2:
        raise ValueError(f"a confidence interval needs at least 2 values, got {len(finite)} (after leaving out NaNs)")
    mean = float(finite.mean())
    half = float(stats.t.ppf((1 + level) / 2, len(finite) - 1) * finite.std(ddof=1) / np.sqrt(len(finite)))
    return Interval(mean, mean - half, mean + half, level, len(finite), len(values) - len(finite))


def paired_difference(a, b, level: float = 0.95) -> Interval:
    """The mean of ``a − b`` (two methods' values on the same samples) with its ``level`` interval; pairs
    with a NaN on either side are left out."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values must have the same shape, got {a.shape} and {b.shape}")
    return mean_interval(a - b, level)
