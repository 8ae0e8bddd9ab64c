"""The captum reference client: LRP with captum's rules, and captum's gradient methods, on every case it can express.

LRP (class targets only; captum starts from the target logit): a rule record becomes a captum
rule set as ``module.rule`` — LRP-0 and ε ``EpsilonRule(ε)`` (signed ε; with bias), γ
``GammaRule(γ)`` (the plain bias ``b``; ``set_bias_to_zero=True`` without it), z⁺ and α1β0
``Alpha1_Beta0_Rule()`` (the plain bias; ``set_bias_to_zero=True`` without it), pass
``IdentityRule()`` (captum's ``nn.ReLU`` / ``nn.Tanh`` / ``nn.Dropout`` pass through by
themselves), winner-takes-all (first) on max-pooling ``EpsilonRule(ε)``. captum divides by
``z + sgn0(z)·ε`` with ``ε = STABILITY_FACTOR`` (1e-9 for γ and α1β0): the client sets it to the
record's ε, and for ε = 0 to 1e-300 (:data:`SAFE`): captum has no safe division, but ``z + 1e-300``
is ``z`` for any ``z ≠ 0``, and where ``z = 0`` the upper relevance is usually 0 too, ``0 / 1e-300 = 0``
(a zero from cancellation, with a nonzero upper relevance, still blows up).

Methods (level 0 only): ``gradient-x-input`` ``InputXGradient``; ``gradient`` ``Saliency(abs=False)``
squared (lrpref's gradient method gives ``g ⊙ g``); ``ig`` ``IntegratedGradients`` (``steps``
counts intervals: the trapezoid rule has ``steps + 1`` points, captum's ``n_steps``); ``deeplift``
``DeepLift`` (the Rescale rule). The baseline is the case's ``reference`` array, or 0.
"""

from __future__ import annotations

import warnings

from ._base import PeerRun, Unsupported, main

PEER = "captum"
SAFE = 1e-300  # captum's stand-in for ε = 0: z + 1e-300 is z unless z = 0, where R = 0 gives 0 / 1e-300 = 0
_NATIVE_PASS = ("ReLU", "Tanh", "Dropout")
_RIEMANN = {"right": "riemann_right", "left": "riemann_left", "midpoint": "riemann_middle",
            "trapezoid": "riemann_trapezoid", "gauss-legendre": "gausslegendre"}


def rule(record, node):
    """``(call, rule or None)`` for one rule record on one node; raises :class:`Unsupported`."""
    from captum.attr._utils import lrp_rules as R

    name, params, kind, op = record["name"], record["params"], record["kind"], node["op"]
    if kind == "pass":
        if op == "Flatten" or op in _NATIVE_PASS:
            return f"(none: captum passes {op} through)", None
        return "IdentityRule()", R.IdentityRule()
    if kind == "max-pool-winner":
        if params["ties"] != "first":
            raise Unsupported(f"captum's max-pooling relevance goes to the first maximum; {record['lrpref']} splits ties")
        eps = params["epsilon"] or SAFE
        return f"EpsilonRule(epsilon={eps:g})", R.EpsilonRule(epsilon=eps)
    if kind != "linear":
        raise Unsupported(f"captum has no rule for {record['lrpref']} on {op}")
    eps = record["stabiliser"]["epsilon"] or SAFE
    if record["stabiliser"]["sign"] != "signed" or record["stabiliser"]["scale"] != "fixed":
        raise Unsupported(f"captum's stabiliser is the signed, fixed ε; the case's is {record['stabiliser']}")
    if name in ("LRP0", "Epsilon"):
        if params.get("bias") is False:
            raise Unsupported("captum's EpsilonRule always includes the bias")
        return f"EpsilonRule(epsilon={eps:g})", R.EpsilonRule(epsilon=eps)
    arguments = {}
    if name == "Gamma" and params["mode"] == "classic":
        arguments["gamma"] = params["gamma"]
        no_bias, made_by = params["bias"] is False, R.GammaRule
    elif name == "ZPlus" or (name == "AlphaBeta" and params["alpha"] == 1 and params["beta"] == 0
                             and params["convention"] == "modern"):
        no_bias, made_by = params["bias"] in (False, "ignore"), R.Alpha1_Beta0_Rule
    else:
        raise Unsupported(f"captum has no rule for {record['lrpref']}")
    if no_bias:
        arguments["set_bias_to_zero"] = True
    made = made_by(**arguments)
    made.STABILITY_FACTOR = eps
    shown = ", ".join(f"{key}={value:g}" if key == "gamma" else f"{key}={value}" for key, value in arguments.items())
    return f"{made_by.__name__}({shown}) with STABILITY_FACTOR = {eps:g}", made


def _lrp(view):
    import torch
    from captum.attr import LRP

    if view.method != "lrp":
        raise Unsupported(f"captum's LRP starts from the target logit; {view.method!r} starts from another top")
    target = view.class_target()
    model = view.module()
    calls = []
    for node, record in zip(view.description["nodes"], view.entry["rules"]):
        call, made = rule(record, node)
        calls.append({"node": node["name"], "op": node["op"], "rule": call})
        if made is not None:
            getattr(model, node["name"]).rule = made
    x = view.tensor("input").requires_grad_(True)
    try:
        relevance = LRP(model).attribute(x, target=torch.tensor(target))
    except (TypeError, KeyError, RuntimeError) as error:  # a module captum has no rule for, or cannot pass through
        raise Unsupported(f"captum.attr.LRP fails on this network: {type(error).__name__}: {error}") from None
    return "captum.attr.LRP(model).attribute(x, target=target)", {"rules": calls}, relevance


def _method(view):
    import torch
    from captum import attr

    method, spec = view.method, view.entry["method"]
    target = torch.tensor(view.class_target())
    x = view.tensor("input")
    baseline = view.tensor("reference").expand_as(x) if spec["reference"] else torch.zeros_like(x)
    if method == "gradient-x-input":
        return "InputXGradient(model).attribute(x, target)", {}, attr.InputXGradient(view.module()).attribute(x, target=target)
    if method == "gradient":
        g = attr.Saliency(view.module()).attribute(x, target=target, abs=False)
        return "Saliency(model).attribute(x, target, abs=False) ** 2", {"abs": False}, g ** 2
    if method == "ig":
        steps = spec["steps"] + (spec["riemann"] == "trapezoid")
        kwargs = {"n_steps": steps, "method": _RIEMANN[spec["riemann"]]}
        relevance = attr.IntegratedGradients(view.module()).attribute(x, baselines=baseline, target=target, **kwargs)
        return "IntegratedGradients(model).attribute(x, baselines, target, n_steps, method)", kwargs, relevance
    if method == "deeplift" and not spec["options"]:
        relevance = attr.DeepLift(view.module()).attribute(x, baselines=baseline, target=target)
        return "DeepLift(model).attribute(x, baselines, target)", {}, relevance
    if method == "deeplift" and spec["options"] == {"convention": "captum"}:
        relevance = attr.DeepLift(view.module()).attribute(x, baselines=baseline, target=target)
        return "DeepLift(model).attribute(x, baselines, target)", {}, relevance
    raise Unsupported(f"captum has no attribution method for {method!r} with options {spec['options']}")


def run(view) -> PeerRun:
    with warnings.catch_warnings():  # captum warns that it sets requires_grad and removes its hooks: both expected
        warnings.simplefilter("ignore", UserWarning)
        call, kwargs, relevance = _lrp(view) if view.entry["rules"] is not None else _method(view)
    return PeerRun(view.entry["id"], PEER, call, kwargs, {0: relevance.detach().numpy()})


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.modules[__name__]))
