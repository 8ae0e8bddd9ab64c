"""Input validation shared by every public entry point: one place, one wording.

Each check raises a ``ValueError`` / ``TypeError`` whose message names what was expected
and what was received.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(array: np.ndarray, what: str) -> np.dtype:
    """Require float32 or float64 (never cast silently)."""
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{what} must be float32 or float64, got {array.dtype}; cast it explicitly (e.g. x.astype(np.float64))")
    return array.dtype


def check_finite(array: np.ndarray, what: str) -> None:
    """Require every entry to be finite; name the count and the first bad position."""
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        kinds = []
        if np.isnan(array).any():
            kinds.append("NaN")
        if np.isinf(array).any():
            kinds.append("inf")
        raise ValueError(f"{what} contains {len(bad)} non-finite value(s) ({'/'.join(kinds)}), the first at index {first}")


def as_batch(x, dtype: np.dtype | None, what: str = "input x") -> np.ndarray:
    """A float array with a leading batch axis, of the network's dtype, with finite entries."""
    x = np.asarray(x)
    if x.dtype == object:
        raise TypeError(f"{what} must be a numeric array, got an object array")
    float_dtype(x, what)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{what} is {x.dtype} but the network is {dtype}; never mixed silently: "
                        f"cast one of them (x.astype(np.{dtype}) or net.astype(np.{x.dtype}))")
    if x.ndim < 2:
        raise ValueError(f"{what} must have a leading batch axis (N, ...); got shape {x.shape} (use x[None] for one sample)")
    if x.shape[0] == 0:
        raise ValueError(f"{what} is an empty batch (shape {x.shape})")
    check_finite(x, what)
    return x


def check_tolerance(value, what: str) -> float:
    """A tolerance: a real number, finite and >= 0 (a negative, NaN or infinite one would pass everything or nothing)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)
