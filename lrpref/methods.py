"""What each ``method`` of :func:`lrpref.explain` computes (math.md §2, §4–§8, §6.5).

Multiplier methods (:mod:`lrpref.chain`): a top multiplier ``g^L``, a linearisation ``D`` per
layer (:mod:`lrpref.linearize`) and a factor per layer, ``R(Y^l) = g^{l+1} ⊙ factor^l``:

=======================  =============  ==========================  ==========================
method                   top ``g^L``    linearisation ``D``          factor
=======================  =============  ==========================  ==========================
``deeplift``             ``e_c``        Rescale (max-pool: gradient) ``ΔY``
``deeplift-revealcancel`` ``e_c``       RevealCancel after affine    ``ΔY``
``lid-taylor``           ``e_c``        Jacobian at ``x``            ``ΔY``
``lrp-taylor``           ``e_c``        Jacobian at ``x``            ``Y`` (``Ŷ := 0``, math.md §6.2)
``lid-ig``               ``e_c``        path-averaged Jacobian       ``ΔY``
``st-lid-taylor``        ``P'_c(Z)``    Jacobian at ``x``            ``ΔY``
``sig-lid-taylor``       ``P̄'_c``       Jacobian at ``x``            ``ΔY``
``sig-lid-ig``           ``P̄'_c``       path-averaged Jacobian       ``ΔY``
``gradient-x-input``     ``e_c``        Jacobian at ``x``            ``Y``
``gradient``             ``e_c``        Jacobian at ``x``            the gradient (``R = g²``)
=======================  =============  ==========================  ==========================

``deeplift`` with ``convention="captum"`` is captum's ``DeepLift`` rule: the gradient at the input where
``|Δx| < 1e-10`` and max-pooling by the cross-maximum (:class:`lrpref.linearize.CrossMax`);
``"captum-quirks"`` also reproduces what captum's hooks do: a non-linear layer fed straight by another
(ReLU → MaxPool2d) keeps its plain gradient (:func:`lrpref.linearize.captum_hooks`).

Averaged over points (the same engine, weighted): ``ig`` (Jacobians at ``x̂ + t_k Δx``, factor
``ΔY``; math.md §5) and ``smoothgrad`` (gradients at noisy copies of ``x``; ``R`` = the mean
gradient).

LRP with another top layer (:mod:`lrpref.tops`): ``sg-lrp-0`` (``P'_c``), ``sg-lrp-zp`` (``P'_c``,
z⁺ rule), ``st-lrp-0`` (``P'_c ⊙ Z``), ``sig-lrp-0`` (``P̄'_c ⊙ Z`` on ``0 → Z``), and ``clrp``
(math.md §7.2). CAM baselines: ``grad-cam``, ``layer-cam``, ``score-cam`` (:mod:`lrpref.cam`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from . import cam, tops
from .chain import FUSED, ChainStep, Increments, propagate_graph
from .explanation import Explanation, LayerRelevance
from .layers import Dense
from .linearize import RevealCancel, captum_hooks
from .paths import quadrature, rule_name
from .propagate import Absorbed, per_edge
from .reference import resolve_reference
from .rules import Epsilon, ZPlus

__all__ = ["METHODS", "ALIASES", "REGISTRY", "Method", "Call", "register", "run"]


@dataclass(frozen=True)
class _Multiplier:
    top: str          # "logit" (e_c with factor Y), "increment", "st", "sig"
    linearize: str    # "local", "rescale", "path", "revealcancel"
    factor: str       # "increment", "activation", "multiplier"
    conserves: bool = True  # False: a gradient baseline, no absorption to report


MULTIPLIER = {
    "deeplift": _Multiplier("increment", "rescale", "increment"),
    "deeplift-revealcancel": _Multiplier("increment", "revealcancel", "increment"),
    "lid-taylor": _Multiplier("increment", "local", "increment"),
    "lrp-taylor": _Multiplier("logit", "local", "activation"),
    "lid-ig": _Multiplier("increment", "path", "increment"),
    "st-lid-taylor": _Multiplier("st", "local", "increment"),
    "sig-lid-taylor": _Multiplier("sig", "local", "increment"),
    "sig-lid-ig": _Multiplier("sig", "path", "increment"),
    "gradient-x-input": _Multiplier("logit", "local", "activation"),
    "gradient": _Multiplier("logit", "local", "multiplier", conserves=False),
}

# LRP with a softmax-based top layer: top relevance and default rule ("ε-fused": ε = 1e-9, math.md §6.5, §15.17)
LRP_TOPS = {
    "sg-lrp-0": ("sg", Epsilon(1e-9)),
    "sg-lrp-zp": ("sg", ZPlus()),
    "st-lrp-0": ("st-lrp-0", Epsilon(1e-9)),
    "sig-lrp-0": ("sig-lrp-0", Epsilon(1e-9)),
}

# the keyword options of the multiplier methods, with their defaults
_OPTIONS = {"deeplift": {"convention": "deeplift"}, "deeplift-revealcancel": {"revealcancel": "all"}}

# other names researchers use for the same methods
ALIASES = {
    "sensitivity": "gradient",  # R = (∂y_c/∂x)² (Simonyan et al. 2014; Samek et al. 2017's "sensitivity analysis")
    "saliency": "gradient",
    "gradient*input": "gradient-x-input",
    "deeplift-rescale": "deeplift",
    "integrated-gradients": "ig",
}


@dataclass(frozen=True)
class Call:
    """One call of :func:`lrpref.explain`, validated: what a method's runner receives.

    ``explain_lrp(target, rule, network=net)`` runs LRP from class indices or an explicit top relevance.
    """

    net: object
    x: np.ndarray
    target: object
    rule: object
    reference: object
    steps: int
    riemann: object
    options: dict
    explain_lrp: Callable


@dataclass(frozen=True)
class Method:
    """A method of :func:`lrpref.explain` and its traits (read by ``explain``, the conformance kit and the docs).

    ``family``: ``"lrp"`` (rules on a top relevance), ``"multiplier"`` (:mod:`lrpref.chain`),
    ``"averaged"`` (multipliers averaged over points: IG, SmoothGrad) or ``"cam"``;
    ``takes_rule``: LRP-based (``rule=``, ``path="explicit"``); ``reference``: takes a reference input;
    ``steps``: ``"path"`` (quadrature points along a straight path), ``"samples"`` or None;
    ``options``: its keyword options with their defaults; ``conserves``: its ledger balances
    (absorption or remainder accounts for everything); ``run(call)`` makes the :class:`Explanation`.
    """

    name: str
    family: str
    run: Callable
    takes_rule: bool = False
    reference: bool = False
    steps: str | None = None
    options: Mapping = field(default_factory=dict)
    conserves: bool = True

    def __post_init__(self):
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


REGISTRY: dict[str, Method] = {}


def register(name: str, family: str, **traits):
    """Add a method to :data:`REGISTRY` (a decorator of its runner ``run(call) -> Explanation``)."""
    def add(run):
        if name in REGISTRY or name in ALIASES:
            raise ValueError(f"a method named {name!r} is already registered")
        REGISTRY[name] = Method(name, family, run, **traits)
        return run

    return add


class _Named:
    """A label standing in for a rule in records and ledgers."""

    def __init__(self, text):
        self.text = text

    def describe(self):
        return self.text

    __repr__ = describe


def _classes(output, target, method):
    classes, explicit = tops.resolve_target(output, target)
    if explicit is not None:
        raise ValueError(f"method {method!r} needs class indices as target, not an explicit top relevance array")
    return classes


def _records(net, steps, rules):
    def messages_of(k, step):
        return lambda n, max_bytes: step.messages(n, net.where(k), max_bytes)

    return [LayerRelevance(k, net[k], rules[k], step, net.where(k), messages_of(k, step), name=net.label(k))
            for k, step in enumerate(steps)]


# --------------------------------------------------------------------------- multiplier methods


def _revealcancel_partner(net, k, option):
    """The element-wise node fused with affine node ``k`` under RevealCancel (its only consumer, reading nothing else),
    or None."""
    layer, consumers = net[k], net.consumers[k + 1]
    if "linear" not in layer.capabilities or layer.n_inputs != 1 or layer.role == "fixed" or len(consumers) != 1:
        return None
    j, _ = consumers[0]
    if not net[j].elementwise or option == "dense" and not isinstance(layer, Dense):
        return None
    return j


def _linearizations(net, spec, activations, states, reference_acts, ts, weights, option, convention):
    """``D`` of every node for the method ``spec`` (:data:`FUSED` for the upper node of a RevealCancel pair)."""
    lins = [None] * len(net)
    for k, layer in enumerate(net):
        if lins[k] is FUSED:
            continue
        inputs = net.inputs_of(k, activations)
        refs = None if reference_acts is None else net.inputs_of(k, reference_acts)
        partner = _revealcancel_partner(net, k, option) if spec.linearize == "revealcancel" else None
        if spec.linearize == "local":
            lins[k] = layer.local_linearization(inputs, states[k])
        elif spec.linearize == "path":
            lins[k] = layer.path_linearization(inputs, refs, ts, weights)
        elif partner is not None:
            lins[k] = RevealCancel(layer, net[partner], inputs[0], refs[0], reference_acts[k + 1])
            lins[partner] = FUSED
        elif convention == "captum-quirks" and _fed_by_hooked(net, k) and captum_hooks(layer):
            lins[k] = layer.local_linearization(inputs, states[k])  # captum's hook below sees this node's plain gradient
        else:
            lins[k] = layer.rescale_linearization(inputs, refs, activations[k + 1], reference_acts[k + 1], states[k],
                                                  "captum" if convention == "captum-quirks" else convention)
    return lins


def _fed_by_hooked(net, k) -> bool:
    """Node ``k`` reads the output of a node captum's DeepLift hooks."""
    return any(t > 0 and captum_hooks(net[t - 1]) for t in net.nodes[k].inputs)


