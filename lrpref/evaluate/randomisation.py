"""Model-parameter randomisation sanity checks (Adebayo et al. 2018; math.md §14.5).

An explanation method that explains the model should change when the model's parameters are
destroyed. :func:`model_randomisation` re-initialises weight layers of an
:class:`lrpref.Sequential` and compares the explanation maps of the randomised network with
those of the original, sample by sample (:mod:`lrpref.evaluate.similarity`: Spearman with and
without absolute values, SSIM). The method passes when the similarity drops.

* ``mode="cascading"`` — from the logits downward: step ``s`` re-initialises the ``s`` top-most
  weight layers (all of ``layers`` above and including the ``s``-th from the top).
* ``mode="independent"`` — step ``s`` re-initialises only the ``s``-th weight layer from the top.

Re-initialisation (:func:`reinitialise`) draws ``W`` and ``b`` from
``U(−1/√fan_in, 1/√fan_in)`` — PyTorch's default initialisation of ``nn.Linear`` and
``nn.Conv2d`` (``kaiming_uniform_`` with ``a = √5`` has that bound) — with ``fan_in`` the
``in_features`` of a Dense layer or ``in_channels/groups · kh · kw`` of a Conv2d. Layer ``k``'s
numbers come from the stream ``SeedSequence(seed, spawn_key=(k,))``, so it gets the same new
weights in every step and in both modes. Only Dense and Conv2d layers are re-initialised; fold
BatchNorm layers into them first (:func:`lrpref.fold_batchnorm`).

The explained class stays fixed across the steps: ``target``, or the original network's
predicted class when None. Data randomisation (retraining on permuted labels) is not done here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..canonize import _with as with_parameters
from ..layers import Conv2d, Dense
from ..network import Sequential
from ..tops import resolve_target
from ._inputs import check_target, choice, seed_of
from .chunks import over_chunks
from .result import Result
from .similarity import MEASURES, similarity

__all__ = ["reinitialise", "model_randomisation", "Randomisation", "weight_layers"]


@dataclass(frozen=True)
class Randomisation(Result):
    """Result of :func:`model_randomisation`.

    ``layers[s]`` is the layer re-initialised at step ``s`` (cascading: together with all the
    layers before it in this tuple); ``names[s]`` its description; ``similarity[measure]`` is
    ``(N, S)``: sample ``n``'s similarity to the original explanation after step ``s``;
    ``target`` the explained classes.
    """

    layers: tuple
    names: tuple
    similarity: dict
    target: np.ndarray

    PER_SAMPLE = ("similarity", "target")

    @property
    def mean(self) -> dict:
        """``{measure: (S,)}``: the similarity averaged over the samples at every step."""
        return {measure: values.mean(axis=0) for measure, values in self.similarity.items()}


def weight_layers(net: Sequential) -> list[int]:
    """Indices of the layers :func:`reinitialise` can re-draw (Dense, Conv2d), bottom to top."""
    return [k for k, layer in enumerate(net) if isinstance(layer, (Dense, Conv2d))]


def _fan_in(layer) -> int:
    if isinstance(layer, Dense):
        return layer.in_features
    return layer.in_channels // layer.groups * layer.kernel[0] * layer.kernel[1]


def reinitialise(net: Sequential, layers, random_state=None) -> Sequential:
    """A copy of ``net`` whose layers ``layers`` (indices of Dense/Conv2d layers) have fresh weights and biases.

    See the module docstring for the distribution and the per-layer random streams.
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be an lrpref.Sequential, got {type(net).__name__}")
    seed = seed_of(random_state)
    chosen = _checked_layers(net, layers)
    rebuilt = list(net)
    for k in chosen:
        layer = net[k]
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
        bound = 1.0 / np.sqrt(_fan_in(layer))
        W = rng.uniform(-bound, bound, size=layer.W.shape)
        b = None if layer.bias is None else rng.uniform(-bound, bound, size=layer.bias.shape)
        rebuilt[k] = with_parameters(layer, W.astype(layer.dtype), None if b is None else b.astype(layer.dtype))
    return Sequential(rebuilt)


def _checked_layers(net, layers) -> list[int]:
    if layers is None:
        return weight_layers(net)
    chosen = []
    for k in np.atleast_1d(layers).tolist():
        if isinstance(k, bool) or not isinstance(k, int) or not -len(net) <= k < len(net):
            raise ValueError(f"layer {k!r} is not a layer index of a network of {len(net)} layers")
        k %= len(net)
        if not isinstance(net[k], (Dense, Conv2d)):
            raise ValueError(f"{net.where(k)} has no weights to re-initialise (Dense and Conv2d do; "
                             f"fold BatchNorm first with lrpref.fold_batchnorm)")
        chosen.append(k)
    if not chosen:
        raise ValueError("no layer to re-initialise")
    return sorted(set(chosen))


def _maps(explainer, net, x, classes, step):
    maps = np.asarray(explainer(net, x, classes))
    if maps.ndim < 2 or maps.shape[0] != len(x):
        raise ValueError(f"the explainer returned shape {maps.shape} ({step}); it must return maps (N, ...) for N = {len(x)}")
    return maps


@over_chunks("x", "target")
def model_randomisation(net: Sequential, explainer, x, target=None, *, mode: str = "cascading", layers=None,
                        measures=MEASURES, random_state=None) -> Randomisation:
    """The cascading or independent model-parameter randomisation check (see the module docstring).

    Parameters
    ----------
    net : lrpref.Sequential
    explainer : callable ``explainer(net, x, target) -> maps (N, ...)`` with ``target`` N class
        indices, e.g. ``lambda net, x, t: lr.explain(net, x, t, method="gradient").relevance``.
        Flat maps can be compared by Spearman; SSIM needs 2-D maps (reshape them in the explainer).
    x : the network's input batch (or a dask array of it).
    target : None (the original network's predicted classes), an int, or N ints.
    mode : ``"cascading"`` or ``"independent"``.
    layers : indices of the Dense/Conv2d layers to re-initialise (default: all of them).
    measures : similarity measures, from ``("spearman", "spearman_abs", "ssim")``.
    random_state : None, an int or a numpy Generator (the new weights).
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be an lrpref.Sequential, got {type(net).__name__}")
    if not callable(explainer):
        raise TypeError(f"explainer must be a callable explainer(net, x, target) -> maps, got {explainer!r}")
    mode = choice(mode, ("cascading", "independent"), "mode")
    measures = tuple(choice(measure, MEASURES, "similarity measure") for measure in np.atleast_1d(measures).tolist())
    check_target(target)
    top_down = _checked_layers(net, layers)[::-1]
    seed = seed_of(random_state)
    classes, _ = resolve_target(net(x), target)

    original = _maps(explainer, net, x, classes, "original network")
    scores = {measure: np.empty((len(original), len(top_down))) for measure in measures}
    for step, k in enumerate(top_down):
        randomised = reinitialise(net, top_down[:step + 1] if mode == "cascading" else [k], seed)
        maps = _maps(explainer, randomised, x, classes, f"{net.where(k)} re-initialised")
        if maps.shape != original.shape:
            raise ValueError(f"the explainer returned maps of shape {maps.shape} after re-initialising {net.where(k)}, "
                             f"{original.shape} for the original network")
        for measure in measures:
            scores[measure][:, step] = similarity(original, maps, measure)
    settings = dict(mode=mode, measures=measures, random_state=seed)
    return Randomisation(layers=tuple(top_down), names=tuple(net.where(k) for k in top_down), similarity=scores,
                         target=classes, settings=settings)
