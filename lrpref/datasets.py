"""Bundled models and data: ``.npz`` / JSON only, no pickles, each made by a script in ``data/scripts/``.

* ``digits_mlp`` — an MLP 64-32-10 (ReLU) on scikit-learn's 8×8 digits
  (``data/scripts/make_digits_mlp.py``).

The files live in the repository's ``data/`` folder, installed as the package ``lrpref.data``;
from a source checkout they are read in place.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["path", "load_network", "digits_split"]


def path(name: str):
    """Path of a bundled file, e.g. ``path("digits_mlp.npz")``."""
    try:
        folder = resources.files("lrpref.data")
    except ModuleNotFoundError:  # a source checkout: lrpref/ next to data/
        folder = Path(__file__).resolve().parents[1] / "data"
    found = folder / name
    if not found.is_file():
        raise FileNotFoundError(f"no bundled file {name!r} (looked in {folder})")
    return found


def load_network(name: str):
    """``(net, meta)`` of a bundled network, e.g. ``load_network("digits_mlp")``."""
    from .serialize import load

    return load(path(f"{name}.npz"))


def digits_split():
    """``(x_train, x_test, y_train, y_test)``: scikit-learn's digits scaled to [0, 1], the split the bundled models use."""
    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)
