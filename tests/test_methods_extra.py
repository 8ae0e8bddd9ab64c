"""Methods beyond the spec's worked numbers: bad input, CAM and heatmap values computed independently,
batches, float32, aliases."""

import numpy as np
import pytest
from optional import require
from hypothesis import given
from hypothesis import strategies as st

import lrpref as lr
from lrpref import heatmaps
from lrpref.methods import ALIASES, METHODS

rng = np.random.default_rng(0)
CNN = lr.Sequential([lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4) * 0.1, padding=1), lr.ReLU(),
                     lr.MaxPool2d(2), lr.Conv2d(rng.normal(size=(3, 4, 3, 3)) * 0.5, rng.normal(size=3) * 0.1, padding=1),
                     lr.ReLU(), lr.Flatten(), lr.Dense(rng.normal(size=(3, 3 * 4 * 4)) * 0.3, np.zeros(3))])
X = rng.normal(size=(3, 2, 8, 8))
OPTIONS = {"grad-cam": {"layer": 4}, "layer-cam": {"layer": 4}, "score-cam": {"layer": 4},
           "smoothgrad": {"random_state": 0}}


def run(method, net=CNN, x=X, **kw):
    if method in ("sg-lrp-zp", "clrp"):
        x = np.abs(x)  # the z⁺ rule (DTD) is defined for non-negative inputs
    return lr.explain(net, x, target=1, method=method, **OPTIONS.get(method, {}), **kw)


@pytest.mark.parametrize("kw, error, match", [
    (dict(method="deeplift", reference=np.zeros((3, 8, 8))), ValueError, r"reference of shape \(3, 8, 8\) does not broadcast"),
    (dict(method="ig", reference=np.zeros((5, 2, 8, 8))), ValueError, "does not broadcast"),
    (dict(method="deeplift", reference=np.full((2, 8, 8), np.nan)), ValueError, "non-finite"),
    (dict(method="deeplift", reference="blurry"), ValueError, "unknown reference"),
    (dict(method="ig", steps=0), ValueError, "steps must be an integer >= 1"),
    (dict(method="lid-ig", steps=2.5), ValueError, "steps must be an integer >= 1"),
    (dict(method="sig-lid-ig", steps=-3), ValueError, "steps must be an integer >= 1"),
    (dict(method="deeplift", target=3), ValueError, "target 3 is out of range"),
    (dict(method="ig", target=-1), ValueError, "target -1 is out of range"),
    (dict(method="sig-lid-ig", target=[0, 5, 1]), ValueError, "target 5 is out of range"),
    (dict(method="grad-cam", layer=6), ValueError, "a CAM needs a spatial layer: layer 6"),
    (dict(method="layer-cam", layer=5), ValueError, r"a CAM needs a spatial layer: layer 5 \(Flatten"),
    (dict(method="score-cam", layer=99), IndexError, "layer 99 out of range"),
    (dict(method="grad-cam"), ValueError, "needs layer="),
    (dict(method="score-cam", layer=1, convention="bogus"), ValueError, "convention must be one of"),
    (dict(method="smoothgrad", noise=-1), ValueError, "noise must be a number >= 0"),
    (dict(method="deeplift", bogus=1), TypeError, r"takes no option\(s\) \['bogus'\]"),
    (dict(method="clrp", clrp="nope"), ValueError, "clrp must be 'clrp1' or 'clrp2'"),
    (dict(method="ig", riemann="simpson"), ValueError, "unknown quadrature rule 'simpson'"),
    (dict(method="gradient", reference=0), ValueError, "takes no reference"),
    (dict(method="deeplift", rule=lr.Epsilon()), ValueError, "takes no rule"),
    (dict(method="deeplift", path="explicit"), ValueError, "path='explicit' is for LRP rules"),
    (dict(method="deep-lift"), ValueError, "unknown method 'deep-lift'"),
])
def test_bad_input_is_a_clear_error(kw, error, match):
    with pytest.raises(error, match=match):
        lr.explain(CNN, X, **kw)


def test_cam_on_a_non_image_input():
    mlp = lr.Sequential([lr.Dense(rng.normal(size=(3, 4)), np.zeros(3))])
    with pytest.raises(ValueError, match="needs images"):
        lr.explain(mlp, rng.normal(size=(2, 4)), method="grad-cam", layer=0)


def test_aliases_are_the_methods():
    for alias, name in ALIASES.items():
        a, b = run(alias), run(name)
        np.testing.assert_array_equal(a.relevance, b.relevance)
    np.testing.assert_allclose(run("sensitivity").relevance, run("gradient-x-input").relevance ** 2 / X ** 2, rtol=1e-10)


