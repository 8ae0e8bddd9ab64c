"""The Probability Change (PC) curve of Chen et al. 2024 (Sec. 4.2; math.md §14.1, §15.18).

For an image ``X``, its class ``c`` and a heatmap ``H`` of the image's size (channel-summed,
math.md §13; up-sample a stage map first with :func:`lrpref.heatmaps.upsample`):

1. rank the ``HW`` pixel positions by ``H`` ascending — most negative first; ties by the lower
   row-major index (a stable sort);
2. for each ratio ``ρ`` build the mask ``M_ρ`` that removes the ``m_ρ = ⌊ρ HW⌋`` lowest-ranked
   positions (all channels) and keeps the rest (``fraction="removed"``, lrpref's default);
   with ``fraction="kept"`` (the figure caption's reading, §15.18) ``M_ρ`` keeps the ``⌊ρ HW⌋``
   highest-ranked positions, so ``HW − ⌊ρ HW⌋`` are removed. ``⌊ρ HW⌋`` is computed from
   ``ρ HW`` rounded to 9 decimals, so 0.29 · 100 counts 29 pixels, not 28;
3. ``X_ρ = M_ρ ⊙ X + (1 − M_ρ) ⊙ B`` with the replacement ``B`` (default 0 in the model's input
   space, math.md §14.1; :mod:`lrpref.evaluate.replacement`);
4. ``PC(ρ) = E_X[P_c(X_ρ) − P_c(X)]`` — the absolute change of the softmax probability
   (``change="relative"``: divided by ``P_c(X)``; ``output="raw"``: the model's own score).
   Higher is better.

The class ``c`` is the predicted one by default (Chen et al.'s "class A"; §15.18), or ``target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._inputs import OUTPUTS, check_target, choice, heatmap, images, positive_int, seed_of
from .chunks import over_chunks
from .perturb import perturbed_scores
from .replacement import describe, replacement_images
from .result import ChangeCurve, score_change

__all__ = ["probability_change", "ProbabilityChange", "RATIOS"]

RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ProbabilityChange(ChangeCurve):
    """Result of :func:`probability_change`: ``change[n, j]`` at ``ratios[j]``, ``removed[j]`` pixels removed.

    ``curve`` is ``PC(ρ)`` (math.md §14.1 step 4); ``mean`` its average over the ratios (the
    "column mean" of Chen et al.'s Table 4).
    """

    ratios: np.ndarray
    removed: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.curve.mean())


def removed_count(ratio: float, positions: int, fraction: str) -> int:
    """``⌊ρ HW⌋`` (``"removed"``) or ``HW − ⌊ρ HW⌋`` (``"kept"``), with ``ρ HW`` rounded to 9 decimals first."""
    count = math.floor(round(ratio * positions, 9))
    return count if fraction == "removed" else positions - count


@over_chunks("x", "relevance", "target", "replacement")
def probability_change(model, x, relevance, target=None, *, ratios=RATIOS, fraction: str = "removed",
                       change: str = "absolute", replacement=0.0, output: str = "softmax", random_state=None,
                       batch_size: int = 256, first_index: int = 0) -> ProbabilityChange:
    """The PC curve of heatmaps (see the module docstring for the definition and conventions).

    Parameters
    ----------
    model : callable ``f(x_batch) -> scores (N, K)`` taking arrays of ``x``'s shape.
    x : images ``(N, H, W)`` or ``(N, C, H, W)``, float32/float64 (or a dask array).
    relevance : heatmaps ``(N, H, W)`` or ``(N, C, H, W)`` of the images' size.
    target : None (each sample's predicted class), an int, or N ints.
    ratios : the ratios ``ρ`` in ``[0, 1]`` (default 0.1 … 0.9).
    fraction : ``"removed"`` (``ρ`` = fraction of lowest-ranked pixels removed) or ``"kept"``.
    change : ``"absolute"`` or ``"relative"``.
    replacement : see :mod:`lrpref.evaluate.replacement` (default 0).
    output : ``"softmax"`` (probabilities ``P = softmax(Z)``) or ``"raw"`` (a model that already
        returns probabilities, e.g. ``predict_proba``).
    random_state, batch_size, first_index : as :func:`~lrpref.evaluate.region_perturbation`.
    """
    x4 = images(x)
    maps = heatmap(relevance, x4)
    check_target(target)
    ratios = np.asarray(ratios, dtype=np.float64).reshape(-1)
    if ratios.size == 0 or not np.all((ratios >= 0) & (ratios <= 1)):
        raise ValueError(f"ratios must be numbers in [0, 1], got {ratios.tolist()}")
    fraction = choice(fraction, ("removed", "kept"), "fraction")
    change = choice(change, ("absolute", "relative"), "change")
    output = choice(output, OUTPUTS, "output")
    first_index = positive_int(first_index, "first_index", low=0)
    seed = seed_of(random_state)

    n, height, width = maps.shape
    ranked = np.argsort(maps.reshape(n, -1), axis=1, kind="stable")
    rank = np.empty_like(ranked)
    np.put_along_axis(rank, ranked, np.arange(height * width)[None], axis=1)
    removal = (rank + 1).reshape(maps.shape)  # a position of rank r is removed once r + 1 positions are
    removed = np.array([removed_count(ratio, height * width, fraction) for ratio in ratios])

    B = replacement_images(replacement, np.asarray(x), x4, seed, first_index)
    scores, classes = perturbed_scores(model, np.shape(x), x4, removal, removed, B, target, output, batch_size)
    settings = dict(fraction=fraction, change=change, replacement=describe(replacement), output=output,
                    random_state=seed)
    return ProbabilityChange(original=scores[:, 0], perturbed=scores[:, 1:], change=score_change(scores, change),
                             target=classes, settings=settings, ratios=ratios, removed=removed)
