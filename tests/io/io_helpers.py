"""Shared by the importer tests: optional test dependencies and the forward-pass tolerance."""

import importlib
import os

import numpy as np
import pytest

# Every importer must reproduce the source framework's forward pass to this relative error.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def need(package: str):
    """Import an optional test dependency: skipped locally when it is missing, a failure under CI=true."""
    try:
        return importlib.import_module(package)
    except ImportError as error:
        if os.environ.get("CI") == "true":
            raise ImportError(f"test dependency {package!r} is missing, required under CI=true "
                              f"(pip install '.[test,torch,io-test]')") from error
        pytest.skip(f"{package} is not installed", allow_module_level=True)


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