def _multiplier_method(name, call):
    net, x, target, reference, steps, riemann, options = (call.net, call.x, call.target, call.reference, call.steps,
                                                          call.riemann, call.options)
    if name == "deeplift" and options["convention"] not in ("deeplift", "captum", "captum-quirks"):
        raise ValueError(f"deeplift: convention must be 'deeplift' (the reference code), 'captum' or 'captum-quirks', "
                         f"got {options['convention']!r}")
    if name == "deeplift-revealcancel" and options["revealcancel"] not in ("all", "dense"):
        raise ValueError(f"revealcancel must be 'all' or 'dense', got {options['revealcancel']!r}")
    spec = MULTIPLIER[name]
    activations, states = net.record(x, states=True)
    Z = activations[-1]
    classes = _classes(Z, target, name)
    needs_reference = spec.factor == "increment" or spec.linearize != "local"
    ref = resolve_reference(reference, x) if needs_reference else None
    reference_acts = net.record_reference(ref) if needs_reference else None
    ts, weights = quadrature(steps, riemann) if (spec.linearize == "path" or spec.top == "sig") else (None, None)
    top_kind = "increment" if spec.top == "logit" else spec.top
    g_top = tops.multiplier(top_kind, Z, None if ref is None else reference_acts[-1], classes, ts, weights)
    lins = _linearizations(net, spec, activations, states, reference_acts, ts, weights, options.get("revealcancel"),
                           options.get("convention", "deeplift"))
    if spec.factor == "increment":
        factors = Increments(activations, reference_acts)
    elif spec.factor == "activation":
        factors = activations
    else:
        factors = "multiplier"
    chain_steps = propagate_graph(net, lins, g_top, factors)
    if not spec.conserves:
        for step in chain_steps:
            step.absorbed = Absorbed()
    rules = [_Named("pass (RevealCancel with the layer below)") if lin is FUSED else lin for lin in lins]
    extras = {}
    if needs_reference:
        extras.update(reference=ref, reference_output=reference_acts[-1])
    top = chain_steps[-1].relevance_out
    records = _records(net, chain_steps, rules)
    return Explanation(_input_relevance(net, records), Z, classes, top, records, name, "fast",
                       _describe(name, steps, riemann, spec), network=net, **extras)


