"""BatchNorm folding is exact: the folded network computes the same function (≤ 1e-12, float64)."""

import numpy as np
import pytest

import lrpref as lr

rng = np.random.default_rng(5)


def bn(channels, dtype=np.float64):
    return lr.BatchNorm(rng.normal(size=channels), rng.uniform(0.2, 3, channels), rng.normal(size=channels),
                        rng.normal(size=channels), eps=1e-5, dtype=dtype)


NETWORKS = {  # name: (network factory, input sample shape)
    "conv-bn": (lambda: lr.Sequential([lr.Conv2d(rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), padding=1), bn(4), lr.ReLU(),
                                       lr.Flatten(), lr.Dense(rng.normal(size=(2, 4 * 6 * 6)), rng.normal(size=2))]), (3, 6, 6)),
    "conv-nobias-bn-grouped": (lambda: lr.Sequential([lr.Conv2d(rng.normal(size=(4, 1, 3, 3)), None, padding=1, groups=2,
                                                                stride=2), bn(4)]), (2, 6, 6)),
    "dense-bn": (lambda: lr.Sequential([lr.Dense(rng.normal(size=(5, 7)), rng.normal(size=5)), bn(5), lr.ReLU(),
                                        lr.Dense(rng.normal(size=(2, 5)))]), (7,)),
    "bn-dense": (lambda: lr.Sequential([bn(7), lr.Dense(rng.normal(size=(5, 7)), rng.normal(size=5))]), (7,)),
    "bn-conv-unpadded-grouped": (lambda: lr.Sequential([bn(4), lr.Conv2d(rng.normal(size=(6, 2, 2, 2)), rng.normal(size=6),
                                                                         groups=2)]), (4, 6, 6)),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_folded_network_is_the_same_function(name):
    factory, shape = NETWORKS[name]
    net = factory()
    folded = lr.fold_batchnorm(net)
    assert not any(isinstance(layer, lr.BatchNorm) for layer in folded)
    assert len(folded) == len(net) - sum(isinstance(layer, lr.BatchNorm) for layer in net)
    x = rng.normal(size=(3, *shape))
    y, y_folded = net(x), folded(x)
    np.testing.assert_allclose(y_folded, y, rtol=1e-12, atol=1e-12 * np.abs(y).max())


def test_folding_before_a_padded_conv_is_refused():
    net = lr.Sequential([bn(3), lr.Conv2d(rng.normal(size=(2, 3, 3, 3)), None, padding=1)])
    with pytest.raises(ValueError, match=r"layer 0 \(BatchNorm\(3\)\) cannot be folded exactly"):
        lr.fold_batchnorm(net)


def test_float32_folding_stays_float32():
    net = lr.Sequential([lr.Dense(rng.normal(size=(5, 7)), rng.normal(size=5), dtype=np.float32), bn(5, np.float32)])
    folded = lr.fold_batchnorm(net)
    assert folded.dtype == np.float32
    x = rng.normal(size=(2, 7)).astype(np.float32)
    np.testing.assert_allclose(folded(x), net(x), rtol=1e-5, atol=1e-5)


def test_lrp_through_folded_batchnorm_matches_rule_on_affine_map_for_pass_free_rules():
    """LRP-0 on Dense+BN (z-rule on the affine BN, captum/iNNvestigate style) differs from LRP-0 on the folded layer
    only by where the bias absorbs; with zero BN shift and zero Dense bias both are exact and equal."""
    W = rng.normal(size=(4, 6))
    norm = lr.BatchNorm(np.zeros(4), np.ones(4) - 1e-5, rng.uniform(0.5, 2, 4), np.zeros(4))
    net = lr.Sequential([lr.Dense(W), norm])
    x = rng.normal(size=(2, 6))
    R = rng.normal(size=(2, 4))
    unfolded = lr.explain(net, x, target=R, rule=lr.LRP0()).relevance
    folded = lr.explain(lr.fold_batchnorm(net), x, target=R, rule=lr.LRP0()).relevance
    np.testing.assert_allclose(unfolded, folded, rtol=1e-12)


