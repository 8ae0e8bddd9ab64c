"""Rules, composites and methods as JSON records that fully specify them (``docs/conformance.md``).

A **rule record** names the rule (``name``: the lrpref class, ``params``: its constructor
arguments, ``lrpref``: the constructor call) and, for rules of affine layers, spells out the
generic form of math.md §3.0 so that it can be implemented without lrpref:

* ``groups`` — each with a ``coefficient`` ``c_g``, a selector ``where`` (``null``: every
  output; ``"positive"`` / ``"negative"``: outputs whose *unmodified* output ``z_j`` is > 0 / < 0),
  ``terms`` (an ``input`` part ``x_t`` and a ``weight`` modifier ``rho_t``) and a ``bias``
  modifier (``null``: no bias in the denominator);
* ``stabiliser`` — ``epsilon``, ``sign`` (``"signed"``: ``S = D + eps·sgn0(D)`` with
  ``sgn0(0) = +1``; ``"unsigned"``: ``S = D + eps``, the signed form where that is exactly 0)
  and ``scale`` (``"rms"``: ``eps`` times ``sqrt(mean(D²))`` over each sample's outputs).

With ``D_g = sum_t rho_t(W) x_t + beta_g(b)``, ``s_g = c_g R / S_g`` (0 where ``S_g = 0`` or the
selector excludes the output) and ``R_in = sum_g sum_t x_t ⊙ rho_t(W)^T s_g``. ``peers`` gives
the closest rule of zennit 1.0, captum 0.9, iNNvestigate 2.1 and the LRP toolbox (python),
with the difference when there is one (``/work/shared/spec/math.md §P1, §P2).

:func:`rule_from_json` rebuilds the lrpref rule from a record.
"""

from __future__ import annotations

import numpy as np

from .. import methods as M
from .. import rules as R

__all__ = ["rule_to_json", "rule_from_json", "composite_to_json", "composite_from_json", "method_to_json", "RULE_CLASSES"]

RULE_CLASSES = {cls.__name__: cls for cls in (R.LRP0, R.Epsilon, R.Gamma, R.AlphaBeta, R.ZPlus, R.ZBox, R.WSquare,
                                               R.Flat, R.SumSplit, R.Pass, R.WinnerTakesAll, R.Proportional)}


def _plain(value):
    """A number or a nested list (JSON) for a scalar or an array."""
    value = np.asarray(value, dtype=np.float64)
    return float(value) if value.ndim == 0 else value.tolist()


def _params(rule) -> dict:
    """The constructor arguments that rebuild ``rule``."""
    eps = rule.stabiliser.epsilon if isinstance(rule, R.LinearRule) else None
    if isinstance(rule, R.Epsilon):
        return {"epsilon": rule.epsilon, "sign": rule.stabiliser.sign, "scale": rule.stabiliser.scale, "bias": rule.bias}
    if isinstance(rule, R.Gamma):
        return {"gamma": rule.gamma, "bias": rule.bias, "mode": rule.mode, "epsilon": eps, "check_inputs": rule.check_inputs}
    if isinstance(rule, R.AlphaBeta):
        return {"alpha": rule.alpha, "beta": rule.beta, "bias": rule.bias, "convention": rule.convention, "epsilon": eps}
    if isinstance(rule, R.ZPlus):
        return {"mode": rule.mode, "bias": rule.bias, "epsilon": eps, "check_inputs": rule.check_inputs}
    if isinstance(rule, R.ZBox):
        return {"low": _plain(rule.low), "high": _plain(rule.high), "epsilon": eps}
    if isinstance(rule, R.WSquare):
        return {"bias": rule.bias, "epsilon": eps}
    if isinstance(rule, R.Flat):
        return {"epsilon": eps}
    if isinstance(rule, R.SumSplit):
        return {"mode": rule.mode, "epsilon": rule.epsilon}
    if isinstance(rule, R.WinnerTakesAll):
        return {"ties": rule.ties, "epsilon": rule.epsilon}
    if isinstance(rule, R.Proportional):
        return {"rule": rule_to_json(rule.rule)}
    return {}


def _modifier(modifier) -> dict | None:
    if modifier is None:
        return None
    record = {"kind": modifier.kind}
    if modifier.kind.startswith("gamma"):
        record["gamma"] = modifier.gamma
    return record


