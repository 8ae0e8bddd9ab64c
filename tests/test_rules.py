"""Rule definitions pinned by hand computations and by peers' recorded outputs (spec peers.md §2.3).

The §2.3 numbers were produced by running zennit 1.0, captum 0.9, the LRP toolbox and
iNNvestigate 2.1.2 on tiny layers; lrpref's rule with the same convention must reproduce them.
"""

import numpy as np
import pytest

import lrpref as lr


def one_layer(W, b, x, R, rule, path="fast"):
    net = lr.Sequential([lr.Dense(W, b)])
    return lr.explain(net, np.atleast_2d(np.asarray(x, float)), target=np.atleast_2d(np.asarray(R, float)), rule=rule, path=path)


# ------------------------------------------------------------------ stabiliser, by hand


@pytest.mark.parametrize("path", ["fast", "explicit"])
def test_epsilon_signed_moves_negative_denominators_away_from_zero(path):
    # z = 1*1 + 1*(-3) + 0.5 = -1.5; signed: -1.5 - 0.25 = -1.75
    ex = one_layer([[1, -3]], [0.5], [1, 1], [2.0], lr.Epsilon(0.25), path)
    np.testing.assert_allclose(ex.layers[0].stabilised[0], [[-1.75]])
    np.testing.assert_allclose(ex.relevance, [[2 * 1 / -1.75, 2 * -3 / -1.75]])
    # absorbed: bias 2*0.5/-1.75, stabiliser 2*(-0.25)/-1.75
    np.testing.assert_allclose(ex.layers[0].absorbed.bias, [[2 * 0.5 / -1.75]])
    np.testing.assert_allclose(ex.layers[0].absorbed.stabiliser, [[2 * -0.25 / -1.75]])


def test_epsilon_unsigned_and_its_fallback():
    ex = one_layer([[1, -3]], [0.5], [1, 1], [2.0], lr.Epsilon(0.25, sign="unsigned"))
    np.testing.assert_allclose(ex.layers[0].stabilised[0], [[-1.25]])  # -1.5 + 0.25
    # z = -0.25 exactly: z + eps = 0, so the signed form -0.5 is used (spec §3.2 (d))
    ex = one_layer([[1, -1.25]], [0.0], [1, 1], [1.0], lr.Epsilon(0.25, sign="unsigned"))
    np.testing.assert_allclose(ex.layers[0].stabilised[0], [[-0.5]])


def test_epsilon_rms_scale():
    # z = (3, -4): RMS = sqrt((9 + 16) / 2) = 3.5355; eps = 0.1 * 3.5355
    ex = one_layer([[3, 0], [0, -4]], [0, 0], [1, 1], [1.0, 1.0], lr.Epsilon(0.1, scale="rms"))
    e = 0.1 * np.sqrt(12.5)
    np.testing.assert_allclose(ex.layers[0].stabilised[0], [[3 + e, -4 - e]])


def test_stabiliser_sign_of_zero_is_plus():
    ex = one_layer([[1, -1]], [0], [1, 1], [1.0], lr.Epsilon(1e-6))
    np.testing.assert_allclose(ex.relevance, [[1e6, -1e6]])  # peers E2: zennit and toolbox eps=1e-6


# ------------------------------------------------------------------ peers.md §2.3 probes


E1 = dict(W=[[1, -1]], b=[-1], x=[1, 1], R=[-1.0])  # innvestigate#273 / zennit#107, R_out = f(x) = -1


