"""The peers' conventions (lrpref.presets.zennit / captum / innvestigate / toolbox) on hand-computed examples.

The expected numbers are worked out by hand from the formulas of spec peers.md §1 (and agree with the values
the peers printed in the probes of peers.md §2.3); each comment shows the arithmetic.
"""

import numpy as np
import pytest

import lrpref as lr
from lrpref import presets
from lrpref.presets import captum, innvestigate, toolbox, zennit

# innvestigate#273 / zennit#107 / captum#1234: W = [1, -1], b = -1, x = [1, 1], f(x) = -1
E1_NET = lr.Sequential([lr.Dense([[1, -1]], [-1])])
E1_X = np.array([[1.0, 1.0]])


def relevance(net, x, rule, target=0):
    return lr.explain(net, x, target=target, rule=rule).relevance[0]


@pytest.mark.parametrize("rule, expected", [
    # α1β0 / z⁺: positive products (1, 0), z⁺ = 1 + b⁺ = 1 → R = (-1, 0) (zennit's ε = 1e-6 in the denominator)
    (zennit.AlphaBeta(1, 0), [-1 / (1 + 1e-6), 0]),
    (zennit.ZPlus(), [-1 / (1 + 1e-6), 0]),
    # α2β1: 2·(-1)·(1, 0)/(1 + 1e-6) − 1·(-1)·(0, -1)/(-1 + b⁻ - 1e-6), b⁻ = -1
    (zennit.AlphaBeta(2, 1), [-2 / (1 + 1e-6), 1 / (2 + 1e-6)]),
    # captum's α1β0: x·w⁺ + b = 1 - 1 = 0 → stabilised to 1e-9 → -1·1/1e-9
    (captum.Alpha1_Beta0_Rule(quirks=True), [-1e9, 0]),
    (captum.Alpha1_Beta0_Rule(), [-1 / (1 + 1e-9), 0]),
    # iNNvestigate: the whole bias in the α-denominator, 1 - 1 = 0 → safe division by 1e-7
    (innvestigate.AlphaBeta(1, 0, quirks=True), [-1e7, 0]),
    # α2β1: α part 2·(-1)/1e-7; β-denominator -1 + b = -2: -1·(-1)·(0, -1)/(-2) = (0, 0.5)
    (innvestigate.AlphaBeta(2, 1, quirks=True), [-2e7, 0.5]),
    (innvestigate.AlphaBeta(1, 0), [-1, 0]),
    # the toolbox's single α = 2 (β = 1 − α = −1 added): (-2, 0.5)
    (toolbox.variant("alphabeta", 2.0), [-2, 0.5]),
    # zennit's generalised γ, z = -1 < 0: contributions a⁺(w + γw⁻) = (1, -1.25), bias b + γb⁻ = -1.25,
    # D = 1 - 1.25 - 1.25 = -1.5 → R = -1·(1, -1.25)/(-1.5 - 1e-6)
    (zennit.Gamma(0.25), [1 / (1.5 + 1e-6), -1.25 / (1.5 + 1e-6)]),
    # captum's γ: w + γw⁺ = (1.25, -1), bias -1 unchanged: D = 0.25 - 1 = -0.75 → R = -1·(1.25, -1)/(-0.75 - 1e-9)
    (captum.GammaRule(0.25), [1.25 / (0.75 + 1e-9), -1 / (0.75 + 1e-9)]),
])
def test_e1_alpha_beta_and_gamma_conventions(rule, expected):
    np.testing.assert_allclose(relevance(E1_NET, E1_X, rule), expected, rtol=1e-12, atol=1e-12)


