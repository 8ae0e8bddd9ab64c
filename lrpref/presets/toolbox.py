"""The LRP toolbox's conventions (python modules of lrp_toolbox 1.3.1; math.md §P1.4), as lrpref rules.

``nn.lrp(R, variant, param)`` applies one variant to every module:

* ``"simple"`` — ``z_j + 1e-16·sgn0(z_j)`` (``sgn0(0) = +1``); ``"epsilon", ε`` — the same with ε.
* ``"alphabeta", α`` — one parameter, ``β = 1 − α`` and the β-term *added*:
  :class:`lrpref.AlphaBeta` with ``convention="toolbox"``; ``b⁺`` in the positive, ``b⁻`` in the
  negative denominator, constant stabilisers ``+1e-16`` and ``−1e-16``. The convolution adds
  ``+1e-16`` to the (negative) β-denominator too, where the dense layer subtracts it — an
  inconsistency that ``quirks=True`` reproduces (``Stabiliser(1e-16, "unsigned")`` on Conv2d);
  it only shows when a β-denominator is within 1e-16 of 0.
* ``"flat"``, ``"ww"``/``"w^2"`` — no bias, no stabiliser; max-pooling then spreads uniformly
  over the window.
* Max-pooling: winner takes all, **ties split equally**. Tanh, ReLU and SoftMax pass. No BatchNorm.
* Sum pooling (``SumPool``, ``y = Σ_window x/√area``; ``python/modules/sumpool.py``) runs the
  variant on the window sum ``Z = Σ_window x``, on lrpref's average pooling (``Z/area``) with every
  stabiliser divided by the area: ``"simple"`` ``x·R/(Z + 1e-12·sgn0(Z))``; ``"epsilon", ε`` the
  user's ε, ``x·R/(Z + ε·sgn0(Z))``; ``"alphabeta", α`` the α-β rule on the window's inputs,
  ``α·x⁺/(Σx⁺ + 1e-16)·R + β·x⁻/(Σx⁻ − 1e-16)·R`` (``β = 1 − α``; α = 1 gives
  ``x⁺/(Σx⁺ + 1e-16)·R``; for α ∉ {0, 1} the toolbox's negative denominator is
  ``Σx⁻ − 2e-16``, which differs only when ``Σx⁻`` is within 1e-16 of 0); ``"flat"``/``"ww"``
  uniform over the window. For α ∉ {0, 1} the toolbox multiplies the β-term by ``R`` twice
  (``β·x⁻·(R/Σx⁻)·R``, a bug); lrpref's rules have constant group coefficients and cannot
  express ``R²``, so ``quirks=True`` refuses that case (:class:`UnsupportedRule`) rather than
  give the corrected value under the quirk's name.

The toolbox starts from whatever ``R`` it is given (its demos: ``ypred * onehot``, the logit).
Its layout is NHWC and its convolutions have no padding.
"""

from __future__ import annotations

from .. import rules
from ..layers import AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Conv2d, MaxPool2d
from ..rules import Stabiliser
from ._common import UnsupportedRule, weight_layer_map

__all__ = ["lrp", "variant", "sum_pooling", "rule", "composite"]

TINY = 1e-16
SUM_POOL_EPSILON = 1e-12
NAME = "toolbox"

_REFUSED = {BatchNorm: "the LRP toolbox has no BatchNorm", AdaptiveAvgPool2d: "the LRP toolbox has no adaptive pooling"}