# --- CAMs, computed here straight from their definitions (spec §8) on a conv → ReLU → flatten → dense net,
#     where ∂y^c/∂A is the dense row W_c reshaped to A's shape.

def _conv_dense():
    W = rng.normal(size=(3, 4 * 8 * 8))
    net = lr.Sequential([lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), padding=1), lr.ReLU(),
                         lr.Flatten(), lr.Dense(W, rng.normal(size=3))])
    return net, W.reshape(3, 4, 8, 8)


def test_grad_cam_and_layer_cam_from_the_definitions():
    net, W = _conv_dense()
    A = net.record(X)[2]
    c = 2
    alpha = W[c].mean(axis=(1, 2))
    grad_cam = np.maximum(np.einsum("k,nkhw->nhw", alpha, A), 0)
    layer_cam = np.einsum("khw,nkhw->nhw", np.maximum(W[c], 0), A)
    np.testing.assert_allclose(lr.explain(net, X, target=c, method="grad-cam", layer=1).relevance[:, 0], grad_cam, rtol=1e-12)
    np.testing.assert_allclose(lr.explain(net, X, target=c, method="layer-cam", layer=1).relevance[:, 0],
                               np.maximum(layer_cam, 0), rtol=1e-12)
    np.testing.assert_allclose(lr.explain(net, X, target=c, method="layer-cam", layer=1, outer_relu=False).relevance[:, 0],
                               layer_cam, rtol=1e-12)


def test_score_cam_conventions_from_the_definitions():
    net, _ = _conv_dense()
    A = net.record(X)[2]  # at the input's resolution: the masks are A itself, min–max scaled per channel
    c = 0
    for n in range(len(X)):
        masks = np.stack([(a - a.min()) / (a.max() - a.min()) if a.max() > a.min() else np.zeros_like(a) for a in A[n]])
        logits = np.stack([net(X[n:n + 1] * m)[0] for m in masks])  # (K, classes)
        baseline = net(np.zeros_like(X[:1]))[0, c]

        def softmax(v):
            e = np.exp(v - v.max())
            return e / e.sum()

        paper = np.maximum(np.einsum("k,khw->hw", softmax(logits[:, c] - baseline), A[n]), 0)
        grad_cam_lib = np.maximum(np.einsum("k,khw->hw", softmax(logits[:, c]), A[n]), 0)
        official = np.maximum(np.einsum("k,khw->hw", np.array([softmax(row)[c] for row in logits]), A[n]), 0)
        official = (official - official.min()) / (official.max() - official.min())
        for convention, expected in (("paper", paper), ("pytorch-grad-cam", grad_cam_lib), ("official", official)):
            got = lr.explain(net, X, target=c, method="score-cam", layer=1, convention=convention).relevance[n, 0]
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=convention)


# --- heatmaps (spec §13)

def test_upsample_by_hand():
    """[[0, 1], [2, 3]] to 4×4 with align_corners=False: each axis interpolates at 0, .25, .75, 1 of the way."""
    r = np.array([0, 0.25, 0.75, 1])
    expected = 2 * r[:, None] + r[None, :]
    np.testing.assert_allclose(heatmaps.upsample(np.array([[[0.0, 1], [2, 3]]]), (4, 4))[0], expected, rtol=1e-15)


@pytest.mark.parametrize("size_in, size_out", [((3, 5), (8, 8)), ((7, 7), (224, 224)), ((4, 6), (5, 3)), ((1, 1), (3, 2))])
def test_upsample_matches_pytorch(size_in, size_out):
    torch = require("torch")
    maps = rng.normal(size=(2, 3) + size_in)
    ours = heatmaps.upsample(maps, size_out)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(maps), size=size_out, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-14)