def _input(part) -> dict:
    if part.kind == "bound":  # zB's terms multiply the constant -l (with w⁺) and -h (with w⁻)
        return {"kind": "constant", "value": _plain(-np.asarray(part.bound))}
    return {"kind": part.kind}


def _group(group) -> dict:
    return {"coefficient": group.coefficient, "where": group.where,
            "terms": [{"input": _input(t.input), "weight": _modifier(t.weight)} for t in group.terms],
            "bias": _modifier(group.bias)}


_KINDS = {R.Pass: "pass", R.WinnerTakesAll: "max-pool-winner", R.Proportional: "max-pool-proportional"}


def rule_to_json(rule) -> dict:
    """The record of an lrpref rule (see the module docstring)."""
    name = type(rule).__name__
    if name not in RULE_CLASSES:
        raise TypeError(f"{rule!r} is not one of the rules a conformance kit describes: {sorted(RULE_CLASSES)}")
    record = {"name": name, "kind": "linear" if isinstance(rule, R.LinearRule) else _KINDS[type(rule)],
              "lrpref": rule.describe(), "params": _params(rule)}
    if isinstance(rule, R.LinearRule):
        stabiliser = rule.stabiliser
        record.update(groups=[_group(g) for g in rule.groups], formula=rule.formula(),
                      stabiliser={"epsilon": stabiliser.epsilon, "sign": stabiliser.sign, "scale": stabiliser.scale})
    record["peers"] = _peers(rule)
    return record


def rule_from_json(record: dict):
    """The lrpref rule a record describes (from ``name`` and ``params``)."""
    if not isinstance(record, dict) or record.get("name") not in RULE_CLASSES:
        got = record.get("name") if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"not a rule record: name {got!r} is not one of {sorted(RULE_CLASSES)}")
    params = dict(record.get("params") or {})
    if record["name"] == "Proportional":
        params["rule"] = rule_from_json(params["rule"])
    try:
        return RULE_CLASSES[record["name"]](**params)
    except TypeError as error:
        raise ValueError(f"rule record {record['name']}: bad params {sorted(params)} ({error})") from None


# --------------------------------------------------------------------------- the peers' names


def _zennit(name, *args, eps=0.0) -> str:
    """A zennit call with the rule's stabiliser (not zennit's default 1e-6)."""
    stabiliser = "stabilizer=safe_divide" if eps == 0 else f"stabilizer={eps:g}"
    text = f"{name}({', '.join([*args, stabiliser])})"
    return text + (" (safe_divide: a stabilizer callable mapping z = 0 to ∞; a float 0 gives NaN)" if eps == 0 else "")


