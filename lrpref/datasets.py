"""Bundled models and data: ``.npz`` / JSON only, no pickles, each made by a script in ``data/scripts/``.

* ``digits_mlp`` — an MLP 64-32-10 (ReLU) on scikit-learn's 8×8 digits
  (``data/scripts/make_digits_mlp.py``).
* ``digits_cnn`` — a CNN (two Conv/ReLU/MaxPool blocks, two Dense layers) on the same digits
  as (1, 8, 8) images (``data/scripts/make_digits_cnn.py``).
* ``texture_cnn`` — a small CNN (three Conv/ReLU/MaxPool blocks, global average pooling, one
  Dense layer) on 64×64 crops of scikit-image's brick / grass / gravel
  (``data/scripts/make_texture_cnn.py``); ``texture_composites`` pastes a patch of one texture
  into another, a localisation test with a known answer.
* ``bow_texture`` — bag of words + histogram-intersection SVMs (one vs rest) for scikit-image's
  brick / grass / gravel textures (``data/scripts/make_bow_texture.py``).
* ``bow_faces`` — bag of words + histogram-intersection SVM, faces vs non-faces of
  ``skimage.data.lfw_subset`` (``data/scripts/make_bow_faces.py``).

``digits_split``, ``texture_split``, ``texture_composites`` and ``faces_split`` give the data each model was trained
and tested on; ``docs/data.md`` describes the models.

The files live in the repository's ``data/`` folder, installed as the package ``lrpref.data``;
from a source checkout they are read in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["path", "load_network", "load_bow", "digits_split", "texture_split", "texture_composites", "faces_split",
           "TEXTURES", "Composites"]

TEXTURES = ("brick", "grass", "gravel")


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


def load_bow(name: str):
    """``(model, meta)`` of a bundled bag-of-words model, e.g. ``load_bow("texture")`` or ``load_bow("faces")``.

    ``model`` is the fitted scikit-learn pipeline (read by :func:`lrpref.bow.load`, no pickles),
    ``meta`` the JSON description written next to it (classes, test accuracy, how it was made).
    """
    from .bow import load

    model = load(path(f"bow_{name}.npz"))
    meta = json.loads(path(f"bow_{name}.json").read_text(encoding="utf-8"))
    return model, meta


def digits_split():
    """``(x_train, x_test, y_train, y_test)``: scikit-learn's digits scaled to [0, 1], the split the bundled models use."""
    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)


def texture_split(size: int = 64):
    """``(x_train, x_test, y_train, y_test)``: ``size``×``size`` tiles of scikit-image's brick, grass and gravel.

    Grey values in [0, 1]; non-overlapping tiles on a ``size`` grid, training tiles from the
    left half of each 512×512 texture, test tiles from the right half (so a test tile never
    overlaps a training tile). Labels are the texture names (:data:`TEXTURES`).
    """
    from skimage import data
    from skimage.util import img_as_float

    parts = {"train": ([], []), "test": ([], [])}
    for name in TEXTURES:
        texture = img_as_float(getattr(data, name)())
        for r in range(0, 512 - size + 1, size):
            for c in range(0, 512 - size + 1, size):
                part = "train" if c + size <= 256 else "test" if c >= 256 else None
                if part:
                    parts[part][0].append(texture[r:r + size, c:c + size])
                    parts[part][1].append(name)
    (x_train, y_train), (x_test, y_test) = parts["train"], parts["test"]
    return np.array(x_train), np.array(x_test), np.array(y_train), np.array(y_test)


def _textures(half: str) -> dict:
    """Each texture of :data:`TEXTURES` as a grey float image, only its ``"left"`` (training) or ``"right"`` (test) half."""
    from skimage import data
    from skimage.util import img_as_float

    columns = slice(0, 256) if half == "left" else slice(256, 512)
    return {name: img_as_float(getattr(data, name)())[:, columns] for name in TEXTURES}


@dataclass(frozen=True)
class Composites:
    """Images with a pasted patch: ``images`` (N, 1, S, S), ``masks`` (N, S, S) true on the patch,
    ``patch`` and ``background`` the class indices (into :data:`TEXTURES`) of patch and surroundings."""

    images: np.ndarray
    masks: np.ndarray
    patch: np.ndarray
    background: np.ndarray


def texture_composites(count: int, *, size: int = 64, patch_size: int = 32, seed: int = 0) -> Composites:
    """``count`` test composites: a ``patch_size`` square of one texture pasted into a ``size`` tile of another.

    Both come from the right (test) halves of the textures, so no pixel was seen in training
    (:data:`TEXTURES`, the left halves train ``texture_cnn``). With ``rng =
    np.random.default_rng(seed)``, per image: the background class, a different patch class,
    the tile's and the patch's top-left corners in their textures and the patch's position in
    the tile, all uniform. The answer is known: evidence for the patch class lies in ``masks``.
    """
    if not 0 < patch_size < size <= 256:
        raise ValueError(f"need 0 < patch_size < size <= 256, got patch_size {patch_size}, size {size}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    textures = list(_textures("right").values())
    rng = np.random.default_rng(seed)
    images = np.empty((count, 1, size, size))
    masks = np.zeros((count, size, size), dtype=bool)
    background = rng.integers(len(TEXTURES), size=count)
    patch = (background + rng.integers(1, len(TEXTURES), size=count)) % len(TEXTURES)
    for n in range(count):
        r, c = rng.integers(0, 512 - size + 1), rng.integers(0, 256 - size + 1)
        images[n, 0] = textures[background[n]][r:r + size, c:c + size]
        r, c = rng.integers(0, 512 - patch_size + 1), rng.integers(0, 256 - patch_size + 1)
        top, left = rng.integers(0, size - patch_size + 1, size=2)
        images[n, 0, top:top + patch_size, left:left + patch_size] = textures[patch[n]][r:r + patch_size, c:c + patch_size]
        masks[n, top:top + patch_size, left:left + patch_size] = True
    return Composites(images, masks, patch, background)


def faces_split():
    """``(x_train, x_test, y_train, y_test)``: ``skimage.data.lfw_subset`` (25×25), 140 train / 60 test.

    The subset holds 100 faces then 100 non-faces; labels are 1 for a face, 0 otherwise; the
    split is ``np.random.default_rng(0).permutation(200)`` (first 140 for training).
    """
    from skimage import data

    images = data.lfw_subset()
    labels = np.r_[np.ones(100, int), np.zeros(100, int)]
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:140], order[140:]
    return images[train], images[test], labels[train], labels[test]