def _input_relevance(net, records):
    """The relevance of the network input: the sum of what its consumers sent."""
    return sum(records[k].relevance_edges[e] for k, e in net.consumers[0])


def _describe(name, steps, riemann, spec):
    if spec.linearize == "path" or spec.top == "sig":
        return f"{name}, {steps} steps, {rule_name(riemann)} rule"
    return name


# --------------------------------------------------------------------------- averaged over points: IG, SmoothGrad


class _AveragedStep:
    """One node of an averaged method: relevance, remainder (accumulated over the points), messages recomputed on demand."""

    def __init__(self, relevance_edges, relevance_out, multiplier, remainder, message_terms):
        self.relevance_edges, self.relevance_out, self.multiplier = relevance_edges, relevance_out, multiplier
        self.absorbed = Absorbed() if remainder is None else Absorbed(remainder=remainder)
        self._message_terms = message_terms

    @property
    def relevance_in(self):
        return per_edge(self.relevance_edges)

    def messages(self, n, where="layer", max_bytes=None):
        return self._message_terms(n).messages(0, where, max_bytes)


def _averaged(net, points, weights, factors, classes, conserves):
    """``R_e = (sum_k w_k g_e,k) ⊙ factor`` of every input edge, with ``g_k`` the gradients at ``points[k]`` (see
    :mod:`lrpref.chain`)."""

    def chains(rows):
        """Per point: weight, linearisations and steps (factor 1: an edge's ``relevance_edges`` is its multiplier)."""
        for point, w in zip(points, weights):
            acts, states = net.record(point[rows], states=True)
            lins = [layer.local_linearization(net.inputs_of(k, acts), states[k]) for k, layer in enumerate(net)]
            yield w, lins, propagate_graph(net, lins, tops.one_hot(classes[rows], acts[-1]), [1] * len(acts))

    weights = np.asarray(weights, dtype=points[0].dtype)  # float64 weights would promote a float32 network's gradients
    n_nodes = len(net)
    g_in = [[0.0] * len(node.inputs) for node in net.nodes]
    g_out, rows_sum = [0.0] * n_nodes, [0.0] * n_nodes
    for w, lins, steps in chains(slice(None)):
        for k, (D, step) in enumerate(zip(lins, steps)):
            g_in[k] = [total + w * g for total, g in zip(g_in[k], step.relevance_edges)]
            g_out[k] = g_out[k] + w * step.multiplier
            if conserves:
                rows_sum[k] = rows_sum[k] + w * step.multiplier * D.jvp_edges(net.inputs_of(k, factors))

    def message_terms(k):
        def build(n):
            one = slice(n, n + 1)
            return ChainStep(None, None, [(w, lins[k], steps[k].multiplier) for w, lins, steps in chains(one)],
                             [factor[one] for factor in net.inputs_of(k, factors)])
        return build

    result = []
    for k, node in enumerate(net.nodes):
        R_out = g_out[k] * factors[k + 1]
        remainder = R_out - rows_sum[k] if conserves else None
        R_edges = [g * factors[t] for g, t in zip(g_in[k], node.inputs)]
        result.append(_AveragedStep(R_edges, R_out, g_out[k], remainder, message_terms(k)))
    return result


