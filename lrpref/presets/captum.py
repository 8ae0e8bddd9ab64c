"""captum's conventions (captum 0.9.0; math.md §P1.2), as lrpref rules and ``explain`` settings.

captum's ``LRP`` modifies the weights of a layer for its rule, divides the incoming gradient by the
stabilised output of the *modified* layer, ``z + ε·sgn0(z)`` (``sgn0(0) = +1``, ``ε = 1e-9`` for
every rule), and multiplies by the input; at the end it multiplies the result by the model
output, so ``Σ R ≈ f_c(x)`` (as lrpref, which starts from the logit).

* ``EpsilonRule(epsilon=1e-9)`` — LRP-ε; also captum's default for Conv2d, Linear, average
  pooling, BatchNorm2d and **max-pooling**, where it is LRP-ε on the selection: the winner gets
  ``R_j y_j / (y_j + ε sgn0 y_j)`` (:class:`lrpref.WinnerTakesAll` with ``epsilon``).
* ``GammaRule(gamma=0.25)`` — ``w + γw⁺`` on the weights only, the bias **unchanged**, inputs not
  split, no output-sign switch: the classic γ rule with ``bias="plain"``, applied to signed
  inputs as written.
* ``Alpha1_Beta0_Rule`` — captum clamps the weights (``w⁺``) but keeps the whole bias ``b`` and does
  not split the inputs: ``R_i = a_i Σ_j w⁺_ji R_j / (Σ_i a_i w⁺_ji + b_j)``. A bug (captum#1234):
  with ``b_j < 0`` the denominator vanishes or changes sign (``W=[1,-1], b=-1, x=[1,1]`` gives
  ``-1e9`` instead of α1β0's ``-1``). ``quirks=True`` reproduces it; the default is the α1β0 rule
  it means (``a⁺w⁺ + a⁻w⁻`` with ``b⁺``).
* ReLU, Tanh, Dropout pass; captum refuses other activations (Sigmoid, LeakyReLU, ``nn.Identity``).
* A residual sum (:class:`lrpref.Add`): LRP-ε with ``ε = 1e-9`` on the sum, the rule captum gives its
  ``Addition_Module``.

Methods: :func:`deeplift` (Rescale; max-pooling by captum's cross-maximum) and
:func:`integrated_gradients` give the ``lrpref.explain`` settings of captum's ``DeepLift`` and
``IntegratedGradients``.
"""

from __future__ import annotations

import numpy as np

from .. import rules
from ..layers import Add, Identity, LeakyReLU, MaxPool2d, Sigmoid
from ..paths import Quadrature
from ._common import UnsupportedRule, weight_layer_map

__all__ = ["EpsilonRule", "GammaRule", "Alpha1_Beta0_Rule", "IdentityRule", "LRP", "rule", "composite", "deeplift",
           "integrated_gradients", "STABILITY_FACTOR"]

STABILITY_FACTOR = 1e-9
NAME = "captum"

_REFUSED = {kind: f"captum's LRP has no rule for {kind.__name__} (it raises a TypeError)" for kind in (Sigmoid, LeakyReLU, Identity)}


def EpsilonRule(epsilon: float = STABILITY_FACTOR) -> rules.Epsilon:
    """captum ``EpsilonRule``."""
    return rules.Epsilon(epsilon)


def GammaRule(gamma: float = 0.25, set_bias_to_zero: bool = False) -> rules.Gamma:
    """captum ``GammaRule``: ``w + γw⁺``, bias unchanged (or zero), no input split, no check of the input sign."""
    return rules.Gamma(gamma, bias=False if set_bias_to_zero else "plain", epsilon=STABILITY_FACTOR, check_inputs=False)


def Alpha1_Beta0_Rule(set_bias_to_zero: bool = False, quirks: bool = False) -> rules.ZPlus:  # noqa: N802 - captum's name
    """captum ``Alpha1_Beta0_Rule``; ``quirks=True`` reproduces its whole-bias, unsplit form (captum#1234)."""
    if quirks:
        return rules.ZPlus("dtd", bias=False if set_bias_to_zero else "plain", epsilon=STABILITY_FACTOR, check_inputs=False)
    return rules.ZPlus("products", bias=not set_bias_to_zero, epsilon=STABILITY_FACTOR)


def IdentityRule() -> rules.Pass:
    """captum ``IdentityRule``: relevance passed through."""
    return rules.Pass()


