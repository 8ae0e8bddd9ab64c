"""Bundled models and data: ``.npz`` / JSON only, no pickles, each made by a script in ``data/scripts/``.

* ``digits_mlp`` — an MLP 64-32-10 (ReLU) on scikit-learn's 8×8 digits
  (``data/scripts/make_digits_mlp.py``).
"""

from importlib import resources

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def path(name: str):
    """Path of a bundled file, e.g. ``path("digits_mlp.npz")``."""
    return resources.files(__name__) / name


def load_network(name: str):
    """``(net, meta)`` of a bundled network, e.g. ``load_network("digits_mlp")``."""
    from lrpref import serialize

    return serialize.load(path(f"{name}.npz"))


def digits_split():
    """``(x_train, x_test, y_train, y_test)``: scikit-learn's digits scaled to [0, 1], the split the bundled models use."""
    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)