def _ig(call):
    """Integrated Gradients (math.md §5): ``(x − x̂) ⊙ sum_k w_k ∇F(x̂ + t_k (x − x̂))``; at hidden layers the same
    path-averaged gradient times the increment of the layer (math.md §5, "intermediate-layer IG")."""
    net, x, target, reference, steps, riemann = call.net, call.x, call.target, call.reference, call.steps, call.riemann
    activations = net.record(x)
    output = activations[-1]
    classes = _classes(output, target, "ig")
    ref = resolve_reference(reference, x)
    reference_acts = net.record_reference(ref)
    ts, weights = quadrature(steps, riemann)
    points = [ref + x.dtype.type(t) * (x - ref) for t in ts]
    factors = [a - a_ref for a, a_ref in zip(activations, reference_acts)]
    layer_steps = _averaged(net, points, weights, factors, classes, conserves=True)
    rules = [_Named(f"IG: Jacobians on the input path ({steps} points, {rule_name(riemann)})") for _ in net]
    records = _records(net, layer_steps, rules)
    relevance = _input_relevance(net, records)
    expected = factors[-1][np.arange(len(x)), classes]
    completeness = relevance.reshape(len(x), -1).sum(1) - expected
    return Explanation(relevance, output, classes, layer_steps[-1].relevance_out, records, "ig",
                       "fast", f"ig, {steps} steps, {rule_name(riemann)} rule", network=net, reference=ref,
                       reference_output=reference_acts[-1], completeness_error=completeness)


