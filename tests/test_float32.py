"""float32 networks explain in float32 throughout and agree with the float64 computation to float32 precision."""

import numpy as np
import pytest

import lrpref as lr

rng = np.random.default_rng(8)


def cnn(dtype):
    weights = np.random.default_rng(0)
    return lr.Sequential([
        lr.Conv2d(weights.normal(size=(4, 3, 3, 3)), weights.normal(size=4) * 0.1, padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(weights.normal(size=(4, 4, 3, 3)), weights.normal(size=4) * 0.1, padding=1), lr.ReLU(),
        lr.AdaptiveAvgPool2d(2), lr.Flatten(), lr.Dense(weights.normal(size=(3, 16)), weights.normal(size=3) * 0.1),
    ]).astype(dtype)


@pytest.mark.parametrize("rule", [lr.Epsilon(0.1), lr.presets.EpsilonGammaBox(-3, 3), lr.presets.EpsilonAlpha2Beta1Flat(),
                                  lr.presets.Montavon2019(-3, 3)], ids=lambda r: r.describe())
@pytest.mark.parametrize("path", ["fast", "explicit"])
def test_float32_matches_float64(rule, path):
    x64 = np.clip(rng.normal(size=(2, 3, 8, 8)), -3, 3)
    ex64 = lr.explain(cnn(np.float64), x64, target=[0, 1], rule=rule, path=path)
    ex32 = lr.explain(cnn(np.float32), x64.astype(np.float32), target=[0, 1], rule=rule, path=path)
    assert ex32.relevance.dtype == np.float32 and ex32.output.dtype == np.float32
    for record in ex32.layers:
        assert record.relevance_in.dtype == np.float32
        assert all(a.dtype == np.float32 for a in (record.absorbed.bias, record.absorbed.stabiliser, record.absorbed.dropped))
    scale = np.abs(ex64.relevance).max()
    np.testing.assert_allclose(ex32.relevance, ex64.relevance, rtol=0, atol=1e-4 * scale)
    assert ex32.conservation.max_residual() <= 1e-4 * np.abs(ex64.top).max()


def test_astype_round_trip():
    net = cnn(np.float64)
    assert net.astype(np.float32).dtype == np.float32
    assert net.astype(np.float32).astype(np.float64).dtype == np.float64
