"""zennit's conventions (zennit 0.5.1 on PyPI and 1.0.0; math.md §P1.1), as lrpref rules.

zennit writes every rule as modified forward passes around one stabiliser
``stab(z) = z + ε·(sign(z) + [z = 0])`` (``sgn0(0) = +1``, also for ``-0.0``), default
``ε = 1e-6``; every parameter modifier acts on the bias too, unless ``zero_params='bias'``.

* ``Epsilon(epsilon=1e-6)`` — LRP-ε, bias in the denominator.
* ``Gamma(gamma=0.25)`` — the *generalised* γ (signed inputs split, output-sign switch, γ on the
  bias, ``z = 0`` dropped): :class:`lrpref.Gamma` with ``mode="generalised"``.
* ``ZPlus`` — ``a⁺w⁺ + a⁻w⁻`` with ``b⁺`` in the denominator; ``AlphaBeta(α, β)`` with ``b⁺`` in the
  α- and ``b⁻`` in the β-denominator.
* ``ZBox(low, high)`` — the bias enters all three forward passes and cancels exactly.
* ``WSquare`` — ``w²`` *and* ``b²`` in the denominator (zennit's default; the DTD rule has no
  bias term: ``zero_params='bias'`` gives it).
* ``Flat``, ``Norm`` (average pooling: stabilised LRP-0), ``Pass`` (activations, BatchNorm).
* Max-pooling has no rule: the gradient, all relevance to the first maximum.

The composites apply zennit's layer map: activations and BatchNorm pass, average pooling
``Norm``, convolutions and dense layers by type, and a special first layer — the first
*convolution* for ``EpsilonGammaBox`` (an MLP gets no zᴮ), the first Dense or Conv2d for the
``*Flat`` composites. zennit starts from whatever ``attr_output`` it is given (its README: the
one-hot vector, ``R = 1``); lrpref starts from the logit, so compare ``relevance * f_c(x)``.
"""

from __future__ import annotations

import numpy as np

from .. import rules
from ..canonize import fold_batchnorm
from ..layers import AdaptiveAvgPool2d, Add, AvgPool2d, BatchNorm, Concat, Conv2d, Dropout, Flatten, Identity, MaxPool2d, ReLU
from ._common import UnsupportedRule, input_channels, relu_gradient, weight_layer_map

__all__ = ["Epsilon", "Gamma", "ZPlus", "AlphaBeta", "ZBox", "WSquare", "Flat", "Norm", "Pass", "EpsilonGammaBox",
           "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1", "EpsilonAlpha2Beta1Flat", "LayerMap", "rule",
           "composite", "merge_batchnorm", "networks", "STABILISER"]

STABILISER = 1e-6
NAME = "zennit"


def _keeps_bias(zero_params) -> bool:
    names = [zero_params] if isinstance(zero_params, str) else list(zero_params or [])
    unknown = set(names) - {"bias", "weight"}
    if unknown or "weight" in names:
        raise UnsupportedRule(f"zennit zero_params={zero_params!r}: lrpref reproduces zero_params='bias' only")
    return "bias" not in names


def Epsilon(epsilon: float = 1e-6, zero_params=None) -> rules.Epsilon:
    """zennit ``Epsilon``: ``R_i = a_i sum_j w_ji R_j / stab(z_j)``."""
    return rules.Epsilon(epsilon, bias=_keeps_bias(zero_params))


def Gamma(gamma: float = 0.25, stabilizer: float = STABILISER, zero_params=None) -> rules.Gamma:
    """zennit ``Gamma``: the generalised γ rule (γ on the bias too)."""
    return rules.Gamma(gamma, bias=_keeps_bias(zero_params), mode="generalised", epsilon=stabilizer)


def ZPlus(stabilizer: float = STABILISER, zero_params=None) -> rules.ZPlus:
    """zennit ``ZPlus``: contributions ``a⁺w⁺ + a⁻w⁻``, ``b⁺`` in the denominator."""
    return rules.ZPlus("products", bias=_keeps_bias(zero_params), epsilon=stabilizer)


def AlphaBeta(alpha: float = 2.0, beta: float = 1.0, stabilizer: float = STABILISER, zero_params=None) -> rules.AlphaBeta:
    """zennit ``AlphaBeta`` (α − β = 1): ``b⁺`` in the α-, ``b⁻`` in the β-denominator."""
    return rules.AlphaBeta(alpha, beta, bias="include" if _keeps_bias(zero_params) else "ignore", epsilon=stabilizer)


def ZBox(low, high, stabilizer: float = STABILISER, zero_params=None) -> rules.ZBox:
    """zennit ``ZBox``: the bias cancels (``b - b⁺ - b⁻ = 0``), so it is the bias-free zᴮ rule."""
    _keeps_bias(zero_params)
    return rules.ZBox(low, high, epsilon=stabilizer)


