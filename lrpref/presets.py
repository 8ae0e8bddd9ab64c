"""Named composites (spec ``neural.md`` §3.11; peers ``peers.md`` §1.1).

The five ``Epsilon*`` presets follow zennit 1.0's composites of the same names: the layer
map (convolutions vs dense layers, the special first layer), the rule forms (zennit's
generalised γ, z⁺ on the sign-split products with ``b⁺``), average pooling by a
stabilised LRP-0 (zennit's ``Norm``), BatchNorm passed through, max-pooling winner takes
all, and zennit's stabiliser ``1e-6`` on every rule. As in zennit, ``EpsilonGammaBox``
applies zᴮ to the first *convolution* (an MLP gets no zᴮ) while the ``*Flat`` presets apply
the flat rule to the first Dense or Conv2d layer.

:func:`Montavon2019` is the recommendation of Montavon et al. 2019 and their tutorial.
"""

from __future__ import annotations

from .composites import WEIGHT_LAYERS, Composite
from .layers import AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Conv2d, Dense
from .rules import LRP0, AlphaBeta, Epsilon, Flat, Gamma, Pass, ZBox, ZPlus

__all__ = ["EpsilonGammaBox", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
           "EpsilonAlpha2Beta1Flat", "Montavon2019"]


def _zennit_like(name, conv_rule, dense_rule, stabiliser, first=None, first_types=WEIGHT_LAYERS):
    pooling = Epsilon(stabiliser)
    return Composite(first=first, first_types=first_types, name=name, types={
        Conv2d: conv_rule, Dense: dense_rule, AvgPool2d: pooling, AdaptiveAvgPool2d: pooling, BatchNorm: Pass()})


def EpsilonGammaBox(low, high, epsilon: float = 1e-6, gamma: float = 0.25, stabiliser: float = 1e-6) -> Composite:
    """zᴮ(low, high) on the first Conv2d, generalised γ on the other convolutions, ε on dense layers."""
    return _zennit_like(f"EpsilonGammaBox(low={low}, high={high}, epsilon={epsilon:g}, gamma={gamma:g})",
                        Gamma(gamma, mode="generalised", epsilon=stabiliser), Epsilon(epsilon), stabiliser,
                        first=ZBox(low, high, epsilon=stabiliser), first_types=(Conv2d,))


def EpsilonPlus(epsilon: float = 1e-6, stabiliser: float = 1e-6) -> Composite:
    """z⁺ (products form, ``b⁺`` in the denominator) on convolutions, ε on dense layers."""
    return _zennit_like(f"EpsilonPlus(epsilon={epsilon:g})", ZPlus("products", bias=True, epsilon=stabiliser),
                        Epsilon(epsilon), stabiliser)


def EpsilonPlusFlat(epsilon: float = 1e-6, stabiliser: float = 1e-6) -> Composite:
    """As :func:`EpsilonPlus`, with the flat rule on the first Dense or Conv2d layer."""
    return _zennit_like(f"EpsilonPlusFlat(epsilon={epsilon:g})", ZPlus("products", bias=True, epsilon=stabiliser),
                        Epsilon(epsilon), stabiliser, first=Flat(epsilon=stabiliser))


def EpsilonAlpha2Beta1(epsilon: float = 1e-6, stabiliser: float = 1e-6) -> Composite:
    """α2β1 (bias ``b⁺``/``b⁻`` included) on convolutions, ε on dense layers."""
    return _zennit_like(f"EpsilonAlpha2Beta1(epsilon={epsilon:g})", AlphaBeta(2, 1, epsilon=stabiliser),
                        Epsilon(epsilon), stabiliser)


def EpsilonAlpha2Beta1Flat(epsilon: float = 1e-6, stabiliser: float = 1e-6) -> Composite:
    """As :func:`EpsilonAlpha2Beta1`, with the flat rule on the first Dense or Conv2d layer."""
    return _zennit_like(f"EpsilonAlpha2Beta1Flat(epsilon={epsilon:g})", AlphaBeta(2, 1, epsilon=stabiliser),
                        Epsilon(epsilon), stabiliser, first=Flat(epsilon=stabiliser))


class Montavon2019(Composite):
    """Montavon et al. 2019's recommendation (spec §3.11), made precise for any chain of weight layers.

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
