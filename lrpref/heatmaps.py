"""Heatmaps from explanations: channel sums, stage maps, bilinear up-sampling, multi-scale sums (math.md §13).

* :func:`channel_sum` — ``H(p, q) = sum_channels R[·, p, q]`` (Chen et al. 2024: "将贡献度按通道叠加").
* :func:`stage` — the channel sum of the relevance at the output of a layer (e.g. the max-pool
  after each VGG block: Chen et al.'s stages s1…s5 are torchvision VGG-16 ``features`` 4, 9, 16,
  23, 30).
* :func:`upsample` — bilinear interpolation with ``align_corners=False`` (PyTorch's
  ``F.interpolate(mode="bilinear")``): value-preserving, not mass-preserving.
* :func:`multiscale` — ``sum_s Up(H_s)`` over several stages (e.g. ``s54321``), with
  ``norm="none"`` (Chen et al.'s literal sum: with a conservative method the coarse maps dominate),
  ``"maxabs"`` (each up-sampled map scaled to max |H| = 1) or ``"mass"`` (each map's total kept:
  the up-sampled map divided by the area ratio).

Colours (:mod:`lrpref.viz`): red positive, blue negative, white zero.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_sum", "stage", "upsample", "multiscale"]


def channel_sum(relevance: np.ndarray) -> np.ndarray:
    """``(N, C, H, W) -> (N, H, W)``; a batch of maps ``(N, H, W)`` is returned as it is."""
    relevance = np.asarray(relevance)
    if relevance.ndim == 3:
        return relevance
    if relevance.ndim != 4:
        raise ValueError(f"a heatmap needs relevance of shape (N, C, H, W) or (N, H, W), got {relevance.shape}")
    return relevance.sum(axis=1)


def stage(ex, layer: int) -> np.ndarray:
    """Channel-summed relevance at the output of ``ex.layers[layer]``: ``(N, h, w)``."""
    if not -len(ex.layers) <= layer < len(ex.layers):
        raise IndexError(f"layer {layer} out of range: the network has {len(ex.layers)} layers")
    relevance = ex.layers[layer].relevance_out
    if relevance.ndim != 4:
        raise ValueError(f"{ex.layers[layer].where} outputs {relevance.shape[1:]}, not a spatial (C, H, W) map")
    return channel_sum(relevance)


def _axis_weights(size_in: int, size_out: int):
    """Source indices and weights of 1-D linear interpolation with ``align_corners=False`` (PyTorch)."""
    source = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    source = np.maximum(source, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    frac = source - low
    return low, high, frac


def upsample(maps: np.ndarray, size) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` (or ``(N, C, h, w)``) maps to ``size = (H, W)``, ``align_corners=False``."""
    maps = np.asarray(maps)
    if maps.ndim not in (3, 4):
        raise ValueError(f"upsample needs maps (N, h, w) or (N, C, h, w), got {maps.shape}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise ValueError(f"the target size must be positive, got {size}")
    r0, r1, fr = _axis_weights(maps.shape[-2], height)
    c0, c1, fc = _axis_weights(maps.shape[-1], width)
    fr = fr.astype(maps.dtype)[:, None]
    fc = fc.astype(maps.dtype)
    rows = maps[..., r0, :] * (1 - fr) + maps[..., r1, :] * fr
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


def multiscale(ex, layers, size=None, norm: str = "none") -> np.ndarray:
    """``sum_s Up(stage(ex, s))`` over ``layers``, up-sampled to ``size`` (default: the input's spatial size)."""
    if norm not in ("none", "maxabs", "mass"):
        raise ValueError(f"norm must be 'none', 'maxabs' or 'mass', got {norm!r}")
    if size is None:
        if ex.relevance.ndim != 4:
            raise ValueError("give size=(H, W): the input is not an image")
        size = ex.relevance.shape[2:]
    total = 0.0
    for layer in layers:
        small = stage(ex, layer)
        big = upsample(small, size)
        if norm == "maxabs":
            scale = np.abs(big).reshape(len(big), -1).max(1)
            big = big / np.where(scale == 0, 1, scale)[:, None, None]
        elif norm == "mass":
            big = big * (small.shape[1] * small.shape[2]) / (size[0] * size[1])
        total = total + big
    return total
