"""Minimal and Maximal Patch (Chen et al. 2024, Sec. 4.3, Fig. 11–12; math.md §14.2, §15.19).

Take the heatmap's (channel-summed, math.md §13, at the image's resolution) arg-min ``(p*, q*)`` —
its most negative position, the first in row-major order on ties — and remove the square
``[p* − r, p* + r] × [q* − r, q* + r]`` (side ``2r + 1``, cut at the borders) for each radius
``r`` (default 1, 2, 3, 5, 10, 20), in all channels, replaced by ``B`` (default 0 in the
model's input space; :mod:`lrpref.evaluate.replacement`). Report ``P_c(X_r) − P_c(X)``
averaged over the images: for the **Minimal Patch** higher (positive) is better — removing
negative evidence should raise the probability. The **Maximal Patch** (SG-LRP; Chen et al. 2024, Sec. 4.3) is the
same around the arg-max, where a larger drop is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._inputs import OUTPUTS, check_target, choice, heatmap, images, positive_int, seed_of
from .chunks import over_chunks
from .perturb import perturbed_scores
from .replacement import describe, replacement_images
from .result import ChangeCurve, score_change

__all__ = ["minimal_patch", "maximal_patch", "PatchChange", "RADII"]

RADII = (1, 2, 3, 5, 10, 20)


@dataclass(frozen=True)
class PatchChange(ChangeCurve):
    """Result of :func:`minimal_patch` / :func:`maximal_patch`: ``change[n, j]`` for ``radii[j]``; ``centre[n] = (p*, q*)``."""

    radii: np.ndarray
    centre: np.ndarray

    PER_SAMPLE = ChangeCurve.PER_SAMPLE + ("centre",)


def _patch(kind, model, x, relevance, target, radii, change, replacement, output, random_state, batch_size,
           first_index) -> PatchChange:
    x4 = images(x)
    maps = heatmap(relevance, x4)
    check_target(target)
    radii = np.asarray([positive_int(r, "a radius", low=0) for r in np.atleast_1d(radii)], dtype=np.int64)
    if radii.size == 0:
        raise ValueError("radii must hold at least one radius")
    change = choice(change, ("absolute", "relative"), "change")
    output = choice(output, OUTPUTS, "output")
    first_index = positive_int(first_index, "first_index", low=0)
    seed = seed_of(random_state)

    n, height, width = maps.shape
    flat = maps.reshape(n, -1)
    pick = flat.argmin(axis=1) if kind == "minimal" else flat.argmax(axis=1)  # the first extreme in row-major order
    centre = np.stack(np.unravel_index(pick, (height, width)), axis=1)
    rows, cols = np.arange(height), np.arange(width)
    # Chebyshev distance from the centre: the square of radius r is {distance <= r}
    removal = np.maximum(np.abs(rows[None, :, None] - centre[:, 0, None, None]),
                         np.abs(cols[None, None, :] - centre[:, 1, None, None]))

    B = replacement_images(replacement, np.asarray(x), x4, seed, first_index)
    scores, classes = perturbed_scores(model, np.shape(x), x4, removal, radii, B, target, output, batch_size)
    settings = dict(kind=kind, change=change, replacement=describe(replacement), output=output, random_state=seed)
    return PatchChange(original=scores[:, 0], perturbed=scores[:, 1:], change=score_change(scores, change),
                       target=classes, settings=settings, radii=radii, centre=centre)


@over_chunks("x", "relevance", "target", "replacement")
def minimal_patch(model, x, relevance, target=None, *, radii=RADII, change: str = "absolute", replacement=0.0,
                  output: str = "softmax", random_state=None, batch_size: int = 256,
                  first_index: int = 0) -> PatchChange:
    """Minimal Patch: remove squares around the heatmap's arg-min (see the module docstring).

    Parameters as :func:`~lrpref.evaluate.probability_change`, with ``radii`` the square radii
    ``r >= 0`` (side ``2r + 1``) instead of ratios.
    """
    return _patch("minimal", model, x, relevance, target, radii, change, replacement, output, random_state,
                  batch_size, first_index)


@over_chunks("x", "relevance", "target", "replacement")
def maximal_patch(model, x, relevance, target=None, *, radii=RADII, change: str = "absolute", replacement=0.0,
                  output: str = "softmax", random_state=None, batch_size: int = 256,
                  first_index: int = 0) -> PatchChange:
    """Maximal Patch: remove squares around the heatmap's arg-max (see the module docstring)."""
    return _patch("maximal", model, x, relevance, target, radii, change, replacement, output, random_state,
                  batch_size, first_index)
