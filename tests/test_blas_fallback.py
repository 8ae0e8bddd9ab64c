"""The fast path's BLAS fallback (issue 12): when NumPy's own OpenBLAS cannot be located — NumPy built
against MKL or Accelerate, or threadpoolctl reporting no OpenBLAS — lrpref calls SciPy's BLAS
(``scipy.linalg.cython_blas``) instead. The fallback is taken, and every result equals the
primary library's to round-off."""

import numpy as np
import pytest
import threadpoolctl

import lrpref as lr
from lrpref._fast import blas as _blas

rng = np.random.default_rng(21)
CNN = lr.Sequential([lr.Conv2d(rng.normal(size=(6, 3, 3, 3)), rng.normal(size=6) * 0.1, padding=1), lr.ReLU(),
                     lr.Conv2d(rng.normal(size=(4, 6, 3, 3)), rng.normal(size=4) * 0.1, stride=2), lr.ReLU(),
                     lr.MaxPool2d(2), lr.Flatten(), lr.Dense(rng.normal(size=(5, 16)), rng.normal(size=5) * 0.1)])
MLP = lr.Sequential([lr.Dense(rng.normal(size=(16, 8)), rng.normal(size=16)), lr.ReLU(), lr.Dense(rng.normal(size=(3, 16)))])
CASES = [(CNN, (3, 9, 9), 4), (CNN, (3, 9, 9), 1), (MLP, (8,), 5), (MLP, (8,), 1)]   # batch 1: the gemv branch
SETTINGS = [dict(rule=lr.Epsilon(0.1)), dict(rule=lr.AlphaBeta(2, 1)), dict(method="gradient"),
            dict(method="deeplift"), dict(method="ig", steps=8)]


def results(dtype):
    out = []
    for net, shape, batch in CASES:
        net = net.astype(dtype)
        x = np.random.default_rng(batch).uniform(-1, 1, size=(batch, *shape)).astype(dtype)
        out += [(net(x), lr.explain(net, x, target=0, **settings).relevance) for settings in SETTINGS]
    return out


@pytest.fixture
def without_numpys_openblas(monkeypatch):
    """threadpoolctl finds no OpenBLAS (what it reports under MKL or Accelerate); the choice is made again."""
    assert _blas.library() is not None          # the primary library, chosen before the patch
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [])
    monkeypatch.setattr(_blas, "_library", None)
    calls = {"gemm": 0, "gemv": 0}
    fallback = _blas._scipy_library()

    def counted(kind, function):
        def call(*args):
            calls[kind] += 1
            return function(*args)
        return call

    counting = _blas.Library(fallback.name, fallback.integer,
                             {dtype: counted("gemm", f) for dtype, f in fallback.gemm.items()},
                             {dtype: counted("gemv", f) for dtype, f in fallback.gemv.items()})
    monkeypatch.setattr(_blas, "_scipy_library", lambda: counting)
    yield calls


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_the_fallback_is_taken_and_agrees_to_round_off(request, dtype, rtol):
    primary = _blas.library().name
    expected = results(dtype)
    calls = request.getfixturevalue("without_numpys_openblas")
    assert _blas._numpy_library() is None
    assert _blas.library().name == "scipy.linalg.cython_blas" != primary
    fallback = results(dtype)
    assert calls["gemm"] > 0 and calls["gemv"] > 0, calls      # every product went through SciPy's BLAS
    for (output, relevance), (output_b, relevance_b) in zip(expected, fallback):
        np.testing.assert_allclose(output_b, output, rtol=rtol, atol=rtol * np.abs(output).max())
        np.testing.assert_allclose(relevance_b, relevance, rtol=rtol, atol=rtol * np.abs(relevance).max())
        assert relevance_b.dtype == dtype


def test_a_direct_product_through_the_fallback(without_numpys_openblas):
    A, B = rng.normal(size=(7, 5)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(_blas.matmul(A, B), A @ B, rtol=1e-13)
    np.testing.assert_allclose(_blas.matmul(A[:1], B.T.copy().T), A[:1] @ B, rtol=1e-13)
    assert without_numpys_openblas["gemm"] == 1 and without_numpys_openblas["gemv"] == 1