@given(h=st.integers(1, 6), w=st.integers(1, 6), factor=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_mass_normalisation_keeps_the_total_at_factor_two(h, w, factor, seed):
    """Bilinear (align_corners=False) at an integer factor ≤ 2 spreads every source pixel over factor² pixels of
    total weight factor², so ``norm="mass"`` keeps each stage's total relevance."""
    small = np.random.default_rng(seed).normal(size=(2, h, w))
    big = heatmaps.upsample(small, (factor * h, factor * w)) / factor**2
    np.testing.assert_allclose(big.sum((1, 2)), small.sum((1, 2)), rtol=1e-12, atol=1e-12)


def test_stage_and_multiscale():
    ex = lr.explain(CNN, X, target=1, rule=lr.Epsilon(1e-9))
    pool = heatmaps.stage(ex, 2)  # the max-pool's output relevance, channel-summed
    np.testing.assert_allclose(pool, ex.layers[3].relevance_in.sum(1), rtol=1e-15)
    total = heatmaps.multiscale(ex, [2, 4], norm="mass")
    expected = heatmaps.upsample(pool, (8, 8)) / 4 + heatmaps.upsample(heatmaps.stage(ex, 4), (8, 8)) / 4
    np.testing.assert_allclose(total, expected, rtol=1e-13)
    np.testing.assert_allclose(total.sum((1, 2)), pool.sum((1, 2)) + heatmaps.stage(ex, 4).sum((1, 2)), rtol=1e-10)
    maxabs = heatmaps.multiscale(ex, [2], norm="maxabs")
    np.testing.assert_allclose(np.abs(maxabs).max((1, 2)), 1)
    with pytest.raises(ValueError, match="not a spatial"):
        heatmaps.stage(ex, 5)
    with pytest.raises(ValueError, match="norm must be"):
        heatmaps.multiscale(ex, [2], norm="sum")


# --- every method: batched = one sample at a time, float32 ≈ float64

MLP = lr.Sequential([lr.Dense(rng.normal(size=(6, 5)), rng.normal(size=6) * 0.1), lr.Sigmoid(),
                     lr.Dense(rng.normal(size=(5, 6)), rng.normal(size=5) * 0.1), lr.ReLU(),
                     lr.Dense(rng.normal(size=(3, 5)), np.zeros(3))])
X_MLP = rng.normal(size=(3, 5))
CASES = [(m, "cnn") for m in METHODS] + [(m, "mlp") for m in METHODS if not m.endswith("cam")]
NETWORKS = {"cnn": (CNN, X), "mlp": (MLP, X_MLP)}


@pytest.mark.parametrize("method, kind", [c for c in CASES if c[0] != "smoothgrad"])  # SmoothGrad draws noise per batch
def test_a_batch_is_its_samples(method, kind):
    net, x = NETWORKS[kind]
    whole = run(method, net=net, x=x)
    for n in range(len(x)):
        one = run(method, net=net, x=x[n:n + 1])
        np.testing.assert_allclose(whole.relevance[n], one.relevance[0], rtol=1e-12, atol=1e-13 * np.abs(whole.relevance).max())


@pytest.mark.parametrize("method, kind", CASES)
def test_float32_follows_float64(method, kind):
    net, x = NETWORKS[kind]
    net32, x32 = net.astype(np.float32), x.astype(np.float32)
    r64 = run(method, net=net, x=x).relevance
    ex32 = run(method, net=net32, x=x32)
    assert ex32.relevance.dtype == np.float32 and ex32.output.dtype == np.float32
    np.testing.assert_allclose(ex32.relevance, r64, rtol=0, atol=2e-4 * np.abs(r64).max())


@given(seed=st.integers(0, 2**16), n=st.integers(1, 30), riemann=st.sampled_from(["right", "left", "midpoint", "trapezoid",
                                                                                    "gauss-legendre"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_relu_path_derivative_is_the_point_by_point_average_bit_for_bit(seed, n, riemann, dtype):
    """The one-pass ReLU kernel gives exactly ``sum_k w_k ReLU'(x̂ + t_k Δx)``, also where a point hits 0."""
    r = np.random.default_rng(seed)
    x_ref = r.integers(-4, 5, size=(1, 50)).astype(dtype) / 4  # quarter steps: many points land exactly on 0
    dx = r.integers(-8, 9, size=(3, 50)).astype(dtype) / 8
    ts, weights = lr.paths.quadrature(n, riemann)
    fast = lr.ReLU().path_derivative(x_ref, dx, ts, weights)
    generic = lr.layers.ElementWise.path_derivative(lr.ReLU(), x_ref, dx, ts, weights)
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, generic)


def test_a_shared_reference_is_pushed_through_once():
    net = CNN
    ref = np.full((1, 2, 8, 8), 0.25)
    first = net.record_reference(ref)
    assert all(a is b for a, b in zip(first, net.record_reference(ref.copy())))  # same values: remembered
    for a, b in zip(first, net.record(ref)):
        np.testing.assert_array_equal(a, b)
    assert ref.flags.writeable and not first[3].flags.writeable
    ref[0, 0, 0, 0] = 1.0  # new values: a new record
    second = net.record_reference(ref)
    assert second[0][0, 0, 0, 0] == 1.0 and first[0][0, 0, 0, 0] == 0.25
    per_sample = np.zeros((3, 2, 8, 8))
    assert net.record_reference(per_sample)[0].shape == (3, 2, 8, 8)  # one per sample: not remembered
    a = lr.explain(net, X, target=1, method="deeplift", reference=0.25)
    b = lr.explain(net, X, target=1, method="deeplift", reference=0.25)
    np.testing.assert_array_equal(a.relevance, b.relevance)
