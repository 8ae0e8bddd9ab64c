"""``explain``: relevance of every layer of a network for a batch of inputs."""

from __future__ import annotations

from .composites import as_composite
from .explanation import Explanation, LayerRelevance
from .network import Sequential
from .propagate import check_rule, propagate
from .tops import logit

__all__ = ["explain"]

METHODS = ("lrp",)


def explain(net: Sequential, x, target=None, rule=None, *, method: str = "lrp", keep_messages: bool = False,
            path: str = "fast", max_matrix_bytes: int | None = None) -> Explanation:
    """Explain the network's output for the batch ``x`` (N, ...), layer by layer.

    Parameters
    ----------
    net : Sequential
    x : array (N, ...) of the network's dtype (float32 or float64), finite.
    target : None (each sample's arg-max), int, N ints, or a float array of the output's
        shape used as the top relevance itself. LRP starts from ``e_c ⊙ Z`` (spec §2).
    rule : a rule (applied to every affine layer), a :class:`~lrpref.Composite`, a list of one
        rule per layer, or None for LRP-0.
    method : ``"lrp"``.
    keep_messages : keep the activations so that ``ex.layers[k].messages(n)`` can build the
        explicit message matrix of sample ``n``.
    path : ``"fast"`` (layer operators, numba kernels) or ``"explicit"`` (every sample's
        message matrix, within ``max_matrix_bytes``); they agree to round-off.
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be an lrpref.Sequential, got {type(net).__name__}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {METHODS}")
    if path not in ("fast", "explicit"):
        raise ValueError(f"path must be 'fast' or 'explicit', got {path!r}")
    composite = as_composite(rule, net)
    rules = composite.rules_for(net)
    for k, (layer, layer_rule) in enumerate(zip(net, rules)):
        check_rule(layer, layer_rule, net.where(k))
    activations, states = net.record(x, states=True)
    output = activations[-1]
    R, target = logit(output, target)
    top = R
    records = [None] * len(net)
    for k in reversed(range(len(net))):
        a, z = activations[k], activations[k + 1]
        step = propagate(net[k], rules[k], a, z, R, path, net.where(k), max_matrix_bytes, states[k])
        records[k] = LayerRelevance(k, net[k], rules[k], step, R, net.where(k), (a, z) if keep_messages else None)
        R = step.relevance_in
    return Explanation(R, output, target, top, records, method, path, composite.describe())
