"""``explain``: relevance of every layer of a network for a batch of inputs, by any method."""

from __future__ import annotations

import numpy as np

from . import config, methods
from ._fast import blas
from .composites import as_composite
from .explanation import Explanation, LayerRelevance
from .network import Graph
from .paths import RULES, quadrature
from .propagate import check_rule, memory_budget, messages, propagate
from .tops import logit

__all__ = ["explain", "METHODS"]

METHODS = methods.METHODS


def explain(net: Graph, x, target=None, rule=None, *, method: str = "lrp", reference=None, steps: int = 10,
            riemann: str = "right", keep_messages: bool = False, path: str = "fast", max_matrix_bytes: int | None = None,
            **options) -> Explanation:
    """Explain the network's output for the batch ``x`` (N, ...), node by node.

    Parameters
    ----------
    net : Graph or Sequential (a chain is a graph whose nodes read the one before)
    x : array (N, ...) of the network's dtype (float32 or float64), finite; a ``dask.array`` chunked
        along the batch gives a :class:`~lrpref.chunked.DaskExplanation`, chunk by chunk
        (:func:`lrpref.explain_dask`, docs/scale.md).
    target : None (each sample's arg-max), int, N ints, or (LRP) a float array of the output's
        shape used as the top relevance itself.
    rule : for LRP-based methods, a rule (applied to every affine layer), a
        :class:`~lrpref.Composite`, a list of one rule per layer, or None (the method's default:
        LRP-0 for ``"lrp"``).
    method : one of :data:`METHODS` (see :mod:`lrpref.methods`), or an alias from
        ``methods.ALIASES`` (e.g. ``"sensitivity"`` for ``"gradient"``); default ``"lrp"``.
    reference : the reference input of reference-based methods (DeepLIFT, IG, the LID family,
        Score-CAM's baseline): None/0, a number, an array broadcastable to ``x``, ``"blur"`` or
        ``("blur", sigma)`` (:mod:`lrpref.reference`).
    steps : number of path samples (LID-IG, SIG tops, IG) or noise samples (SmoothGrad), >= 1.
    riemann : quadrature along paths, one of ``"right"`` (default), ``"left"``, ``"midpoint"``,
        ``"trapezoid"``, ``"gauss-legendre"``, or a pair ``(points, weights)`` of ``steps`` values
        summing to 1 (:mod:`lrpref.paths`). ``steps`` is bounded by ``lrpref.config.max_steps`` and
        the work of a path method by ``lrpref.config.max_path_work``.
    keep_messages : (LRP) keep the activations so that ``ex.layers[k].messages(n)`` can build
        the explicit message matrix of sample ``n``. Multiplier methods keep their
        linearisations, so their messages are always available.
    path : (LRP) ``"fast"`` (layer operators, numba kernels) or ``"explicit"`` (every sample's
        message matrix, within ``max_matrix_bytes``); they agree to round-off.
    max_matrix_bytes : int or None — (``path="explicit"``) the memory budget of one sample's
        explicit message matrix, in bytes; None uses ``lrpref.config.max_matrix_bytes`` (default
        2**30 = 1 GiB). A larger matrix raises :class:`lrpref.MatrixTooLarge` naming the node and
        the size (``ex.layers[k].messages(n, max_bytes=...)`` takes the same budget per call).
    **options : method-specific (``methods.OPTIONS``): ``revealcancel``, ``noise``,
        ``random_state``, ``clrp``, ``clrp_normalise``, ``layer`` (a node index or name),
        ``upsample``, ``outer_relu``, ``convention``, ``batch_size``.

    Returns
    -------
    Explanation
        ``ex.relevance`` (the input relevance, shape and dtype of ``x``), ``ex.output`` (N, K),
        ``ex.target`` (the class of every sample), ``ex.top`` (``R(Y^L)``), ``ex.layers[k]`` (node
        ``k``: ``relevance_in``, ``relevance_out``, ``absorbed``, ``messages(n)`` = ``M[j, i] =
        R(i <- j)`` of sample ``n``), ``ex.tensor_relevance(t)``, ``ex.conservation`` (per node and
        sample: received, passed, absorbed by kind, residual; a fan-in row at each branch point)
        and ``ex.steps(n)`` (the teaching trace; ``html=DIR`` writes it as a page).

    Raises
    ------
    TypeError, ValueError : a bad argument, named in the message (shape, dtype, NaN/inf, a target
        out of range, a rule that does not apply to a node, ...); ``FloatingPointError`` when the
        forward pass or the relevance overflows, naming the node.

    Examples
    --------
    Example B of math.md §12 (LRP-0 gives ``(0, 6)``, DeepLIFT ``(-1.05, 6.6)``):

    >>> import numpy as np, lrpref as lr
    >>> net = lr.Sequential([lr.Dense([[1, -1], [2, 1], [-1, 1]], [0.55, -1, 0.5]), lr.ReLU(),
    ...                      lr.Dense([[1, 2, -1], [-1, 1, 2], [0.5, -1, 1]], [0.1, -0.2, 0.3])])
    >>> lr.explain(net, np.array([[1.0, 2.0]]), target=1, rule=lr.LRP0()).relevance
    array([[0., 6.]])
    >>> lr.explain(net, np.array([[1.0, 2.0]]), target=1, method="deeplift").relevance.round(6)
    array([[-1.05,  6.6 ]])
    """
    if not isinstance(net, Graph):
        raise TypeError(f"net must be an lrpref.Sequential or Graph, got {type(net).__name__}")
    if type(x).__module__.partition(".")[0] == "dask":  # a dask array: chunk by chunk (lrpref.chunked)
        from .chunked import explain_dask

        return explain_dask(net, x, target, rule=rule, method=method, reference=reference, steps=steps, riemann=riemann,
                            keep_messages=keep_messages, path=path, max_matrix_bytes=max_matrix_bytes, **options)
    method = methods.ALIASES.get(method, method)
    if method not in methods.REGISTRY:
        raise ValueError(f"unknown method {method!r}; one of {tuple(methods.REGISTRY)} (or an alias: "
                         f"{sorted(methods.ALIASES)})")
    spec = methods.REGISTRY[method]
    if path not in ("fast", "explicit"):
        raise ValueError(f"path must be 'fast' or 'explicit', got {path!r}")
    memory_budget(max_matrix_bytes, "max_matrix_bytes")
    if path == "explicit" and not spec.takes_rule:
        raise ValueError(f"path='explicit' is for LRP rules; method {method!r} builds its message matrices on request "
                         f"(ex.layers[k].messages(n))")
    lrp_based = tuple(name for name, m in methods.REGISTRY.items() if m.takes_rule)
    if rule is not None and not spec.takes_rule:
        raise ValueError(f"method {method!r} takes no rule (rules are for the LRP-based methods {lrp_based})")
    if reference is not None and not spec.reference:
        raise ValueError(f"method {method!r} takes no reference input")
    if spec.steps or not isinstance(riemann, str) or riemann != "right":
        if isinstance(riemann, str) and riemann not in RULES:
            raise ValueError(f"unknown quadrature rule {riemann!r}; one of {RULES}")
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        steps = int(steps)
        if steps > config.max_steps:
            raise ValueError(f"steps={steps} is above lrpref.config.max_steps = {config.max_steps}: each step is a forward "
                             f"and a backward pass of the batch, so this run would take about {steps} times as long as a "
                             f"gradient; raise lrpref.config.max_steps to allow it")
        quadrature(steps, riemann)
    x = net.check_input(x)
    if spec.steps:
        work = steps * len(x) * sum(int(np.prod(shape)) for shape in net.shapes(x.shape[1:]))
        if work > config.max_path_work:
            raise ValueError(f"steps={steps} on a batch of {len(x)} computes about {work:.2g} activations (steps × batch × "
                             f"activations per sample), above lrpref.config.max_path_work = {config.max_path_work:.2g}: "
                             f"use fewer steps or a smaller batch, or raise the setting to allow it")

    def explain_lrp(top, layer_rule, network=net):
        return _lrp(network, x, top, layer_rule, keep_messages, path, max_matrix_bytes)

    with blas.releasing_threads():   # a good neighbour: no BLAS thread left spinning after the call
        ex = methods.run(spec, methods.Call(net, x, target, rule, reference, steps, riemann, options, explain_lrp))
    _check_finite_relevance(ex, net)
    return ex


