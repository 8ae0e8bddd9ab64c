"""The zennit reference client: every LRP-based case with zennit's rules, one rule per module (``NameMapComposite``),
and the gradient methods (zennit's ``Gradient`` attributor without rules: ``gradient`` squared, ``gradient-x-input``
times the activation, at every level).

A rule record becomes a zennit rule as follows (``stabilizer`` is the record's ε, not zennit's default
1e-6; ε = 0 is :func:`safe_divide`, the denominator with 0 replaced by ∞: lrpref's safe division):
LRP-0 ``Epsilon(epsilon=safe_divide)``; ε ``Epsilon(ε)`` (``zero_params='bias'``
without the bias, a ``Stabilizer(ε, norm_scale=True)`` for ε·RMS, a callable for the unsigned and
zeros-only stabilisers); γ ``Gamma(γ)`` (zennit's γ is the generalised one); αβ ``AlphaBeta(α, β)``;
z⁺ ``ZPlus()``; zᴮ ``ZBox(low[None], high[None])`` (zennit aligns a bound array from the left,
batch first; lrpref broadcasts it against one sample); w² ``WSquare()``;
flat ``Flat()``; pass ``Pass()``; winner-takes-all (first) no rule: the gradient. The top relevance
is the output gradient given to ``zennit.attribution.Gradient``; the relevance at every level is
the gradient of the tensor between two modules (zennit's rules write relevance into gradients).
"""

from __future__ import annotations

import numpy as np

from ._base import PeerRun, Unsupported, main

PEER = "zennit"
LRP_TOPS = ("lrp", "sg-lrp-0", "sg-lrp-zp", "st-lrp-0")


def _stabiliser(record):
    """zennit's ``epsilon`` argument for a record's stabiliser: a float (signed), or a callable."""
    from zennit.core import Stabilizer

    s = record["stabiliser"]
    eps = float(s["epsilon"])
    if s["scale"] == "rms":
        if s["sign"] != "signed":
            raise Unsupported(f"zennit's norm-scaled Stabilizer is signed; the case's is {s['sign']}")
        return f"Stabilizer(epsilon={eps:g}, norm_scale=True)", Stabilizer(epsilon=eps, norm_scale=True)
    if s["sign"] == "unsigned":  # z + ε, the signed form where that is exactly 0
        def unsigned(z):
            shifted = z + eps
            return shifted + (shifted == 0) * ((z >= 0) * 2 - 1) * eps
        return f"lambda z: z + {eps:g}", unsigned
    if s["sign"] == "zeros":
        return f"lambda z: z + {eps:g} * (z == 0)", lambda z: z + (z == 0) * eps
    if eps == 0:  # lrpref's safe division: a zero denominator drops its relevance (R / inf = 0)
        return "safe_divide", safe_divide
    return f"{eps:g}", eps


def safe_divide(z):
    """A zennit stabilizer for ε = 0: the denominator itself, with 0 replaced by ∞ so that ``R / S`` is 0 there."""
    import torch

    return torch.where(z == 0, torch.full_like(z, float("inf")), z)


