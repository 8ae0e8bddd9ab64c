"""Inputs shared by the evaluation metrics: images, relevance maps, masks, targets, scores, random streams.

Conventions (math.md §13, §14):

* images ``x`` are ``(N, H, W)`` or ``(N, C, H, W)`` (NCHW), float32 or float64, finite; the
  metrics work on a ``(N, C, H, W)`` view and hand the model arrays of ``x``'s own shape;
* a relevance map is ``(N, H, W)`` or ``(N, C, H, W)`` with ``x``'s spatial size; a map with
  channels is summed over them first (``H(p, q) = sum_c R[c, p, q]``, math.md §13), so a region
  or a pixel position is ranked by its channel-summed relevance and removed in all channels;
* the random numbers of sample ``n`` come from its own stream
  ``SeedSequence(seed, spawn_key=(first_index + n, purpose))``: a batch, the same samples one by
  one (with their ``first_index``) and a chunked dask array draw the very same numbers.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_batch, check_finite, float_dtype
from ..heatmaps import channel_sum
from ..tops import resolve_target, softmax

__all__ = ["images", "heatmap", "masks", "seed_of", "sample_rng", "class_scores", "model_outputs", "positive_int",
           "choice", "check_target", "OUTPUTS", "NOISE", "ORDER"]

OUTPUTS = ("raw", "softmax")
# purposes of a sample's random stream
NOISE, ORDER = 0, 1


def images(x, what: str = "images x") -> np.ndarray:
    """A validated ``(N, C, H, W)`` view of images ``x`` given as ``(N, H, W)`` or ``(N, C, H, W)``."""
    x = as_batch(x, None, what)
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise ValueError(f"{what} must be images (N, H, W) or (N, C, H, W), got shape {x.shape}; "
                         f"give the images and wrap a model that takes flat vectors, e.g. "
                         f"model = lambda x: net(x.reshape(len(x), -1))")
    return x


def heatmap(relevance, x4: np.ndarray | None = None, what: str = "relevance") -> np.ndarray:
    """The channel-summed ``(N, H, W)`` map of ``relevance`` (``(N, H, W)`` or ``(N, C, H, W)``), of ``x4``'s size when given."""
    relevance = np.asarray(relevance)
    if relevance.dtype.kind != "f":
        raise TypeError(f"{what} must be a float array, got {relevance.dtype}")
    float_dtype(relevance, what)
    if relevance.ndim not in (3, 4):
        raise ValueError(f"{what} must be maps (N, H, W) or (N, C, H, W), got shape {relevance.shape}")
    if x4 is not None and (relevance.shape[0] != x4.shape[0] or relevance.shape[-2:] != x4.shape[-2:]):
        raise ValueError(f"{what} of shape {relevance.shape} does not fit {x4.shape[0]} images of {x4.shape[-2]}×{x4.shape[-1]} "
                         f"pixels: give maps (N, H, W) or (N, C, H, W) of the images' size (up-sample a coarse map "
                         f"first with lrpref.heatmaps.upsample(maps, (H, W)))")
    check_finite(relevance, what)
    return channel_sum(relevance)


def masks(mask, maps: np.ndarray, what: str = "mask") -> np.ndarray:
    """A boolean ``(N, H, W)`` ground-truth mask matching ``maps``; every sample's mask must be non-empty."""
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be boolean or 0/1 numbers, got {mask.dtype}")
    if mask.shape != maps.shape:
        raise ValueError(f"{what} has shape {mask.shape}, the relevance maps {maps.shape} (N, H, W)")
    if mask.dtype != bool:
        check_finite(mask.astype(np.float64), what)
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{what} must hold only 0 and 1 (or booleans)")
        mask = mask.astype(bool)
    empty = ~mask.reshape(len(mask), -1).any(axis=1)
    if empty.any():
        raise ValueError(f"{what} of sample {int(np.argmax(empty))} is empty: the metric needs at least one ground-truth pixel")
    return mask


def positive_int(value, what: str, low: int = 1) -> int:
    """An integer ``>= low`` (booleans refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)


def choice(value, options, what: str):
    """``value`` if it is one of ``options``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {what} {value!r}; one of {tuple(options)}")
    return value


def seed_of(random_state) -> int:
    """The integer seed of every random stream of a call: ``None`` (fresh entropy), an int >= 0, or a Generator (one draw)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral) or random_state < 0:
        raise TypeError(f"random_state must be None, an int >= 0 or a numpy Generator, got {random_state!r}")
    return int(random_state)


def sample_rng(seed: int, index: int, purpose: int) -> np.random.Generator:
    """The random stream of sample ``index`` (its position in the whole data set) for one purpose (noise, order)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, purpose)))


def model_outputs(model, batch: np.ndarray) -> np.ndarray:
    """``model(batch)`` checked to be finite scores ``(len(batch), K)``, as float64."""
    scores = np.asarray(model(batch))
    if scores.dtype.kind not in "iuf":
        raise TypeError(f"the model returned {scores.dtype} values; it must return numeric scores (N, K)")
    if scores.ndim != 2 or scores.shape[0] != len(batch):
        raise ValueError(f"the model must return scores (N, K) for a batch of N = {len(batch)}; it returned shape "
                         f"{scores.shape} (wrap a one-score model as lambda x: f(x)[:, None])")
    scores = scores.astype(np.float64)
    check_finite(scores, "the model's output")
    return scores


def check_target(target) -> None:
    """A target is None, an int or N ints (class indices); ranges are checked against the model's output."""
    if target is not None and np.asarray(target).dtype.kind not in "iu":
        raise TypeError(f"target must be None, an int or N ints (class indices), got {np.asarray(target).dtype} values")


def class_scores(outputs: np.ndarray, target, output: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, classes)``: the score of each sample's class in every output of ``outputs (N, T, K)``.

    ``outputs[:, 0]`` is the unperturbed input; ``target`` None picks its arg-max (the predicted
    class), or is an int or N ints. ``output="softmax"`` turns scores into probabilities
    ``P = softmax(Z)`` (math.md §1) first; ``"raw"`` keeps the model's own scores.
    """
    classes, _ = resolve_target(outputs[:, 0], target)
    if output == "softmax":
        if outputs.shape[2] < 2:
            raise ValueError("output='softmax' needs a model with at least 2 classes; use output='raw'")
        outputs = softmax(outputs.reshape(-1, outputs.shape[2])).reshape(outputs.shape)
    return outputs[np.arange(len(outputs)), :, classes], classes