def _dense_then_batchnorm_then_dense():
    """Dense(2→2) → BatchNorm(eps=0.25) → Dense(2→1): the first BatchNorm folds into the layer before it, and could
    also fold into the one after it only if it did not follow a Dense."""
    bn = lr.BatchNorm([1.0, -1.0], [0.75, 3.75], [2.0, 1.0], [0.5, 0.0], eps=0.25)   # k = (2, 0.5), t = (-1.5, 0.5)
    return lr.Sequential([lr.Dense([[1.0, 0.0], [0.0, 2.0]], [0.0, 1.0]), bn, lr.Dense([[1.0, 1.0]])])


def test_residue_keeps_the_node_as_identity_or_as_zennits_one_over_root_one_plus_eps():
    net, x = _dense_then_batchnorm_then_dense(), np.array([[1.0, 2.0]])
    # by hand: z = (1, 5), BN: 2·1 − 1.5 = 0.5 and 0.5·5 + 0.5 = 3, sum 3.5
    assert net(x).item() == pytest.approx(3.5)
    for residue, expected in ((None, 3.5), ("identity", 3.5), ("zennit", 3.5 / np.sqrt(1.25))):
        folded = lr.fold_batchnorm(net, residue=residue)
        assert len(folded) == (2 if residue is None else 3)
        assert folded(x).item() == pytest.approx(expected, rel=1e-15)
    kept = lr.fold_batchnorm(net, residue="zennit")[1]
    np.testing.assert_array_equal(kept.mean, [0, 0])
    np.testing.assert_array_equal(kept.var, [1, 1])
    assert kept.eps == 0.25
    with pytest.raises(ValueError, match="residue must be one of"):
        lr.fold_batchnorm(net, residue="zenit")


def test_into_preceding_leaves_a_batchnorm_that_only_precedes_a_layer():
    bn = lr.BatchNorm([1.0], [3.0], eps=1.0)        # k = 1/2, t = -1/2, before a Dense: folds only "either"
    net = lr.Sequential([lr.ReLU(), bn, lr.Dense([[4.0]], [1.0])])
    x = np.array([[3.0]])
    assert lr.fold_batchnorm(net)(x).item() == pytest.approx(4 * (1.5 - 0.5) + 1)
    assert len(lr.fold_batchnorm(net)) == 2
    with pytest.raises(ValueError, match="cannot be folded exactly"):
        lr.fold_batchnorm(net, into="preceding")
    assert isinstance(lr.fold_batchnorm(net, keep_unfoldable=True, into="preceding")[1], lr.BatchNorm)
    with pytest.raises(ValueError, match="into must be"):
        lr.fold_batchnorm(net, into="after")


def test_zennits_merge_passes_relevance_through_the_residue():
    net, x = _dense_then_batchnorm_then_dense(), np.array([[1.0, 2.0]])
    for quirks in (False, True):
        merged = lr.presets.zennit.merge_batchnorm(net, quirks=quirks)
        ex = lr.explain(merged, x, target=0, rule=lr.presets.zennit.LayerMap(lr.presets.zennit.Epsilon(0.0)))
        scale = 1 / np.sqrt(1.25) if quirks else 1.0
        # folded Dense: W' = diag(2, .5) W = [[2, 0], [0, 1]], b' = (2·0 − 1.5, .5·1 + .5) = (−1.5, 1), z' = (.5, 3)
        np.testing.assert_allclose(ex.layers[1].relevance_in, [[0.5 * scale, 3.0 * scale]], rtol=1e-15)
        np.testing.assert_allclose(ex.relevance, [[1 * 2 / 0.5 * 0.5 * scale, 2 * 1 / 3 * 3.0 * scale]], rtol=1e-15)