def _smoothgrad(call):
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over ``steps`` copies ``x + ε``, ``ε ~ N(0, σ²)`` with
    ``σ = noise · (max x − min x)`` per sample; at every layer the averaged gradient of that layer."""
    net, x, target, steps = call.net, call.x, call.target, call.steps
    noise, random_state = float(call.options["noise"]), call.options["random_state"]
    activations = net.record(x)
    output = activations[-1]
    classes = _classes(output, target, "smoothgrad")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"smoothgrad: noise must be a number >= 0 (a fraction of each sample's value range), got {noise}")
    rng = np.random.default_rng(random_state)
    flat = x.reshape(len(x), -1)
    sigma = (noise * (flat.max(1) - flat.min(1))).reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
    points = [x + rng.standard_normal(size=x.shape).astype(x.dtype) * sigma for _ in range(steps)]
    layer_steps = _averaged(net, points, np.full(steps, 1.0 / steps), [np.ones_like(a) for a in activations], classes,
                            conserves=False)
    rules = [_Named(f"SmoothGrad: mean gradient over {steps} noisy copies (σ = {noise:g} of the range)") for _ in net]
    records = _records(net, layer_steps, rules)
    return Explanation(_input_relevance(net, records), output, classes, layer_steps[-1].relevance_out, records,
                       "smoothgrad", "fast", f"smoothgrad, {steps} samples, noise {noise:g}", network=net)


# --------------------------------------------------------------------------- LRP with other tops, CLRP


def _lrp_with_top(name, call):
    """LRP from a softmax-based top relevance (math.md §2, §6.5, §7.1): SG ``P'_c``, ST ``P'_c ⊙ Z``, SIG ``P̄'_c ⊙ Z``."""
    net, x, target, rule, steps, riemann, explain_lrp = (call.net, call.x, call.target, call.rule, call.steps, call.riemann,
                                                         call.explain_lrp)
    kind, default_rule = LRP_TOPS[name]
    output = net.forward(x)
    classes = _classes(output, target, name)
    ts, weights = quadrature(steps, riemann) if kind == "sig-lrp-0" else (None, None)
    ex = explain_lrp(tops.top_relevance(kind, output, classes, ts, weights), default_rule if rule is None else rule)
    ex.method, ex.target = name, classes
    return ex


