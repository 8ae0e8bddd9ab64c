"""The reference input of DeepLIFT, IG and the LID family (math.md §1, §15.15).

``reference`` is ``None`` or ``0`` (zeros in the model's input space: the default), a number
(a constant input), an array broadcastable to the batch (one reference for all samples, or one
per sample), ``"blur"`` (a Gaussian-blurred copy of every image, ``sigma=4`` pixels) or
``("blur", sigma)``. A reference shared by the whole batch is kept with a batch axis of 1, so
its forward pass is computed once.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ._validate import check_finite

__all__ = ["resolve_reference", "BLUR_SIGMA"]

BLUR_SIGMA = 4.0


def resolve_reference(reference, x: np.ndarray) -> np.ndarray:
    """The reference batch for ``x``: shape ``(1, *x.shape[1:])`` when shared, else ``x.shape``; ``x``'s dtype."""
    if reference is None:
        return np.zeros((1, *x.shape[1:]), dtype=x.dtype)
    if isinstance(reference, str) or (isinstance(reference, tuple) and reference and reference[0] == "blur"):
        return _blurred(x, reference)
    if isinstance(reference, (int, float, np.integer, np.floating)) and not isinstance(reference, (bool, np.bool_)):
        value = np.full((1, *x.shape[1:]), reference, dtype=x.dtype)
        check_finite(value, "the reference")
        return value
    array = np.asarray(reference)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"the reference must be None, a number, an array or 'blur'; got {type(reference).__name__} of dtype {array.dtype}")
    if array.dtype.kind == "f" and array.dtype != x.dtype:
        raise TypeError(f"the reference is {array.dtype} but the input is {x.dtype}; never mixed silently: cast it")
    array = array.astype(x.dtype)
    if array.ndim == x.ndim - 1:
        array = array[None]
    try:
        shape = np.broadcast_shapes(array.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape or array.ndim != x.ndim or array.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"a reference of shape {np.asarray(reference).shape} does not broadcast to the input {x.shape} "
                         f"(give one sample {x.shape[1:]}, or one per sample {x.shape})")
    check_finite(array, "the reference")
    return np.ascontiguousarray(np.broadcast_to(array, (array.shape[0], *x.shape[1:])))


def _blurred(x, reference):
    if isinstance(reference, str) and reference != "blur":
        raise ValueError(f"unknown reference {reference!r}; use None, a number, an array, 'blur' or ('blur', sigma)")
    sigma = BLUR_SIGMA if isinstance(reference, str) else float(reference[1])
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"the blur sigma must be a positive number, got {sigma}")
    if x.ndim != 4:
        raise ValueError(f"a blurred reference needs images (N, C, H, W); the input is {x.shape}")
    return gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="nearest").astype(x.dtype)