def _peers(rule) -> dict:
    """Hand-derived notes: the closest rule of each peer library (math.md §P1.1–1.4, §P2.1), and how it differs.

    The case's ``peers`` labels are the generated ones (made by running zennit and captum on the case);
    these notes say what to call, and are the only labels for iNNvestigate and the LRP toolbox.
    """
    eps = rule.stabiliser.epsilon if isinstance(rule, R.LinearRule) else 0.0
    if isinstance(rule, R.LRP0):
        return {"zennit": _zennit("Epsilon", eps=0.0).replace("stabilizer=", "epsilon="),
                "captum": "EpsilonRule(epsilon=1e-300) (captum has no safe division; 0 gives NaN)",
                "innvestigate": "ZRule() (adds 1e-7 to exact-zero denominators)",
                "lrp_toolbox": "'simple' (adds 1e-16·sgn0(z))"}
    if isinstance(rule, R.Epsilon):
        s = rule.stabiliser
        if s.sign == "zeros":
            return {"innvestigate": f"EpsilonRule's safe division: {s.epsilon:g} added where z = 0 exactly"}
        if s.sign == "unsigned":
            note = " times RMS(z), as Montavon's tutorial ('0.1 std')" if s.scale == "rms" else ""
            return {"lxt": f"z + {s.epsilon:g}{note} (sign-blind stabiliser)"}
        if s.scale == "rms":
            return {"zennit": f"Epsilon(epsilon=Stabilizer(epsilon={s.epsilon:g}, norm_scale=True))"}
        if not rule.bias:
            return {"zennit": f"Epsilon(epsilon={s.epsilon:g}, zero_params='bias')"}
        return {"zennit": f"Epsilon(epsilon={s.epsilon:g})", "captum": f"EpsilonRule(epsilon={s.epsilon:g})",
                "innvestigate": f"EpsilonRule(epsilon={s.epsilon:g})", "lrp_toolbox": f"'epsilon', {s.epsilon:g}"}
    if isinstance(rule, R.Gamma):
        gamma = f"gamma={rule.gamma:g}"
        no_bias = () if rule.bias is not False else ("zero_params='bias'",)
        if rule.mode == "generalised":
            return {"zennit": _zennit("Gamma", gamma, *no_bias, eps=eps)}
        if rule.bias == "plain":
            return {"captum": f"GammaRule({gamma})"}
        zennit = _zennit("Gamma", gamma, *no_bias, eps=eps) + " (zennit's γ is the generalised one: the same where z > 0)"
        if not rule.bias:
            return {"captum": f"GammaRule({gamma}, set_bias_to_zero=True)", "zennit": zennit}
        return {"captum": f"GammaRule({gamma}) (differs: captum keeps the bias b, here b + γb⁺)", "zennit": zennit}
    if isinstance(rule, R.AlphaBeta):
        modern_beta = rule.beta if rule.convention == "modern" else -rule.beta
        a, b = f"alpha={rule.alpha:g}", f"beta={modern_beta:g}"
        toolbox = f"'alphabeta', {rule.alpha:g} (β = 1 − α, added)"
        if modern_beta < 0:
            return {"lrp_toolbox": toolbox}
        if rule.bias == "full":
            return {"innvestigate": f"AlphaBetaRule({a}, {b}) (iNNvestigate 2.1's own convention, its issue #273)"}
        if rule.bias == "ignore":
            return {"zennit": _zennit("AlphaBeta", a, b, "zero_params='bias'", eps=eps),
                    "innvestigate": f"AlphaBetaIgnoreBiasRule({a}, {b})"}
        return {"zennit": _zennit("AlphaBeta", a, b, eps=eps), "lrp_toolbox": toolbox,
                "innvestigate": f"AlphaBetaRule({a}, {b}) (differs: the full bias b in both denominators)"}
    if isinstance(rule, R.ZPlus):
        if rule.bias == "plain":
            return {"captum": "Alpha1_Beta0_Rule()"}
        if rule.mode == "dtd":
            return {"innvestigate": "ZPlusFastRule()", "captum": "Alpha1_Beta0_Rule(set_bias_to_zero=True)"}
        if rule.bias:
            return {"zennit": _zennit("ZPlus", eps=eps), "lrp_toolbox": "'alphabeta', 1"}
        return {"zennit": _zennit("ZPlus", "zero_params='bias'", eps=eps), "innvestigate": "ZPlusRule()"}
    if isinstance(rule, R.ZBox):
        return {"zennit": _zennit("ZBox", "low[None]", "high[None]", eps=eps) + " (bound arrays with a batch axis)",
                "innvestigate": "BoundedRule(low, high) (scalar bounds only)"}
    if isinstance(rule, R.WSquare):
        if rule.bias:
            return {"zennit": _zennit("WSquare", eps=eps)}
        return {"zennit": _zennit("WSquare", "zero_params='bias'", eps=eps), "innvestigate": "WSquareRule()",
                "lrp_toolbox": "'ww'"}
    if isinstance(rule, R.Flat):
        return {"zennit": _zennit("Flat", eps=eps), "innvestigate": "FlatRule()",
                "lrp_toolbox": "'flat' (fan-in; the same without padding)"}
    if isinstance(rule, R.SumSplit):
        if rule.mode == "proportional":
            return {"zennit": f"Norm() on zennit.layer.Sum (ResNetCanonizer's residual sum; its stabilizer 1e-6, "
                              f"here {rule.epsilon:g})",
                    "captum": "no rule: the + of a residual connection is the gradient (both summands get R)"}
        return {}
    if isinstance(rule, R.Pass):
        return {"zennit": "Pass()", "captum": "IdentityRule() / activation pass-through",
                "innvestigate": "activation pass-through", "lrp_toolbox": "Rect/Tanh pass-through"}
    if isinstance(rule, R.WinnerTakesAll):
        if rule.ties == "split":
            return {"lrp_toolbox": "MaxPool lrp (ties split equally)", "clrp": "official CLRP code"}
        eps_text = f"{rule.epsilon:g}" if rule.epsilon else "1e-300"
        return {"zennit": "no rule (the gradient)" if not rule.epsilon else "no rule (zennit's max-pool is the gradient)",
                "captum": f"EpsilonRule(epsilon={eps_text}) on MaxPool2d", "innvestigate": "the gradient"}
    return {"pytorch_relevance_propagation": "kaifishr/PyTorchRelevancePropagation mode='avg'"}