def _clrp(call):
    """CLRP (Gu et al. 2018; math.md §7.2): ``max(0, R/ΣR − R_dual/ΣR_dual)`` (official code) or ``max(0, R − R_dual)``.

    Target pass from ``|e_c ⊙ Z|``; dual: CLRP1 from ``|Z|`` with the target zeroed, CLRP2 from
    ``|e_c ⊙ Z|`` through the network with the target's last-layer weights negated. Default rule z⁺.
    """
    net, x, target, rule, explain_lrp = call.net, call.x, call.target, call.rule, call.explain_lrp
    clrp, clrp_normalise = call.options["clrp"], call.options["clrp_normalise"]
    if clrp not in ("clrp1", "clrp2"):
        raise ValueError(f"clrp must be 'clrp1' or 'clrp2', got {clrp!r}")
    output = net.forward(x)
    classes = _classes(output, target, "clrp")
    rule = ZPlus() if rule is None else rule
    e = tops.one_hot(classes, output)
    target_pass = explain_lrp(np.abs(e * output), rule)
    if clrp == "clrp1":
        dual = explain_lrp(np.abs(output) * (1 - e), rule)
    else:
        *body, last = list(net)
        if not isinstance(last, Dense):
            raise ValueError("CLRP2 negates the last layer's weights: the network must end with a Dense layer")
        negated = net.replace_layers(body + [Dense(-last.W, None if last.bias is None else -last.bias)])
        dual = explain_lrp(np.abs(e * output), rule, negated)
    R, Rd = target_pass.relevance, dual.relevance
    if clrp_normalise:
        total = lambda r: r.reshape(len(r), -1).sum(1).reshape((-1,) + (1,) * (r.ndim - 1))  # noqa: E731
        contrast = R / np.where(total(R) == 0, 1, total(R)) - Rd / np.where(total(Rd) == 0, 1, total(Rd))
    else:
        contrast = R - Rd
    return Explanation(np.maximum(contrast, 0), output, classes, target_pass.top, target_pass.layers, "clrp", target_pass.path,
                       f"{clrp}, {'normalised (official code)' if clrp_normalise else 'paper'}, {target_pass.description}",
                       target_relevance=R, dual=dual)


# --------------------------------------------------------------------------- the registry


def _lrp(call):
    """LRP from ``e_c ⊙ Z`` or an explicit top relevance (math.md §2, §3): :func:`lrpref.explain`'s own engine."""
    if call.options:
        raise TypeError(f"method 'lrp' takes no option(s) {sorted(call.options)}")
    return call.explain_lrp(call.target, call.rule)


register("lrp", "lrp", takes_rule=True)(_lrp)
for _name, (_top, _) in LRP_TOPS.items():
    register(_name, "lrp", takes_rule=True, steps="path" if _top == "sig-lrp-0" else None)(partial(_lrp_with_top, _name))
for _name, _spec in MULTIPLIER.items():
    register(_name, "multiplier", reference=_spec.factor == "increment" or _spec.linearize != "local",
             steps="path" if _spec.linearize == "path" or _spec.top == "sig" else None, options=_OPTIONS.get(_name, {}),
             conserves=_spec.conserves)(partial(_multiplier_method, _name))
register("ig", "averaged", reference=True, steps="path")(_ig)
register("smoothgrad", "averaged", steps="samples", options={"noise": 0.15, "random_state": None}, conserves=False)(_smoothgrad)
register("clrp", "lrp", takes_rule=True, options={"clrp": "clrp1", "clrp_normalise": True})(_clrp)
for _name, _options in cam.OPTIONS.items():
    register(_name, "cam", reference=_name == "score-cam", options=_options, conserves=False)(partial(cam.explain_cam, _name))

METHODS = tuple(REGISTRY)
OPTIONS = {name: dict(method.options) for name, method in REGISTRY.items() if method.options}


def run(method: Method, call: Call):
    """Run ``method`` on a validated call, after checking its keyword options (defaults filled in)."""
    unknown = set(call.options) - set(method.options)
    if unknown and method.name != "lrp":
        allowed = sorted(method.options) or "none"
        raise TypeError(f"method {method.name!r} takes no option(s) {sorted(unknown)}; its options: {allowed}")
    if method.name != "lrp":
        call = replace(call, options={**method.options, **call.options})
    return method.run(call)