def WSquare(stabilizer: float = STABILISER, zero_params=None) -> rules.WSquare:
    """zennit ``WSquare``: ``w²`` with ``b²`` in the denominator unless ``zero_params='bias'``."""
    return rules.WSquare(bias=_keeps_bias(zero_params), epsilon=stabilizer)


def Flat(stabilizer: float = STABILISER) -> rules.Flat:
    """zennit ``Flat``: uniform over the real (non-padding) taps, no bias."""
    return rules.Flat(epsilon=stabilizer)


def Norm(stabilizer: float = STABILISER) -> rules.Epsilon:
    """zennit ``Norm`` (average pooling): ``R_i = a_i sum_j w_ji R_j / stab(z_j)``."""
    return rules.Epsilon(stabilizer)


Pass = rules.Pass


_GRADIENT_ALREADY = (MaxPool2d, Flatten, Concat, Identity, Dropout)  # lrpref's rule on these is their gradient


def _gradient(net, k):
    """The rule for node ``k`` that zennit does not hook: its gradient applied to the relevance."""
    layer = net[k]
    if isinstance(layer, ReLU):
        channels = input_channels(net, k, "zennit's gradient through a ReLU called as a function")
        return relu_gradient(channels, layer.dtype or net.dtype or np.float64,
                             "zennit: a ReLU called as a function, the gradient R·1[x > 0]")
    if isinstance(layer, AdaptiveAvgPool2d) or isinstance(layer, AvgPool2d) and (
            layer.padding == (0, 0) or not layer.count_include_pad):
        return Flat(0.0)  # the gradient R_j / |window|, every window tap real: the flat rule
    if isinstance(layer, _GRADIENT_ALREADY):
        return None
    if isinstance(layer, Add):
        reason = ("zennit passes the gradient through a sum it does not hook: each summand gets the whole relevance "
                  "(not conservative), which no lrpref rule does; zennit's ResNetCanonizer makes torchvision's residual "
                  "+ a hooked Sum (lrpref's Add default), so leave the node out of unhooked")
    else:
        reason = ("lrpref reproduces zennit's gradient through an unhooked ReLU, average pooling (without counted "
                  "padding), max-pooling, Flatten, Concat, Identity or Dropout only")
    raise UnsupportedRule(f"{net.where(k)} in unhooked: {reason}")


def _unhooked(names):
    """``per_position`` giving the nodes named in ``names`` their gradient (:func:`_gradient`)."""
    names = frozenset(names)

    def rule_at(net, k):
        if k == 0:
            unknown = names - {node.name for node in net.nodes}
            if unknown:
                raise UnsupportedRule(f"unhooked names {sorted(unknown)}, which are not nodes of the network")
        return _gradient(net, k) if net.nodes[k].name in names else None

    return rule_at if names else None


def LayerMap(rest, first=None, stabiliser: float = STABILISER, first_types=None, name=None, unhooked=()):
    """zennit's layer map: ``rest`` on Dense and Conv2d (``first`` on the first of them, or on the first layer of
    ``first_types``), average pooling ``Norm``, BatchNorm and activations ``Pass``, max-pooling the gradient.

    zennit attaches rules to modules only: an operation the torch model calls as a function passes relevance as
    its gradient. ``unhooked`` names such nodes (torchvision's DenseNet ends in ``F.relu`` and
    ``F.adaptive_avg_pool2d``: ``unhooked=("relu", "adaptive_avg_pool2d")`` on the imported graph); a ReLU then
    masks the relevance (``R·1[x > 0]``) and an average pooling spreads it evenly (the flat rule).
    """
    pooling = Norm(stabiliser)
    composite = weight_layer_map(rest, first, {AvgPool2d: pooling, AdaptiveAvgPool2d: pooling, BatchNorm: Pass()},
                                 name=name or f"zennit LayerMap({rest.describe()}" + (f", first={first.describe()})" if first else ")"),
                                 per_position=_unhooked(unhooked))
    if first_types is not None:
        composite.first_types = tuple(first_types)
    return composite


def _composite(name, conv_rule, dense_rule, stabiliser, first=None, first_types=None, unhooked=()):
    composite = LayerMap(dense_rule, first, stabiliser, first_types, name, unhooked)
    composite.types[Conv2d] = conv_rule
    return composite


def EpsilonGammaBox(low, high, epsilon: float = 1e-6, gamma: float = 0.25, stabiliser: float = STABILISER, unhooked=()):
    """zᴮ(low, high) on the first Conv2d, generalised γ on the other convolutions, ε on dense layers."""
    return _composite(f"EpsilonGammaBox(low={low}, high={high}, epsilon={epsilon:g}, gamma={gamma:g})",
                      Gamma(gamma, stabiliser), Epsilon(epsilon), stabiliser, ZBox(low, high, stabiliser), (Conv2d,), unhooked)


