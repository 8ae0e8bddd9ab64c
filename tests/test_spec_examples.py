"""Every LRP number of spec neural.md §12.1, §12.2, §12.3 (LRP rows), §12.6 and §12.7.

Expected values are typed from the spec (and its companion neural_examples.txt, an
independent float64 computation); both execution paths must reproduce them.
"""

import numpy as np
import pytest

import lrpref as lr

PATHS = ["fast", "explicit"]
TOL = dict(rtol=0, atol=5e-7)  # the spec prints six decimals

# ---------------------------------------------------------------- §12.1 Example A

A_W = [[1, -0.5, 2], [-1, 1, 0.5]]
A_b = [0.5, -0.25]
A_a = np.array([[1, 2, 0.5]])
A_R = np.array([[1.0, 0.5]])

EXAMPLE_A = [
    # rule, M row 1, M row 2, R(lower), sum
    (lr.LRP0(), [0.666667, -0.666667, 0.666667], [-0.5, 1.0, 0.125], [0.166667, 0.333333, 0.791667], 1.291667),
    (lr.Epsilon(0.25), [0.571429, -0.571429, 0.571429], [-0.4, 0.8, 0.1], [0.171429, 0.228571, 0.671429], 1.071429),
    (lr.Gamma(0.25), [0.588235, -0.470588, 0.588235], [-0.32, 0.8, 0.1], [0.268235, 0.329412, 0.688235], 1.285882),
    (lr.AlphaBeta(2, 1), [0.8, -1.0, 0.8], [-0.4, 0.888889, 0.111111], [0.4, -0.111111, 0.911111], 1.2),
    (lr.AlphaBeta(2, 1, bias="ignore"), [1.0, -1.0, 1.0], [-0.5, 0.888889, 0.111111], [0.5, -0.111111, 1.111111], 1.5),
    (lr.AlphaBeta(1, 0), [0.4, 0, 0.4], [0, 0.444444, 0.055556], [0.4, 0.444444, 0.455556], 1.3),
    (lr.ZPlus(), [0.5, 0, 0.5], [0, 0.444444, 0.055556], [0.5, 0.444444, 0.555556], 1.5),
    (lr.WSquare(), [0.190476, 0.047619, 0.761905], [0.222222, 0.222222, 0.055556], [0.412698, 0.269841, 0.817460], 1.5),
    (lr.Flat(), [1 / 3, 1 / 3, 1 / 3], [1 / 6, 1 / 6, 1 / 6], [0.5, 0.5, 0.5], 1.5),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rule, row1, row2, lower, total", EXAMPLE_A, ids=[r[0].describe() for r in EXAMPLE_A])
def test_example_A(rule, row1, row2, lower, total, path):
    net = lr.Sequential([lr.Dense(A_W, A_b)])
    ex = lr.explain(net, A_a, target=A_R, rule=rule, keep_messages=True, path=path)
    np.testing.assert_allclose(ex.layers[0].messages(0), [row1, row2], **TOL)
    np.testing.assert_allclose(ex.relevance[0], lower, **TOL)
    assert ex.relevance.sum() == pytest.approx(total, abs=5e-7)


def test_example_A_denominators_and_row_sums():
    """The denominators the spec prints (ε: 1.75, 1.25; γ: 2.125, 1.5625; α2β1: z⁺ 2.5, 2.25, z⁻ −1, −1.25)."""
    net = lr.Sequential([lr.Dense(A_W, A_b)])
    ex = lr.explain(net, A_a, target=A_R, rule=lr.Epsilon(0.25))
    np.testing.assert_allclose(ex.layers[0].stabilised[0][0], [1.75, 1.25])
    ex = lr.explain(net, A_a, target=A_R, rule=lr.Gamma(0.25))
    np.testing.assert_allclose(ex.layers[0].denominators[0][0], [2.125, 1.5625])
    ex = lr.explain(net, A_a, target=A_R, rule=lr.AlphaBeta(2, 1), keep_messages=True)
    np.testing.assert_allclose(ex.layers[0].denominators[0][0], [2.5, 2.25])
    np.testing.assert_allclose(ex.layers[0].denominators[1][0], [-1.0, -1.25])
    assert ex.layers[0].messages(0)[0].sum() == pytest.approx(2 * 2 / 2.5 - 1)  # α2β1 row 1 sum 0.6
    ex = lr.explain(net, A_a, target=A_R, rule=lr.LRP0(), keep_messages=True)
    np.testing.assert_allclose(ex.layers[0].messages(0).sum(axis=1), [1 * (1.5 - 0.5) / 1.5, 0.5 * (1 + 0.25) / 1.0])
    np.testing.assert_allclose(ex.layers[0].absorbed.bias[0], [0.5 / 1.5, 0.5 * -0.25 / 1.0])


@pytest.mark.parametrize("path", PATHS)
def test_example_A_zbox(path):
    net = lr.Sequential([lr.Dense(A_W, A_b)])
    ex = lr.explain(net, np.array([[0.5, -0.5, 1.0]]), target=A_R, rule=lr.ZBox(-1, 1), keep_messages=True, path=path)
    np.testing.assert_allclose(ex.layers[0].denominators[0][0], [6.25, 2.0])
    np.testing.assert_allclose(ex.layers[0].messages(0), [[0.24, 0.12, 0.64], [0.125, 0.125, 0.25]], **TOL)
    np.testing.assert_allclose(ex.relevance[0], [0.365, 0.245, 0.89], **TOL)
    assert ex.relevance.sum() == pytest.approx(1.5)


# ---------------------------------------------------------------- §12.2 Example P


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("layer, rule, expected", [
    (lr.MaxPool2d((1, 2)), lr.WinnerTakesAll(), [0, 0.8, 0.6, 0]),
    (lr.MaxPool2d((1, 2)), lr.WinnerTakesAll("split"), [0, 0.8, 0.3, 0.3]),
    (lr.MaxPool2d((1, 2)), lr.Proportional(), [0.2, 0.6, 0.3, 0.3]),
    (lr.AvgPool2d((1, 2)), lr.LRP0(), [0.2, 0.6, 0.3, 0.3]),
    (lr.AvgPool2d((1, 2)), lr.Flat(), [0.4, 0.4, 0.3, 0.3]),
], ids=["wta-first", "wta-split", "maxpool-proportional", "avgpool-lrp0", "avgpool-flat"])
def test_example_P(layer, rule, expected, path):
    x = np.array([1.0, 3.0, 2.0, 2.0]).reshape(1, 1, 1, 4)
    net = lr.Sequential([layer])
    R = np.array([0.8, 0.6]).reshape(1, 1, 1, 2)
    ex = lr.explain(net, x, target=R, rule=lr.Composite(types={type(layer): rule}), keep_messages=True, path=path)
    np.testing.assert_allclose(ex.relevance.ravel(), expected, **TOL)
    M = ex.layers[0].messages(0)
    M = M.toarray() if hasattr(M, "toarray") else M
    np.testing.assert_allclose(M.sum(axis=0), expected, **TOL)


def test_example_P_maxpool_messages():
    x = np.array([1.0, 3.0, 2.0, 2.0]).reshape(1, 1, 1, 4)
    net = lr.Sequential([lr.MaxPool2d((1, 2))])
    np.testing.assert_allclose(net(x).ravel(), [3, 2])
    R = np.array([0.8, 0.6]).reshape(1, 1, 1, 2)
    first = lr.explain(net, x, target=R, keep_messages=True).layers[0].messages(0).toarray()
    np.testing.assert_allclose(first, [[0, 0.8, 0, 0], [0, 0, 0.6, 0]])
    split = lr.explain(net, x, target=R, rule=lr.Composite(types={lr.MaxPool2d: lr.WinnerTakesAll("split")}),
                       keep_messages=True).layers[0].messages(0).toarray()
    np.testing.assert_allclose(split, [[0, 0.8, 0, 0], [0, 0, 0.3, 0.3]])


# ---------------------------------------------------------------- §12.3 Example B (LRP rows)


def example_B():
    W1 = [[1, -1], [2, 1], [-1, 1]]
    b1 = [0.55, -1, 0.5]
    W2 = [[1, 2, -1], [-1, 1, 2], [0.5, -1, 1]]
    b2 = [0.1, -0.2, 0.3]
    return lr.Sequential([lr.Dense(W1, b1), lr.ReLU(), lr.Dense(W2, b2)]), np.array([[1.0, 2.0]])


def test_example_B_forward():
    net, x = example_B()
    np.testing.assert_allclose(net(x)[0], [4.6, 5.8, -1.2])
    assert net(x).argmax() == 1


@pytest.mark.parametrize("path", PATHS)
def test_example_B_lrp0(path):
    net, x = example_B()
    ex = lr.explain(net, x, target=1, rule=lr.LRP0(), keep_messages=True, path=path)
    np.testing.assert_allclose(ex.top[0], [0, 5.8, 0])
    np.testing.assert_allclose(ex.layers[2].messages(0), [[0, 0, 0], [0, 3, 3], [0, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(ex.layers[2].relevance_in[0], [0, 3, 3], atol=1e-12)
    np.testing.assert_allclose(ex.layers[1].relevance_in[0], [0, 3, 3], atol=1e-12)  # ReLU pass
    np.testing.assert_allclose(ex.layers[0].messages(0), [[0, 0], [2, 2], [-2, 4]], atol=1e-12)
    np.testing.assert_allclose(ex.relevance[0], [0, 6], atol=1e-12)
    # gradient x input (spec: (0, 3) ⊙ (1, 2)) and the bias ledger 5.8 - (-0.2) = 6
    np.testing.assert_allclose(net.gradient(x, [[0, 1, 0]])[0] * x[0], [0, 6], atol=1e-12)
    assert ex.conservation[0].absorbed["bias"][0] == pytest.approx(-0.2)


@pytest.mark.parametrize("path", PATHS)
def test_example_B_epsilon(path):
    net, x = example_B()
    ex = lr.explain(net, x, target=1, rule=lr.Epsilon(0.1), path=path)
    np.testing.assert_allclose(ex.layers[2].relevance_in[0], [0, 2.949153, 2.949153], **TOL)
    np.testing.assert_allclose(ex.relevance[0], [0.059459, 5.589120], **TOL)
    assert ex.relevance.sum() == pytest.approx(5.648578, abs=5e-7)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rule, expected", [
    (lr.Gamma(0.25), [0.463235, 5.404412]),
    (lr.AlphaBeta(2, 1), [0.0, 7.8]),
    (lr.ZPlus(), [1.5, 4.5]),
], ids=["gamma", "alpha2beta1", "zplus"])
def test_example_B_first_layer_rules(rule, expected, path):
    net, x = example_B()
    ex = lr.explain(net, x, target=1, rule=lr.Composite(default=lr.LRP0(), layers={0: rule}), keep_messages=True, path=path)
    np.testing.assert_allclose(ex.relevance[0], expected, **TOL)
    if isinstance(rule, lr.AlphaBeta):  # row sums 6 and 1.8 (spec §12.3)
        np.testing.assert_allclose(ex.layers[0].messages(0).sum(axis=1), [0, 6, 1.8], atol=1e-12)


# ---------------------------------------------------------------- §12.6 Example C


@pytest.mark.parametrize("path", PATHS)
def test_example_C_conv_unrolling(path):
    X = np.array([[1, 2, 0], [0, 1, 3], [2, 1, 1.0]]).reshape(1, 1, 3, 3)
    K = np.array([[1, -1], [0.5, 2.0]]).reshape(1, 1, 2, 2)
    conv = lr.Conv2d(K, [0.5])
    np.testing.assert_array_equal(conv.matrix((1, 3, 3)).toarray(), [
        [1, -1, 0, 0.5, 2, 0, 0, 0, 0],
        [0, 1, -1, 0, 0.5, 2, 0, 0, 0],
        [0, 0, 0, 1, -1, 0, 0.5, 2, 0],
        [0, 0, 0, 0, 1, -1, 0, 0.5, 2],
    ])
    net = lr.Sequential([conv])
    y = net(X)
    np.testing.assert_allclose(y.ravel(), [1.5, 9, 2.5, 1])
    ex = lr.explain(net, X, target=y, rule=lr.LRP0(), keep_messages=True, path=path)
    np.testing.assert_allclose(ex.layers[0].messages(0).toarray(), [
        [1, -2, 0, 0, 2, 0, 0, 0, 0],
        [0, 2, 0, 0, 0.5, 6, 0, 0, 0],
        [0, 0, 0, 0, -1, 0, 1, 2, 0],
        [0, 0, 0, 0, 1, -3, 0, 0.5, 2],
    ], atol=1e-12)
    np.testing.assert_allclose(ex.relevance[0, 0], [[1, 0, 0], [0, 2.5, 3], [1, 2.5, 2]], atol=1e-12)
    row = ex.conservation[0]
    assert (row.received[0], row.passed[0], row.absorbed["bias"][0]) == pytest.approx((14.0, 12.0, 2.0))


# ---------------------------------------------------------------- §12.7 zero denominator


@pytest.mark.parametrize("path", PATHS)
def test_zero_denominator(path):
    net = lr.Sequential([lr.Dense([[1, -1]], [0])])
    x = np.array([[1.0, 1.0]])
    R = np.array([[1.0]])
    ex0 = lr.explain(net, x, target=R, rule=lr.LRP0(), path=path)
    np.testing.assert_array_equal(ex0.relevance[0], [0, 0])
    assert ex0.layers[0].absorbed.dropped[0, 0] == 1.0
    assert ex0.layers[0].absorbed.total[0, 0] == 1.0
    exe = lr.explain(net, x, target=R, rule=lr.Epsilon(0.25), path=path)
    np.testing.assert_allclose(exe.relevance[0], [4, -4])
    assert exe.layers[0].absorbed.total[0, 0] == pytest.approx(1.0)
    assert exe.layers[0].absorbed.stabiliser[0, 0] == pytest.approx(1.0)
