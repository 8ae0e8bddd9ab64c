"""Layers against independent reference implementations (plain loops written here), in both dtypes.

Checks forward passes, vector-Jacobian products (against finite differences and the explicit
matrix), and the explicit matrices (spec identity 9: the unrolled conv equals the direct conv).
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

import lrpref as lr
from lrpref.layers import window_taps

rng = np.random.default_rng(0)


def naive_conv(x, W, b, stride, padding, dilation, groups):
    """Cross-correlation by explicit loops (PyTorch semantics)."""
    n, c, h, w = x.shape
    o, cg, kh, kw = W.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, ho, wo))
    og = o // groups
    for k, oc, p, q in itertools.product(range(n), range(o), range(ho), range(wo)):
        g = oc // og
        for cl, u, v in itertools.product(range(cg), range(kh), range(kw)):
            y[k, oc, p, q] += W[oc, cl, u, v] * xp[k, g * cg + cl, p * sh + u * dh, q * sw + v * dw]
        y[k, oc, p, q] += 0 if b is None else b[oc]
    return y


def naive_pool(x, kernel, stride, padding, dilation, reduce):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, c, ho, wo))
    for k, ch, p, q in itertools.product(range(n), range(c), range(ho), range(wo)):
        window = [x[k, ch, i, j] if 0 <= i < h and 0 <= j < w else None
                  for i in range(p * sh - ph, p * sh - ph + dh * kh, dh)
                  for j in range(q * sw - pw, q * sw - pw + dw * kw, dw)]
        y[k, ch, p, q] = reduce(window)
    return y


CONV_CASES = [
    dict(c=2, o=3, k=(3, 3), stride=1, padding=0, dilation=1, groups=1, hw=(6, 5)),
    dict(c=2, o=4, k=(3, 2), stride=2, padding=1, dilation=1, groups=2, hw=(7, 6)),
    dict(c=3, o=2, k=(2, 3), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1, hw=(6, 7)),
    dict(c=4, o=4, k=(3, 3), stride=1, padding=1, dilation=1, groups=4, hw=(5, 5)),
    dict(c=3, o=5, k=(1, 1), stride=1, padding=0, dilation=1, groups=1, hw=(4, 3)),
    # stride 1 with >= 8 channels per group: the shifted-view GEMM path
    dict(c=8, o=5, k=(3, 3), stride=1, padding=1, dilation=1, groups=1, hw=(6, 5)),
    dict(c=16, o=6, k=(3, 2), stride=1, padding=(2, 0), dilation=(2, 1), groups=2, hw=(7, 6)),
    dict(c=8, o=4, k=(1, 1), stride=1, padding=0, dilation=1, groups=1, hw=(3, 4)),
    dict(c=12, o=3, k=(2, 3), stride=(1, 1), padding=(0, 1), dilation=(1, 2), groups=1, hw=(5, 7)),
]


def test_both_conv_algorithms_are_covered():
    shifted = [make_conv(case)[0]._fast._uses_shifted_views() for case in CONV_CASES]
    assert any(shifted) and not all(shifted)


def make_conv(case, bias=True, dtype=np.float64):
    W = rng.normal(size=(case["o"], case["c"] // case["groups"], *case["k"]))
    b = rng.normal(size=case["o"]) if bias else None
    layer = lr.Conv2d(W, b, case["stride"], case["padding"], case["dilation"], case["groups"], dtype=dtype)
    x = rng.normal(size=(2, case["c"], *case["hw"])).astype(dtype)
    return layer, x


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_forward_matches_loops(case, bias):
    layer, x = make_conv(case, bias)
    expected = naive_conv(x, layer.W, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_unrolled_matrix_equals_direct(case):
    """Spec identity 9 (forward): W_u @ x + b_u = conv(x)."""
    layer, x = make_conv(case)
    in_shape = x.shape[1:]
    out_shape = layer.output_shape(in_shape)
    M = layer.matrix(in_shape)
    assert sp.issparse(M) and M.shape == (np.prod(out_shape), np.prod(in_shape))
    for n in range(x.shape[0]):
        y = M @ x[n].ravel() + layer.bias_vector(out_shape, layer.bias)
        np.testing.assert_allclose(y, layer.forward(x)[n].ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_transpose_is_adjoint(case):
    """<W x, g> = <x, W^T g> for the fast operators, and W^T g equals the explicit matrix transpose."""
    layer, x = make_conv(case, bias=False)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    back = layer.apply_transpose(g, x.shape[1:])
    assert np.sum(y * g) == pytest.approx(np.sum(x * back), rel=1e-12)
    M = layer.matrix(x.shape[1:])
    np.testing.assert_allclose(back[0].ravel(), M.T @ g[0].ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_float32_stays_float32(case):
    layer, x = make_conv(case, dtype=np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.apply_transpose(y, x.shape[1:]).dtype == np.float32
    expected = naive_conv(x.astype(np.float64), layer.W.astype(np.float64), layer.bias.astype(np.float64),
                          layer.stride, layer.padding, layer.dilation, layer.groups)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_conv_large_batch_is_chunked(monkeypatch):
    """The im2col buffer limit splits the batch without changing the result."""
    layer, x = make_conv(CONV_CASES[1])
    x = np.concatenate([x] * 3)
    full = layer.forward(x)
    g = rng.normal(size=full.shape)
    back = layer.apply_transpose(g, x.shape[1:])
    monkeypatch.setattr("lrpref._fast.conv.COLUMN_BUFFER_BYTES", 1)
    np.testing.assert_allclose(layer.forward(x), full, rtol=1e-14)
    np.testing.assert_allclose(layer.apply_transpose(g, x.shape[1:]), back, rtol=1e-14)


POOL_CASES = [
    dict(kernel=2, stride=None, padding=0, dilation=1, hw=(6, 6)),
    dict(kernel=3, stride=2, padding=1, dilation=1, hw=(7, 5)),
    dict(kernel=(2, 3), stride=(1, 2), padding=(1, 1), dilation=1, hw=(5, 6)),
    dict(kernel=3, stride=1, padding=1, dilation=2, hw=(6, 6)),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_forward_and_gradient(case):
    pool = lr.MaxPool2d(case["kernel"], case["stride"], case["padding"], case["dilation"])
    x = rng.normal(size=(2, 3, *case["hw"]))
    stride = case["kernel"] if case["stride"] is None else case["stride"]
    expected = naive_pool(x, _pair(case["kernel"]), _pair(stride), _pair(case["padding"]), _pair(case["dilation"]),
                          lambda w: max(v for v in w if v is not None))
    y = pool.forward(x)
    np.testing.assert_array_equal(y, expected)
    g = rng.normal(size=y.shape)
    # gradient by finite differences (no ties with continuous random inputs)
    numeric = np.zeros_like(x)
    h = 1e-6
    for idx in itertools.product(*map(range, x.shape)):
        e = np.zeros_like(x)
        e[idx] = h
        numeric[idx] = np.sum(g * (pool.forward(x + e) - pool.forward(x - e))) / (2 * h)
    np.testing.assert_allclose(pool.vjp(x, g), numeric, atol=1e-6)
    np.testing.assert_allclose(pool.vjp(x, g)[1].ravel(), pool.jacobian(x[1]).T @ g[1].ravel(), atol=1e-12)


def test_maxpool_ties_first_index_and_split():
    x = np.array([[3.0, 3.0], [1.0, 0.0]]).reshape(1, 1, 2, 2)
    pool = lr.MaxPool2d(2)
    np.testing.assert_array_equal(pool.vjp(x, np.array([[[[3.0]]]])).ravel(), [3, 0, 0, 0])
    np.testing.assert_array_equal(pool.route(x, np.array([[[[3.0]]]]), "split").ravel(), [1.5, 1.5, 0, 0])
    np.testing.assert_array_equal(pool.selection_matrix(x[0], "split").toarray(), [[0.5, 0.5, 0, 0]])


@pytest.mark.parametrize("case", POOL_CASES[:3])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool_forward(case, count_include_pad):
    pool = lr.AvgPool2d(case["kernel"], case["stride"], case["padding"], count_include_pad)
    x = rng.normal(size=(2, 3, *case["hw"]))
    k = np.prod(_pair(case["kernel"]))
    stride = case["kernel"] if case["stride"] is None else case["stride"]
    reduce = (lambda w: sum(v for v in w if v is not None) / k) if count_include_pad else \
        (lambda w: np.mean([v for v in w if v is not None]))
    expected = naive_pool(x, _pair(case["kernel"]), _pair(stride), _pair(case["padding"]), (1, 1), reduce)
    np.testing.assert_allclose(pool.forward(x), expected, rtol=1e-12)
    g = rng.normal(size=expected.shape)
    assert np.sum(pool.forward(x) * g) == pytest.approx(np.sum(x * pool.vjp(x, g)), rel=1e-12)


@pytest.mark.parametrize("hw, out", [((7, 5), (3, 2)), ((6, 6), (3, 3)), ((4, 4), (4, 4)), ((5, 7), (1, 1))])
def test_adaptive_avgpool_forward(hw, out):
    pool = lr.AdaptiveAvgPool2d(out)
    x = rng.normal(size=(2, 3, *hw))
    expected = np.zeros((2, 3, *out))
    for i, j in itertools.product(range(out[0]), range(out[1])):
        r0, r1 = (i * hw[0]) // out[0], -((-(i + 1) * hw[0]) // out[0])
        c0, c1 = (j * hw[1]) // out[1], -((-(j + 1) * hw[1]) // out[1])
        expected[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    np.testing.assert_allclose(pool.forward(x), expected, rtol=1e-12)


def test_adaptive_pool_float32():
    x = rng.normal(size=(1, 2, 6, 6)).astype(np.float32)
    assert lr.AdaptiveAvgPool2d(3).forward(x).dtype == np.float32


@pytest.mark.parametrize("layer", [lr.ReLU(), lr.LeakyReLU(0.1), lr.Tanh(), lr.Sigmoid(), lr.Identity(), lr.Dropout(0.3)],
                         ids=lambda layer: layer.describe())
def test_elementwise_gradient(layer):
    x = rng.normal(size=(3, 5))
    g = rng.normal(size=x.shape)
    h = 1e-6
    numeric = g * (layer.forward(x + h) - layer.forward(x - h)) / (2 * h)
    np.testing.assert_allclose(layer.vjp(x, g), numeric, rtol=1e-6, atol=1e-8)


def test_sigmoid_is_accurate_far_out():
    np.testing.assert_allclose(lr.Sigmoid().forward(np.array([[-40.0, 40.0]])), [[1 / (1 + np.exp(40)), 1 / (1 + np.exp(-40))]], rtol=1e-14)


def test_relu_derivative_at_zero_is_zero():
    assert lr.ReLU().derivative(np.array([0.0])) == 0.0


def test_batchnorm_forward_and_matrix():
    mean, var, gamma, beta = rng.normal(size=3), rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3)
    bn = lr.BatchNorm(mean, var, gamma, beta, eps=1e-3)
    x = rng.normal(size=(2, 3, 4, 4))
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3) * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(bn.forward(x), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.matrix(x.shape[1:]) @ x[0].ravel() + bn.bias_vector(x.shape[1:], bn.bias),
                               expected[0].ravel(), rtol=1e-12)
    x2 = rng.normal(size=(4, 3))
    np.testing.assert_allclose(bn.forward(x2), (x2 - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-12)


def test_window_taps_geometry():
    """Spec §11: output p reads input p*s + u*d - pad; padding taps are -1."""
    ho, wo, out_pos, in_pos, tap = window_taps(3, 3, (2, 2), (1, 1), (1, 1), (1, 1))
    assert (ho, wo) == (4, 4)
    assert list(in_pos[:4]) == [-1, -1, -1, 0]  # output (0,0) reads (-1,-1), (-1,0), (0,-1), (0,0)
    assert list(tap[:4]) == [0, 1, 2, 3]


def test_flatten_and_dense():
    x = rng.normal(size=(2, 3, 2, 2))
    W, b = rng.normal(size=(4, 12)), rng.normal(size=4)
    net = lr.Sequential([lr.Flatten(), lr.Dense(W, b)])
    np.testing.assert_allclose(net(x), x.reshape(2, -1) @ W.T + b)
    np.testing.assert_allclose(net.gradient(x, np.ones((2, 4))), np.broadcast_to(W.sum(0).reshape(3, 2, 2), x.shape))


def test_parameters_are_read_only_copies():
    W = np.ones((2, 3))
    layer = lr.Dense(W, np.zeros(2))
    W[0, 0] = 5
    assert layer.W[0, 0] == 1
    with pytest.raises(ValueError):
        layer.W[0, 0] = 2


@pytest.mark.parametrize("out_channels", [1, 2])
def test_shifted_conv_with_one_output_channel_per_group(out_channels):
    """Tap matrices with a single row or column (strides of length-1 axes are arbitrary in NumPy)."""
    layer = lr.Conv2d(rng.normal(size=(out_channels, 8, 3, 3)), None, padding=1, groups=out_channels // out_channels)
    x = rng.normal(size=(2, 8, 5, 4))
    expected = naive_conv(x, layer.W, None, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    g = rng.normal(size=expected.shape)
    np.testing.assert_allclose(layer.apply_transpose(g, x.shape[1:])[0].ravel(), layer.matrix(x.shape[1:]).T @ g[0].ravel(), atol=1e-12)


@pytest.fixture(params=["default", "scipy"])
def blas(request, monkeypatch):
    """Run a test with the BLAS lrpref picks (NumPy's when found) and with SciPy's fallback."""
    from lrpref._fast import blas as _blas

    if request.param == "scipy":
        monkeypatch.setattr(_blas, "_library", _blas._scipy_library())
    return _blas.library()


def test_blas_is_numpys_own_when_available():
    from lrpref._fast import blas as _blas

    assert "numpy" in _blas.library().name  # PyPI's NumPy wheels bundle OpenBLAS; lrpref finds and uses it


@pytest.mark.parametrize("case", CONV_CASES[-4:], ids=lambda c: f"{c['c']}ch-{c['k']}")
def test_conv_with_either_blas(case, blas):
    layer, x = make_conv(case)
    expected = naive_conv(x, layer.W, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_gemm_checks_and_transposed_operands(blas):
    from lrpref._fast.blas import gemm, matmul

    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    C = np.ones((3, 5))
    gemm(A, B, C, accumulate=True)
    np.testing.assert_allclose(C, 1 + A @ B)
    np.testing.assert_allclose(gemm(A, B, C), A @ B)
    np.testing.assert_allclose(matmul(B.T, A.T), (A @ B).T)                 # transposed views
    np.testing.assert_allclose(matmul(A[:, ::2], B[::2]), A[:, ::2] @ B[::2])  # neither: copied
    np.testing.assert_allclose(matmul(A[:1], B), A[:1] @ B)                  # one row: gemv
    np.testing.assert_allclose(matmul(B.T[:1], A.T), B.T[:1] @ A.T)          # one row of a transposed array
    row = np.ones((1, 5))
    gemm(B.T[1:2], B, row, accumulate=True)
    np.testing.assert_allclose(row, 1 + B.T[1:2] @ B)
    np.testing.assert_allclose(matmul(A.astype(np.float32), B.astype(np.float32)), A @ B, rtol=0, atol=1e-5 * np.abs(A @ B).max())
    with pytest.raises(ValueError, match="do not fit"):
        gemm(A, B.T, C)
    with pytest.raises(TypeError, match="all float32 or all float64"):
        gemm(A.astype(np.float32), B, C)
    with pytest.raises(ValueError, match="C must have contiguous rows"):
        gemm(A, B, np.ones((5, 3)).T)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c['c']}ch-{c['k']}")
def test_conv_results_never_alias_scratch_memory(case):
    """Outputs and gradients stay valid after later calls reuse the scratch buffers (batch 1: no transposing copy)."""
    layer, x = make_conv(case, bias=False)
    x = x[:1]
    y = layer.forward(x)
    g = layer.apply_transpose(y, x.shape[1:])
    y_copy, g_copy = y.copy(), g.copy()
    layer.forward(rng.normal(size=x.shape))
    layer.apply_transpose(rng.normal(size=y.shape), x.shape[1:])
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(g, g_copy)


def test_scratch_memory_is_reused_and_released(monkeypatch):
    from lrpref._fast import scratch as _scratch

    first = _scratch.scratch("test", (4, 5), np.float64)
    assert _scratch.scratch("test", (2, 3), np.float32).base is first.base  # the same buffer, reused
    lr.release_scratch()
    assert _scratch.scratch("test", (4, 5), np.float64).base is not first.base
    monkeypatch.setattr(lr.config, "max_scratch_bytes", 10)
    big = _scratch.scratch("big", (100,), np.float64)
    assert _scratch.scratch("big", (100,), np.float64).base is not big.base  # over the limit: not kept


@pytest.mark.parametrize("layer, shape", [
    (lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), stride=2, padding=1), (2, 7, 6)),
    (lr.Conv2d(rng.normal(size=(3, 8, 3, 3)), rng.normal(size=3), padding=1), (8, 5, 5)),
    (lr.Dense(rng.normal(size=(4, 6)), rng.normal(size=4)), (6,)),
    (lr.MaxPool2d(3, 2, 1), (2, 7, 6)), (lr.AvgPool2d(2), (2, 6, 4)), (lr.AdaptiveAvgPool2d(3), (2, 7, 5)),
    (lr.BatchNorm(rng.normal(size=2), np.ones(2), rng.normal(size=2), rng.normal(size=2)), (2, 3, 3)),
    (lr.ReLU(), (3, 4)), (lr.Tanh(), (5,)), (lr.Sigmoid(), (2, 2, 2)), (lr.LeakyReLU(0.2), (4,)), (lr.Flatten(), (2, 3, 2)),
], ids=lambda v: v.describe() if isinstance(v, lr.layers.Layer) else None)
def test_jvp_vjp_and_jacobian_agree(layer, shape):
    """<g, J v> = <J^T g, v>, both equal to the explicit Jacobian, and J v is the directional derivative."""
    x = rng.normal(size=(2, *shape))
    v = rng.normal(size=x.shape)
    y = layer.forward(x)
    g = rng.normal(size=y.shape)
    Jv, gJ = layer.jvp(x, v), layer.vjp(x, g)
    assert Jv.shape == y.shape and gJ.shape == x.shape
    assert np.sum(g * Jv) == pytest.approx(np.sum(gJ * v), rel=1e-12)
    J = layer.jacobian(x[1])
    J = J.toarray() if sp.issparse(J) else J
    np.testing.assert_allclose(Jv[1].ravel(), J @ v[1].ravel(), rtol=1e-12, atol=1e-12)
    h = 1e-6  # finite differences (no max-pool ties or ReLU kinks with continuous random inputs)
    numeric = (layer.forward(x + h * v) - layer.forward(x - h * v)) / (2 * h)
    np.testing.assert_allclose(Jv, numeric, rtol=1e-5, atol=1e-6)