def rule(record, node):
    """``(call, kwargs, zennit rule or None)`` for one rule record on one node; raises :class:`Unsupported`."""
    from zennit import rules as Z

    name, params, kind = record["name"], record["params"], record["kind"]
    if kind == "pass":
        return ("(no module: torch.flatten)", {}, None) if node["op"] == "Flatten" else ("Pass()", {}, Z.Pass())
    if kind == "max-pool-winner":
        if params["ties"] != "first" or params["epsilon"] != 0:
            raise Unsupported(f"zennit has no max-pool rule for {record['lrpref']}; its max-pool relevance is the gradient")
        return "(no rule: the gradient of max-pooling)", {}, None
    if kind != "linear":
        raise Unsupported(f"zennit has no rule for {record['lrpref']} on {node['op']}")
    shown, stabiliser = _stabiliser(record)
    options, call = {}, name
    if name in ("LRP0", "Epsilon"):
        call, options["epsilon"] = "Epsilon", stabiliser
        if params.get("bias") is False:
            options["zero_params"] = "bias"
    elif name == "Gamma":
        if params["bias"] == "plain":
            raise Unsupported("zennit's Gamma modifies the bias with the weights (b + γb⁺); it has no plain-bias form")
        options.update(gamma=params["gamma"], stabilizer=stabiliser)
        if params["bias"] is False:
            options["zero_params"] = "bias"
    elif name == "AlphaBeta":
        if params["bias"] == "full":
            raise Unsupported("zennit's AlphaBeta splits the bias into b⁺ and b⁻; it has no full-bias form")
        beta = params["beta"] if params["convention"] == "modern" else -params["beta"]
        options.update(alpha=params["alpha"], beta=beta, stabilizer=stabiliser)
        if params["bias"] == "ignore":
            options["zero_params"] = "bias"
    elif name == "ZPlus":
        if params["bias"] == "plain":
            raise Unsupported("zennit's ZPlus adds b⁺ (or no bias); it has no plain-bias form")
        options["stabilizer"] = stabiliser
        if params["bias"] is False:
            options["zero_params"] = "bias"
    elif name == "ZBox":
        import torch

        # lrpref broadcasts a bound array against one sample; zennit aligns it from the left (batch first)
        options.update({key: torch.tensor(np.asarray(params[key], dtype=np.float64))[None] for key in ("low", "high")},
                       stabilizer=stabiliser)
    elif name == "WSquare":
        options["stabilizer"] = stabiliser
        if not params["bias"]:
            options["zero_params"] = "bias"
    elif name == "Flat":
        options["stabilizer"] = stabiliser
    else:
        raise Unsupported(f"zennit has no rule for {record['lrpref']}")
    kwargs = {key: shown if key in ("epsilon", "stabilizer") else params[key] if key in ("low", "high") else value
              for key, value in options.items()}
    try:
        built = getattr(Z, call)(**options)
    except (ValueError, TypeError) as error:
        raise Unsupported(f"zennit refuses {call}({kwargs}): {error}") from None
    text = f"zennit.rules.{call}({', '.join(f'{key}={value}' for key, value in kwargs.items())})"
    return text, kwargs, built


def _gradients(model, x, top, composite=None) -> dict:
    """``{k: gradient at level k}`` from zennit's ``Gradient`` attributor started from ``top`` (with its rules, the
    gradients are the relevance)."""
    from zennit.attribution import Gradient

    captured = {}

    def record_levels(output):
        for k, tensor in enumerate(model.levels[1:-1], start=1):
            if tensor.requires_grad:
                tensor.register_hook(lambda grad, k=k: captured.__setitem__(k, grad.detach().numpy().copy()))
        return top

    with Gradient(model=model, composite=composite) as attributor:
        _, relevance = attributor(x, record_levels)
    return {0: relevance.detach().numpy(), **captured}


def _gradient_method(view) -> PeerRun:
    """``gradient`` (the squared gradient at every level) and ``gradient-x-input`` (gradient ⊙ activation) from
    zennit's ``Gradient`` attributor without a composite."""
    import torch

    model = view.module()
    x = view.tensor("input").clone().requires_grad_(True)
    with torch.no_grad():
        output = model(x)
    onehot = torch.nn.functional.one_hot(torch.tensor(view.class_target()), output.shape[1]).to(output.dtype)
    found = _gradients(model, x, onehot)
    found[len(view.description["nodes"])] = onehot.numpy()
    with torch.no_grad():
        model(x.detach())
    activations = [level.numpy() for level in model.levels]
    if view.method == "gradient":
        levels = {k: g * g for k, g in found.items()}
        call = "zennit.attribution.Gradient(model) (no composite); relevance = gradient ** 2"
    else:
        levels = {k: g * activations[k] for k, g in found.items()}
        call = "zennit.attribution.Gradient(model) (no composite); relevance = gradient * activation"
    return PeerRun(view.entry["id"], PEER, call, {}, {k: levels[k] for k in sorted(levels)})


def run(view) -> PeerRun:
    import torch
    from zennit.composites import NameMapComposite

    if view.method in ("gradient", "gradient-x-input"):
        return _gradient_method(view)
    if view.method not in LRP_TOPS:
        raise Unsupported(f"the client runs LRP passes (methods {LRP_TOPS}) and the gradient methods; "
                          f"{view.method!r} is not one")
    nodes, records = view.description["nodes"], view.entry["rules"]
    calls, name_map = [], []
    for node, record in zip(nodes, records):
        text, kwargs, built = rule(record, node)
        calls.append({"node": node["name"], "op": node["op"], "rule": text, "kwargs": kwargs})
        if built is not None:
            name_map.append(((node["name"],), built))
    model = view.module()
    x = view.tensor("input").clone().requires_grad_(True)
    with torch.no_grad():
        output = model(x)
    top = view.top(output)
    levels = {**_gradients(model, x, top, NameMapComposite(name_map)), len(nodes): top.numpy()}
    return PeerRun(view.entry["id"], PEER, "zennit.attribution.Gradient with NameMapComposite", {"rules": calls},
                   {k: levels[k] for k in sorted(levels)})


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.modules[__name__]))