@pytest.mark.parametrize("rule, expected", [
    (lr.ZPlus("products", bias=True, epsilon=1e-6), [-0.999999, 0]),          # zennit ZPlus
    (lr.AlphaBeta(1, 0, epsilon=1e-6), [-0.999999, 0]),                        # zennit AlphaBeta(1, 0)
    (lr.AlphaBeta(2, 1, epsilon=1e-6), [-1.999998, 0.5]),                      # zennit AlphaBeta(2, 1)
    (lr.Gamma(0.25, mode="generalised", epsilon=1e-6), [0.666666, -0.833333]),  # zennit Gamma(0.25)
    (lr.Epsilon(1e-6), [1, -1]),                                               # zennit / toolbox / captum Epsilon
    (lr.Gamma(0.25), [1.666667, -1.333333]),                                   # captum GammaRule (b < 0: γ leaves it)
    (lr.AlphaBeta(1, 0), [-1, 0]),                                             # toolbox alphabeta α=1 (textbook)
    (lr.AlphaBeta(2, -1, convention="toolbox"), [-2, 0.5]),                    # toolbox alphabeta α=2 (β = 1 - α)
], ids=["zennit-zplus", "zennit-a1b0", "zennit-a2b1", "zennit-gamma", "epsilon", "captum-gamma", "toolbox-a1", "toolbox-a2"])
def test_peers_E1(rule, expected):
    ex = one_layer(E1["W"], E1["b"], E1["x"], E1["R"], rule)
    np.testing.assert_allclose(ex.relevance[0], expected, atol=2e-6)


E3 = dict(W=[[1, -1, 0.5]], b=[0.2], x=[1, -2, 0.5], R=[3.45])  # signed inputs, f = 3.45


@pytest.mark.parametrize("rule, expected", [
    (lr.Gamma(0.25, mode="generalised"), [1, 2, 0.25]),            # zennit Gamma
    (lr.ZPlus("products", bias=True), [1, 2, 0.25]),               # zennit ZPlus = toolbox α=1 = innvestigate α1β0
    (lr.ZPlus("products", bias=False), [1.0615, 2.1231, 0.2654]),  # innvestigate z_plus (bias dropped)
], ids=["zennit-gamma", "zennit-zplus", "innvestigate-zplus"])
def test_peers_E3(rule, expected):
    ex = one_layer(E3["W"], E3["b"], E3["x"], E3["R"], rule)
    np.testing.assert_allclose(ex.relevance[0], expected, atol=5e-5)


@pytest.mark.parametrize("rule, expected", [
    (lr.WSquare(bias=True), [-0.381, 2.226]),  # zennit WSquare
    (lr.WSquare(), [-0.65, 2.65]),             # zennit WSquare(zero_params='bias') = toolbox ww
])
def test_peers_E6_wsquare(rule, expected):
    W, b, x = [[1, 2], [3, -1]], [1, -2], [0.5, 1]
    z = np.array(W) @ x + b  # R_out = f(x) = (3.5, -1.5)
    ex = one_layer(W, b, x, z, rule)
    np.testing.assert_allclose(ex.relevance[0], expected, atol=5e-4)


def test_peers_E7_zbox_ignores_the_bias():
    W, x = [[1, -2, 0.5], [0.3, 1, -1]], [0.2, -0.4, 0.9]
    first = one_layer(W, [0, 0], x, [1.0, 2.0], lr.ZBox(-1, 1)).relevance
    second = one_layer(W, [5, -3], x, [1.0, 2.0], lr.ZBox(-1, 1)).relevance
    np.testing.assert_allclose(first, second, rtol=1e-14)


# ------------------------------------------------------------------ rule properties by hand


def test_generalised_gamma_drops_zero_outputs():
    ex = one_layer([[1, -1]], [0], [1, 1], [1.0], lr.Gamma(0.25, mode="generalised"))
    np.testing.assert_array_equal(ex.relevance, [[0, 0]])
    assert ex.layers[0].absorbed.dropped[0, 0] == 1.0


def test_generalised_and_classic_gamma_agree_on_positive_inputs_and_outputs():
    rng = np.random.default_rng(3)
    W, x = rng.normal(size=(4, 6)), np.abs(rng.normal(size=(1, 6)))
    b = np.maximum(0, -(x @ W.T)[0]) + 0.5  # every output z = W x + b is positive
    R = rng.normal(size=(1, 4))
    classic = lr.explain(lr.Sequential([lr.Dense(W, b)]), x, target=R, rule=lr.Gamma(0.3)).relevance
    general = lr.explain(lr.Sequential([lr.Dense(W, b)]), x, target=R, rule=lr.Gamma(0.3, mode="generalised")).relevance
    np.testing.assert_allclose(classic, general, rtol=1e-13)