def variant(name: str = "simple", param=None, conv: bool = False, quirks: bool = False):
    """The rule of one toolbox variant for a dense layer (or, ``conv=True``, a convolution)."""
    if name == "simple":
        return rules.Epsilon(TINY)
    if name == "epsilon":
        if param is None:
            raise ValueError("the toolbox's 'epsilon' variant needs its parameter")
        return rules.Epsilon(param)
    if name == "alphabeta":
        if param is None:
            raise ValueError("the toolbox's 'alphabeta' variant needs alpha")
        stabiliser = Stabiliser(TINY, "unsigned" if conv and quirks else "signed")
        return rules.AlphaBeta(param, 1 - param, convention="toolbox", epsilon=stabiliser)
    if name == "flat":
        return rules.Flat()
    if name in ("ww", "w^2"):
        return rules.WSquare()
    raise UnsupportedRule(f"the toolbox has no variant {name!r}; one of simple, epsilon, alphabeta, flat, ww")


def sum_pooling(name: str = "simple", param=None, quirks: bool = False):
    """The rule of ``SumPool`` under one variant, as a function of lrpref's AvgPool2d (None for other layers).

    The toolbox applies the variant to the window sum ``Z``; lrpref's average pooling computes ``Z/area``,
    so every stabiliser is divided by the area (module docstring).
    """
    if name in ("flat", "ww", "w^2"):
        return lambda layer: rules.Flat() if isinstance(layer, AvgPool2d) else None

    def rule(layer):
        if not isinstance(layer, AvgPool2d):
            return None
        area = layer.kernel[0] * layer.kernel[1]
        if name == "alphabeta" and quirks and param not in (0, 1):
            raise UnsupportedRule(f"{layer.describe()}: the toolbox's sum pooling under alphabeta {param:g} multiplies the "
                                  f"beta term by R twice (a bug) and lrpref cannot reproduce it; quirks=False gives the "
                                  f"corrected rule")
        if name == "alphabeta":
            return rules.AlphaBeta(param, 1 - param, convention="toolbox", epsilon=Stabiliser(TINY / area))
        return rules.Epsilon((SUM_POOL_EPSILON if name == "simple" else param) / area)
    return rule


def lrp(name: str = "simple", param=None, first=None, quirks: bool = False, label=None):
    """``nn.lrp(R, name, param)`` (``first``: another rule for the first Dense/Conv2d, as ``set_lrp_parameters``)."""
    dense, conv = variant(name, param, False, quirks), variant(name, param, True, quirks)
    uniform = name in ("flat", "ww", "w^2")
    pooling = rules.Proportional(rules.Flat()) if uniform else rules.WinnerTakesAll("split")
    composite = weight_layer_map(dense, first, {MaxPool2d: pooling}, unsupported=_REFUSED,
                                 per_layer=sum_pooling(name, param, quirks),
                                 name=label or f"toolbox lrp({name!r}" + (f", {param:g})" if param is not None else ")"))
    composite.types[Conv2d] = conv
    return composite


def _variant_of(name):
    kind = name.kind
    if kind == "lrp0":
        return "simple", None
    if kind == "epsilon":
        return ("epsilon", name.params[0]) if name.params else ("simple", None)
    if kind == "alphabeta":
        alpha, beta = name.params
        if abs(alpha - beta - 1) > 1e-12:
            raise UnsupportedRule(f"{name}: the toolbox's alphabeta is alpha - beta_modern = 1")
        return "alphabeta", alpha
    if kind == "zplus":
        return "alphabeta", 1.0
    if kind == "w2":
        return "ww", None
    if kind == "flat":
        return "flat", None
    raise UnsupportedRule(f"the toolbox has no {name} rule")


def rule(name, quirks: bool = False):
    """The toolbox's dense-layer rule for a :class:`~lrpref.presets.RuleName`."""
    return variant(*_variant_of(name), quirks=quirks)


def composite(rest, first=None, quirks: bool = False):
    """``rest`` on every layer as ``nn.lrp`` does (``first`` on the first Dense/Conv2d)."""
    name, param = _variant_of(rest)
    label = f"toolbox ({name}" + (f" {param:g}" if param is not None else "") + (", conv +1e-16 quirk" if quirks and name == "alphabeta" else "")
    return lrp(name, param, None if first is None else rule(first, quirks), quirks,
               label + (f"; first layer {first})" if first else ")"))
