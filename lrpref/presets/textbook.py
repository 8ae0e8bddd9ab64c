"""lrpref's own conventions — the formulas of docs/math.md as written — and :class:`Montavon2019`.

A rule name maps to the rule with its spec defaults (ε = 1e-6, γ = 0.25, classic γ, z⁺ and w²
without bias, signed stabiliser with ``sgn0(0) = +1``, safe division elsewhere), applied to every
affine layer (average pooling and BatchNorm included, math.md §3.10); max-pooling winner takes all
(first maximum), activations pass.
"""

from __future__ import annotations

from .. import rules
from ..composites import WEIGHT_LAYERS, Composite
from ..layers import Conv2d
from ..rules import LRP0, Epsilon, Gamma, ZBox

__all__ = ["Montavon2019", "rule", "composite"]

NAME = "textbook"


def rule(name, quirks: bool = False):
    """The spec's rule for a :class:`~lrpref.presets.RuleName` (there are no quirks to reproduce)."""
    kind = name.kind
    if kind == "lrp0":
        return rules.LRP0()
    if kind == "epsilon":
        return rules.Epsilon(name.param(0, 1e-6))
    if kind == "gamma":
        return rules.Gamma(name.param(0, 0.25))
    if kind == "alphabeta":
        return rules.AlphaBeta(*name.params)
    if kind == "zplus":
        return rules.ZPlus()
    if kind == "zbox":
        return rules.ZBox(*name.params)
    if kind == "w2":
        return rules.WSquare()
    return rules.Flat()


def composite(rest, first=None, quirks: bool = False):
    """``rest`` on every affine layer, ``first`` on the first Dense/Conv2d."""
    return Composite(default=rule(rest), first=None if first is None else rule(first),
                     name=f"lrpref textbook ({rule(rest).describe()}" + (f"; first layer {rule(first).describe()})" if first else ")"))


class Montavon2019(Composite):
    """Montavon et al. 2019's recommendation (math.md §3.11), made precise for any chain of weight layers.

    * the first weight layer: zᴮ(low, high) (pixels in a known range);
    * the *top block* — the dense layers after the last convolution (an MLP: its last layer):
      LRP-0;
    * the weight layers in between: the lower half (rounded up) LRP-γ (classic, γ on weights
      and bias), the upper half LRP-ε with ``epsilon · RMS(z)``;
    * average pooling LRP-0, max-pooling winner takes all, activations pass.

    On VGG-16 this reproduces the tutorial: zᴮ on conv 0, γ on the convolutions up to
    ``features[16]``, ε on ``features[17..30]``, LRP-0 on the classifier; on a 4-layer MLP:
    zᴮ, γ, ε, LRP-0.
    """

    def __init__(self, low, high, gamma: float = 0.25, epsilon: float = 0.25):
        super().__init__(name=f"Montavon2019(low={low}, high={high}, gamma={gamma:g}, epsilon={epsilon:g})")
        self.box = ZBox(low, high)
        self.gamma_rule = Gamma(gamma)
        self.epsilon_rule = Epsilon(epsilon, scale="rms")

    def rules_for(self, net):
        weight = [k for k, layer in enumerate(net) if isinstance(layer, WEIGHT_LAYERS)]
        convolutions = [k for k in weight if isinstance(net[k], Conv2d)]
        top = [k for k in weight if k > convolutions[-1]] if convolutions else weight[-1:]
        between = [k for k in weight[1:] if k not in top]
        lower = between[: (len(between) + 1) // 2]
        layers = {k: (self.gamma_rule if k in lower else self.epsilon_rule) for k in between}
        layers.update({k: LRP0() for k in top})
        if weight:
            layers[weight[0]] = self.box
        return Composite(layers=layers, default=LRP0()).rules_for(net)