def LRP(rule=None, first=None, name=None):
    """captum ``LRP(model)``: ``rule`` (default ``EpsilonRule()``) on Linear/Conv2d (``first`` on the first of them),
    ``EpsilonRule()`` on pooling and BatchNorm, max-pooling LRP-ε on the selection, and a residual sum split as
    captum's ``Addition_Module`` splits it: ``R_e = x_e / (Σ_k x_k + 1e-9 sgn0(·)) · R``.

    captum needs that module in place of every ``+`` of the model; on a plain ``+`` it computes something else
    (docs/peers.md, "captum on torchvision ResNets"). ``lrpref.io.from_torch`` imports the ``+`` as :class:`~lrpref.Add`.
    """
    rule = EpsilonRule() if rule is None else rule
    types = {MaxPool2d: rules.WinnerTakesAll(epsilon=STABILITY_FACTOR), Add: rules.SumSplit(epsilon=STABILITY_FACTOR)}
    return weight_layer_map(rule, first, types, default=EpsilonRule(), unsupported=_REFUSED,
                            name=name or f"captum LRP({rule.describe()})")


def rule(name, quirks: bool = False):
    """captum's rule for a :class:`~lrpref.presets.RuleName`; captum has ε, γ and α1β0 only."""
    kind = name.kind
    if kind == "lrp0":
        return EpsilonRule()
    if kind == "epsilon":
        return EpsilonRule(name.param(0, STABILITY_FACTOR))
    if kind == "gamma":
        return GammaRule(name.param(0, 0.25))
    if kind == "zplus" or (kind == "alphabeta" and name.params == (1.0, 0.0)):
        return Alpha1_Beta0_Rule(quirks=quirks)
    raise UnsupportedRule(f"captum has no {name} rule (only epsilon, gamma and alpha1beta0)")


def composite(rest, first=None, quirks: bool = False):
    """``rest`` (and ``first``) on captum's layers, captum's defaults elsewhere."""
    main = rule(rest, quirks)
    labels = {"lrp0": "EpsilonRule(1e-9)", "gamma": "γ on the weights only", "zplus": "α1β0",
              "alphabeta": "α1β0", "epsilon": "EpsilonRule"}
    label = labels[rest.kind] + (" with the whole bias, unsplit inputs — quirk" if quirks and rest.kind in ("zplus", "alphabeta") else "")
    return LRP(main, None if first is None else rule(first, quirks),
               name=f"captum ({label}" + (f"; first layer {first})" if first else ")"))


def deeplift(baselines=None, quirks: bool = False) -> dict:
    """``lrpref.explain`` settings of captum's ``DeepLift(model).attribute(x, baselines)`` (Rescale rule):
    near-zero threshold ``1e-10`` with the gradient at the input, max-pooling by the cross-maximum of input and
    baseline windows.

    ``quirks=True`` also reproduces a bug of captum's module hooks: a max-pooling layer fed straight by a ReLU
    (any hooked non-linear layer fed by another) loses its rule and acts as its plain gradient (arg-max at the
    input), so captum's result then violates summation-to-delta.
    """
    return {"method": "deeplift", "reference": baselines, "convention": "captum-quirks" if quirks else "captum"}


def integrated_gradients(baselines=None, n_steps: int = 50, method: str = "gausslegendre", quirks: bool = False) -> dict:
    """``lrpref.explain`` settings of captum's ``IntegratedGradients(model).attribute(x, baselines, n_steps=, method=)``.

    captum rounds its quadrature weights to float32 (``torch.tensor(step_sizes).float()``), which
    moves the result by about 1e-8 relative, and its ``riemann_trapezoid`` weights sum to
    ``(n-1)/n`` instead of 1. ``quirks=True`` reproduces both (a given quadrature); otherwise the
    exact rule on the same points: Gauss–Legendre, right/left/midpoint sums, or the trapezoid rule
    with ``n - 1`` intervals. captum computes the Riemann points in torch's default dtype: the
    quirky settings assume float64 (``torch.set_default_dtype(torch.float64)``).
    """
    n = int(n_steps)
    names = {"gausslegendre": "gauss-legendre", "riemann_right": "right", "riemann_left": "left",
             "riemann_middle": "midpoint", "riemann_trapezoid": "trapezoid"}
    if method not in names:
        raise UnsupportedRule(f"captum IG method {method!r}: one of {sorted(names)}")
    if not quirks:
        if method == "riemann_trapezoid":
            return {"method": "ig", "reference": baselines, "steps": n - 1, "riemann": "trapezoid"}
        return {"method": "ig", "reference": baselines, "steps": n, "riemann": names[method]}
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        points, sizes = 0.5 * (1 + nodes), 0.5 * weights
    else:
        start, stop = {"riemann_right": (1 / n, 1), "riemann_left": (0, 1 - 1 / n), "riemann_trapezoid": (0, 1),
                       "riemann_middle": (1 / (2 * n), 1 - 1 / (2 * n))}[method]
        points, sizes = np.linspace(start, stop, n), np.full(n, 1 / n)
        if method == "riemann_trapezoid":
            sizes[[0, -1]] /= 2
    return {"method": "ig", "reference": baselines, "steps": n,
            "riemann": Quadrature(points, sizes.astype(np.float32).astype(np.float64), check_sum=False)}