def _check_finite_relevance(ex, net) -> None:
    """Refuse an explanation whose relevance overflowed on the way down, naming the first node (from the top) where it did."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(ex.relevance.sum()) or np.all(np.isfinite(ex.relevance)):
            return
    where = next((record.where for record in reversed(ex.layers)
                  if not all(np.all(np.isfinite(r)) for r in record.relevance_edges)), "the input")
    raise FloatingPointError(f"{where}: the relevance overflowed (became non-finite) on the way down in {ex.relevance.dtype}; "
                             f"explain in float64 (net.astype(np.float64)) or scale the input")


def _lrp(net, x, target, rule, keep_messages, path, max_matrix_bytes) -> Explanation:
    """LRP from ``e_c ⊙ Z`` (``target`` classes) or from an explicit top relevance array (math.md §2, §3).

    Nodes are visited in reverse topological order; the relevance of a tensor is the sum of what
    its consumers sent down to it (fan-in at a branch point).
    """
    composite = as_composite(rule, net)
    rules = composite.rules_for(net)
    for k, (layer, layer_rule) in enumerate(zip(net, rules)):
        check_rule(layer, layer_rule, net.where(k))
        layer_rule.check_dtype(x.dtype, net.where(k))
    activations, states = net.record(x, states=True)
    output = activations[-1]
    top, target = logit(output, target)
    relevance = [None] * len(activations)
    relevance[-1] = top
    records = [None] * len(net)
    for k in reversed(range(len(net))):
        inputs, z, R = net.inputs_of(k, activations), activations[k + 1], relevance[k + 1]
        step = propagate(net[k], rules[k], inputs, z, R, path, net.where(k), max_matrix_bytes, states[k])
        for t, r in zip(net.nodes[k].inputs, step.relevance_edges):
            relevance[t] = r if relevance[t] is None else relevance[t] + r
        message_fn = None
        if keep_messages:
            def message_fn(n, max_bytes, k=k, inputs=inputs, z=z, R=R):
                one = slice(n, n + 1)
                return messages(net[k], rules[k], [a[one] for a in inputs], z[one], R[one], net.where(k), max_bytes)
        records[k] = LayerRelevance(k, net[k], rules[k], step, net.where(k), message_fn,
                                    (inputs, z) if keep_messages else None, net.label(k))
    return Explanation(relevance[0], output, target, top, records, "lrp", path, composite.describe(), network=net,
                       tensors=relevance)