def test_e3_signed_inputs():
    """W = [1, -1, .5], b = .2, x = [1, -2, .5]: the forms that split the inputs give (1, 2, 0.25)·f/(f - b) ..."""
    net, x = lr.Sequential([lr.Dense([[1, -1, 0.5]], [0.2])]), np.array([[1.0, -2.0, 0.5]])
    # z⁺ products: (1, 2, 0.25), sum 3.25; with b⁺ = 0.2: R = 3.45·(1, 2, .25)/3.45 (zennit, iNNvestigate α1β0 with bias)
    np.testing.assert_allclose(relevance(net, x, innvestigate.AlphaBeta(1, 0, quirks=True)), [1, 2, 0.25], rtol=1e-12)
    np.testing.assert_allclose(relevance(net, x, zennit.ZPlus()), np.array([1, 2, 0.25]) * 3.45 / (3.45 + 1e-6), rtol=1e-12)
    # iNNvestigate's ZPlus drops the bias: 3.45·(1, 2, .25)/3.25
    np.testing.assert_allclose(relevance(net, x, innvestigate.ZPlus()), np.array([1, 2, 0.25]) * 3.45 / 3.25, rtol=1e-12)
    # ZPlusFast and captum's α1β0 do not split: a·w⁺ = (1, 0, 0.25); denominators 1.25 and 1.25 + 0.2
    np.testing.assert_allclose(relevance(net, x, innvestigate.ZPlusFast()), np.array([1, 0, 0.25]) * 3.45 / 1.25, rtol=1e-12)
    np.testing.assert_allclose(relevance(net, x, captum.Alpha1_Beta0_Rule(quirks=True)),
                               np.array([1, 0, 0.25]) * 3.45 / (1.45 + 1e-9), rtol=1e-12)
    # captum's γ: w + γw⁺ = (1.25, -1, 0.625), D = 1.25 + 2 + 0.3125 + 0.2 = 3.7625
    np.testing.assert_allclose(relevance(net, x, captum.GammaRule(0.25)),
                               np.array([1.25, 2, 0.3125]) * 3.45 / (3.7625 + 1e-9), rtol=1e-12)


def test_e2_zero_denominator():
    """W = [1, 1], b = 0, x = [1, -1]: z = 0. Safe division by 1e-7 (iNNvestigate), ε·sgn0(0) = +ε (zennit, toolbox)."""
    net, x, top = lr.Sequential([lr.Dense([[1, 1]], [0])]), np.array([[1.0, -1.0]]), np.array([[1.0]])
    np.testing.assert_allclose(relevance(net, x, innvestigate.Z(), top), [1e7, -1e7])
    np.testing.assert_allclose(relevance(net, x, zennit.Epsilon(), top), [1e6, -1e6])
    np.testing.assert_allclose(relevance(net, x, toolbox.variant("simple"), top), [1e16, -1e16])
    # lrpref's LRP-0 drops the relevance instead, and says so
    ex = lr.explain(net, x, target=top, rule=lr.LRP0())
    assert np.all(ex.relevance == 0) and ex.layers[0].absorbed.dropped[0, 0] == 1


def test_zeros_stabiliser_touches_only_zeros():
    stabiliser = lr.Stabiliser(1e-7, "zeros")
    D = np.array([[0.0, -0.0, 1e-300, -2.0]])
    np.testing.assert_array_equal(stabiliser(D), [[1e-7, 1e-7, 1e-300, -2.0]])
    assert str(stabiliser) == "z + 1e-07·[z = 0]"
    with pytest.raises(ValueError, match="sign must be one of"):
        lr.Stabiliser(1e-7, "clip")


def test_e4_max_pool_ties():
    """Window [[3, 3], [1, 0]], R = 3: the toolbox splits the tie, zennit/captum give it to the first maximum."""
    net, x, top = lr.Sequential([lr.MaxPool2d(2)]), np.array([3, 3, 1, 0.0]).reshape(1, 1, 2, 2), np.full((1, 1, 1, 1), 3.0)
    np.testing.assert_allclose(relevance(net, x, toolbox.lrp(), top).ravel(), [1.5, 1.5, 0, 0])
    np.testing.assert_allclose(relevance(net, x, zennit.LayerMap(zennit.Epsilon()), top).ravel(), [3, 0, 0, 0])
    # captum: LRP-ε on the selection, 3·3/(3 + 1e-9); the stabiliser absorbs the rest
    ex = lr.explain(net, x, target=top, rule=captum.LRP())
    np.testing.assert_allclose(ex.relevance.ravel(), [9 / (3 + 1e-9), 0, 0, 0], rtol=1e-15)
    assert np.isclose(ex.layers[0].absorbed.stabiliser.sum(), 3 - 9 / (3 + 1e-9), rtol=1e-9, atol=0)
    # a window whose maximum is 0 passes nothing: the stabiliser absorbs all of R
    ex = lr.explain(net, np.zeros((1, 1, 2, 2)), target=top, rule=captum.LRP())
    assert np.all(ex.relevance == 0) and ex.layers[0].absorbed.stabiliser[0, 0, 0, 0] == 3