# --------------------------------------------------------------------------- composites


_ZENNIT_PRESETS = ("EpsilonGammaBox", "EpsilonPlusFlat", "EpsilonPlus", "EpsilonAlpha2Beta1Flat", "EpsilonAlpha2Beta1")


def composite_to_json(composite) -> dict:
    """The composite as structured JSON: ``name`` (its description), ``preset`` (for a preset of
    :mod:`lrpref.presets`, which places its rules by its own logic: its name, e.g. ``"EpsilonGammaBox"``; else null),
    the rule records of ``default`` / ``first`` / ``middle`` / ``last`` (null when unset), ``types`` (layer type name:
    record), ``layers`` (layer index: record), ``first_types`` (the layer types ``first`` may pick) and ``peers``.
    :func:`composite_from_json` rebuilds a plain composite; a case's per-layer ``rules`` are what either resolves to."""
    from ..composites import Composite

    name = composite.describe()
    peers = {}
    preset = None if type(composite) is Composite else name.split("(")[0]
    if preset in _ZENNIT_PRESETS:
        peers["zennit"] = f"zennit.composites.{preset} (stabiliser 1e-6 everywhere, as lrpref's preset)"
    elif preset == "Montavon2019":
        peers["tutorial"] = "Montavon et al. 2019 / the LRP tutorial (zᴮ, γ, ε·RMS(z), LRP-0)"

    def record(rule):
        return None if rule is None else rule_to_json(rule)

    return {"name": name, "preset": preset, "default": record(composite.default), "first": record(composite.first),
            "middle": record(composite.middle), "last": record(composite.last),
            "types": {kind.__name__: rule_to_json(rule) for kind, rule in composite.types.items()},
            "layers": {str(k): rule_to_json(rule) for k, rule in composite.layers.items()},
            "first_types": [kind.__name__ for kind in composite.first_types], "peers": peers}


def composite_from_json(record: dict):
    """The :class:`~lrpref.Composite` a structured composite record describes (a preset: rebuild it from
    :mod:`lrpref.presets` by its name, or use the case's per-layer rules)."""
    from .. import layers as L
    from ..composites import Composite

    if record.get("preset"):
        raise ValueError(f"composite record {record.get('name')!r} is the preset {record['preset']!r} of lrpref.presets, "
                         f"which places its rules by its own logic; use the case's per-layer rules")

    def layer_type(name):
        kind = getattr(L, name, None)
        if not isinstance(kind, type) or not issubclass(kind, L.Layer):
            raise ValueError(f"composite record: {name!r} is not an lrpref layer type")
        return kind

    def rule(value):
        return None if value is None else rule_from_json(value)

    return Composite(rule(record.get("default")), first=rule(record.get("first")), middle=rule(record.get("middle")),
                     last=rule(record.get("last")),
                     types={layer_type(name): rule_from_json(value) for name, value in record.get("types", {}).items()},
                     layers={int(k): rule_from_json(value) for k, value in record.get("layers", {}).items()},
                     first_types=tuple(layer_type(name) for name in record.get("first_types", ("Dense", "Conv2d"))),
                     name=record.get("name"))


# --------------------------------------------------------------------------- methods


