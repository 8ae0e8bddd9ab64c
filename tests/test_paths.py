"""The explicit path (message matrices) and the fast path (layer operators) agree for every rule × layer type.

Float64, relative error ≤ 1e-12 on the input relevance, the absorbed relevance of every kind
and every group's denominators; and the message matrix satisfies spec identity 1.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import lrpref as lr

rng = np.random.default_rng(1)


def linear_rules():
    return [
        lr.LRP0(), lr.Epsilon(0.3), lr.Epsilon(0.3, sign="unsigned"), lr.Epsilon(0.1, scale="rms"),
        lr.Gamma(0.25), lr.Gamma(0.5, bias=False), lr.Gamma(0.25, mode="generalised"),
        lr.AlphaBeta(2, 1), lr.AlphaBeta(1, 0), lr.AlphaBeta(2, 1, bias="ignore"), lr.AlphaBeta(2, -1, convention="toolbox"),
        lr.ZPlus(), lr.ZPlus("products", bias=True), lr.ZBox(-3, 3), lr.WSquare(), lr.WSquare(bias=True), lr.Flat(),
        # the peers' variants (lrpref.presets)
        lr.Epsilon(1e-7, sign="zeros"), lr.Epsilon(0.2, bias=False), lr.Gamma(0.25, bias="plain", check_inputs=False),
        lr.ZPlus("dtd", bias="plain", epsilon=1e-9, check_inputs=False), lr.AlphaBeta(2, 1, bias="full"),
        lr.AlphaBeta(2, -1, convention="toolbox", epsilon=lr.Stabiliser(1e-16, "unsigned")),
    ]


def linear_layers():
    return [
        ("dense", lr.Dense(rng.normal(size=(5, 7)), rng.normal(size=5)), (7,)),
        ("dense-no-bias", lr.Dense(rng.normal(size=(4, 6))), (6,)),
        ("conv", lr.Conv2d(rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), stride=1, padding=1), (3, 6, 5)),
        ("conv-strided-dilated", lr.Conv2d(rng.normal(size=(4, 2, 2, 3)), rng.normal(size=4), stride=(2, 1), padding=(1, 2),
                                           dilation=(1, 2), groups=2), (4, 7, 6)),
        ("conv-1x1", lr.Conv2d(rng.normal(size=(3, 2, 1, 1)), rng.normal(size=3)), (2, 3, 4)),
        ("avgpool", lr.AvgPool2d(3, 2, 1), (2, 7, 6)),
        ("avgpool-no-pad-count", lr.AvgPool2d(2, 1, 1, count_include_pad=False), (2, 4, 5)),
        ("adaptive-avgpool", lr.AdaptiveAvgPool2d((3, 2)), (2, 7, 5)),
        ("batchnorm-2d", lr.BatchNorm(rng.normal(size=3), rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3)), (3, 4, 4)),
        ("batchnorm-1d", lr.BatchNorm(rng.normal(size=5), rng.uniform(0.5, 2, 5), rng.normal(size=5), rng.normal(size=5)), (5,)),
    ]


def input_for(rule, shape, n=3):
    x = rng.normal(size=(n, *shape))
    if isinstance(rule, (lr.Gamma, lr.ZPlus)) and getattr(rule, "mode", "") in ("classic", "dtd"):
        return np.abs(x)  # these rules are defined for non-negative inputs
    if isinstance(rule, lr.ZBox):
        return np.clip(x, -3, 3)
    return x


def relative_error(a, b):
    scale = max(np.max(np.abs(b)), 1e-300)
    return np.max(np.abs(a - b)) / scale


def assert_paths_agree(net, x, target, rule):
    fast = lr.explain(net, x, target=target, rule=rule, keep_messages=True)
    explicit = lr.explain(net, x, target=target, rule=rule, path="explicit")
    assert relative_error(fast.relevance, explicit.relevance) <= 1e-12
    for f, e in zip(fast.layers, explicit.layers):
        assert relative_error(f.relevance_in, e.relevance_in) <= 1e-12
        for kind in ("bias", "stabiliser", "dropped"):
            scale = max(np.max(np.abs(e.absorbed[kind])), np.max(np.abs(f.relevance_out)), 1e-300)
            assert np.max(np.abs(f.absorbed[kind] - e.absorbed[kind])) / scale <= 1e-12, kind
        for Df, De in zip(f.denominators, e.denominators):
            assert relative_error(Df, De) <= 1e-12
    return fast


def assert_identity_1(record, n):
    """Column sums of M are relevance_in; row sums plus absorbed are relevance_out."""
    M = record.messages(n)
    M = M.toarray() if sp.issparse(M) else M
    np.testing.assert_allclose(M.sum(axis=0), record.relevance_in[n].ravel(), rtol=1e-12, atol=1e-12 * np.abs(M).max())
    np.testing.assert_allclose(M.sum(axis=1) + record.absorbed.total[n].ravel(), record.relevance_out[n].ravel(),
                               rtol=1e-12, atol=1e-12 * max(np.abs(M).max(), np.abs(record.relevance_out[n]).max()))


@pytest.mark.parametrize("rule", linear_rules(), ids=lambda r: r.describe())
@pytest.mark.parametrize("name, layer, shape", linear_layers(), ids=[case[0] for case in linear_layers()])
def test_linear_rule_on_layer(name, layer, shape, rule):
    net = lr.Sequential([layer])
    x = input_for(rule, shape)
    R = rng.normal(size=(x.shape[0], *layer.output_shape(shape)))
    fast = assert_paths_agree(net, x, R, rule)
    for n in range(x.shape[0]):
        assert_identity_1(fast.layers[0], n)


@pytest.mark.parametrize("rule", [lr.WinnerTakesAll(), lr.WinnerTakesAll("split"), lr.Proportional(),
                                  lr.WinnerTakesAll(epsilon=0.1), lr.WinnerTakesAll("split", epsilon=1e-9),
                                  lr.Proportional(lr.Epsilon(0.1)), lr.Proportional(lr.Flat())], ids=lambda r: r.describe())
@pytest.mark.parametrize("pool", [lr.MaxPool2d(2), lr.MaxPool2d(3, 2, 1), lr.MaxPool2d((2, 3), (1, 2), (1, 1), dilation=(2, 1))],
                         ids=lambda p: p.describe())
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool_rules(pool, rule, ties):
    x = rng.normal(size=(2, 3, 7, 6))
    if ties:  # quantised values make ties in most windows
        x = np.round(x)
    R = rng.normal(size=(2, *pool.output_shape(x.shape[1:])))
    fast = assert_paths_agree(lr.Sequential([pool]), x, R, lr.Composite(types={lr.MaxPool2d: rule}))
    assert_identity_1(fast.layers[0], 1)


@pytest.mark.parametrize("layer", [lr.ReLU(), lr.Tanh(), lr.LeakyReLU(), lr.Sigmoid(), lr.Identity(), lr.Dropout(), lr.Flatten()],
                         ids=lambda layer: layer.describe())
def test_pass(layer):
    x = rng.normal(size=(2, 3, 4, 2))
    R = rng.normal(size=(2, *layer.output_shape(x.shape[1:])))
    fast = assert_paths_agree(lr.Sequential([layer]), x, R, lr.LRP0())
    np.testing.assert_array_equal(fast.relevance.reshape(R.shape), R)
    assert_identity_1(fast.layers[0], 0)


def cnn():
    return lr.Sequential([
        lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4) * 0.1, padding=1), lr.ReLU(),
        lr.MaxPool2d(2),
        lr.Conv2d(rng.normal(size=(6, 4, 3, 3)), rng.normal(size=6) * 0.1, padding=1, stride=1), lr.ReLU(),
        lr.AvgPool2d(2), lr.Flatten(),
        lr.Dense(rng.normal(size=(8, 6 * 2 * 2)), rng.normal(size=8) * 0.1), lr.ReLU(),
        lr.Dense(rng.normal(size=(3, 8)), rng.normal(size=3) * 0.1),
    ])


@pytest.mark.parametrize("rule", [
    lr.LRP0(), lr.Epsilon(0.25), lr.presets.EpsilonGammaBox(-3, 3), lr.presets.EpsilonPlus(), lr.presets.EpsilonPlusFlat(),
    lr.presets.EpsilonAlpha2Beta1(), lr.presets.EpsilonAlpha2Beta1Flat(), lr.presets.Montavon2019(-3, 3),
], ids=lambda r: r.describe())
def test_whole_network(rule):
    net = cnn()
    x = np.clip(rng.normal(size=(2, 2, 8, 8)), -3, 3)
    assert_paths_agree(net, x, np.array([0, 2]), rule)
