"""Caches on layers are bounded: a sweep over many rule parameters does not keep every modified weight for good."""

import numpy as np

import lrpref as lr


def test_a_gamma_sweep_keeps_a_bounded_number_of_modified_weights():
    rng = np.random.default_rng(0)
    conv = lr.Conv2d(rng.normal(size=(8, 8, 3, 3)), rng.normal(size=8), padding=1)   # shifted-view GEMM path (8 channels)
    strided = lr.Conv2d(rng.normal(size=(4, 8, 3, 3)), rng.normal(size=4), stride=2)  # im2col path
    dense = lr.Dense(rng.normal(size=(3, 4 * 3 * 3)), rng.normal(size=3))
    net = lr.Sequential([conv, lr.ReLU(), strided, lr.ReLU(), lr.Flatten(), dense])
    x = rng.uniform(size=(2, 8, 8, 8))
    for gamma in np.linspace(0.01, 2.0, 60):
        lr.explain(net, x, rule=lr.Gamma(float(gamma)))
    for layer in (conv, strided, dense):
        assert len(layer._modified) <= layer._modified.size
    assert len(conv._fast._operands) <= conv._fast._operands.size and len(strided._fast._operands) <= strided._fast._operands.size
    # the values are still right after evictions: the last gamma again, from a fresh copy of the network
    fresh = lr.Sequential([lr.Conv2d(conv.W, conv.bias, padding=1), lr.ReLU(), lr.Conv2d(strided.W, strided.bias, stride=2),
                           lr.ReLU(), lr.Flatten(), lr.Dense(dense.W, dense.bias)])
    np.testing.assert_array_equal(lr.explain(net, x, rule=lr.Gamma(0.5)).relevance,
                                  lr.explain(fresh, x, rule=lr.Gamma(0.5)).relevance)
