"""iNNvestigate's conventions (iNNvestigate 2.1.2; math.md §P1.3), as lrpref rules.

iNNvestigate divides with ``safe_divide``: only a denominator that is exactly 0 is replaced, by
``+1e-7`` (Keras' ``epsilon()``), whatever its neighbours' signs — :class:`lrpref.Stabiliser`
with ``sign="zeros"``. Only ``EpsilonRule`` adds ``ε·sgn0(z)`` (``sgn0(0) = +1``, default 1e-7).

* ``Z`` (LRP-0 with safe division), ``Epsilon``, ``WSquare`` and ``Flat`` (bias dropped),
  ``ZPlus`` (α1β0 without bias), ``ZPlusFast`` (``a·w⁺`` for any sign of ``a``), ``Bounded``
  (zᴮ with scalar bounds, bias dropped).
* ``AlphaBeta(α, β)`` (α ≥ 1, β ≥ 0, α − β = 1): iNNvestigate clamps the bias with the weights and
  keeps it in *both* copies, so each denominator gets the **whole** bias ``b`` (a bug,
  iNNvestigate#273: ``W=[1,-1], b=-1, x=[1,1]`` gives ``(-1e7, 0)`` for α1β0 where the rule gives
  ``(-1, 0)``). ``quirks=True`` reproduces it; the default puts ``b⁺``/``b⁻`` where they belong.
* Average pooling: LRP-0 with safe division; max-pooling: the gradient (first maximum).
* BatchNorm in the named analyzers: the rule on a fused surrogate whose scale is
  ``γ/√(var² + eps)`` (variance *squared*) and whose shift is ``β − μ/√(var² + eps)`` (γ left out)
  — a bug (``backend/graph.py``, ``one_linear``): a BatchNorm with ``x=2, μ=1, var=4, γ=3, β=0.5``
  gives 1.714 under ``Z`` where the z-rule gives 3.0. ``quirks=True`` reproduces it; the
  default applies the rule to the BatchNorm's true affine map (``k = γ/√(var + eps)``,
  ``b = β − μk``).

* A separate ``keras.layers.ReLU`` layer is not an activation to the LRP analyzers: only
  ``keras.layers.Activation`` layers (and activations fused into a Dense/Conv layer) pass the
  relevance through; every other layer without a kernel gets the gradient
  (``LRP._default_reverse_mapping`` → ``_gradient_reverse_mapping``), which for a ReLU layer is
  ``R·1[x > 0]``: relevance is masked where the ReLU's input is ≤ 0. It changes the result only
  where the layer above gives relevance to inactive neurons — input-independent rules such as
  ``Flat``, ``WSquare`` or ``Bounded`` above a ReLU (the ``LRPFlat`` and ``LRPWSquare`` analyzers).
  ``quirks=True`` reproduces it for every lrpref ReLU (lrpref's networks have separate ReLU
  layers, like a Keras model built with ``keras.layers.ReLU``; pass ``separate_relu=False`` for a
  Keras model whose ReLUs are ``Activation("relu")`` or fused): :func:`relu_layer_mask`, the
  rule ``ZPlus("products")`` on the identity map of the ReLU's input, which keeps ``R`` where
  ``x > 0`` and drops the rest (the ledger reports it as ``dropped``).

Composites: :func:`LRP` (one rule on every Dense/Conv2d, optional input-layer rule) and the
sequential presets A/B (with ``_flat``); iNNvestigate starts from the logit of the chosen
neuron, as lrpref does. Its layout is NHWC: transpose before comparing.
"""

from __future__ import annotations

import numpy as np

from .. import rules
from ..layers import AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Conv2d, Dense, ReLU
from ..rules import Stabiliser
from ._common import UnsupportedRule, input_channels, relu_gradient, weight_layer_map

__all__ = ["Z", "Epsilon", "WSquare", "Flat", "AlphaBeta", "ZPlus", "ZPlusFast", "Bounded", "fused_batchnorm",
           "relu_layer_mask", "LRP",
           "sequential_preset_a", "sequential_preset_b", "sequential_preset_a_flat", "sequential_preset_b_flat",
           "rule", "composite", "SAFE_DIVIDE"]