def EpsilonPlus(epsilon: float = 1e-6, stabiliser: float = STABILISER, unhooked=()):
    """z⁺ (products form, ``b⁺`` in the denominator) on convolutions, ε on dense layers."""
    return _composite(f"EpsilonPlus(epsilon={epsilon:g})", ZPlus(stabiliser), Epsilon(epsilon), stabiliser, unhooked=unhooked)


def EpsilonPlusFlat(epsilon: float = 1e-6, stabiliser: float = STABILISER, unhooked=()):
    """As :func:`EpsilonPlus`, with the flat rule on the first Dense or Conv2d layer."""
    return _composite(f"EpsilonPlusFlat(epsilon={epsilon:g})", ZPlus(stabiliser), Epsilon(epsilon), stabiliser,
                      Flat(stabiliser), unhooked=unhooked)


def EpsilonAlpha2Beta1(epsilon: float = 1e-6, stabiliser: float = STABILISER, unhooked=()):
    """α2β1 (bias ``b⁺``/``b⁻`` included) on convolutions, ε on dense layers."""
    return _composite(f"EpsilonAlpha2Beta1(epsilon={epsilon:g})", AlphaBeta(2, 1, stabiliser), Epsilon(epsilon), stabiliser, unhooked=unhooked)


def EpsilonAlpha2Beta1Flat(epsilon: float = 1e-6, stabiliser: float = STABILISER, unhooked=()):
    """As :func:`EpsilonAlpha2Beta1`, with the flat rule on the first Dense or Conv2d layer."""
    return _composite(f"EpsilonAlpha2Beta1Flat(epsilon={epsilon:g})", AlphaBeta(2, 1, stabiliser), Epsilon(epsilon),
                      stabiliser, Flat(stabiliser), unhooked=unhooked)


def merge_batchnorm(net, quirks: bool = False):
    """The network zennit explains after its ``SequentialMergeBatchNorm`` (part of ``ResNetCanonizer`` and
    ``VGGCanonizer``): every BatchNorm that directly follows a Dense/Conv2d is merged into it exactly; the others
    stay, and zennit's composites pass relevance through them.

    ``quirks=True`` also keeps what zennit leaves behind: the merged BatchNorm stays with mean 0, variance 1 and
    its ``eps``, i.e. ``x ↦ x / sqrt(1 + eps)`` — the explained network differs from the original by about
    ``eps/2`` relative per BatchNorm (docs/peers.md). ``quirks=False`` gives the exact fold. Either way a
    merged BatchNorm leaves a node in its place (the identity without the quirk), so node indices stay.
    """
    return fold_batchnorm(net, keep_unfoldable=True, into="preceding", residue="zennit" if quirks else "identity")


def networks(net, quirks: bool = False) -> list:
    """``(label, network)``: what zennit may have explained of ``net`` (for :func:`lrpref.verify`). Without BatchNorm
    that :func:`merge_batchnorm` merges, ``net`` itself; with it, ``net`` with the BatchNorm passed (no canonizer) and
    the exact merge, or (``quirks=True``) the merge that leaves ``x / sqrt(1 + eps)`` (``SequentialMergeBatchNorm``,
    ``ResNetCanonizer``, ``VGGCanonizer``)."""
    merged = merge_batchnorm(net, quirks)
    if all(a is b for a, b in zip(net, merged)):
        return [("", net)]
    if quirks:
        return [("BatchNorm merged by zennit's canonizer, x/√(1+eps) left in its place", merged)]
    return [("BatchNorm passed (no canonizer)", net), ("BatchNorm merged exactly", merged)]


def rule(name, quirks: bool = False):
    """zennit's rule for a :class:`~lrpref.presets.RuleName` (zennit has no quirk flagged as a bug here)."""
    kind = name.kind
    if kind == "lrp0":
        return rules.LRP0()
    if kind == "epsilon":
        return Epsilon(name.param(0, 1e-6))
    if kind == "gamma":
        return Gamma(name.param(0, 0.25))
    if kind == "alphabeta":
        return AlphaBeta(*name.params)
    if kind == "zplus":
        return ZPlus()
    if kind == "zbox":
        return ZBox(*name.params)
    if kind == "w2":
        return WSquare()
    return Flat()


def composite(rest, first=None, quirks: bool = False):
    """``rest`` (and ``first`` on the first Dense/Conv2d) in zennit's layer map."""
    labels = {"lrp0": "Epsilon(0)", "gamma": "generalised γ, γ on the bias", "zplus": "ZPlus, a⁺w⁺ + a⁻w⁻ and b⁺",
              "w2": "WSquare with b² in the denominator", "alphabeta": "AlphaBeta, b⁺/b⁻ split"}
    text = f"zennit ({labels.get(rest.kind, rule(rest).describe())}" + (f"; first layer {first})" if first else ")")
    return LayerMap(rule(rest, quirks), None if first is None else rule(first, quirks), name=text)