def test_e6_w_square_bias():
    """W = [[1, 2], [3, -1]], b = [1, -2], x = [.5, 1], R = f: zennit's b² in the denominator vs the DTD rule."""
    net, x = lr.Sequential([lr.Dense([[1, 2], [3, -1]], [1, -2])]), np.array([[0.5, 1.0]])
    f = net(x)[0]   # (3.5, -1.5)
    top = np.array([f])
    # column j: w²/(Σw² + b²): (1, 4)/(5 + 1), (9, 1)/(10 + 4)
    zennit_expected = f[0] * np.array([1, 4]) / (6 + 1e-6) + f[1] * np.array([9, 1]) / (14 + 1e-6)
    np.testing.assert_allclose(relevance(net, x, zennit.WSquare(), top), zennit_expected, rtol=1e-12)
    np.testing.assert_allclose(relevance(net, x, zennit.WSquare(), top), [-0.381, 2.226], atol=1e-3)   # peers.md E6
    dtd = f[0] * np.array([1, 4]) / 5 + f[1] * np.array([9, 1]) / 10
    np.testing.assert_allclose(relevance(net, x, toolbox.variant("ww"), top), dtd, rtol=1e-12)          # (-0.65, 2.65)
    np.testing.assert_allclose(relevance(net, x, zennit.WSquare(zero_params="bias"), top), dtd * 5 / 5, rtol=1e-6)


def test_e7_zbox_is_bias_independent():
    rng = np.random.default_rng(3)
    W, x = rng.normal(size=(3, 4)), rng.uniform(-1, 1, size=(2, 4))
    top = rng.normal(size=(2, 3))
    one = relevance(lr.Sequential([lr.Dense(W, np.zeros(3))]), x, zennit.ZBox(-1, 1), top)
    two = relevance(lr.Sequential([lr.Dense(W, np.full(3, 5.0))]), x, zennit.ZBox(-1, 1), top)
    np.testing.assert_array_equal(one, two)


def test_e8_e10_batchnorm():
    """x = 2, μ = 1, var = 4, γ = 3, β = .5, eps = 1e-3. The z-rule on the affine map gives R·k x/y;
    iNNvestigate's fused surrogate scale 3/√(16.001), shift .5 - 1/√(16.001) gives 1.71411 (peers.md E10)."""
    bn = lr.Sequential([lr.BatchNorm([1.0], [4.0], [3.0], [0.5], eps=1e-3)])
    x = np.array([[2.0]])
    y = bn(x)[0, 0]
    k = 3 / np.sqrt(4.001)
    np.testing.assert_allclose(relevance(bn, x, innvestigate.LRP(innvestigate.Z())), [k * 2 * y / y], rtol=1e-12)
    root = np.sqrt(16.001)
    fused = (3 / root) * 2 / ((3 / root) * 2 + 0.5 - 1 / root) * y
    np.testing.assert_allclose(relevance(bn, x, innvestigate.LRP(innvestigate.Z(), quirks=True)), [fused], rtol=1e-12)
    np.testing.assert_allclose(fused, 1.71411, atol=1e-5)
    # zennit passes BatchNorm through: R = y = 2.0 (to 1e-4: y = 1.9998)
    np.testing.assert_allclose(relevance(bn, x, zennit.EpsilonPlus()), [y])
    # captum: ε (1e-9) on the affine map
    np.testing.assert_allclose(relevance(bn, x, captum.LRP()), [k * 2 * y / (y + 1e-9)], rtol=1e-12)


