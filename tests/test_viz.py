"""lrpref.viz: figures render to PNG, colours (white zero, red positive, blue negative), symmetric limits, errors."""

import io
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

import lrpref as lr
from lrpref import bow, viz
from lrpref.datasets import digits_split, faces_split, load_bow, load_network
from lrpref.heatmaps import multiscale

WHITE, RED, BLUE = (1.0, 1.0, 1.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


def render(figure) -> np.ndarray:
    """The figure as a PNG, read back: (rows, cols, RGB) floats in [0, 1]."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return matplotlib.image.imread(buffer)[..., :3]


def full_axes(cols, rows, dpi=40):
    """Axes filling a figure of ``cols`` x ``rows`` inches, so that a (rows, cols) image has one inch per cell."""
    figure = Figure(figsize=(cols, rows), dpi=dpi)
    return figure.add_axes((0, 0, 1, 1))


def cell(picture, row, col, dpi=40):
    """Colour at the centre of cell (row, col) of an image drawn by :func:`full_axes`."""
    return tuple(picture[int((row + 0.5) * dpi), int((col + 0.5) * dpi)])


@pytest.fixture(scope="module")
def cnn_explanation():
    net, _ = load_network("digits_cnn")
    x = digits_split()[1][:3].reshape(-1, 1, 8, 8)
    return x, lr.explain(net, x, rule=lr.presets.EpsilonGammaBox(low=0.0, high=1.0))


@pytest.fixture(scope="module")
def faces_explanation():
    model, _ = load_bow("faces")
    face = faces_split()[1][0]
    return face, bow.explain(model, face, target=1)


# --------------------------------------------------------------------------- colours and limits


def test_zero_is_white_positive_red_negative_blue():
    ax = full_axes(5, 1)
    viz.heatmap(np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]]), ax)
    picture = render(ax.figure)
    assert cell(picture, 0, 0) == pytest.approx(BLUE, abs=1 / 255)
    assert cell(picture, 0, 2) == pytest.approx(WHITE, abs=1 / 255)
    assert cell(picture, 0, 4) == pytest.approx(RED, abs=1 / 255)
    # half the limit: half-saturated, "bwr" is linear from white to pure red / blue
    assert cell(picture, 0, 3) == pytest.approx((1.0, 0.5, 0.5), abs=0.01)
    assert cell(picture, 0, 1) == pytest.approx((0.5, 0.5, 1.0), abs=0.01)


def test_limits_are_symmetric():
    values = np.array([[-1.0, 0.5], [3.0, 0.0]])
    assert viz.heatmap(values).images[0].get_clim() == (-3.0, 3.0)
    assert viz.heatmap(values, limit=5).images[0].get_clim() == (-5.0, 5.0)
    median = np.median([1.0, 0.5, 3.0, 0.0])  # percentile 50 of |R|
    assert viz.heatmap(values, percentile=50).images[0].get_clim() == (-median, median)
    assert viz.symmetric_limit(np.zeros((2, 2))) == 1.0  # an all-zero map is drawn white


def test_values_beyond_the_percentile_limit_saturate():
    ax = full_axes(3, 1)
    viz.heatmap(np.array([[-100.0, 0.0, 1.0]]), ax, limit=1.0)
    picture = render(ax.figure)
    assert cell(picture, 0, 0) == pytest.approx(BLUE, abs=1 / 255)
    assert cell(picture, 0, 2) == pytest.approx(RED, abs=1 / 255)


@settings(max_examples=30)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=st.floats(-1e6, 1e6, allow_subnormal=False)))
def test_sign_decides_the_colour(values):
    shown = viz.heatmap(values).images[0]
    low, high = shown.get_clim()
    limit = np.abs(values).max() or 1.0
    assert (low, high) == (-limit, limit)
    rgba = shown.to_rgba(values, norm=True)
    strong = np.abs(values) > limit / 64
    red, blue = rgba[..., 0], rgba[..., 2]
    assert np.all(red[strong & (values > 0)] == 1.0) and np.all(blue[strong & (values > 0)] < 1.0)
    assert np.all(blue[strong & (values < 0)] == 1.0) and np.all(red[strong & (values < 0)] < 1.0)
    assert np.all(rgba[values == 0][:, :3] == 1.0)


# --------------------------------------------------------------------------- picking one map, errors


def test_batches_pick_a_sample_and_sum_channels():
    relevance = np.random.default_rng(0).normal(size=(3, 2, 4, 5))
    shown = viz.heatmap(relevance, sample=1).images[0].get_array()
    np.testing.assert_allclose(shown, relevance[1, 0] + relevance[1, 1])
    flat = relevance.reshape(3, -1)
    np.testing.assert_allclose(viz.heatmap(flat, sample=2, shape=(2, 4, 5)).images[0].get_array(),
                               relevance[2, 0] + relevance[2, 1])
    np.testing.assert_array_equal(viz.heatmap(relevance[0, 0].ravel(), shape=(4, 5)).images[0].get_array(),
                                  relevance[0, 0])
    np.testing.assert_array_equal(viz.heatmap(relevance[:, 0], sample=-1).images[0].get_array(), relevance[2, 0])
    assert viz.heatmap(relevance.astype(np.float32), sample=0).images[0].get_array().shape == (4, 5)


def test_bad_input_is_named():
    good = np.zeros((2, 1, 3, 3))
    with pytest.raises(IndexError, match="sample 2 out of range.*batch of 2"):
        viz.heatmap(good, sample=2)
    bad = good.copy()
    bad[1, 0, 2, 1] = np.nan
    viz.heatmap(bad, sample=0)  # the NaN is in the other sample
    with pytest.raises(ValueError, match=r"relevance \(sample 1\) contains 1 non-finite value\(s\) \(NaN\).*\(2, 1\)"):
        viz.heatmap(bad, sample=1)
    with pytest.raises(ValueError, match="inf"):
        viz.heatmap(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match=r"needs shape=\(H, W\)"):
        viz.heatmap(np.zeros(9))
    with pytest.raises(ValueError, match=r"got shape \(1, 1, 1, 3, 3\)"):
        viz.heatmap(np.zeros((1, 1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"neither one map nor a batch of maps of shape \(3, 3\)"):
        viz.heatmap(np.zeros((2, 10)), shape=(3, 3))
    with pytest.raises(TypeError, match="real numeric"):
        viz.heatmap(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="real numeric"):
        viz.heatmap(np.ones((2, 2), dtype=complex))
    with pytest.raises(ValueError, match="percentile"):
        viz.heatmap(np.ones((2, 2)), percentile=0)
    with pytest.raises(ValueError, match="limit must be a positive number"):
        viz.heatmap(np.ones((2, 2)), limit=-1)
    with pytest.raises(ValueError, match="image must be"):
        viz.overlay(np.zeros((5,)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"neither one image nor a batch of images of shape \(8, 8\)"):
        viz.overlay(np.zeros((2, 60)), np.zeros((2, 64)), shape=(8, 8))
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(np.zeros((2, 2)), np.zeros((2, 2)), alpha=2)


def test_heatmap_draws_into_the_given_axes_and_adds_a_colorbar():
    figure = Figure()
    ax = figure.add_subplot()
    assert viz.heatmap(np.eye(3), ax, colorbar=True, title="eye") is ax
    assert len(figure.axes) == 2 and ax.get_title() == "eye"


def test_viz_never_imports_pyplot():
    code = "import sys, lrpref.viz; print('matplotlib.pyplot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


# --------------------------------------------------------------------------- overlay


def test_overlay_keeps_the_image_where_relevance_is_zero():
    ax = full_axes(3, 1)
    viz.overlay(np.full((1, 3), 0.5), np.array([[-1.0, 0.0, 1.0]]), ax, image_alpha=1.0)
    picture = render(ax.figure)
    r, g, b = cell(picture, 0, 1)
    assert r == pytest.approx(g, abs=0.01) and g == pytest.approx(b, abs=0.01)  # grey: the image
    r, g, b = cell(picture, 0, 0)
    assert b > r + 0.3 and b > g + 0.3  # blue over grey
    r, g, b = cell(picture, 0, 2)
    assert r > g + 0.3 and r > b + 0.3  # red over grey


def test_overlay_scales_an_image_outside_0_1():
    ax = full_axes(3, 1)
    viz.overlay(np.array([[-2.0, 0.0, 2.0]]), np.zeros((1, 3)), ax, image_alpha=1.0)  # a normalised input
    picture = render(ax.figure)
    assert cell(picture, 0, 0) == pytest.approx((0, 0, 0), abs=1 / 255)
    assert cell(picture, 0, 1) == pytest.approx((0.5, 0.5, 0.5), abs=1 / 255)
    assert cell(picture, 0, 2) == pytest.approx(WHITE, abs=1 / 255)


def test_overlay_stretches_a_coarse_map_over_the_image():
    ax = full_axes(4, 4)
    image = np.ones((1, 1, 4, 4))  # a batch (N, C, H, W), white
    stage = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # (N, C, 2, 2)
    viz.overlay(image, stage, ax, alpha=1.0, image_alpha=1.0)
    picture = render(ax.figure)
    for row, col in ((0, 0), (1, 1), (0, 1), (1, 0)):
        assert cell(picture, row, col) == pytest.approx(RED, abs=1 / 255)  # the top-left 2x2 block
    assert cell(picture, 3, 3) == pytest.approx(BLUE, abs=1 / 255)
    assert cell(picture, 0, 3) == pytest.approx(WHITE, abs=1 / 255)


def test_overlay_accepts_colour_images(cnn_explanation):
    rgb = np.random.default_rng(1).normal(size=(2, 3, 6, 6))  # a normalised network input
    viz.overlay(rgb, rgb, sample=1)
    viz.overlay(np.random.default_rng(1).random((6, 6, 3)), np.ones((6, 6)))
    x, ex = cnn_explanation
    render(viz.overlay(x, ex.relevance, sample=2, image_cmap="gray_r").figure)
    flat = viz.overlay(x.reshape(3, 64), ex.relevance.reshape(3, 64), sample=2, shape=(8, 8))
    np.testing.assert_array_equal(flat.images[0].get_array(), x[2, 0])


# --------------------------------------------------------------------------- panels


def titles(figure):
    return [ax.get_title() for ax in figure.axes if ax.get_visible()]


def test_layer_panel_default_layers(cnn_explanation):
    _, ex = cnn_explanation
    figure = viz.layer_panel(ex, sample=1)
    shown = titles(figure)
    assert [t.splitlines()[0] for t in shown] == ["input", "layer 2 MaxPool2d(2×2)", "layer 5 MaxPool2d(2×2)",
                                                   "layer 9 Dense(64→10)"]
    assert shown[0].splitlines()[1] == f"ΣR = {ex.relevance[1].sum():.4g}"
    stage = figure.axes[1].images[0].get_array()
    np.testing.assert_allclose(stage, ex.layers[2].relevance_out[1].sum(axis=0))
    assert len(figure.axes[3].patches) == 10  # the top relevance as bars
    render(figure)


def test_layer_panel_of_an_mlp_with_a_flat_input():
    net, _ = load_network("digits_mlp")
    x = digits_split()[1][:2]
    ex = lr.explain(net, x, rule=lr.Epsilon(0.25))
    figure = viz.layer_panel(ex, ["input", 0, 2], sample=1, input_shape=(8, 8), ncols=2)
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), ex.relevance[1].reshape(8, 8))
    assert len(figure.axes[1].patches) == 32
    assert sum(ax.get_visible() for ax in figure.axes) == 3
    render(figure)


def test_layer_panel_errors(cnn_explanation, faces_explanation):
    _, ex = cnn_explanation
    with pytest.raises(IndexError, match="layer 10 out of range"):
        viz.layer_panel(ex, [10])
    with pytest.raises(ValueError, match="'output'"):
        viz.layer_panel(ex, ["output"])
    with pytest.raises(IndexError, match="sample 3 out of range"):
        viz.layer_panel(ex, sample=3)
    with pytest.raises(TypeError, match="bow_maps"):
        viz.layer_panel(faces_explanation[1])
    with pytest.raises(ValueError, match="2 panels need 2 axes, got 1"):
        viz.layer_panel(ex, ["input", 2], axes=[Figure().add_subplot()])


def test_multiscale_panel(cnn_explanation):
    x, ex = cnn_explanation
    figure = viz.multiscale_panel(ex, [2, 5], sample=2, norm="maxabs", image=x)
    assert len(titles(figure)) == 3
    np.testing.assert_allclose(figure.axes[1].images[0].get_array(), multiscale(ex, [5], norm="maxabs")[2])
    assert len(figure.axes[2].images) == 2  # the image and the sum over it
    render(figure)
    plain = viz.multiscale_panel(ex, [2, 5], sample=2)
    np.testing.assert_allclose(plain.axes[2].images[0].get_array(), multiscale(ex, [2, 5])[2])


def test_bow_maps(faces_explanation):
    face, ex = faces_explanation
    figure = viz.bow_maps(ex, face, target_name="face")
    panels = [ax for ax in figure.axes if ax.get_title()]  # colour bars have no title
    assert len(panels) == 5 and sum(ax.get_label() == "<colorbar>" for ax in figure.axes) == 2
    np.testing.assert_array_equal(panels[0].images[0].get_array(), face)  # the input by itself
    assert panels[0].get_title() == f"input\nf = {ex.f:.3g}: for 'face'"
    assert "target 'face'" in panels[1].get_title()
    assert len(panels[1].patches) == len(ex.words)
    dots, = [c for c in panels[2].collections if isinstance(c, PathCollection)]
    assert len(dots.get_offsets()) == len(ex.features)
    np.testing.assert_array_equal(panels[3].images[0].get_array(), ex.pixels)
    render(figure)
    assert len([ax for ax in viz.bow_maps(ex).axes if ax.get_title()]) == 3
    with pytest.raises(ValueError, match="does not match"):
        viz.bow_maps(ex, face[:20])
    with pytest.raises(TypeError, match="lrpref.bow Explanation"):
        viz.bow_maps(np.zeros((3, 3)))


# --------------------------------------------------------------------------- curves


def test_perturbation_curves():
    rng = np.random.default_rng(2)
    per_sample = np.cumsum(-rng.random((6, 11)), axis=1)
    ax = viz.perturbation_curve({"LRP": per_sample, "random": np.linspace(0, -1, 11)})
    lrp, random = ax.get_lines()
    np.testing.assert_allclose(lrp.get_ydata(), per_sample.mean(axis=0))
    np.testing.assert_array_equal(lrp.get_xdata(), np.arange(11))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LRP", "random"]
    assert ax.get_ylabel() == "f(x⁽ᵏ⁾), mean over 6 samples"  # said once, not in every legend entry
    assert lrp.get_marker() != random.get_marker()  # overlapping curves stay distinguishable
    renderer = ax.figure._get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1  # the legend covers no curve: it is right of the axes
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # the ±std band of the 2-D curve
    render(ax.figure)


def test_interval_plot_ranks_means_with_their_intervals():
    from lrpref.evaluate import mean_interval

    intervals = {"low": mean_interval([0.0, 1.0, 2.0]), "high": mean_interval([5.0, 6.0, 7.0, 8.0])}
    ax = viz.interval_plot(intervals, reference=0.25, xlabel="mass")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["high", "low"]  # best first, on top
    bars = ax.collections[0].get_segments()
    for segment, name in zip(bars, ["high", "low"]):
        np.testing.assert_allclose(segment[:, 0], [intervals[name].low, intervals[name].high])
    assert ax.get_xlabel() == "mass (95% confidence interval)"
    with pytest.raises(ValueError, match="no intervals"):
        viz.interval_plot({})


def test_shared_colorbar_states_the_scale():
    figure = Figure()
    axes = figure.subplots(1, 2)
    bar = viz.colorbar(figure, axes, 1.0, label="R / max|R|")
    assert bar.norm.vmin == -1.0 and bar.norm.vmax == 1.0 and bar.ax.get_ylabel() == "R / max|R|"


def test_pc_curve_defaults_to_the_spec_ratios():
    table4_ig = [-0.01006, -0.03259, -0.05358, -0.07542, -0.10552, -0.14830, -0.21255, -0.30824, -0.45671]
    ax = viz.pc_curve(table4_ig)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    np.testing.assert_array_equal(line.get_ydata(), table4_ig)
    render(ax.figure)


def test_curve_errors():
    with pytest.raises(ValueError, match="has 5 points but the x values are 9"):
        viz.pc_curve(np.zeros(5))
    with pytest.raises(ValueError, match="curve 'IG' contains 1 non-finite"):
        viz.perturbation_curve({"IG": [0.0, np.nan]})
    with pytest.raises(ValueError, match=r"\(steps,\) or \(samples, steps\)"):
        viz.perturbation_curve(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="no curves"):
        viz.perturbation_curve({})


# --------------------------------------------------------------------------- the ledger


def flow_legend_outside(figure):
    """The ledger's legend is the figure's, below both panels: it covers no bar."""
    renderer = figure._get_renderer()
    legend, = figure.legends
    return all(legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0 for ax in figure.axes)


def test_conservation_bars(cnn_explanation):
    _, ex = cnn_explanation
    ledger = ex.conservation
    figure = viz.conservation_bars(ex, sample=1)
    assert figure.get_suptitle() == f"conservation ledger: {ex.description}"  # names the method
    assert flow_legend_outside(figure)
    flow, absorbed = figure.axes
    assert [t.get_text() for t in flow.get_yticklabels()] == [row.name for row in ledger]
    received = [p.get_width() for p in flow.patches[:len(ledger)]]
    np.testing.assert_allclose(received, [row.received[1] for row in ledger])
    bias = [p.get_width() for p in absorbed.patches[:len(ledger)]]
    np.testing.assert_allclose(bias, [row.absorbed.get("bias", np.zeros(3))[1] for row in ledger])
    assert flow.yaxis_inverted()  # the top layer first
    render(figure)


def test_conservation_bars_of_a_bow_explanation_and_a_ledger(faces_explanation):
    _, ex = faces_explanation
    render(viz.conservation_bars(ex))
    render(viz.conservation_bars(ex.ledger))
    with pytest.raises(IndexError, match="the ledger holds 1 samples"):
        viz.conservation_bars(ex, sample=1)
    with pytest.raises(TypeError, match="conservation ledger"):
        viz.conservation_bars(np.zeros(3))