KERAS_EPSILON = 1e-7
SAFE_DIVIDE = Stabiliser(KERAS_EPSILON, "zeros")
NAME = "innvestigate"


def Z(bias: bool = True) -> rules.Epsilon:
    """``ZRule``: LRP-0 with safe division."""
    return rules.Epsilon(KERAS_EPSILON, sign="zeros", bias=bias)


def Epsilon(epsilon: float = KERAS_EPSILON, bias: bool = True) -> rules.Epsilon:
    """``EpsilonRule``: ``z + ε·sgn0(z)``."""
    return rules.Epsilon(epsilon, bias=bias)


def WSquare() -> rules.WSquare:
    """``WSquareRule``: bias dropped, safe division."""
    return rules.WSquare(epsilon=SAFE_DIVIDE)


def Flat() -> rules.Flat:
    """``FlatRule``: bias dropped, safe division."""
    return rules.Flat(epsilon=SAFE_DIVIDE)


def AlphaBeta(alpha: float, beta: float, bias: bool = True, quirks: bool = False) -> rules.AlphaBeta:
    """``AlphaBetaRule``; ``quirks=True`` puts the whole bias into both denominators (iNNvestigate#273)."""
    if alpha < 1 or beta < 0:
        raise UnsupportedRule(f"iNNvestigate's AlphaBetaRule needs alpha >= 1 and beta >= 0, got {alpha:g}, {beta:g}")
    mode = ("full" if quirks else "include") if bias else "ignore"
    return rules.AlphaBeta(alpha, beta, bias=mode, epsilon=SAFE_DIVIDE)


def ZPlus() -> rules.ZPlus:
    """``ZPlusRule`` = ``Alpha1Beta0IgnoreBiasRule``: ``a⁺w⁺ + a⁻w⁻``, no bias."""
    return rules.ZPlus("products", bias=False, epsilon=SAFE_DIVIDE)


def ZPlusFast() -> rules.ZPlus:
    """``ZPlusFastRule``: ``a·w⁺`` without splitting the input, no bias."""
    return rules.ZPlus("dtd", bias=False, epsilon=SAFE_DIVIDE, check_inputs=False)


def Bounded(low: float = -1.0, high: float = 1.0) -> rules.ZBox:
    """``BoundedRule``: zᴮ with scalar bounds, bias dropped, safe division."""
    if np.ndim(low) or np.ndim(high):
        raise UnsupportedRule("iNNvestigate's BoundedRule takes scalar bounds only")
    return rules.ZBox(low, high, epsilon=SAFE_DIVIDE)


def _fused_surrogate(bn: BatchNorm) -> BatchNorm:
    """iNNvestigate's ``one_linear`` surrogate: scale ``γ/√(var² + eps)``, shift ``β − μ/√(var² + eps)``."""
    root = np.sqrt(bn.var ** 2 + bn.eps)
    return BatchNorm(np.zeros(bn.channels), np.ones(bn.channels), bn.gamma / root, bn.beta - bn.mean / root, eps=0.0,
                     dtype=bn.dtype)


def fused_batchnorm(rule, quirks: bool = False):
    """How the named analyzers treat BatchNorm: ``rule`` on iNNvestigate's fused surrogate (``quirks=True``) or on
    the BatchNorm's true affine map."""
    if not quirks:
        return rule
    return rules.Surrogate(rule, _fused_surrogate, (BatchNorm,), "iNNvestigate fused BatchNorm, var² (quirk)")


def relu_layer_mask(channels: int, dtype=np.float64) -> rules.Surrogate:
    """iNNvestigate's treatment of a separate ``keras.layers.ReLU`` layer: the gradient, ``R_in = R·1[x > 0]``
    (:func:`lrpref.presets._common.relu_gradient`)."""
    return relu_gradient(channels, dtype, "iNNvestigate ReLU layer, the gradient R·1[x > 0] (quirk)")


def _masked_relu_layers(net, k):
    return relu_layer_mask(input_channels(net, k, "iNNvestigate's ReLU-layer mask"), net.dtype or np.float64) if isinstance(net[k], ReLU) else None


