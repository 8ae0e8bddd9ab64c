"""Diagnosing a disagreement: where it starts, which rule and formula is there, and which known variant the candidate computes.

:func:`diagnose` takes a case and a candidate's relevance at some levels (``{k: R(Y^k)}``, at
least level 0) and

1. fills in the levels the candidate did not give where a pass-through layer makes them equal
   (``R(Y^k) = R(Y^{k+1})`` across a ``"pass"`` rule; Flatten reshapes);
2. finds the first disagreeing layer ``k`` (level ``k + 1`` matches, level ``k`` does not; the top
   ``R(Y^L)`` is the case's own when the candidate does not give it);
3. tries the known variants of the rule there — each one an lrpref rule built from the case's rule
   record with a changed parameter (the bias dropped, ``b`` instead of ``b⁺``, classic instead of
   generalised γ, the unsigned or zeros-only ε, the peers' default stabilisers, LRP-0 for a rule
   whose parameter modifiers do nothing on a layer without parameters), the network in float32,
   and a constant factor — by running :func:`lrpref.explain` on the case network with that rule
   list, and reports the ones the candidate matches;
4. when no layer can be located (the candidate gave level 0 only), applies every variant to
   every layer that has the same rule, one layer at a time and all of them together, and compares
   level 0; for methods it tries the quadrature rounded to float32, the captum DeepLIFT
   conventions and a constant factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..paths import Quadrature
from .describe import rule_from_json
from .kit import levels as levels_of

__all__ = ["Diagnosis", "Variant", "diagnose", "rule_variants", "captum_quadrature"]


@dataclass
class Variant:
    """A known variant the candidate matches: ``code`` (e.g. ``"bias-dropped"``), ``text``, and ``where``
    (``"layer k"``, ``"every <rule> layer"`` or ``"the method"``)."""

    code: str
    text: str
    where: str

    def __str__(self):
        return f"{self.text} ({self.code}, {self.where})"


@dataclass
class Diagnosis:
    """What :func:`diagnose` found; ``str()`` is the report printed for a failing case."""

    case: str
    layer: int | None = None             # the first disagreeing layer (None: not located)
    layer_text: str = ""
    rule: dict | None = None             # the case's rule record there
    inferred: list = field(default_factory=list)   # levels filled in through pass-through layers
    variants: list = field(default_factory=list)   # the Variants the candidate matches
    factor: float | None = None          # a constant factor between candidate and expected, when that explains it
    agrees: bool = False                 # every level given matches: nothing to diagnose
    known: list = field(default_factory=list)  # the peers whose labels call this difference their convention

    @property
    def variant(self) -> str | None:
        """The code of the first matching variant (``"factor"`` for a constant factor), or None."""
        if self.variants:
            return self.variants[0].code
        return "factor" if self.factor is not None else None

    def __str__(self):
        if self.agrees:
            return "every level given matches the expected relevance"
        lines = []
        if self.layer is not None:
            lines.append(f"first disagreement at layer {self.layer} ({self.layer_text})")
            if self.rule is not None:
                lines.append(f"  rule: {self.rule['lrpref']}")
                if "formula" in self.rule:
                    lines.append(f"  formula: {self.rule['formula']}")
                for peer, note in self.rule.get("peers", {}).items():
                    lines.append(f"  {peer}: {note}")
        else:
            lines.append("the first disagreeing layer cannot be located from the levels given")
        if self.inferred:
            lines.append(f"  levels {self.inferred} inferred through pass-through layers")
        if self.variants:
            lines += [f"  the candidate matches: {variant}" for variant in self.variants]
        elif self.factor is not None:
            lines.append(f"  the candidate is the expected relevance times a constant {self.factor:.9g}"
                         f"{_fraction(self.factor)}")
        else:
            lines.append("  no known variant matches")
        lines += [f"  a known peer convention, not a bug if you follow it — {text}" for text in self.known]
        return "\n".join(lines)


def _fraction(value) -> str:
    frac = Fraction(value).limit_denominator(64)
    return f" (≈ {frac})" if frac.denominator > 1 and abs(float(frac) - value) < 1e-6 * abs(value) else ""


# --------------------------------------------------------------------------- variants of a rule

_PEER_EPSILONS = ((1e-6, "zennit's default stabiliser 1e-6"), (1e-9, "captum's STABILITY_FACTOR 1e-9"))


def _epsilon_variants(params: dict) -> list[tuple[str, str, str, dict]]:
    """The variants of LRP-0 / LRP-ε, all as ``Epsilon`` records."""
    eps = params.get("epsilon", 0.0)
    base = {"epsilon": eps, "sign": params.get("sign", "signed"), "scale": params.get("scale", "fixed"),
            "bias": params.get("bias", True)}
    out = []

    def add(code, text, **changes):
        out.append((code, text, "Epsilon", {**base, **changes}))

    if base["bias"]:
        add("bias-dropped", "the bias left out of z (Epsilon(bias=False), zennit zero_params='bias')", bias=False)
    else:
        add("bias-included", "the bias kept in z", bias=True)
    if eps > 0:
        for sign in ("signed", "unsigned", "zeros"):
            if sign != base["sign"]:
                add(f"epsilon-{sign}", f"the {sign} ε stabiliser (Epsilon(sign={sign!r}))", sign=sign)
        add("lrp0", "no ε at all (LRP-0)", epsilon=0.0, sign="signed", scale="fixed")
        rms = base["scale"] == "rms"
        add("epsilon-fixed" if rms else "epsilon-rms", "ε fixed instead of ×RMS(z)" if rms else "ε × RMS(z) instead of a "
            "fixed ε", scale="fixed" if rms else "rms")
    for value, text in _PEER_EPSILONS:
        if value != eps:
            add(f"epsilon-{value:g}", f"ε = {value:g} ({text})", epsilon=value, sign="signed", scale="fixed")
    return out


def rule_variants(record: dict) -> list[tuple[str, str, str, dict]]:
    """``(code, text, rule name, params)`` for the known variants of a linear rule record."""
    name, params = record["name"], dict(record["params"])
    out = []

    def add(code, text, new_name=None, **changes):
        out.append((code, text, new_name or name, {**params, **changes}))

    if name in ("LRP0", "Epsilon"):
        return _epsilon_variants(params)
    if name == "Gamma":
        for bias, code, text in ((False, "bias-dropped", "the bias left out of the denominator"),
                                 ("plain", "bias-plain", "the plain bias b instead of b + γb⁺ (captum's GammaRule)"),
                                 (True, "bias-gamma", "b + γb⁺ in the denominator")):
            if bias != params["bias"]:
                add(code, text, bias=bias, check_inputs=False)
        other = "generalised" if params["mode"] == "classic" else "classic"
        add(f"gamma-{other}", f"the {other} γ (Gamma(mode={other!r}); zennit's Gamma is the generalised one)",
            mode=other, check_inputs=False)
    elif name == "AlphaBeta":
        if params["alpha"] == 1 and params["beta"] == 0 and params["convention"] == "modern":
            out.append(("captum-alpha1-beta0", "captum's Alpha1_Beta0_Rule: w⁺ on the signed inputs and the plain bias b",
                        "ZPlus", {"mode": "dtd", "bias": "plain", "check_inputs": False,
                                  "epsilon": params.get("epsilon", 0.0)}))
        for bias, text in (("ignore", "the bias left out (bias='ignore')"), ("full", "the whole bias b in both denominators "
                                                                                     "(iNNvestigate, bias='full')"),
                           ("include", "b⁺ and b⁻ in the denominators")):
            if bias != params["bias"]:
                add(f"bias-{bias}", text, bias=bias)
    elif name == "ZPlus":
        for bias, code, text in ((False, "bias-dropped", "no bias"), (True, "bias-positive", "b⁺ in the denominator"),
                                 ("plain", "bias-plain", "the plain bias b (captum's Alpha1_Beta0_Rule)")):
            if bias != params["bias"]:
                add(code, text, bias=bias, check_inputs=False)
        other = "products" if params["mode"] == "dtd" else "dtd"
        add(f"zplus-{other}", f"z⁺ on {'sign-split products' if other == 'products' else 'the inputs as they are (DTD)'}",
            mode=other, check_inputs=False)
        if params["mode"] == "products":
            add("captum-alpha1-beta0", "captum's Alpha1_Beta0_Rule: w⁺ on the signed inputs and the plain bias b",
                mode="dtd", bias="plain", check_inputs=False)
    elif name == "WSquare":
        add("bias-dropped" if params["bias"] else "bias-squared", "without b²" if params["bias"] else "with b²",
            bias=not params["bias"])
    if name in ("Gamma", "AlphaBeta", "ZPlus", "WSquare", "Flat", "ZBox"):
        out.append(("lrp0", "LRP-0 (zennit: a parameter modifier does nothing on a layer without parameters)", "LRP0", {}))
    if "epsilon" in params:
        for value, text in _PEER_EPSILONS:
            if value != params["epsilon"]:
                add(f"epsilon-{value:g}", f"a stabiliser ε = {value:g} ({text})", epsilon=value)
    return out


def _build(name, params):
    try:
        return rule_from_json({"name": name, "params": params})
    except ValueError:
        return None


# --------------------------------------------------------------------------- comparing


def _close(candidate, reference, rtol) -> bool:
    """Every sample within ``rtol · max|reference|`` (+ a tiny absolute floor)."""
    n = reference.shape[0]
    a = np.asarray(candidate, dtype=np.float64).reshape(n, -1)
    b = np.asarray(reference, dtype=np.float64).reshape(n, -1)
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    allowance = 1e-12 + rtol * np.abs(b).max(axis=1)
    return bool(np.all(np.abs(a - b).max(axis=1) <= allowance))


def _factor(candidate, expected, rtol):
    """The constant ``c`` with ``candidate = c · expected`` (least squares), when it fits within ``rtol`` and ``c ≠ 1``."""
    a = np.asarray(candidate, dtype=np.float64).ravel()
    b = np.asarray(expected, dtype=np.float64).ravel()
    if a.shape != b.shape or not np.all(np.isfinite(a)) or not b.any():
        return None
    c = float(a @ b / (b @ b))
    if abs(c - 1) < 1e-9 or not _close(candidate, c * expected, rtol):
        return None
    return c


def _infer(case, given) -> tuple[dict, list]:
    """Fill in levels across pass-through layers (the rule kind ``"pass"``): ``R(Y^k) = R(Y^{k+1})``, reshaped."""
    records = case.entry["rules"]
    expected = case.expected
    found, inferred = dict(given), []
    if records is None:
        return found, inferred
    changed = True
    while changed:
        changed = False
        for k, record in enumerate(records):
            if record["kind"] != "pass" or k not in expected or k + 1 not in expected:
                continue
            for have, want in ((k + 1, k), (k, k + 1)):
                if have in found and want not in found:
                    found[want] = np.reshape(found[have], expected[want].shape)
                    inferred.append(want)
                    changed = True
    return found, sorted(inferred)


def _locate(case, found, rtol):
    """The first disagreeing layer: the highest failing level ``k`` whose level ``k + 1`` matches (or is the top)."""
    expected = case.expected
    top = max(expected)
    failing = sorted((k for k in found if k in expected and not _close(found[k], expected[k], rtol)), reverse=True)
    for k in failing:
        above = k + 1
        if above == top + 1:
            return k  # the top itself differs
        if above in found and _close(found[above], expected[above], rtol):
            return k
        if above == top and above not in found:
            return k  # the top is the case's own (class target or explicit array)
    return None


def diagnose(case, candidate: dict, rtol: float | None = None) -> Diagnosis:
    """Diagnose a candidate's relevance ``{k: R(Y^k)}`` on ``case`` (a :class:`~lrpref.conformance.Case`).

    ``rtol`` is how close counts as equal (default: the case's rtol, at least 1e-9).
    """
    rtol = max(case.entry["tolerance"]["rtol"], 1e-9) if rtol is None else rtol
    given = {int(k): np.asarray(v) for k, v in candidate.items()}
    found, inferred = _infer(case, given)
    diagnosis = Diagnosis(case.id, inferred=inferred)
    layers = [layer.describe() for layer in case.network]
    if all(_close(value, case.expected[k], rtol) for k, value in found.items() if k in case.expected):
        diagnosis.agrees = True
        return diagnosis
    k = _locate(case, found, rtol)
    records = case.entry["rules"]
    if k is not None and k < len(case.network):
        diagnosis.layer, diagnosis.layer_text = k, layers[k]
        diagnosis.rule = records[k] if records is not None else None
        if records is not None:
            diagnosis.variants = _layer_variants(case, found[k], k, rtol)
        diagnosis.factor = _factor(found[k], case.expected[k], max(rtol, 1e-6)) if not diagnosis.variants else None
        return diagnosis
    if records is not None:
        diagnosis.variants = _level0_variants(case, found[0], rtol)
    else:
        diagnosis.variants = _method_variants(case, found[0], rtol)
    if not diagnosis.variants:
        diagnosis.factor = _factor(found[0], case.expected[0], max(rtol, 1e-6))
    return diagnosis


def _explain_levels(case, **overrides):
    try:
        return levels_of(case.explain(**overrides))
    except (ValueError, TypeError):
        return None


def _float32_variant(case, level, candidate):
    kwargs = case.explain_kwargs()
    for key in ("reference", "target"):
        value = kwargs.get(key)
        if isinstance(value, np.ndarray) and value.dtype == np.float64:
            kwargs[key] = value.astype(np.float32)
    from ..explain import explain

    try:
        found = levels_of(explain(case.network.astype(np.float32), case.input.astype(np.float32), **kwargs))
    except (ValueError, TypeError):
        return []
    if _close(candidate, found[level].astype(np.float64), 1e-4):
        return [Variant("float32", "the same computation in float32 (float32 parameters and inputs)", "the whole network")]
    return []


def _layer_variants(case, candidate, k, rtol) -> list:
    """The variants of layer ``k``'s rule that give the candidate's ``R(Y^k)`` from the expected ``R(Y^{k+1})``."""
    rules = case.rules
    matches = []
    record = case.entry["rules"][k]
    if record["kind"] == "linear":
        for code, text, name, params in rule_variants(record):
            variant = _build(name, params)
            if variant is None:
                continue
            trial = list(rules)
            trial[k] = variant
            found = _explain_levels(case, rule=trial)
            if found is not None and _close(candidate, found[k], rtol):
                matches.append(Variant(code, f"{text}: {variant.describe()}", f"layer {k}"))
    return matches or _float32_variant(case, k, candidate)


def _level0_variants(case, candidate, rtol) -> list:
    """Variants applied to every layer with the same rule, then to one layer at a time, compared at level 0."""
    records, rules = case.entry["rules"], case.rules
    linear = [k for k, record in enumerate(records) if record["kind"] == "linear"]
    groups = {}
    for k in linear:
        groups.setdefault(records[k]["lrpref"], []).append(k)
    trials = [(ks, f"every {text} layer ({', '.join(map(str, ks))})") for text, ks in groups.items()]
    trials += [([k], f"layer {k}") for k in reversed(linear)]
    for ks, where in trials:
        matches = []
        for code, text, name, params in rule_variants(records[ks[0]]):
            variant = _build(name, params)
            if variant is None:
                continue
            trial = list(rules)
            for k in ks:
                trial[k] = variant
            found = _explain_levels(case, rule=trial)
            if found is not None and _close(candidate, found[0], rtol):
                matches.append(Variant(code, f"{text}: {variant.describe()}", where))
        if matches:
            return matches
    return _float32_variant(case, 0, candidate)


def _linspace32(start: float, end: float, n: int) -> np.ndarray:
    """``torch.linspace(start, end, n)`` in float32, as PyTorch computes it (from both ends towards the middle)."""
    start, end = np.float32(start), np.float32(end)
    step = (end - start) / np.float32(n - 1)
    i = np.arange(n, dtype=np.float32)
    return np.where(np.arange(n) < n // 2, start + step * i, end - step * (np.float32(n - 1) - i)).astype(np.float32)


def captum_quadrature(steps: int, riemann: str):
    """captum's ``(alphas, step sizes)`` for lrpref's ``steps`` intervals of a Riemann rule (the trapezoid rule
    has ``steps + 1`` points), or None for another rule. Its step sizes are ``1/n`` in float32, halved at both ends
    for the trapezoid — which makes them sum to ``(n − 1)/n`` there."""
    n = steps + (riemann == "trapezoid")
    if n < 2:
        return None
    bounds = {"right": (1 / n, 1.0), "left": (0.0, 1 - 1 / n), "midpoint": (1 / (2 * n), 1 - 1 / (2 * n)),
              "trapezoid": (0.0, 1.0)}
    if riemann not in bounds:
        return None
    w = np.full(n, 1 / n)
    if riemann == "trapezoid":
        w[[0, -1]] /= 2
    return Quadrature(_linspace32(*bounds[riemann], n).astype(np.float64), w.astype(np.float32).astype(np.float64),
                      check_sum=False)


def _method_variants(case, candidate, rtol) -> list:
    """Method variants at level 0: the quadrature rounded to float32, captum's DeepLIFT conventions."""
    method = case.entry["method"]
    trials = []
    if method["quadrature"] is not None:
        t, w = (case.arrays[key] for key in method["quadrature"])
        captum = captum_quadrature(method["steps"], method["riemann"])
        if captum is not None:
            trials.append(("captum-quadrature", "captum's Riemann points (float32 torch.linspace) and step sizes "
                           "(float32 1/n; the trapezoid's sum to (n − 1)/n)", {"riemann": captum, "steps": len(captum.points)}))
        rounded = Quadrature(t.astype(np.float32).astype(np.float64), w.astype(np.float32).astype(np.float64),
                             check_sum=False)
        trials.append(("float32-quadrature", "the quadrature points and weights rounded to float32",
                       {"riemann": rounded, "steps": len(t)}))
    if method["name"] == "deeplift":
        for convention in ("captum", "captum-quirks", "deeplift"):
            if method["options"].get("convention", "deeplift") != convention:
                trials.append((f"deeplift-{convention}", f"DeepLIFT with convention={convention!r}",
                               {"convention": convention}))
    matches = []
    for code, text, overrides in trials:
        found = _explain_levels(case, **overrides)
        if found is not None and _close(candidate, found[0], rtol):
            matches.append(Variant(code, text, "the method"))
    return matches or _float32_variant(case, 0, candidate)