def test_fused_batchnorm_paths_agree_and_ledger_balances():
    rng = np.random.default_rng(4)
    bn = lr.BatchNorm(rng.normal(size=3), rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3))
    net = lr.Sequential([bn])
    x = rng.normal(size=(2, 3, 4, 4))
    rule = innvestigate.LRP(innvestigate.Epsilon(0.1), quirks=True)
    fast = lr.explain(net, x, target=net(x), rule=rule, keep_messages=True)
    explicit = lr.explain(net, x, target=net(x), rule=rule, path="explicit")
    np.testing.assert_allclose(fast.relevance, explicit.relevance, rtol=1e-12, atol=1e-12)
    M = fast.layers[0].messages(1).toarray()
    np.testing.assert_allclose(M.sum(1) + fast.layers[0].absorbed.total[1].ravel(), net(x)[1].ravel(), rtol=1e-12, atol=1e-12)
    assert "fused BatchNorm" in fast.rules[0].describe()
    with pytest.raises(TypeError, match="applies to BatchNorm"):
        lr.explain(lr.Sequential([lr.Dense(np.eye(2))]), np.ones((1, 2)), target=0, rule=[innvestigate.fused_batchnorm(lr.LRP0(), True)])


def test_toolbox_convolution_quirk():
    """The toolbox adds +1e-16 to the negative β-denominator of a convolution: unsigned stabiliser on Conv2d only."""
    composite = toolbox.lrp("alphabeta", 2.0, quirks=True)
    net = lr.Sequential([lr.Conv2d(np.ones((1, 1, 1, 1))), lr.Flatten(), lr.Dense(np.ones((1, 1)))])
    conv_rule, _, dense_rule = composite.rules_for(net)
    assert conv_rule.stabiliser.sign == "unsigned" and dense_rule.stabiliser.sign == "signed"
    assert toolbox.lrp("alphabeta", 2.0).rules_for(net)[0].stabiliser.sign == "signed"
    # a β-denominator of -1e-16: -1e-16 + 1e-16 = 0 → the unsigned form falls back to the signed one (spec §3.2 (d))
    assert lr.Stabiliser(1e-16, "unsigned")(np.array([[-1e-16]]))[0, 0] == -2e-16


def test_toolbox_pooling():
    rng = np.random.default_rng(5)
    net = lr.Sequential([lr.AvgPool2d(2), lr.MaxPool2d(2)])
    rules = toolbox.lrp("epsilon", 0.01).rules_for(net)   # the user's ε on the window sum: 0.01/area on the average
    assert rules[0].describe() == "Epsilon(0.0025)" and rules[1].describe() == "WinnerTakesAll(ties='split')"
    assert toolbox.lrp().rules_for(net)[0].describe() == "Epsilon(2.5e-13)"   # "simple": 1e-12 on the window sum
    rules = toolbox.lrp("flat").rules_for(net)
    assert rules[0].describe() == "Flat()" and rules[1].describe() == "Proportional(Flat())"
    x = rng.uniform(0, 1, size=(1, 1, 4, 4))
    ex = lr.explain(net, x, target=net(x), rule=toolbox.lrp("flat"))
    np.testing.assert_allclose(ex.relevance.ravel(), np.full(16, net(x).sum() / 16))   # uniform, as the toolbox's flat
    with pytest.raises(presets.UnsupportedRule, match="no BatchNorm"):
        toolbox.lrp().rules_for(lr.Sequential([lr.BatchNorm([0.0], [1.0])]))


# ---- the toolbox's SumPool on signed inputs (python/modules/sumpool.py, lrp_toolbox 1.3.1), its formulas in NumPy:
# Z = the window's inputs, Zs = ΣZ; epsilon: Z·R/(Zs + ε·sgn0(Zs)); alphabeta α (β = 1 − α):
# α = 1: Z⁺·R/(ΣZ⁺ + 1e-16); α = 0: Z⁻·R/(ΣZ⁻ − 1e-16); otherwise (α·Z⁺/(ΣZ⁺ + 1e-16) + β·Z⁻·R/(ΣZ⁻ − 2e-16))·R.


