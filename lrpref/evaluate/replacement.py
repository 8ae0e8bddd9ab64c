"""What a removed pixel is replaced by: the replacement image ``B`` (math.md §14.1 step 3, §14.4, §15.18, §15.23).

A perturbed input is ``X' = M ⊙ X + (1 − M) ⊙ B`` with ``M`` the binary keep-mask: every
removed pixel takes the value of ``B`` at that pixel, in every channel. ``B`` is built once per
sample, so a pixel is replaced once and keeps its replacement at later steps:

* ``"uniform"`` — uniform noise ``U[min X_n, max X_n)`` over the sample's own value range
  (Samek et al. 2017 replace by uniform random values); ``("uniform", low, high)`` gives the
  bounds. Drawn from sample ``n``'s noise stream (:mod:`lrpref.evaluate._inputs`).
* ``"mean"`` — the per-channel mean of the sample: ``B[c] = mean_{p,q} X[c, p, q]``.
* ``None`` or ``0`` — zeros in the model's input space (lrpref's default ``B = X̂ = 0``; for
  normalised inputs this is the data mean, not black).
* a number — a constant image (e.g. black: the value black has in the model's input space).
* an array broadcastable to the images — a reference: one image, one per sample, or a per-channel
  value shaped ``(C, 1, 1)``.
* ``"blur"`` or ``("blur", sigma)`` — a Gaussian-blurred copy of the sample (σ = 4 pixels by
  default), as :func:`lrpref.reference.resolve_reference`.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..reference import resolve_reference
from ._inputs import NOISE, sample_rng

__all__ = ["replacement_images", "describe"]


def _is_uniform(replacement) -> bool:
    return isinstance(replacement, str) and replacement == "uniform" or \
        isinstance(replacement, tuple) and len(replacement) == 3 and replacement[0] == "uniform"


def replacement_images(replacement, x: np.ndarray, x4: np.ndarray, seed: int, first_index: int) -> np.ndarray:
    """``B`` of shape ``x4.shape`` (``(N, C, H, W)``) and ``x``'s dtype; ``x`` is the images as given."""
    if _is_uniform(replacement):
        return _uniform(replacement, x4, seed, first_index)
    if isinstance(replacement, str) and replacement == "mean":
        return np.broadcast_to(x4.mean(axis=(2, 3), keepdims=True), x4.shape)
    blur = isinstance(replacement, str) and replacement == "blur" or isinstance(replacement, tuple) and replacement[:1] == ("blur",)
    if isinstance(replacement, (str, tuple)) and not blur:
        raise ValueError(f"unknown replacement {replacement!r}; one of 'uniform', ('uniform', low, high), 'mean', "
                         f"'blur', ('blur', sigma), None/0, a number, or an array broadcastable to the images")
    # resolve_reference blurs (N, C, H, W) images; numbers and arrays are read against the images as given
    reference = resolve_reference(replacement, x4 if blur else x)
    return np.broadcast_to(reference.reshape(len(reference), *x4.shape[1:]), x4.shape)


def _uniform(replacement, x4, seed, first_index):
    if isinstance(replacement, tuple):
        _, low, high = replacement
        if not all(isinstance(v, numbers.Real) and np.isfinite(v) for v in (low, high)) or not low < high:
            raise ValueError(f"('uniform', low, high) needs finite numbers low < high, got {replacement!r}")
    noise = np.empty_like(x4)
    for n, sample in enumerate(x4):
        lo, hi = (low, high) if isinstance(replacement, tuple) else (sample.min(), sample.max())
        noise[n] = sample_rng(seed, first_index + n, NOISE).uniform(lo, hi, size=sample.shape)
    return noise


def describe(replacement) -> str:
    """A short description of a replacement for a result's settings (an array is "array", whatever part of it a chunk saw)."""
    if isinstance(replacement, str):
        return replacement
    if replacement is None or isinstance(replacement, (tuple, numbers.Number)):
        return repr(replacement)
    return "array"
