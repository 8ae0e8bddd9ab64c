"""What the conformance kit contains: small float64 networks, input batches and the cases (fixed seeds).

Every network, input batch and case is built from a fixed seed or written out by hand, so that
an export is deterministic. The hand-made networks (``dense-edge``, ``dead-relu``,
``pool-ties``) use dyadic numbers, so that their zero denominators, ReLU kinks and max-pool
ties are exact in any summation order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import layers as L
from .. import presets
from ..composites import Composite
from ..network import Graph, Input, Sequential
from ..rules import (LRP0, AlphaBeta, Epsilon, Flat, Gamma, Pass, Proportional, SumSplit, WinnerTakesAll, WSquare,
                     ZBox, ZPlus)

__all__ = ["NETWORKS", "CaseSpec", "CASES", "REVISION", "CHANGELOG", "build_network", "inputs"]


def _normal(seed, shape, scale=1.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def _mlp():
    return [L.Dense(_normal(101, (5, 6), 0.7), _normal(102, 5, 0.3)), L.ReLU(),
            L.Dense(_normal(103, (4, 5), 0.7), _normal(104, 4, 0.3)), L.ReLU(),
            L.Dense(_normal(105, (3, 4), 0.7), _normal(106, 3, 0.3))]


def _mlp_smooth():
    return [L.Dense(_normal(111, (5, 4), 0.8), _normal(112, 5, 0.3)), L.Tanh(),
            L.Dense(_normal(113, (4, 5), 0.8), _normal(114, 4, 0.3)), L.Sigmoid(),
            L.Dense(_normal(115, (3, 4), 0.8), _normal(116, 3, 0.3))]


def _cnn():
    return [L.Conv2d(_normal(121, (4, 2, 3, 3), 0.5), _normal(122, 4, 0.1), padding=1), L.ReLU(), L.MaxPool2d(2),
            L.Conv2d(_normal(123, (4, 2, 3, 3), 0.5), _normal(124, 4, 0.1), padding=1, groups=2), L.ReLU(),
            L.AvgPool2d(2), L.Flatten(), L.Dense(_normal(125, (3, 16), 0.5), _normal(126, 3, 0.1))]


def _cnn_options():
    bn_conv = (_normal(131, 4, 0.2), np.random.default_rng(132).uniform(0.5, 2.0, 4), 1 + _normal(133, 4, 0.2),
               _normal(134, 4, 0.2))
    bn_dense = (_normal(135, 6, 0.2), np.random.default_rng(136).uniform(0.5, 2.0, 6), 1 + _normal(137, 6, 0.2),
                _normal(138, 6, 0.2))
    return [L.Conv2d(_normal(139, (4, 3, 3, 2), 0.5), _normal(140, 4, 0.1), stride=(2, 1), padding=(2, 1), dilation=(2, 1)),
            L.BatchNorm(*bn_conv, eps=1e-3), L.LeakyReLU(0.1), L.MaxPool2d(3, stride=2, padding=1),
            L.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), L.AdaptiveAvgPool2d((3, 4)), L.Sigmoid(),
            L.Flatten(), L.Dense(_normal(141, (6, 48), 0.4), _normal(142, 6, 0.1)), L.BatchNorm(*bn_dense),
            L.Tanh(), L.Dropout(0.25), L.Identity(), L.Dense(_normal(143, (3, 6), 0.8), _normal(144, 3, 0.1))]


def _conv_top():
    return [L.Conv2d(_normal(151, (2, 1, 3, 3), 0.6), _normal(152, 2, 0.1), stride=2, padding=1), L.ReLU(),
            L.AvgPool2d(3, stride=1, padding=1), L.MaxPool2d(2, stride=1, dilation=2),
            L.Conv2d(_normal(153, (2, 2, 1, 1), 0.8), _normal(154, 2, 0.1))]


def _dense_edge():
    # row 0 cancels to z = 0 at x = (1, 1, ·); row 1 has only positive contributions for x >= 0 (z⁻ = 0);
    # row 2 gives z = -0.25 at x = 0 (the unsigned stabiliser's z = -ε at ε = 0.25)
    return [L.Dense([[1.0, -1.0, 0.0], [0.5, 0.25, 0.25], [-1.0, 0.5, -0.5]], [0.0, 0.25, -0.25])]


def _dead_relu():
    return [L.Dense([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.5]], [-0.5, -0.5, -1.0]), L.ReLU(),
            L.Dense([[1.0, -0.5, 0.25], [-1.0, 1.0, 0.5]], [0.0, 0.0])]


def _pool_ties():
    return [L.MaxPool2d(3, stride=1, padding=1), L.MaxPool2d(2), L.Flatten(),
            L.Dense([[1.0, -0.5, 0.25, 2.0], [-1.0, 0.5, 1.0, -0.25]], [0.5, -0.25])]


def _residual_mlp():
    inp = Input()
    h = L.ReLU()(L.Dense(_normal(161, (6, 6), 0.6), _normal(162, 6, 0.2))(inp))
    h = L.Dense(_normal(163, (6, 6), 0.6), _normal(164, 6, 0.2))(h)
    h = L.ReLU()(L.Add()(h, inp))
    return Graph(inp, L.Dense(_normal(165, (3, 6), 0.6), _normal(166, 3, 0.2))(h))


def _residual_cnn():
    inp = Input()
    stem = L.ReLU()(L.Conv2d(_normal(171, (3, 2, 3, 3), 0.5), _normal(172, 3, 0.1), padding=1)(inp))
    h = L.ReLU()(L.Conv2d(_normal(173, (3, 3, 3, 3), 0.4), _normal(174, 3, 0.1), padding=1)(stem))
    h = L.Conv2d(_normal(175, (3, 3, 3, 3), 0.4), _normal(176, 3, 0.1), padding=1)(h)
    block = L.ReLU()(L.Add()(h, stem))
    h = L.Conv2d(_normal(177, (4, 3, 3, 3), 0.4), _normal(178, 4, 0.1), padding=1)(block)
    skip = L.Conv2d(_normal(179, (4, 3, 1, 1), 0.6), None)(block)
    h = L.AvgPool2d(2)(L.ReLU()(L.Add()(h, skip)))
    return Graph(inp, L.Dense(_normal(180, (3, 36), 0.4), _normal(181, 3, 0.1))(L.Flatten()(h)))


def _dense_cnn():
    inp = Input()
    a = L.ReLU()(L.Conv2d(_normal(191, (2, 2, 3, 3), 0.5), _normal(192, 2, 0.1), padding=1)(inp))
    b = L.ReLU()(L.Conv2d(_normal(193, (2, 2, 3, 3), 0.5), _normal(194, 2, 0.1), padding=1)(a))
    c = L.ReLU()(L.Conv2d(_normal(195, (2, 4, 3, 3), 0.4), _normal(196, 2, 0.1), padding=1)(L.Concat(1)(a, b)))
    h = L.MaxPool2d(2)(L.Concat(1)(a, b, c))
    return Graph(inp, L.Dense(_normal(197, (3, 54), 0.3), _normal(198, 3, 0.1))(L.Flatten()(h)))


# name: (layers or a graph, description)
NETWORKS = {
    "mlp": (_mlp, "Dense-ReLU MLP 6-5-4-3 with biases"),
    "mlp-smooth": (_mlp_smooth, "MLP 4-5-4-3 with Tanh and Sigmoid"),
    "cnn": (_cnn, "Conv2d(pad 1)-ReLU-MaxPool2d-Conv2d(groups 2)-ReLU-AvgPool2d-Flatten-Dense on 2×8×8"),
    "cnn-options": (_cnn_options, "Conv2d with stride/padding/dilation, BatchNorm (2-D and 1-D), LeakyReLU, "
                                  "MaxPool2d with padding, AvgPool2d without padded taps, AdaptiveAvgPool2d, Sigmoid, "
                                  "Tanh, Dropout, Identity on 3×9×8"),
    "conv-top": (_conv_top, "a network ending in a convolution (output 2×2×2; explained from an explicit top)"),
    "dense-edge": (_dense_edge, "one hand-made Dense layer with exact zero denominators (math.md §12.7)"),
    "dead-relu": (_dead_relu, "hand-made Dense-ReLU-Dense with dead ReLUs, a kink at z = 0 and a zero bias on top"),
    "pool-ties": (_pool_ties, "overlapping padded MaxPool2d then MaxPool2d then Dense, for exact max-pool ties"),
    "residual-mlp": (_residual_mlp, "a graph: Dense-ReLU-Dense plus the input (a residual sum), ReLU, Dense, on 6 features"),
    "residual-cnn": (_residual_cnn, "a graph: a conv stem, a residual block, a block with a 1×1 projection on the skip "
                                    "path, AvgPool2d, Dense, on 2×6×6"),
    "dense-cnn": (_dense_cnn, "a graph: a DenseNet-style block (each conv reads the concatenation of all earlier maps), "
                              "MaxPool2d, Dense, on 2×6×6"),
}


def build_network(name: str) -> Graph:
    """The network of a name: a Sequential, or a Graph for the graph networks."""
    made = NETWORKS[name][0]()
    return made if isinstance(made, Graph) else Sequential(made)


_PINNED = {
    "dense-edge": np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [-0.5, 1.0, -1.0], [-1.0, 1.0, 1.0]]),
    "dead-relu": np.array([[0.0, 0.0], [1.0, 0.5], [2.0, -1.0], [1.0, 2.0]]),
}
_TIES = np.array([[1, 3, 3, 0], [2, 3, 1, 1], [0, 0, 2, 2], [0, 0, 2, 2]], dtype=np.float64)
_SHAPES = {"mlp": (3, 6), "mlp-smooth": (3, 4), "cnn": (2, 2, 8, 8), "cnn-options": (2, 3, 9, 8), "conv-top": (2, 1, 7, 7),
           "residual-mlp": (3, 6), "residual-cnn": (2, 2, 6, 6), "dense-cnn": (2, 2, 6, 6)}
_SEEDS = {"mlp": 1001, "mlp-smooth": 1002, "cnn": 1003, "cnn-options": 1004, "conv-top": 1005, "dead-relu": 1006,
          "pool-ties": 1007, "residual-mlp": 1008, "residual-cnn": 1009, "dense-cnn": 1010}


def inputs(network: str, kind: str) -> np.ndarray:
    """The input batch ``kind`` of a network: ``"signed"`` (normal), ``"non-negative"`` (uniform [0, 1]),
    ``"box"`` (uniform [-1, 1]), or the hand-made batch (``"pinned"``, ``"ties"``)."""
    if kind == "pinned":
        return _PINNED[network].copy()
    if kind == "ties":  # the tie pattern, and its negative minus one (every window negative: padding never wins)
        return np.stack([_TIES, -_TIES - 1])[:, None]
    rng = np.random.default_rng(_SEEDS[network])
    shape = _SHAPES[network]
    if kind == "signed":
        return rng.normal(size=shape)
    if kind == "non-negative":
        return rng.uniform(0.0, 1.0, size=shape)
    if kind == "box":
        return rng.uniform(-1.0, 1.0, size=shape)
    raise ValueError(f"unknown input kind {kind!r}")


def explicit_top(network: str, output_shape: tuple) -> np.ndarray:
    """A signed top relevance for the whole output (a hand-made one for ``dense-edge``)."""
    if network == "dense-edge":
        return np.array([[1.0, 0.5, -0.75]] * 4)
    return np.random.default_rng(_SEEDS[network] + 1000).normal(size=output_shape)


@dataclass(frozen=True)
class CaseSpec:
    """One case: a network, an input batch and what to explain.

    ``target`` is ``"class"`` (sample ``n`` explains class ``n mod K``) or ``"relevance"`` (an
    explicit signed top relevance); ``edges`` are edge-case tags for the manifest's ``covers``.
    """

    id: str
    network: str
    inputs: str
    description: str
    rule: object = None
    method: str = "lrp"
    target: str = "class"
    reference: object = None
    steps: int | None = None
    riemann: str = "right"
    options: dict = field(default_factory=dict)
    edges: tuple = ()


def _rule_cases():
    """One rule applied to every affine layer (LRP with the built-in Pass / winner-takes-all elsewhere)."""
    mlp = [
        ("lrp0", LRP0(), "signed", "LRP-0 (math.md §3.1)"),
        ("epsilon", Epsilon(0.25), "signed", "LRP-ε, signed stabiliser (math.md §3.2)"),
        ("epsilon-unsigned", Epsilon(0.25, sign="unsigned"), "signed", "LRP-ε with z + ε (Montavon 2019)"),
        ("epsilon-rms", Epsilon(0.1, scale="rms"), "signed", "LRP-ε with ε·RMS(z) per sample (the tutorial's '0.1 std')"),
        ("epsilon-unsigned-rms", Epsilon(0.25, sign="unsigned", scale="rms"), "signed", "LRP-ε unsigned, ε·RMS(z)"),
        ("gamma", Gamma(0.25), "non-negative", "LRP-γ classic, γ on weights and bias (math.md §3.3)"),
        ("gamma-no-bias", Gamma(0.5, bias=False), "non-negative", "LRP-γ classic without the bias"),
        ("gamma-generalised", Gamma(0.25, mode="generalised"), "signed", "zennit's generalised γ on signed inputs"),
        ("gamma-generalised-stabilised", Gamma(0.25, mode="generalised", epsilon=1e-3), "signed",
         "generalised γ with a stabiliser 1e-3"),
        ("alpha2-beta1", AlphaBeta(2, 1), "signed", "LRP-αβ, α2β1, b± in the denominators (math.md §3.4)"),
        ("alpha1-beta0", AlphaBeta(1, 0), "signed", "LRP-α1β0"),
        ("alpha2-beta1-ignore-bias", AlphaBeta(2, 1, bias="ignore"), "signed", "LRP-α2β1 without the bias"),
        ("alphabeta-toolbox", AlphaBeta(2, -1, convention="toolbox"), "signed", "α2β1 written as the LRP toolbox's α=2, β=−1"),
        ("alphabeta-toolbox-half", AlphaBeta(0.5, 0.5, convention="toolbox"), "signed",
         "the toolbox's α + β = 1 with β > 0 (the β-term added)"),
        ("alpha3-beta2-stabilised", AlphaBeta(3, 2, epsilon=1e-3), "signed", "α3β2 with a stabiliser 1e-3"),
        ("zplus", ZPlus(), "non-negative", "z⁺ (DTD), bias ignored (math.md §3.5)"),
        ("zplus-products", ZPlus("products", bias=True), "signed", "zennit's z⁺ on sign-split products with b⁺"),
        ("zplus-products-no-bias", ZPlus("products"), "signed", "z⁺ on sign-split products, no bias"),
        ("wsquare", WSquare(), "signed", "w² (math.md §3.7)"),
        ("wsquare-bias", WSquare(bias=True), "signed", "w² with b² in the denominator (zennit)"),
        ("flat", Flat(), "signed", "flat (math.md §3.7)"),
        # the peers' variants (peers.md; lrpref.presets reproduces them)
        ("epsilon-no-bias", Epsilon(0.25, bias=False), "signed", "LRP-ε without the bias in z (zennit zero_params='bias')"),
        ("epsilon-zeros", Epsilon(1e-7, sign="zeros"), "signed", "ε added to exact zeros only (iNNvestigate's safe division)"),
        ("gamma-plain-bias", Gamma(0.25, bias="plain", check_inputs=False), "signed",
         "captum's GammaRule: γ on the weights only, the bias unmodified, signed inputs allowed"),
        ("zplus-plain-bias", ZPlus(bias="plain", check_inputs=False), "signed",
         "captum's Alpha1_Beta0: w⁺ with the whole bias, signed inputs allowed"),
        ("alpha2-beta1-full-bias", AlphaBeta(2, 1, bias="full"), "signed",
         "iNNvestigate 2.1's αβ: the whole bias in both denominators (its issue #273)"),
    ]
    cnn = [
        ("lrp0", LRP0(), "signed"), ("epsilon", Epsilon(0.1), "signed"), ("gamma", Gamma(0.25), "non-negative"),
        ("gamma-generalised", Gamma(0.25, mode="generalised"), "signed"), ("alpha2-beta1", AlphaBeta(2, 1), "signed"),
        ("zplus", ZPlus(), "non-negative"), ("zplus-products", ZPlus("products", bias=True), "signed"),
        ("wsquare-bias", WSquare(bias=True), "signed"), ("flat", Flat(), "signed"),
    ]
    options = [
        ("lrp0", LRP0()), ("epsilon", Epsilon(0.05)), ("alpha2-beta1", AlphaBeta(2, 1)),
        ("gamma-generalised", Gamma(0.25, mode="generalised")), ("zplus-products", ZPlus("products")),
        ("wsquare", WSquare()), ("flat", Flat()),
    ]
    cases = [CaseSpec(f"lrp.{name}.mlp", "mlp", kind, description, rule) for name, rule, kind, description in mlp]
    cases += [CaseSpec(f"lrp.{name}.cnn", "cnn", kind, f"{rule.describe()} on every affine layer of a small CNN", rule)
              for name, rule, kind in cnn]
    cases += [CaseSpec(f"lrp.{name}.cnn-options", "cnn-options", "signed",
                       f"{rule.describe()} on every affine layer: strided/dilated Conv2d, BatchNorm, padded pooling", rule)
              for name, rule in options]
    cases += [
        CaseSpec("lrp.zbox.mlp", "mlp", "box", "zᴮ(−1, 1) on the first layer, LRP-ε(0.1) above (math.md §3.6)",
                 Composite(layers={0: ZBox(-1, 1)}, default=Epsilon(0.1))),
        CaseSpec("lrp.zbox-per-channel.cnn", "cnn", "box", "zᴮ with per-channel bounds (2, 1, 1) on the first Conv2d",
                 Composite(layers={0: ZBox(np.array([-1.5, -1.0]).reshape(2, 1, 1), np.array([1.0, 1.25]).reshape(2, 1, 1))},
                           default=Epsilon(0.01))),
        CaseSpec("lrp.maxpool-proportional.cnn", "cnn", "signed", "max-pooling as a window sum under LRP-ε(0.01)",
                 Composite(default=Epsilon(0.01), types={L.MaxPool2d: Proportional(Epsilon(0.01))})),
        CaseSpec("lrp.maxpool-winner-epsilon.cnn", "cnn", "signed", "captum's max-pooling: winner takes all under ε 0.1",
                 Composite(default=Epsilon(0.1), types={L.MaxPool2d: WinnerTakesAll("first", epsilon=0.1)})),
        CaseSpec("lrp.batchnorm-pass.cnn-options", "cnn-options", "signed", "LRP-ε(0.01), BatchNorm passed through",
                 Composite(default=Epsilon(0.01), types={L.BatchNorm: Pass()})),
        CaseSpec("lrp.epsilon.mlp-smooth", "mlp-smooth", "signed", "LRP-ε(0.01) through Tanh and Sigmoid (pass)",
                 Epsilon(0.01)),
        CaseSpec("lrp.epsilon.conv-top", "conv-top", "signed", "LRP-ε(0.1) from an explicit top on a conv output",
                 Epsilon(0.1), target="relevance", edges=("edge:explicit-top",)),
        CaseSpec("lrp.alpha1-beta0.conv-top", "conv-top", "signed", "α1β0 from an explicit top on a conv output",
                 AlphaBeta(1, 0), target="relevance", edges=("edge:explicit-top",)),
    ]
    return cases


def _edge_cases():
    inputs_ = ("edge:zero-input", "edge:signed-input", "edge:explicit-top")
    zero = ("edge:zero-denominator",)
    dense = [
        ("lrp0", LRP0(), "LRP-0: zero denominators drop their relevance (safe division)", zero),
        ("epsilon", Epsilon(0.25), "LRP-ε at z = 0: huge cancelling messages (math.md §12.7)", zero),
        ("epsilon-unsigned", Epsilon(0.25, sign="unsigned"), "unsigned ε at z = −ε: the signed form is used there", zero),
        ("epsilon-zeros", Epsilon(0.25, sign="zeros"), "ε only where z = 0 exactly (iNNvestigate)", zero),
        ("gamma-generalised", Gamma(0.25, mode="generalised"), "generalised γ drops outputs with z = 0", zero),
        ("alpha2-beta1", AlphaBeta(2, 1), "α2β1 with z⁻ = 0 (the β-term is 0/0 := 0) and z⁺ = 0", zero),
        ("alpha1-beta0", AlphaBeta(1, 0), "α1β0 with zero denominators", zero),
        ("zplus-products", ZPlus("products", bias=True), "z⁺ (products) with sum a w⁺ = 0", zero),
        ("zbox", ZBox(-1, 1), "zᴮ(−1, 1) with an input at the bounds (denominator 0)", zero),
        ("wsquare", WSquare(), "w² (input-independent) on the same inputs", ()),
        ("flat", Flat(), "flat on the same inputs", ()),
    ]
    cases = [CaseSpec(f"edge.dense.{name}", "dense-edge", "pinned", description, rule, target="relevance",
                      edges=edges + inputs_) for name, rule, description, edges in dense]
    dead = ("edge:dead-relu", "edge:zero-denominator", "edge:zero-input")
    cases += [CaseSpec(f"edge.dead-relu.{name}", "dead-relu", "pinned",
                       f"{rule.describe()}: a dead hidden layer leaves z = 0 on top (NaN in a naive implementation)", rule,
                       target="relevance", edges=dead + ("edge:explicit-top",))
              for name, rule in (("lrp0", LRP0()), ("epsilon", Epsilon(0.1)), ("alpha2-beta1", AlphaBeta(2, 1)),
                                 ("zplus-products", ZPlus("products", bias=True)))]
    ties = ("edge:max-pool-tie", "edge:signed-input")
    cases += [
        CaseSpec("edge.max-pool-ties.first", "pool-ties", "ties", "winner takes all, the first maximum of tied windows",
                 Composite(default=LRP0(), types={L.MaxPool2d: WinnerTakesAll("first")}), edges=ties),
        CaseSpec("edge.max-pool-ties.split", "pool-ties", "ties", "winner takes all, ties split equally (LRP toolbox)",
                 Composite(default=LRP0(), types={L.MaxPool2d: WinnerTakesAll("split")}), edges=ties),
        CaseSpec("edge.max-pool-ties.proportional", "pool-ties", "ties", "max-pooling as a window sum (LRP-0); "
                 "an all-zero window has a zero denominator", Composite(default=LRP0(), types={L.MaxPool2d: Proportional()}),
                 edges=ties + ("edge:zero-denominator",)),
        CaseSpec("edge.max-pool-ties.proportional-epsilon", "pool-ties", "ties", "max-pooling as a window sum (LRP-ε 0.5)",
                 Composite(default=Epsilon(0.5), types={L.MaxPool2d: Proportional(Epsilon(0.5))}), edges=ties),
        CaseSpec("edge.explicit-top.mlp", "mlp", "signed", "LRP-ε(0.1) from a signed top relevance on every logit",
                 Epsilon(0.1), target="relevance", edges=("edge:explicit-top",)),
    ]
    return cases


def _composite_cases():
    custom = Composite(first=ZBox(-1, 1), middle=Gamma(0.25), last=Epsilon(0.1),
                       types={L.MaxPool2d: WinnerTakesAll("split"), L.AvgPool2d: Epsilon(0.01)})
    return [
        CaseSpec("composite.custom.cnn", "cnn", "box", "first zᴮ, middle γ, last ε, max-pool split, avg-pool ε", custom),
        CaseSpec("preset.epsilon-gamma-box.cnn", "cnn", "box", "zennit's EpsilonGammaBox", presets.EpsilonGammaBox(-1, 1)),
        CaseSpec("preset.epsilon-gamma-box.cnn-options", "cnn-options", "signed", "EpsilonGammaBox with BatchNorm and "
                 "signed hidden inputs", presets.EpsilonGammaBox(-5, 5, epsilon=0.01)),
        CaseSpec("preset.epsilon-plus.cnn", "cnn", "signed", "zennit's EpsilonPlus", presets.EpsilonPlus(epsilon=0.01)),
        CaseSpec("preset.epsilon-plus-flat.cnn", "cnn", "signed", "zennit's EpsilonPlusFlat", presets.EpsilonPlusFlat()),
        CaseSpec("preset.epsilon-plus-flat.mlp", "mlp", "signed", "EpsilonPlusFlat on an MLP (flat on the first Dense)",
                 presets.EpsilonPlusFlat(epsilon=0.1)),
        CaseSpec("preset.epsilon-alpha2-beta1.cnn", "cnn", "signed", "zennit's EpsilonAlpha2Beta1",
                 presets.EpsilonAlpha2Beta1()),
        CaseSpec("preset.epsilon-alpha2-beta1-flat.cnn", "cnn", "signed", "zennit's EpsilonAlpha2Beta1Flat",
                 presets.EpsilonAlpha2Beta1Flat(epsilon=0.01)),
        CaseSpec("preset.montavon2019.mlp", "mlp", "box", "Montavon 2019: zᴮ, γ, LRP-0", presets.Montavon2019(-1, 1)),
        CaseSpec("preset.montavon2019.cnn", "cnn", "box", "Montavon 2019: zᴮ, LRP-0 on the top block",
                 presets.Montavon2019(-1, 1, gamma=0.1)),
    ]


def _graph_cases():
    """Residual sums and concatenations: every sum split, rules and presets, and the methods through branch points."""
    sums = {"proportional": SumSplit(), "equal": SumSplit("equal"), "absolute": SumSplit("absolute", 1e-9),
            "lrp0": LRP0()}
    cases = [CaseSpec(f"graph.sum-{name}.residual-mlp", "residual-mlp", "signed",
                      f"LRP-ε(0.1) on the weights, {rule.describe()} on the residual sum", 
                      Composite(default=Epsilon(0.1), types={L.Add: rule})) for name, rule in sums.items()]
    cases += [
        CaseSpec("graph.epsilon.residual-cnn", "residual-cnn", "signed", "LRP-ε(0.1), sums split in proportion (ε 1e-6)",
                 Epsilon(0.1)),
        CaseSpec("graph.alpha2-beta1.residual-cnn", "residual-cnn", "signed", "α2β1 on the convolutions, proportional sums",
                 AlphaBeta(2, 1)),
        CaseSpec("graph.sum-equal.residual-cnn", "residual-cnn", "signed", "LRP-ε(0.1), the sums split equally",
                 Composite(default=Epsilon(0.1), types={L.Add: SumSplit("equal")})),
        CaseSpec("preset.epsilon-plus-flat.residual-cnn", "residual-cnn", "signed", "zennit's EpsilonPlusFlat on a ResNet",
                 presets.EpsilonPlusFlat()),
        CaseSpec("preset.epsilon-gamma-box.residual-cnn", "residual-cnn", "box", "zennit's EpsilonGammaBox on a ResNet",
                 presets.EpsilonGammaBox(-1, 1)),
        CaseSpec("graph.epsilon.dense-cnn", "dense-cnn", "signed", "LRP-ε(0.1); each concatenation passes slices down",
                 Epsilon(0.1)),
        CaseSpec("preset.epsilon-alpha2-beta1.dense-cnn", "dense-cnn", "signed", "zennit's EpsilonAlpha2Beta1 on a "
                 "DenseNet-style block", presets.EpsilonAlpha2Beta1()),
    ]
    for network in ("residual-mlp", "residual-cnn", "dense-cnn"):
        cases += [CaseSpec(f"method.{name}.{network}", network, "signed", f"{name} through the branch points", method=name,
                           steps=steps) for name, steps in (("deeplift", None), ("lid-ig", 10), ("ig", 10),
                                                            ("gradient-x-input", None))]
    return cases


def _method_cases():
    reference = np.linspace(-0.5, 0.5, 6)
    mlp = [
        ("sg-lrp-0", {}), ("st-lrp-0", {}), ("sig-lrp-0", {"steps": 10}),
        ("sig-lrp-0", {"steps": 8, "riemann": "trapezoid", "id": "sig-lrp-0-trapezoid"}),
        ("deeplift", {}), ("deeplift", {"reference": reference, "id": "deeplift-reference"}),
        ("deeplift-revealcancel", {"reference": reference}), ("lid-taylor", {"reference": 0.25}),
        ("lrp-taylor", {}), ("lid-ig", {"steps": 10, "reference": reference}),
        ("lid-ig", {"steps": 5, "riemann": "gauss-legendre", "reference": reference, "id": "lid-ig-gauss-legendre"}),
        ("lid-ig", {"steps": 6, "riemann": "left", "reference": reference, "id": "lid-ig-left"}),
        ("st-lid-taylor", {"reference": reference}), ("sig-lid-taylor", {"steps": 10, "reference": reference}),
        ("sig-lid-ig", {"steps": 10, "reference": reference}), ("gradient-x-input", {}), ("gradient", {}),
        ("ig", {"steps": 16}), ("ig", {"steps": 8, "riemann": "trapezoid", "reference": 0.1, "id": "ig-trapezoid"}),
        ("ig", {"steps": 7, "riemann": "midpoint", "reference": reference, "id": "ig-midpoint"}),
        ("smoothgrad", {"steps": 4, "options": {"noise": 0.1, "random_state": 7}}),
    ]
    non_negative = [
        ("sg-lrp-zp", {}), ("clrp", {"options": {"clrp": "clrp1"}}),
        ("clrp", {"options": {"clrp": "clrp2", "clrp_normalise": False}, "id": "clrp2-paper"}),
    ]
    cnn = [("deeplift", {"reference": ("blur", 1.0), "id": "deeplift-blur"}),
           ("deeplift", {"options": {"convention": "captum"}, "id": "deeplift-captum"}),
           ("deeplift-revealcancel", {"options": {"revealcancel": "all"}}),
           ("deeplift-revealcancel", {"options": {"revealcancel": "dense"}, "id": "deeplift-revealcancel-dense"}),
           ("lid-taylor", {}), ("lid-ig", {"steps": 10}), ("ig", {"steps": 10}), ("gradient-x-input", {}),
           ("sg-lrp-0", {})]
    others = [("cnn-options", "deeplift", {}), ("cnn-options", "lid-taylor", {"reference": 0.1}),
              ("cnn-options", "lid-ig", {"steps": 6}), ("cnn-options", "ig", {"steps": 6}),
              ("mlp-smooth", "deeplift", {}), ("mlp-smooth", "deeplift-revealcancel", {}), ("mlp-smooth", "lid-ig", {"steps": 10}),
              ("mlp-smooth", "sig-lid-ig", {"steps": 10}), ("mlp-smooth", "ig", {"steps": 10})]
    ties = [("pool-ties", name, {"steps": 10} if name == "lid-ig" else {}) for name in
            ("deeplift", "lid-taylor", "lid-ig", "gradient-x-input")]
    dead = [("dead-relu", name, {"steps": 10} if name in ("lid-ig", "ig") else {}) for name in
            ("deeplift", "lid-taylor", "lid-ig", "ig")]

    def case(network, kind, name, extra, edges=()):
        extra = dict(extra)
        label = extra.pop("id", name)
        words = [name]
        if "steps" in extra:
            words.append(f"{extra['steps']} samples" if name == "smoothgrad" else
                         f"{extra['steps']} points ({extra.get('riemann', 'right')} rule)")
        if "reference" in extra:
            words.append("a given reference")
        words += [f"{key}={value}" for key, value in extra.get("options", {}).items()]
        return CaseSpec(f"method.{label}.{network}", network, kind, ", ".join(words), method=name,
                        reference=extra.get("reference"), steps=extra.get("steps"), riemann=extra.get("riemann", "right"),
                        options=extra.get("options", {}), edges=edges)

    cases = [case("mlp", "signed", name, extra) for name, extra in mlp]
    cases += [case("mlp", "non-negative", name, extra) for name, extra in non_negative]
    cases += [case("cnn", "signed", name, extra) for name, extra in cnn]
    cases += [case(network, "signed", name, extra) for network, name, extra in others]
    cases += [case(network, "ties", name, extra, ("edge:max-pool-tie",)) for network, name, extra in ties]
    cases += [case(network, "pinned", name, extra, ("edge:dead-relu", "edge:relu-kink")) for network, name, extra in dead]
    return cases


_CHAINS = _rule_cases() + _edge_cases() + _composite_cases() + _method_cases()
_GRAPHS = _graph_cases()
CASES = _CHAINS + _GRAPHS

# The kit's revisions: which case ids were added, removed, renamed (old -> new) or changed in content. A
# maintainer's pinned expected failures are keyed by case id; a rename is followed through this list.
REVISION = 3
CHANGELOG = [
    {"revision": 1, "note": "the first kit", "added": sorted(spec.id for spec in _CHAINS), "removed": [], "renamed": {},
     "changed": []},
    {"revision": 2, "note": "no case added, removed or renamed, no expected relevance changed; every case gains "
                            "generated peer labels and a content hash, every network a node graph, a PyTorch "
                            "state_dict and an ONNX file", "added": [], "removed": [], "renamed": {}, "changed": []},
    {"revision": 3, "note": "graph networks: residual sums (Add, every SumSplit) and concatenations (Concat); a level "
                            "is the relevance of a tensor, the sum of what its consumers sent",
     "added": sorted(spec.id for spec in _GRAPHS), "removed": [], "renamed": {}, "changed": []},
]
