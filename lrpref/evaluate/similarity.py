"""Similarity of two batches of explanation maps, sample by sample (Adebayo et al. 2018; math.md §14.5).

Maps are ``(N, ...)``; maps ``(N, C, H, W)`` are channel-summed first (math.md §13).

* ``"spearman"`` — Spearman's rank correlation of the flattened maps
  (:func:`scipy.stats.spearmanr`, average ranks for ties); NaN when a map is constant.
* ``"spearman_abs"`` — the same of ``|a|`` and ``|b|`` (Adebayo et al. report both).
* ``"ssim"`` — :func:`skimage.metrics.structural_similarity` of 2-D maps ``(N, H, W)``. Each
  map is first divided by its largest absolute value (a zero map stays zero), so both lie in
  ``[−1, 1]``, and ``data_range=2``, the width of that interval: the value does not change when
  a map is scaled by a positive number. Uniform window of side ``min(7, the largest odd number
  <= min(H, W))`` (scikit-image's default 7 where the map is large enough).

Every measure is 1 for identical (non-constant) maps.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import ConstantInputWarning, spearmanr

from .._validate import check_finite
from ..heatmaps import channel_sum

__all__ = ["similarity", "MEASURES"]

MEASURES = ("spearman", "spearman_abs", "ssim")


def _spearman(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return np.array([spearmanr(u.ravel(), v.ravel()).statistic for u, v in zip(a, b)], dtype=np.float64)


def _ssim(a, b):
    from skimage.metrics import structural_similarity

    if a.ndim != 3:
        raise ValueError(f"SSIM compares 2-D maps (N, H, W) or (N, C, H, W); got maps of shape {a.shape} "
                         f"(reshape flat maps to images in the explainer)")
    side = min(a.shape[1:])
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        raise ValueError(f"SSIM needs maps of at least 3×3 pixels, got {a.shape[1]}×{a.shape[2]}")

    def unit(m):
        scale = np.abs(m).max()
        return m / scale if scale > 0 else m

    return np.array([structural_similarity(unit(u), unit(v), data_range=2.0, win_size=window) for u, v in zip(a, b)],
                    dtype=np.float64)


def similarity(a, b, measure: str) -> np.ndarray:
    """``(N,)`` similarity of maps ``a`` and ``b`` by ``measure`` (one of :data:`MEASURES`)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"maps to compare must have one shape (N, ...), got {a.shape} and {b.shape}")
    check_finite(a, "the first maps")
    check_finite(b, "the second maps")
    if a.ndim == 4:
        a, b = channel_sum(a), channel_sum(b)
    if measure == "spearman":
        return _spearman(a, b)
    if measure == "spearman_abs":
        return _spearman(np.abs(a), np.abs(b))
    if measure == "ssim":
        return _ssim(a, b)
    raise ValueError(f"unknown similarity {measure!r}; one of {MEASURES}")