def toolbox_sum_pool(X, R, variant, param=None, r_twice=False):
    """The toolbox's relevance for non-overlapping 2×2 sum pooling of ``X`` (N, C, H, W) given ``R`` (N, C, H/2, W/2)."""
    windows = X.reshape(*X.shape[:2], X.shape[2] // 2, 2, X.shape[3] // 2, 2)      # (N, C, i, u, j, v)
    up = R[:, :, :, None, :, None]
    total = windows.sum(axis=(3, 5), keepdims=True)
    if variant == "epsilon":
        out = windows * up / (total + param * np.where(total >= 0, 1, -1))
    else:
        alpha, beta = param, 1 - param
        positive, negative = windows * (windows > 0), windows * (windows < 0)
        positive_sum = positive.sum(axis=(3, 5), keepdims=True) + 1e-16
        if alpha == 1:
            out = positive * up / positive_sum
        elif alpha == 0:
            out = negative * up / (negative.sum(axis=(3, 5), keepdims=True) - 1e-16)
        else:
            negative_sum = total - positive_sum - 1e-16
            beta_term = beta * negative * up / negative_sum * (up if r_twice else 1)
            out = alpha * positive / positive_sum * up + beta_term
    return out.reshape(X.shape)


TANH_POOL = lr.Sequential([lr.Conv2d(np.random.default_rng(8).normal(size=(3, 2, 3, 3)), [0.2, -0.1, 0.0], padding=1),
                           lr.Tanh(), lr.AvgPool2d(2), lr.Flatten(), lr.Dense(np.random.default_rng(9).normal(size=(4, 12)))])
TANH_X = np.random.default_rng(10).normal(size=(3, 2, 4, 4))


@pytest.mark.parametrize("variant, param", [("epsilon", 0.01), ("epsilon", 0.5), ("alphabeta", 1.0), ("alphabeta", 0.0),
                                            ("alphabeta", 2.0), ("alphabeta", 1.5)])
def test_toolbox_sum_pooling_over_signed_inputs(variant, param):
    """Sum pooling after Tanh (inputs of both signs) against the toolbox's formulas, at the pooling layer."""
    ex = lr.explain(TANH_POOL, TANH_X, target=[0, 1, 3], rule=toolbox.lrp(variant, param))
    X = TANH_POOL.record(TANH_X)[2]                        # the pooling layer's input, tanh(conv(x))
    assert (X < 0).any() and (X > 0).any()
    R = ex.layers[3].relevance_in                          # the relevance of the pooling layer's output
    expected = toolbox_sum_pool(X, R, variant, param)
    np.testing.assert_allclose(ex.layers[2].relevance_in, expected, rtol=1e-12, atol=1e-14 * np.abs(expected).max())
    if variant == "alphabeta" and param not in (0, 1):
        quirky = toolbox_sum_pool(X, R, variant, param, r_twice=True)
        assert not np.allclose(quirky, expected)          # the bug would change the numbers ...
        with pytest.raises(presets.UnsupportedRule, match="multiplies the beta term by R twice"):
            lr.explain(TANH_POOL, TANH_X, target=0, rule=toolbox.lrp(variant, param, quirks=True))   # ... so it is refused


def test_toolbox_sum_pooling_quirk_only_where_there_is_sum_pooling():
    """quirks=True with α = 2 still works on a network without sum pooling (the conv +1e-16 quirk alone)."""
    net = lr.Sequential([lr.Conv2d(np.ones((1, 1, 1, 1))), lr.Flatten(), lr.Dense(np.ones((1, 1)))])
    lr.explain(net, np.ones((1, 1, 1, 1)), target=0, rule=toolbox.lrp("alphabeta", 2.0, quirks=True))
    assert toolbox.lrp("alphabeta", 1.0, quirks=True).rules_for(TANH_POOL)[2].describe() == "AlphaBeta(1, 0, convention='toolbox')"


RELU_NET = lr.Sequential([lr.Dense(np.eye(2), [0.5, -1.0]), lr.ReLU(), lr.Dense([[1.0, 1.0]])])
RELU_X = np.array([[1.0, 0.5]])        # ReLU input (1.5, -0.5), output (1.5, 0), y = 1.5


@pytest.mark.parametrize("path", ["fast", "explicit"])
def test_innvestigate_masks_relevance_at_a_separate_relu_layer(path):
    """iNNvestigate's LRPFlat: the flat rule gives the inactive hidden neuron R/2 = 0.75; an Activation("relu") passes it,
    a keras.layers.ReLU layer gets the gradient R·1[x > 0] and loses it (quirks=True)."""
    passing = lr.explain(RELU_NET, RELU_X, target=0, path=path, rule=innvestigate.LRP(innvestigate.Flat()))
    masked = lr.explain(RELU_NET, RELU_X, target=0, path=path, rule=innvestigate.LRP(innvestigate.Flat(), quirks=True))
    np.testing.assert_allclose(passing.layers[1].relevance_in, [[0.75, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(masked.layers[1].relevance_in, [[0.75, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(passing.relevance, [[0.75, 0.75]], rtol=1e-15)   # flat on W = I: (0.75 + 0.75)/2 each
    np.testing.assert_allclose(masked.relevance, [[0.375, 0.375]], rtol=1e-15)
    assert masked.layers[1].absorbed.per_sample()["dropped"][0] == pytest.approx(0.75)   # the ledger shows what was masked
    assert "ReLU layer, the gradient" in masked.rules[1].describe()
    keras_activation = innvestigate.LRP(innvestigate.Flat(), quirks=True, separate_relu=False)
    np.testing.assert_allclose(lr.explain(RELU_NET, RELU_X, target=0, rule=keras_activation).relevance, passing.relevance)


def test_the_relu_mask_changes_nothing_under_input_dependent_rules():
    """Under ε (and αβ, z⁺) an inactive neuron receives no relevance from above, so the mask is a no-op there."""
    rng = np.random.default_rng(12)
    net = lr.Sequential([lr.Conv2d(rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3), padding=1), lr.ReLU(),
                         lr.Flatten(), lr.Dense(rng.normal(size=(4, 48)), rng.normal(size=4)), lr.ReLU(), lr.Dense(rng.normal(size=(2, 4)))])
    x = rng.normal(size=(3, 2, 4, 4))
    plain = lr.explain(net, x, rule=innvestigate.LRP(innvestigate.Epsilon(0.01)))
    quirky = lr.explain(net, x, rule=innvestigate.LRP(innvestigate.Epsilon(0.01), quirks=True))
    assert [type(rule).__name__ for rule in quirky.rules].count("Surrogate") == 2
    np.testing.assert_allclose(quirky.relevance, plain.relevance, rtol=1e-12, atol=1e-14)
    flat = lr.explain(net, x, rule=innvestigate.LRP(innvestigate.Flat(), quirks=True))   # channels 3 (Conv2d) and 4 (Dense)
    assert not np.allclose(flat.relevance, lr.explain(net, x, rule=innvestigate.LRP(innvestigate.Flat())).relevance)


def test_the_relu_mask_needs_to_know_the_channels():
    net = lr.Sequential([lr.Flatten(), lr.ReLU(), lr.Dense(np.ones((1, 4)))])
    with pytest.raises(presets.UnsupportedRule, match=r"layer 1 \(ReLU\(\)\): iNNvestigate's ReLU-layer mask needs the channels"):
        innvestigate.LRP(innvestigate.Z(), quirks=True).rules_for(net)


def test_captum_refuses_what_captum_refuses():
    net = lr.Sequential([lr.Dense(np.eye(2)), lr.Sigmoid(), lr.Dense(np.eye(2))])
    with pytest.raises(presets.UnsupportedRule, match="no rule for Sigmoid"):
        captum.LRP().rules_for(net)
    with pytest.raises(presets.UnsupportedRule, match="captum has no w2"):
        presets.composite("w2", "captum")
    with pytest.raises(presets.UnsupportedRule, match="iNNvestigate has no gamma"):
        presets.composite("gamma", "innvestigate")


def test_captum_splits_a_residual_sum_as_its_addition_module():
    """captum's ``Addition_Module`` has the EpsilonRule (ε = 1e-9): R_e = x_e / (s + 1e-9 sgn0 s) · R, visible on a
    sum s = 1 + (−1 + 1e-8) = 1e-8 (lrpref's own sum rule has ε = 1e-6)."""
    x = lr.Input()
    s = lr.Add()(lr.Dense([[1.0]])(x), lr.Dense([[-1.0]], [1e-8])(x), name="sum")
    net = lr.Graph(x, lr.Dense([[1.0]])(s))
    ex = lr.explain(net, np.array([[1.0]]), target=0, rule=captum.LRP(), keep_messages=True)
    add = ex.layers[net.index("sum")]
    total = 1e-8 + 1e-9
    np.testing.assert_allclose(add.relevance_in[0], add.relevance_out * 1.0 / total, rtol=1e-6)
    np.testing.assert_allclose(add.relevance_in[1], add.relevance_out * (-1.0 + 1e-8) / total, rtol=1e-6)


def test_composite_lookup_by_name():
    net = lr.Sequential([lr.Conv2d(np.ones((2, 1, 3, 3))), lr.ReLU(), lr.AvgPool2d(2), lr.Flatten(),
                         lr.Dense(np.ones((3, 2)))])
    describe = lambda composite: [rule.describe() for rule in composite.rules_for(net)]  # noqa: E731
    assert describe(presets.composite("zbox:-1,1/epsilon:0.25", "zennit")) == [
        "ZBox(-1, 1)", "Pass()", "Epsilon(1e-06)", "Pass()", "Epsilon(0.25)"]
    assert describe(presets.composite("gamma:0.5", "captum")) == [
        "Gamma(0.5, bias='plain', check_inputs=False)", "Pass()", "Epsilon(1e-09)", "Pass()", "Gamma(0.5, bias='plain', check_inputs=False)"]
    assert describe(presets.composite("alpha2beta1")) == ["AlphaBeta(2, 1)", "Pass()", "AlphaBeta(2, 1)", "Pass()", "AlphaBeta(2, 1)"]
    assert describe(presets.composite("alpha1beta0", "innvestigate", quirks=True))[0] == "AlphaBeta(1, 0, bias='full')"
    with pytest.raises(ValueError, match="unknown convention"):
        presets.composite("epsilon", "keras")


@pytest.mark.parametrize("text, kind, params", [
    ("epsilon:0.25", "epsilon", (0.25,)), ("EPS", "epsilon", ()), ("gamma:0.1", "gamma", (0.1,)),
    ("alpha2beta1", "alphabeta", (2.0, 1.0)), ("alpha1.5beta0.5", "alphabeta", (1.5, 0.5)),
    ("alphabeta:3,2", "alphabeta", (3.0, 2.0)), ("zplus", "zplus", ()), ("zbox:-1,1", "zbox", (-1.0, 1.0)),
    ("w2", "w2", ()), ("flat", "flat", ()), ("lrp0", "lrp0", ()),
])
def test_parse_rule(text, kind, params):
    name = presets.parse_rule(text)
    assert (name.kind, name.params) == (kind, params)


@pytest.mark.parametrize("text, message", [
    ("sigma:1", "unknown rule"), ("zbox:1", "takes 2 parameter"), ("epsilon:a", "must be numbers"), ("flat:1", "takes 0"),
])
def test_parse_rule_errors(text, message):
    with pytest.raises(ValueError, match=message):
        presets.parse_rule(text)


def test_existing_preset_names_still_work():
    assert presets.EpsilonGammaBox is zennit.EpsilonGammaBox
    assert isinstance(presets.Montavon2019(0, 1), lr.Composite)


def test_captum_integrated_gradients_settings():
    exact = captum.integrated_gradients(0.0, 10, "riemann_trapezoid")
    assert exact["steps"] == 9 and exact["riemann"] == "trapezoid"
    quirky = captum.integrated_gradients(0.0, 10, "riemann_trapezoid", quirks=True)
    points, weights = quirky["riemann"]
    np.testing.assert_allclose(points, np.linspace(0, 1, 10))
    assert np.isclose(weights.sum(), 0.9, rtol=1e-7)   # captum's weights sum to (n - 1)/n
    net = lr.Sequential([lr.Dense([[1.0, -2.0]], [0.3]), lr.ReLU(), lr.Dense([[1.5]])])
    x = np.array([[0.7, -0.4]])
    right = lr.explain(net, x, target=0, **exact).relevance
    wrong = lr.explain(net, x, target=0, **quirky).relevance
    np.testing.assert_allclose(wrong, 0.9 * right, rtol=1e-6)   # float32 weights: 1e-7
