"""Optional test dependencies: skipped locally when missing, a failure under ``CI=true`` (CI installs them all)."""

import os


def require(module: str):
    """Import an optional test dependency: skipped locally when it is missing, a failure under ``CI=true``
    (CI installs every peer and tool the tests compare against)."""
    import importlib

    import pytest

    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"CI must install {module!r} (pyproject's test extra): {error}") from error
        pytest.skip(f"{module} is not installed", allow_module_level=True)  # also at a test module's top


def require_program(name: str) -> str:
    """The path of an external program (e.g. Debian's chromium), with :func:`require`'s skip/fail policy."""
    import shutil

    import pytest

    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"CI must install the program {name!r} (.ci/run installs it with apt)")
        pytest.skip(f"{name} is not installed")
    return path
