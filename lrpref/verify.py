"""``verify``: check another implementation's relevance against lrpref, and name the convention it follows.

``verify(candidate, net, x, target, rule, convention=None)`` recomputes the explanation with lrpref and
compares. The candidate is the input relevance (shaped like ``x``) or a dict ``{k: relevance}`` of the
relevance at the *input* of layer ``k`` (``ex.layers[k].relevance_in``). The report gives

* the largest absolute error and the largest relative error — per sample and layer
  ``max |candidate - reference| / max |reference|`` — and where the largest one is (layer, sample,
  neuron);
* for every candidate layer, whether the rule conserves relevance from the top down to it (the
  reference absorbed nothing) and, where it does, whether the candidate does too;
* every convention (lrpref's textbook formulas, zennit, captum, iNNvestigate, the LRP toolbox, each
  with and without its quirks, from the logit or from a one-hot top) that has the rule, with its
  error, and the best match when it is not the one asked for: "matches captum's γ-on-weights
  convention, not zennit's".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import presets
from ._validate import check_finite, check_tolerance, float_dtype
from .composites import Composite
from .explain import METHODS, explain
from .network import Graph, Sequential
from .rules import Rule
from .tops import resolve_target

__all__ = ["verify", "VerifyReport", "Match", "ConservationCheck", "DEFAULT_TOLERANCE"]

DEFAULT_TOLERANCE = 1e-10   # the relative error below which a candidate agrees
CONSERVED = 1e-9            # relative to the top relevance: what counts as "absorbed nothing"


@dataclass
class Match:
    """One convention tried on the candidate: its description and errors."""

    convention: str
    quirks: bool
    top: str            # "logit" (R = e_c ⊙ f(x)) or "one-hot" (R = e_c)
    description: str
    max_abs_error: float
    max_rel_error: float

    @property
    def label(self) -> str:
        extras = (["with its quirks"] if self.quirks else []) + (["from a one-hot top (R = 1)"] if self.top == "one-hot" else [])
        return self.description + (f", {', '.join(extras)}" if extras else "")


@dataclass
class ConservationCheck:
    """Conservation at the input of one layer, per sample: the candidate's sum against the top relevance's."""

    layer: int
    rule_conserves: np.ndarray          # bool per sample: the reference absorbed nothing from the top down to here
    candidate_sum: np.ndarray
    top_sum: np.ndarray
    candidate_conserves: np.ndarray     # bool per sample (meaningful where rule_conserves)


@dataclass
class VerifyReport:
    """What :func:`verify` found (see the module docstring); ``str(report)`` prints it."""

    rule: str
    convention: str
    quirks: bool
    description: str
    layers: tuple
    max_abs_error: float
    max_rel_error: float
    worst_layer: int
    worst_sample: int
    worst_neuron: tuple
    candidate_value: float
    reference_value: float
    per_layer: dict
    conservation: list
    tolerance: float
    matches: list = field(default_factory=list)
    layer_names: dict = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return self.max_rel_error <= self.tolerance

    @property
    def conserves(self) -> dict:
        """``{layer: bool}``: the candidate conserves relevance wherever the rule does (every sample)."""
        return {check.layer: bool(np.all(check.candidate_conserves | ~check.rule_conserves)) for check in self.conservation}

    @property
    def best_match(self) -> Match | None:
        """The best convention, when it is better than the one asked for by more than round-off; else None."""
        if not self.matches:
            return None
        best = self.matches[0]
        if self.agrees or (best.convention, best.quirks, best.top) == (self.convention, self.quirks, "logit"):
            return None
        return best if best.max_rel_error < min(self.max_rel_error / 10, 1e-6) else None

    def __str__(self):
        verdict = "AGREES" if self.agrees else "DIFFERS"
        lines = [f"lrpref verify: {self.rule} — {self.description}",
                 f"  {verdict}: max relative error {self.max_rel_error:.3g}, max absolute error {self.max_abs_error:.3g} "
                 f"(tolerance {self.tolerance:g}, relative to the largest reference value per sample)"]
        if self.max_abs_error > 0:  # where the largest difference is (nothing to show when all agree exactly)
            lines.append(f"  worst: {self.layer_names.get(self.worst_layer, f'layer {self.worst_layer}')}, sample "
                         f"{self.worst_sample}, neuron {self.worst_neuron}: candidate {self.candidate_value:.6g}, "
                         f"reference {self.reference_value:.6g}")
        if len(self.per_layer) > 1:
            lines.append("  per layer (relevance at the layer's input):")
            lines += [f"    {self.layer_names.get(k, k)}: max relative error {rel:.3g}, max absolute error {abs_:.3g}"
                      for k, (abs_, rel) in self.per_layer.items()]
        lines += [f"  conservation at {self.layer_names.get(check.layer, f'layer {check.layer}')}: {_conservation_line(check)}"
                  for check in self.conservation]
        best = self.best_match
        if best is not None:
            asked = next((m for m in self.matches if (m.convention, m.quirks, m.top) == (self.convention, self.quirks, "logit")), None)
            asked_label = asked.label if asked else self.description
            if best.convention != self.convention:
                summary = f"the candidate follows {best.convention}'s convention, not {self.convention}'s"
            else:
                summary = f"the candidate is {best.label}, not {asked_label}"
            lines.append(f"  best match: {best.label} (max relative error {best.max_rel_error:.3g}) — {summary}")
        if self.matches:
            lines.append("  conventions tried (max relative error):")
            lines += [f"    {m.max_rel_error:10.3g}  {m.label}" for m in self.matches]
        return "\n".join(lines)


def _conservation_line(check) -> str:
    """One line for all samples: whether the rule conserves down to the layer and whether the candidate does."""
    samples = range(len(check.top_sum))
    if not any(check.rule_conserves):
        return "the rule does not conserve down to here (it absorbs bias/stabiliser relevance)"
    failing = [n for n in samples if check.rule_conserves[n] and not check.candidate_conserves[n]]
    if not failing:
        return f"the candidate conserves in every sample where the rule does ({sum(check.rule_conserves)} of {len(samples)})"
    sums = "; ".join(f"sample {n}: sum {check.candidate_sum[n]:.6g} of {check.top_sum[n]:.6g}" for n in failing[:5])
    more = f"; and {len(failing) - 5} more" if len(failing) > 5 else ""
    return f"the candidate does NOT conserve where the rule does ({sums}{more})"


# --------------------------------------------------------------------------- candidates


def _candidate_layers(candidate, net, x) -> dict:
    """``{layer index: float array}`` from an array (the input relevance) or a dict, checked against the shapes."""
    items = candidate.items() if isinstance(candidate, dict) else [(0, candidate)]
    shapes = net.shapes(x.shape[1:])
    layers = {}
    for key, value in items:
        try:
            k = int(key)
        except (TypeError, ValueError):
            raise TypeError(f"candidate layer keys must be layer indices, got {key!r}") from None
        if not 0 <= k < len(net):
            raise IndexError(f"candidate layer {k}: the network has layers 0..{len(net) - 1} (key k is the input of layer k)")
        if k and not isinstance(net, Sequential):
            raise ValueError(f"candidate layer {k}: on a graph give the input relevance (an array shaped like x, or key "
                             f"0); per-layer candidates are compared on chains (lr.Sequential)")
        array = np.asarray(value)
        float_dtype(array, f"the candidate relevance of layer {k}")
        expected = (len(x), *shapes[k])
        if array.shape != expected and array.shape == expected[1:] and len(x) == 1:
            array = array[None]
        if array.shape != expected:
            raise ValueError(f"the candidate relevance at the input of layer {k} must have shape {expected}, got {array.shape}")
        check_finite(array, f"the candidate relevance of layer {k}")
        layers[k] = array.astype(np.float64)
    if not layers:
        raise ValueError("the candidate is an empty dict: give at least one layer's relevance")
    return dict(sorted(layers.items()))


def _errors(layers: dict, explanation) -> tuple:
    """``(max_abs, max_rel, per_layer, worst)`` of the candidate layers against an explanation."""
    per_layer, worst = {}, (-1.0, None)
    max_abs = 0.0
    for k, array in layers.items():
        reference = np.asarray(explanation.relevance if k == 0 else explanation.layers[k].relevance_in, dtype=np.float64)
        difference = np.abs(array - reference).reshape(len(array), -1)
        scale = np.abs(reference).reshape(len(array), -1).max(axis=1)
        relative = difference / np.where(scale > 0, scale, 1)[:, None]
        relative[(scale == 0)[:, None] & (difference > 0)] = np.inf
        per_layer[k] = (float(difference.max()), float(relative.max()))
        max_abs = max(max_abs, float(difference.max()))
        n, i = np.unravel_index(int(np.argmax(relative)), relative.shape)
        if relative[n, i] > worst[0]:
            worst = (float(relative[n, i]), (k, int(n), tuple(int(v) for v in np.unravel_index(i, array.shape[1:]))))
    return max_abs, max(rel for _, rel in per_layer.values()), per_layer, worst[1]


def _conservation(layers: dict, explanation, top) -> list:
    top_sum = top.reshape(len(top), -1).sum(1)
    scale = np.maximum(np.abs(top).reshape(len(top), -1).sum(1), 1e-300)
    checks = []
    for k, array in layers.items():
        absorbed = sum(np.abs(sum(record.absorbed.per_sample().values()) if record.absorbed.kinds else 0)
                       for record in explanation.layers[k:])
        candidate_sum = array.reshape(len(array), -1).sum(1)
        checks.append(ConservationCheck(k, np.asarray(absorbed <= CONSERVED * scale), candidate_sum, top_sum,
                                        np.abs(candidate_sum - top_sum) <= CONSERVED * scale))
    return checks


# --------------------------------------------------------------------------- what to compare with


def _method_settings(name: str, convention: str | None, quirks: bool, reference):
    """``explain`` keyword arguments of a method in a convention (captum's DeepLift and IG), or None."""
    method, _, steps = name.partition(":")
    if convention in (None, "textbook"):
        settings = {"method": method, "reference": reference} if method in ("deeplift", "ig") or reference is not None \
            else {"method": method}
        if steps:
            settings["steps"] = int(steps)
        return settings
    if convention == "captum" and method == "deeplift":
        return presets.captum.deeplift(reference, quirks)
    if convention == "captum" and method == "ig":
        return presets.captum.integrated_gradients(reference, int(steps) if steps else 50, quirks=quirks)
    return None


def _networks(net, convention, quirks):
    """``(label, network)``: the networks a convention may have explained — the given one, or what its canonizers
    make of it (``networks(net, quirks)`` of the convention's module: zennit's BatchNorm merges)."""
    module = presets.CONVENTIONS.get(convention)
    return module.networks(net, quirks) if hasattr(module, "networks") else [("", net)]


def _variants(rule, convention, quirks, reference, net):
    """``(convention, quirks, description, explain settings, network)`` to try: the one asked for first, then the
    others."""
    if isinstance(rule, (Rule, Composite)):
        return [(convention or "textbook", quirks, rule.describe(), {"rule": rule}, net)]
    name = str(rule).strip()
    asked = (convention or "textbook", quirks)
    combos = [asked] + [(c, q) for c in presets.CONVENTIONS for q in (False, True) if (c, q) != asked]
    out, seen = [], set()
    method = name.partition(":")[0].lower()
    for conv, quirky in combos:
        if method in METHODS:
            settings = _method_settings(name.lower(), conv, quirky, reference)
            if settings is None:
                continue
            description = f"{conv} {settings['method']}" + (f" ({settings['convention']})" if "convention" in settings else "")
        else:
            try:
                composite = presets.composite(name, conv, quirky)
            except presets.UnsupportedRule:
                if (conv, quirky) == asked:
                    raise
                continue
            settings, description = {"rule": composite}, composite.describe()
        for label, network in _networks(net, conv, quirky) if "rule" in settings else [("", net)]:
            key = (description, label, repr(sorted((k, repr(v)) for k, v in settings.items())))
            if key in seen:
                continue
            seen.add(key)
            out.append((conv, quirky, description + (f"; {label}" if label else ""), settings, network))
    if not out or out[0][:2] != asked:
        raise presets.UnsupportedRule(f"the {asked[0]} convention has no {name!r}")
    return out


def verify(candidate, net: Graph, x, target=None, rule="epsilon", convention: str | None = None, *,
           quirks: bool = False, reference=None, tolerance: float = DEFAULT_TOLERANCE, compare: bool = True) -> VerifyReport:
    """Compare a candidate relevance with lrpref's (see the module docstring).

    Parameters
    ----------
    candidate : array shaped like ``x`` (input relevance) or ``{layer index: relevance at that layer's input}``.
    net, x, target : as for :func:`lrpref.explain` (``target`` None: each sample's arg-max).
    rule : a rule name (``"epsilon:0.25"``, ``"gamma:0.25"``, ``"alpha2beta1"``, ``"zplus"``, ``"zbox:-1,1"``,
        ``"w2"``, ``"flat"``, ``"lrp0"``), ``"first/rest"`` (``"zbox:-1,1/epsilon:0.25"``), a method name
        (``"deeplift"``, ``"ig"`` or ``"ig:steps"``, any of ``lrpref.explain.METHODS``), or an lrpref rule or
        composite (then no other convention is tried).
    convention : ``None``/``"textbook"`` (lrpref's formulas), ``"zennit"``, ``"captum"``, ``"innvestigate"``,
        ``"toolbox"``; ``quirks=True`` reproduces that peer's bugs.
    reference : the reference input of DeepLIFT and IG (default 0).
    tolerance : the relative error below which the candidate agrees: a finite number >= 0 (a negative, NaN or
        infinite tolerance is refused; ``lrpref verify --tolerance`` goes through the same check).
    compare : also try every other convention (and a one-hot top) for the best match.
    """
    if not isinstance(net, Graph):
        raise TypeError(f"net must be an lrpref network (lr.Sequential or lr.Graph), got {type(net).__name__}")
    tolerance = check_tolerance(tolerance, "tolerance")
    x = net.check_input(x)
    layers = _candidate_layers(candidate, net, x)
    variants = _variants(rule, convention, quirks, reference, net)
    output = net(x)
    classes, explicit = resolve_target(output, target)
    matches, asked = [], None
    for conv, quirky, description, settings, network in variants if compare else variants[:1]:
        tops = [("logit", target)]
        if "rule" in settings and classes is not None:
            tops.append(("one-hot", np.eye(output.shape[1], dtype=output.dtype)[classes]))
        for top_name, top in tops:
            try:
                ex = explain(network, x, target=top, **settings)
            except ValueError:   # e.g. the classic γ or zᴮ refuse these inputs
                if asked is None:
                    raise
                continue
            max_abs, max_rel, per_layer, worst = _errors(layers, ex)
            matches.append(Match(conv, quirky, top_name, description, max_abs, max_rel))
            if asked is None:
                asked = (ex, max_abs, max_rel, per_layer, worst)
    ex, max_abs, max_rel, per_layer, (k, n, neuron) = asked
    reference_value = float(np.asarray(ex.relevance if k == 0 else ex.layers[k].relevance_in)[(n, *neuron)])
    matches.sort(key=lambda m: m.max_rel_error)
    return VerifyReport(
        rule=str(rule if not isinstance(rule, (Rule, Composite)) else rule.describe()), convention=variants[0][0], quirks=quirks,
        description=variants[0][2], layers=tuple(layers), max_abs_error=max_abs, max_rel_error=max_rel, worst_layer=k,
        worst_sample=n, worst_neuron=neuron, candidate_value=float(layers[k][(n, *neuron)]), reference_value=reference_value,
        per_layer=per_layer, conservation=_conservation(layers, ex, ex.top), tolerance=float(tolerance),
        matches=matches if compare else [], layer_names={j: f"layer {j} ({net[j].describe()})" if isinstance(net, Sequential) else "the input" for j in layers})