_TOP_MULTIPLIER = {
    "increment": "e_c", "logit": "e_c", "st": "P'_c(Z) = P_c (e_c − P)",
    "sig": "P̄'_c = sum_k w_k P'_c(Ẑ + t_k ΔZ)",
}
_LINEARIZATION = {
    "local": "D^l = the Jacobian at the input (ReLU'(0) = 0; max-pool: the first arg-max in row-major window order)",
    "rescale": "DeepLIFT Rescale: D^l = diag(ΔY^l/ΔY^(l-1)) for element-wise layers (the derivative at the reference "
               "where |ΔY^(l-1)| < 1e-7), W for affine layers, the first arg-max at the input for max-pooling",
    "path": "D^l = sum_k w_k Jacobian(Ŷ^(l-1) + t_k ΔY^(l-1)) on each layer's own straight path; W for affine layers",
    "revealcancel": "DeepLIFT RevealCancel for every (affine, element-wise) pair, Rescale elsewhere (math.md §4 (b3))",
}
# the factor of R(Y^l) = g^(l+1) ⊙ factor: at a level l, and at the output
_FACTOR = {
    "increment": ("ΔY^l", "ΔZ, ΔZ = Z(x) − Z(x̂)"),
    "activation": ("Y^l", "Z"),
    "multiplier": ("g^(l+1) (the squared gradient)", "g^L"),
}
_LRP_TOPS = {
    "sg": "R(Y^L) = P'_c(Z) = P_c (e_c − P)",
    "st-lrp-0": "R(Y^L) = P'_c(Z) ⊙ Z",
    "sig-lrp-0": "R(Y^L) = P̄'_c ⊙ Z, P̄'_c = sum_k w_k P'_c(t_k Z)",
}
_SPEC = {"deeplift": "§4", "deeplift-revealcancel": "§4 (b3)", "lid-taylor": "§6.1", "lrp-taylor": "§6.2", "lid-ig": "§6.3",
         "st-lid-taylor": "§6.5", "sig-lid-taylor": "§6.5", "sig-lid-ig": "§6.5", "gradient-x-input": "§3.12",
         "gradient": "Simonyan et al. 2014 (sensitivity)", "ig": "§5", "smoothgrad": "Smilkov et al. 2017", "clrp": "§7.2", "lrp": "§2, §3",
         "sg-lrp-0": "§6.5, §7.1", "sg-lrp-zp": "§6.5, §7.1", "st-lrp-0": "§6.5", "sig-lrp-0": "§6.5"}


def _method_text(name, options, explicit_top) -> tuple[str, str]:
    """(top, propagation) of a method, as formulas."""
    if name in M.MULTIPLIER:
        spec = M.MULTIPLIER[name]
        factor, factor_top = _FACTOR[spec.factor]
        propagation = f"{_LINEARIZATION[spec.linearize]}; g^l = g^(l+1) D^l; R(Y^l) = g^(l+1) ⊙ {factor}"
        if spec.linearize == "revealcancel" and options.get("revealcancel") == "dense":
            propagation += " (RevealCancel only after Dense layers)"
        return f"g^L = {_TOP_MULTIPLIER[spec.top]}; R(Y^L) = g^L ⊙ {factor_top}", propagation
    if name == "ig":
        return ("R(Y^L) = e_c ⊙ ΔZ, ΔZ = Z(x) − Z(x̂)",
                "R(Y^l) = (sum_k w_k ∂Z_c/∂Y^l at the input-space point x̂ + t_k (x − x̂)) ⊙ ΔY^l")
    if name == "smoothgrad":
        return ("R(Y^L) = e_c", "R(Y^l) = mean over k of ∂Z_c/∂Y^l at x + σ ε_k, ε_k = smoothgrad.noise[k], "
                                "σ = noise · (max x − min x) per sample")
    if name == "clrp":
        dual = ("|Z| with the target entry zeroed" if options.get("clrp") == "clrp1"
                else "|e_c ⊙ Z| through the network with the last Dense layer negated (W, b -> −W, −b)")
        final = ("max(0, R/sum R − R_dual/sum R_dual)" if options.get("clrp_normalise", True) else "max(0, R − R_dual)")
        return (f"target pass from |e_c ⊙ Z|, dual pass from {dual}",
                f"both passes by the listed rules; relevance.0 = {final} (only level 0 is compared)")
    if name == "lrp":
        top = "R(Y^L) = the target array (an explicit top relevance)" if explicit_top else "R(Y^L) = e_c ⊙ Z"
        return top, "the listed rule of every layer"
    kind = M.LRP_TOPS[name][0]
    return _LRP_TOPS[kind], "the listed rule of every layer"


def method_to_json(name, *, steps, riemann, options, reference: bool, quadrature: bool, noise: bool,
                   explicit_top: bool = False) -> dict:
    """The record of a method: formulas, spec section and parameters; arrays it needs are named by their npz key."""
    top, propagation = _method_text(name, options, explicit_top)
    return {"name": name, "spec": f"docs/math.md {_SPEC[name]}" if _SPEC[name].startswith("§") else _SPEC[name],
            "top": top, "propagation": propagation, "steps": steps, "riemann": riemann if quadrature else None,
            "options": dict(options), "reference": "reference" if reference else None,
            "quadrature": ["quadrature.t", "quadrature.w"] if quadrature else None,
            "noise": "smoothgrad.noise" if noise else None}
