"""Region perturbation and AOPC (Bach et al. 2015; Samek et al. 2017; math.md §14.4, §15.23).

Regions ``r_1 … r_R`` of ``region_size × region_size`` pixels are ranked by their summed
(channel-summed, math.md §13) relevance ``S(r) = sum_{p in r} H(p)``:

* ``order="morf"`` — most relevant first: ``S`` descending, ties by the lower region index;
* ``order="lerf"`` — least relevant first: the MoRF order reversed (math.md §14.4);
* ``order="random"`` — a permutation from the sample's random stream (the baseline).

``x^(0) = x`` and ``x^(k)`` is ``x^(k−1)`` with region ``r_k`` replaced by the replacement image
``B`` (default uniform noise, math.md §14.4); a pixel already replaced keeps its value. With
``f`` the score of the target class (``output="raw"``: the model's own score, e.g. the logit),

    AOPC = 1/(L+1) < sum_{k=0}^{L} f(x^(0)) − f(x^(k)) >_{p(x)}          (math.md §14.4)

over ``L`` steps (default ``min(100, number of regions)``, Quantus' ``regions_evaluation=100``).
Higher MoRF AOPC = better.

Regions (math.md §15.23):

* ``regions="grid"`` — non-overlapping tiles (Quantus' patches), top-left corners at multiples of
  ``region_size``; the last row and column of tiles are cut at the border when ``H`` or ``W``
  is not a multiple. Region index = row-major tile index.
* ``regions="sliding"`` — the paper's neighbourhood of every pixel ``(p, q)``: rows
  ``p − s//2 … p − s//2 + s − 1`` (``s = region_size``; centred for odd ``s``), the same for
  columns, cut at the border, so overlapping windows. Region index = ``p W + q``. Pixels already
  replaced by an earlier window are not replaced again.

``region_size=1`` is pixel flipping (Bach et al. 2015): :func:`pixel_flipping`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate

from ._inputs import (OUTPUTS, ORDER, check_target, choice, heatmap, images, positive_int, sample_rng,
                      seed_of)
from .chunks import over_chunks
from .perturb import perturbed_scores
from .replacement import describe, replacement_images
from .result import ChangeCurve, score_change

__all__ = ["region_perturbation", "pixel_flipping", "RegionPerturbation", "DEFAULT_STEPS"]

DEFAULT_STEPS = 100


@dataclass(frozen=True)
class RegionPerturbation(ChangeCurve):
    """Result of :func:`region_perturbation`: a :class:`ChangeCurve` over the steps ``k = 1..L``.

    ``original[n]`` is ``f(x^(0))``, ``perturbed[n, k−1]`` is ``f(x^(k))`` and ``change[n, k−1]``
    ``f(x^(k)) − f(x^(0))``; ``order[n, k−1]`` the index of the region removed at step ``k``;
    ``removal[n, p, q]`` the step at which pixel ``(p, q)`` was replaced (``L + 1``: never).
    """

    order: np.ndarray
    removal: np.ndarray

    PER_SAMPLE = ChangeCurve.PER_SAMPLE + ("order", "removal")

    @property
    def scores(self) -> np.ndarray:
        """``f(x^(k))`` for ``k = 0..L``, ``(N, L + 1)``."""
        return np.column_stack([self.original, self.perturbed])

    @property
    def aopc_per_sample(self) -> np.ndarray:
        """``1/(L+1) sum_{k=0}^{L} f(x^(0)) − f(x^(k))`` of every sample, ``(N,)`` (the ``k = 0`` term is 0)."""
        return -self.change.sum(axis=1) / (self.change.shape[1] + 1)

    @property
    def aopc(self) -> float:
        """The AOPC: the per-sample values averaged over the samples."""
        return float(self.aopc_per_sample.mean())


def _boxes(height, width, size, regions):
    """``(r0, r1, c0, c1)`` row and column bounds (end exclusive) of every region, in region-index order."""
    if regions == "grid":
        rows, cols = np.arange(0, height, size), np.arange(0, width, size)
        r0, c0 = np.repeat(rows, len(cols)), np.tile(cols, len(rows))
    else:
        r0 = np.repeat(np.arange(height), width) - size // 2
        c0 = np.tile(np.arange(width), height) - size // 2
    return np.maximum(r0, 0), np.minimum(r0 + size, height), np.maximum(c0, 0), np.minimum(c0 + size, width)


def _region_sums(maps, size, regions):
    """``S(r)`` of every region of every map, ``(N, number of regions)``."""
    n, height, width = maps.shape
    if regions == "sliding":
        return correlate(maps, np.ones((1, size, size), dtype=maps.dtype), mode="constant", cval=0.0).reshape(n, -1)
    tiles_h, tiles_w = -(-height // size), -(-width // size)
    padded = np.zeros((n, tiles_h * size, tiles_w * size), dtype=maps.dtype)
    padded[:, :height, :width] = maps
    return padded.reshape(n, tiles_h, size, tiles_w, size).sum(axis=(2, 4)).reshape(n, -1)


@over_chunks("x", "relevance", "target", "replacement")
def region_perturbation(model, x, relevance, target=None, *, region_size: int = 9, regions: str = "grid",
                        order: str = "morf", steps: int | None = None, replacement="uniform", output: str = "raw",
                        random_state=None, batch_size: int = 256, first_index: int = 0) -> RegionPerturbation:
    """Region perturbation curve and AOPC of relevance maps (see the module docstring for the definitions).

    Parameters
    ----------
    model : callable ``f(x_batch) -> scores (N, K)`` taking arrays of ``x``'s shape (an
        ``lrpref.Sequential``, or any function, e.g. a wrapped scikit-learn pipeline).
    x : images ``(N, H, W)`` or ``(N, C, H, W)``, float32/float64 (or a dask array).
    relevance : maps ``(N, H, W)`` or ``(N, C, H, W)`` of the images' size (channels are summed).
    target : None (each sample's predicted class), an int, or N ints.
    region_size : side ``s`` of a square region, ``1 <= s <= min(H, W)`` (paper 9, Quantus 8).
    regions : ``"grid"`` (non-overlapping tiles) or ``"sliding"`` (a window around every pixel).
    order : ``"morf"``, ``"lerf"`` or ``"random"``.
    steps : ``L``, the number of regions removed; default ``min(100, number of regions)``.
    replacement : see :mod:`lrpref.evaluate.replacement` (default ``"uniform"``).
    output : ``"raw"`` (the model's score) or ``"softmax"`` (the class probability).
    random_state : None, an int or a numpy Generator (noise and random order).
    batch_size : at most this many inputs per model call.
    first_index : index of ``x[0]`` in the whole data set (keys the per-sample random streams).
    """
    x4 = images(x)
    maps = heatmap(relevance, x4)
    check_target(target)
    height, width = maps.shape[1:]
    size = positive_int(region_size, "region_size")
    if size > min(height, width):
        raise ValueError(f"region_size {size} does not fit images of {height}×{width} pixels (at most {min(height, width)})")
    regions = choice(regions, ("grid", "sliding"), "regions")
    order = choice(order, ("morf", "lerf", "random"), "order")
    output = choice(output, OUTPUTS, "output")
    first_index = positive_int(first_index, "first_index", low=0)
    r0, r1, c0, c1 = _boxes(height, width, size, regions)
    count = len(r0)
    if steps is None:
        steps = min(DEFAULT_STEPS, count)
    steps = positive_int(steps, "steps")
    if steps > count:
        raise ValueError(f"steps={steps} but the images have only {count} {regions} regions of size {size}")
    seed = seed_of(random_state)

    if order == "random":
        ranking = np.stack([sample_rng(seed, first_index + n, ORDER).permutation(count) for n in range(len(maps))])
    else:
        ranking = np.argsort(-_region_sums(maps, size, regions), axis=1, kind="stable")
        if order == "lerf":
            ranking = ranking[:, ::-1]
    ranking = ranking[:, :steps]
    removal = np.full(maps.shape, steps + 1, dtype=np.int64)
    for n, picked in enumerate(ranking):
        for step, r in enumerate(picked, start=1):
            window = removal[n, r0[r]:r1[r], c0[r]:c1[r]]
            np.minimum(window, step, out=window)

    B = replacement_images(replacement, np.asarray(x), x4, seed, first_index)
    scores, classes = perturbed_scores(model, np.shape(x), x4, removal, np.arange(1, steps + 1), B, target, output,
                                       batch_size)
    settings = dict(region_size=size, regions=regions, order=order, steps=steps, replacement=describe(replacement),
                    output=output, random_state=seed)
    return RegionPerturbation(original=scores[:, 0], perturbed=scores[:, 1:], change=score_change(scores, "absolute"),
                              target=classes, settings=settings, order=ranking, removal=removal)


def pixel_flipping(model, x, relevance, target=None, **options) -> RegionPerturbation:
    """Pixel flipping (Bach et al. 2015; math.md §14.4): :func:`region_perturbation` with ``region_size=1``."""
    return region_perturbation(model, x, relevance, target, region_size=1, **options)
