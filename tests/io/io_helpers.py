"""Shared by the importer tests: the forward-pass tolerance and relative error."""

import numpy as np

# Every importer must reproduce the source framework's forward pass to this relative error.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def relative_error(ours, theirs) -> float:
    """``max |ours - theirs| / max |theirs|`` (shapes must agree)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    return float(np.abs(ours.astype(np.float64) - theirs).max() / np.abs(theirs).max())


def assert_same_forward(ours, theirs, dtype):
    """The relative error is within :data:`TOLERANCE` for ``dtype`` (and the output is not trivially zero)."""
    assert np.abs(theirs).max() > 0
    error = relative_error(ours, theirs)
    assert error <= TOLERANCE[np.dtype(dtype)], f"relative error {error:.3g} in {np.dtype(dtype)}"
    return error