def test_gamma_zero_is_lrp0_and_large_gamma_tends_to_zplus():
    W, b, x, R = [[1, -0.5, 2], [-1, 1, 0.5]], [0.5, -0.25], [[1, 2, 0.5]], [[1.0, 0.5]]
    lrp0 = one_layer(W, b, x, R, lr.LRP0()).relevance
    np.testing.assert_allclose(one_layer(W, b, x, R, lr.Gamma(0.0)).relevance, lrp0, rtol=1e-14)
    zplus_with_bplus = one_layer(W, b, x, R, lr.ZPlus(bias=True)).relevance
    np.testing.assert_allclose(one_layer(W, b, x, R, lr.Gamma(1e9)).relevance, zplus_with_bplus, rtol=1e-8)


def test_alpha1_beta0_ignore_bias_equals_zplus_for_non_negative_inputs():
    rng = np.random.default_rng(4)
    W, b = rng.normal(size=(5, 7)), rng.normal(size=5)
    x, R = np.abs(rng.normal(size=(3, 7))), rng.normal(size=(3, 5))
    net = lr.Sequential([lr.Dense(W, b)])
    a = lr.explain(net, x, target=R, rule=lr.AlphaBeta(1, 0, bias="ignore")).relevance
    z = lr.explain(net, x, target=R, rule=lr.ZPlus()).relevance
    np.testing.assert_allclose(a, z, rtol=1e-13)


def test_alpha_beta_conventions_agree():
    W, b, x, R = [[1, -0.5, 2], [-1, 1, 0.5]], [0.5, -0.25], [[1, 2, 0.5]], [[1.0, 0.5]]
    modern = one_layer(W, b, x, R, lr.AlphaBeta(3, 2)).relevance
    toolbox = one_layer(W, b, x, R, lr.AlphaBeta(3, -2, convention="toolbox")).relevance
    np.testing.assert_allclose(modern, toolbox, rtol=1e-14)


def test_alpha_beta_non_conservation_is_reported():
    """z⁻ = 0 (no negative contribution): the β term is dropped, the row sum is α R (spec §3.4 (d))."""
    ex = one_layer([[1, 2]], [0], [1, 1], [1.0], lr.AlphaBeta(2, 1))
    np.testing.assert_allclose(ex.relevance, [[2 / 3, 4 / 3]])
    np.testing.assert_allclose(ex.layers[0].absorbed.dropped, [[-1.0]])


def test_flat_on_padded_conv_counts_real_taps():
    conv = lr.Conv2d(np.ones((1, 1, 3, 3)), None, padding=1)
    x = np.zeros((1, 1, 3, 3))
    R = np.zeros((1, 1, 3, 3))
    R[0, 0, 0, 0] = 1.0  # the corner output sees 4 real pixels
    ex = lr.explain(lr.Sequential([conv]), x, target=R, rule=lr.Flat())
    np.testing.assert_allclose(ex.relevance[0, 0], [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]])


def test_zbox_per_channel_bounds():
    conv = lr.Conv2d(np.array([[[[1.0]], [[-1.0]]]]), None)
    x = np.array([[[[0.5]], [[2.0]]]])
    low, high = np.array([0, 1.0]).reshape(2, 1, 1), np.array([1, 3.0]).reshape(2, 1, 1)
    ex = lr.explain(lr.Sequential([conv]), x, target=np.ones((1, 1, 1, 1)), rule=lr.ZBox(low, high))
    # numerators: x w - l w+ - h w-: channel 0: 0.5 - 0 = 0.5; channel 1: -2 - 0 - 3*(-1) = 1
    np.testing.assert_allclose(ex.relevance.ravel(), [0.5 / 1.5, 1 / 1.5])


def test_rule_formulas_are_printable():
    assert "w + 0.25·w⁺" in lr.Gamma(0.25).formula()
    assert "sgn0" in lr.Epsilon(0.1).formula()
    assert "(-l)" in lr.ZBox(-1, 1).formula()