def LRP(rule, input_layer_rule=None, quirks: bool = False, name=None, separate_relu: bool | None = None):
    """An iNNvestigate LRP analyzer: ``rule`` on Dense/Conv2d (and BatchNorm, fused), ``input_layer_rule`` on the
    first of them, average pooling ``Z``, max-pooling the gradient; ReLU layers pass, or with ``separate_relu``
    (default: ``quirks``) get iNNvestigate's gradient mask :func:`relu_layer_mask`."""
    pooling = Z()
    separate_relu = quirks if separate_relu is None else bool(separate_relu)
    return weight_layer_map(rule, input_layer_rule, {AvgPool2d: pooling, AdaptiveAvgPool2d: pooling,
                                                     BatchNorm: fused_batchnorm(rule, quirks)},
                            per_position=_masked_relu_layers if separate_relu else None,
                            name=name or f"iNNvestigate LRP({rule.describe()})")


def _preset(conv_rule, epsilon, flat, name, quirks):
    composite = LRP(Epsilon(epsilon), Flat() if flat else None, quirks, name)
    composite.types[Conv2d] = conv_rule
    composite.types[Dense] = Epsilon(epsilon)
    composite.unsupported[BatchNorm] = "iNNvestigate's presets use AlphaBetaX2m100 on BatchNorm, which lrpref does not reproduce"
    return composite


def sequential_preset_a(epsilon: float = 0.1, quirks: bool = False):
    """``lrp.sequential_preset_a``: Dense ε (0.1), Conv α1β0 *with* bias (whole bias under ``quirks=True``)."""
    return _preset(AlphaBeta(1, 0, quirks=quirks), epsilon, False, "iNNvestigate sequential_preset_a", quirks)


def sequential_preset_b(epsilon: float = 0.1, quirks: bool = False):
    """``lrp.sequential_preset_b``: Dense ε (0.1), Conv α2β1 with bias."""
    return _preset(AlphaBeta(2, 1, quirks=quirks), epsilon, False, "iNNvestigate sequential_preset_b", quirks)


def sequential_preset_a_flat(epsilon: float = 0.1, quirks: bool = False):
    """``lrp.sequential_preset_a_flat``: preset A with the flat rule on the input layer."""
    return _preset(AlphaBeta(1, 0, quirks=quirks), epsilon, True, "iNNvestigate sequential_preset_a_flat", quirks)


def sequential_preset_b_flat(epsilon: float = 0.1, quirks: bool = False):
    """``lrp.sequential_preset_b_flat``: preset B with the flat rule on the input layer."""
    return _preset(AlphaBeta(2, 1, quirks=quirks), epsilon, True, "iNNvestigate sequential_preset_b_flat", quirks)


def rule(name, quirks: bool = False):
    """iNNvestigate's rule for a :class:`~lrpref.presets.RuleName` (it has no γ rule)."""
    kind = name.kind
    if kind == "lrp0":
        return Z()
    if kind == "epsilon":
        return Epsilon(name.param(0, KERAS_EPSILON))
    if kind == "alphabeta":
        return AlphaBeta(*name.params, quirks=quirks)
    if kind == "zplus":
        return ZPlus()
    if kind == "zbox":
        return Bounded(*name.params)
    if kind == "w2":
        return WSquare()
    if kind == "flat":
        return Flat()
    raise UnsupportedRule(f"iNNvestigate has no {name} rule")


def composite(rest, first=None, quirks: bool = False):
    """``rest`` (and ``first`` on the input layer) in an iNNvestigate LRP analyzer."""
    label = {"lrp0": "Z, safe division", "alphabeta": "AlphaBeta with the whole bias in both denominators — quirk"
             if quirks else "AlphaBeta, b⁺/b⁻", "zplus": "ZPlus, no bias", "w2": "WSquare, no bias"}.get(rest.kind, str(rest))
    return LRP(rule(rest, quirks), None if first is None else rule(first, quirks), quirks,
               name=f"iNNvestigate ({label}" + (f"; first layer {first})" if first else ")"))
