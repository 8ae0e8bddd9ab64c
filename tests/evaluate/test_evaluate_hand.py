"""Hand-computed examples of every evaluation metric (spec neural.md §14): the expected numbers are worked out
in the comments, never produced by the code under test."""

import numpy as np
import pytest
from evaluate_helpers import Linear, softmax0
from scipy.ndimage import gaussian_filter

import lrpref as lr
from lrpref import evaluate as ev
from lrpref.evaluate.probability_change import removed_count
from lrpref.evaluate.replacement import replacement_images

# ---------------------------------------------------------------- region perturbation / AOPC (§14.4)

X22 = np.array([[[1.0, 2.0], [3.0, 4.0]]])
W22 = np.array([[1.0, -1.0], [0.5, 2.0]])
# R = w ⊙ x = [[1, -2], [1.5, 8]], f(x) = 8.5; pixel indices 0..3 row-major


def test_pixel_flipping_morf_of_a_linear_model():
    model = Linear(W22)
    result = ev.pixel_flipping(model, X22, model.relevance(X22), target=0, replacement=0.0)
    # MoRF: 8 (pixel 3), 1.5 (pixel 2), 1 (pixel 0), -2 (pixel 1)
    assert result.order.tolist() == [[3, 2, 0, 1]]
    assert result.removal.tolist() == [[[3, 4], [2, 1]]]
    # f after each removal: 8.5, 8.5-8, 0.5-1.5, -1-1, -2+2
    assert np.allclose(result.scores, [[8.5, 0.5, -1.0, -2.0, 0.0]], rtol=0, atol=1e-12)
    # AOPC = (0 + 8 + 9.5 + 10.5 + 8.5) / 5
    assert result.aopc == pytest.approx(7.3, abs=1e-12)
    assert result.settings["steps"] == 4 and result.settings["region_size"] == 1


def test_pixel_flipping_lerf_is_the_reversed_order():
    model = Linear(W22)
    result = ev.pixel_flipping(model, X22, model.relevance(X22), target=0, replacement=0.0, order="lerf")
    assert result.order.tolist() == [[1, 0, 2, 3]]
    # f: 8.5, 8.5+2, 10.5-1, 9.5-1.5, 8-8; drops 0, -2, -1, 0.5, 8.5
    assert np.allclose(result.scores, [[8.5, 10.5, 9.5, 8.0, 0.0]], rtol=0, atol=1e-12)
    assert result.aopc == pytest.approx(1.2, abs=1e-12)


def test_grid_regions_cut_at_the_border_and_ranked_by_their_sum():
    # 3×3, tiles of 2: tile 0 rows 0-1 cols 0-1, tile 1 rows 0-1 col 2, tile 2 row 2 cols 0-1, tile 3 (2, 2)
    w = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 5.0], [-1.0, -1.0, 3.0]])
    x = np.ones((1, 3, 3))
    model = Linear(w)
    result = ev.region_perturbation(model, x, w[None], target=0, region_size=2, steps=2, replacement=0.0)
    # sums: tile 0 = 4, tile 1 = 5, tile 2 = -2, tile 3 = 3 -> MoRF 1, 0, (3, 2)
    assert result.order.tolist() == [[1, 0]]
    assert result.removal.tolist() == [[[2, 2, 1], [2, 2, 1], [3, 3, 3]]]
    # f = 10, then 10 - 5, then 5 - 4; AOPC = (0 + 5 + 9) / 3
    assert np.allclose(result.scores, [[10.0, 5.0, 1.0]])
    assert result.aopc == pytest.approx(14 / 3)
    full = ev.region_perturbation(model, x, w[None], target=0, region_size=2, replacement=0.0)
    assert full.settings["steps"] == 4 and full.order.tolist() == [[1, 0, 3, 2]]


def test_ties_go_to_the_lower_region_index():
    x, flat = np.ones((1, 4, 4)), np.ones((1, 4, 4))
    morf = ev.region_perturbation(Linear(np.ones((4, 4))), x, flat, region_size=2, replacement=0.0)
    lerf = ev.region_perturbation(Linear(np.ones((4, 4))), x, flat, region_size=2, replacement=0.0, order="lerf")
    assert morf.order.tolist() == [[0, 1, 2, 3]]
    assert lerf.order.tolist() == [[3, 2, 1, 0]]


def test_sliding_windows_replace_each_pixel_once():
    # 3×3, windows of 2: the window of (p, q) covers rows p-1..p, cols q-1..q (cut at the border).
    # Relevance 9 at (1, 1): windows of centres 4 (1,1), 5 (1,2), 7 (2,1), 8 (2,2) sum to 9, the others 0.
    x = np.zeros((1, 3, 3))
    x[0, 1, 1] = 9.0
    w = np.arange(1.0, 10.0).reshape(3, 3)
    relevance = np.zeros((1, 3, 3))
    relevance[0, 1, 1] = 9.0
    model = Linear(w)
    result = ev.region_perturbation(model, x + 1.0, relevance, target=0, region_size=2, regions="sliding", steps=4,
                                    replacement=0.0)
    assert result.order.tolist() == [[4, 5, 7, 8]]
    # step 1: rows 0-1 cols 0-1; step 2 adds (0,2), (1,2); step 3 adds (2,0), (2,1); step 4 adds (2,2)
    assert result.removal.tolist() == [[[1, 1, 2], [1, 1, 2], [3, 3, 4]]]
    kept = (x + 1.0)[0] * w
    expected = [kept.sum(), kept.sum() - kept[:2, :2].sum(), kept[2].sum(), kept[2, 2], 0.0]
    assert np.allclose(result.scores[0], expected)


def test_region_perturbation_of_colour_images_removes_all_channels():
    x = np.arange(1.0, 13.0).reshape(1, 3, 2, 2)
    relevance = np.zeros((1, 3, 2, 2))
    relevance[0, :, 0, 1] = [1.0, 2.0, 3.0]  # channel sum 6 at pixel 1
    seen = []

    def model(batch):
        seen.append(batch.copy())
        return batch.reshape(len(batch), -1).sum(axis=1, keepdims=True) * np.array([[1.0, 0.0]])

    ev.region_perturbation(model, x, relevance, target=0, region_size=1, steps=1, replacement=0.0)
    first_step = seen[0][1]
    assert np.all(first_step[:, 0, 1] == 0) and np.array_equal(np.delete(first_step.reshape(3, 4), 1, 1),
                                                              np.delete(x[0].reshape(3, 4), 1, 1))


# ---------------------------------------------------------------- replacements (§14.1 step 3, §15.18)

def test_replacement_images():
    x = np.array([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, 0.0], [0.0, 4.0]]]])
    mean = replacement_images("mean", x, x, 0, 0)
    assert np.array_equal(mean, np.broadcast_to(np.array([3.0, 1.0])[None, :, None, None], x.shape))
    assert np.array_equal(replacement_images(None, x, x, 0, 0), np.zeros_like(x))
    assert np.array_equal(replacement_images(-0.5, x, x, 0, 0), np.full_like(x, -0.5))
    per_channel = replacement_images(np.array([7.0, 8.0]).reshape(2, 1, 1), x, x, 0, 0)
    assert np.array_equal(per_channel[0, :, 1, 0], [7.0, 8.0])
    blurred = replacement_images(("blur", 1.5), x, x, 0, 0)
    assert np.allclose(blurred, gaussian_filter(x, sigma=(0, 0, 1.5, 1.5), mode="nearest"))
    noise = replacement_images("uniform", x, x, 3, 0)
    assert noise.min() >= 0.0 and noise.max() < 6.0 and len(np.unique(noise)) == 8
    bounded = replacement_images(("uniform", -1.0, -0.5), x, x, 3, 0)
    assert bounded.min() >= -1.0 and bounded.max() < -0.5
    gray = x[:, 0]  # (N, H, W) images take (H, W) references
    assert np.array_equal(replacement_images(np.eye(2), gray, gray[:, None], 0, 0)[0, 0], np.eye(2))


def test_uniform_noise_of_a_sample_depends_on_its_index_only():
    x = np.random.default_rng(0).random((3, 1, 4, 4))
    batch = replacement_images("uniform", x, x, 11, 0)
    alone = replacement_images("uniform", x[2:], x[2:], 11, 2)
    assert np.array_equal(batch[2:], alone)
    assert not np.array_equal(batch[1], replacement_images("uniform", x[1:2], x[1:2], 11, 0)[0])


# ---------------------------------------------------------------- PC curve (§14.1)

# 2×2 image, w = 1, x = [[1, -1], [0.5, 2]]: z = 2.5. Heatmap [[0, -1], [0, 2]] ascending with
# stable ties: pixel 1 (-1), pixel 0 (0), pixel 2 (0), pixel 3 (2).
XPC = np.array([[[1.0, -1.0], [0.5, 2.0]]])
HPC = np.array([[[0.0, -1.0], [0.0, 2.0]]])


def test_probability_change_removes_the_lowest_ranked_pixels():
    result = ev.probability_change(Linear(np.ones((2, 2))), XPC, HPC, target=0, ratios=(0.25, 0.5, 0.75, 1.0))
    # removing {1}, {1, 0}, {1, 0, 2}, all: z = 2.5 + 1, 3.5 - 1, 2.5 - 0.5, 0
    assert result.removed.tolist() == [1, 2, 3, 4]
    assert np.allclose(result.original, softmax0(2.5))
    assert np.allclose(result.perturbed, softmax0([[3.5, 2.5, 2.0, 0.0]]))
    assert np.allclose(result.change, softmax0([[3.5, 2.5, 2.0, 0.0]]) - softmax0(2.5))
    assert np.allclose(result.curve, result.change[0]) and result.mean == pytest.approx(result.change.mean())
    assert result.change[0, 0] > 0  # removing negative evidence raises the probability


def test_probability_change_options():
    model = Linear(np.ones((2, 2)))
    kept = ev.probability_change(model, XPC, HPC, target=0, ratios=(0.25,), fraction="kept")
    # keep the top 1 (pixel 3): z = 2
    assert kept.removed.tolist() == [3] and np.allclose(kept.perturbed, softmax0(2.0))
    relative = ev.probability_change(model, XPC, HPC, target=0, ratios=(0.25,), change="relative")
    assert np.allclose(relative.change, (softmax0(3.5) - softmax0(2.5)) / softmax0(2.5))
    raw = ev.probability_change(model, XPC, HPC, target=0, ratios=(0.5,), output="raw")
    assert np.allclose(raw.perturbed, [[2.5]]) and np.allclose(raw.change, [[0.0]])
    black = ev.probability_change(model, XPC, HPC, target=0, ratios=(0.25,), replacement=-1.0, output="raw")
    assert np.allclose(black.perturbed, [[2.5 + 1 - 1]])  # pixel 1 (-1) replaced by -1


def test_removed_counts_round_before_the_floor():
    assert removed_count(0.29, 100, "removed") == 29  # 0.29 * 100 = 28.999999999999996
    assert removed_count(0.7, 10, "removed") == 7
    assert removed_count(0.1, 64, "removed") == 6 and removed_count(0.1, 64, "kept") == 58
    assert removed_count(1.0, 9, "removed") == 9 and removed_count(0.0, 9, "removed") == 0


def test_probability_change_predicted_class_by_default():
    model = Linear(np.ones((2, 2)))
    x = np.stack([XPC[0], -XPC[0]])  # z = 2.5 (class 0) and -2.5 (class 1)
    result = ev.probability_change(model, x, np.stack([HPC[0], HPC[0]]), ratios=(0.25,))
    assert result.target.tolist() == [0, 1]
    # sample 1 explains class 1, whose score is -z: removing pixel 1 (x = +1) gives z = -3.5
    assert np.allclose(result.perturbed[1], softmax0(3.5))


# ---------------------------------------------------------------- Minimal / Maximal Patch (§14.2)

def test_minimal_patch_squares_around_the_first_arg_min():
    x = np.ones((1, 5, 5))
    heat = np.zeros((1, 5, 5))
    heat[0, 1, 1] = heat[0, 3, 3] = -5.0  # a tie: the first in row-major order wins
    result = ev.minimal_patch(Linear(np.ones((5, 5))), x, heat, target=0, radii=(0, 1, 2), output="raw")
    assert result.centre.tolist() == [[1, 1]]
    # r = 0: 1 pixel; r = 1: 3×3; r = 2: rows 0..3 × cols 0..3 = 16 pixels
    assert np.allclose(result.perturbed, [[24.0, 16.0, 9.0]])
    assert np.allclose(result.change, [[-1.0, -9.0, -16.0]])


def test_maximal_patch_at_a_corner():
    x = np.ones((1, 5, 5))
    heat = np.zeros((1, 5, 5))
    heat[0, 4, 4] = 1.0
    result = ev.maximal_patch(Linear(np.ones((5, 5))), x, heat, target=0, radii=(1, 2, 20))
    assert result.centre.tolist() == [[4, 4]]
    # cut at the border: 2×2 = 4, 3×3 = 9, everything
    assert np.allclose(result.perturbed, softmax0([[21.0, 16.0, 0.0]]))
    assert result.settings["kind"] == "maximal"


# ---------------------------------------------------------------- localisation

MAP = np.array([[[3.0, -1.0], [1.0, 0.0]]])
MASK = np.array([[[True, False], [False, True]]])


@pytest.mark.parametrize("values, expected", [("positive", 3 / 4), ("signed", 3 / 3), ("absolute", 3 / 5)])
def test_relevance_mass_accuracy(values, expected):
    result = ev.relevance_mass_accuracy(MAP, MASK, values=values)
    assert result.values == pytest.approx([expected]) and result.mean == pytest.approx(expected)


def test_relevance_rank_accuracy():
    # K = 2. signed: top 2 = pixel 0 (3), pixel 2 (1) -> 1 hit; absolute: 3, then a tie of 1s -> pixel 1 first
    assert ev.relevance_rank_accuracy(MAP, MASK).values.tolist() == [0.5]
    assert ev.relevance_rank_accuracy(MAP, MASK, values="absolute").values.tolist() == [0.5]
    other = ~MASK
    assert ev.relevance_rank_accuracy(MAP, other).values.tolist() == [0.5]
    assert ev.relevance_rank_accuracy(MAP, other, values="absolute").values.tolist() == [0.5]  # pixel 1 wins the tie
    assert ev.relevance_rank_accuracy(MAP, np.array([[[1, 1], [0, 0]]]), values="absolute").values.tolist() == [1.0]
    assert ev.relevance_rank_accuracy(MAP, np.array([[[1, 0], [1, 0]]])).values.tolist() == [1.0]


def test_localisation_sums_channels_and_flags_an_empty_total():
    colour = np.stack([MAP[0], MAP[0]])[None]  # (1, 2, 2, 2): channel sum = 2 * MAP
    assert ev.relevance_mass_accuracy(colour, MASK).values == pytest.approx([0.75])
    nothing = ev.relevance_mass_accuracy(np.array([[[-1.0, 0.0], [0.0, -2.0]]]), MASK)
    assert np.isnan(nothing.values[0]) and np.isnan(nothing.mean)


# ---------------------------------------------------------------- similarity and randomisation (§14.5)

def test_similarity_by_hand():
    a = np.array([[[-1.0, 2.0], [-3.0, 4.0]]])
    b = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    # ranks of a: 2, 3, 1, 4; of b: 1, 2, 3, 4; sum d² = 6; rho = 1 - 6·6 / (4·15)
    assert ev.similarity(a, b, "spearman") == pytest.approx([0.4])
    assert ev.similarity(a, b, "spearman_abs") == pytest.approx([1.0])
    assert ev.similarity(b, b[:, ::-1, ::-1], "spearman") == pytest.approx([-1.0])
    assert ev.similarity(np.tile(b, (1, 2, 2)), np.tile(b, (1, 2, 2)), "ssim") == pytest.approx([1.0])
    assert np.isnan(ev.similarity(np.ones((1, 2, 2)), b, "spearman")[0])


def test_ssim_uses_max_abs_scaled_maps_and_a_data_range_of_2():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 1, 9, 9))
    expected = structural_similarity(a[0] / np.abs(a).max(), b[0] / np.abs(b).max(), data_range=2.0, win_size=7)
    assert ev.similarity(a, b, "ssim") == pytest.approx([expected])
    assert ev.similarity(a * 3.0, b * 0.25, "ssim") == pytest.approx([expected])


NET = lr.Sequential([lr.Conv2d(np.ones((2, 1, 3, 3)), np.zeros(2), padding=1), lr.ReLU(), lr.Flatten(),
                     lr.Dense(np.ones((3, 2 * 4 * 4)), np.zeros(3))])


def test_reinitialise_draws_pytorch_default_bounds_per_layer():
    new = ev.reinitialise(NET, [0, 3], random_state=5)
    assert new[1] is NET[1] and new[2] is NET[2]
    # fan_in: Conv2d 1·3·3 = 9 -> bound 1/3; Dense 32 -> bound 1/sqrt(32)
    assert np.abs(new[0].W).max() <= 1 / 3 and np.abs(new[0].bias).max() <= 1 / 3
    assert np.abs(new[3].W).max() <= 1 / np.sqrt(32) and np.abs(new[3].W).max() > 0.5 / np.sqrt(32)
    assert new[0].padding == (1, 1) and new[0].W.shape == (2, 1, 3, 3)
    only_top = ev.reinitialise(NET, [3], random_state=5)
    assert np.array_equal(only_top[3].W, new[3].W)  # layer k's numbers depend on (seed, k) only
    assert np.array_equal(only_top[0].W, NET[0].W)
    assert ev.weight_layers(NET) == [0, 3]


def test_randomisation_steps_from_the_top():
    rng = np.random.default_rng(2)
    net = lr.Sequential([lr.Dense(rng.normal(size=(6, 9)), rng.normal(size=6)), lr.ReLU(),
                         lr.Dense(rng.normal(size=(5, 6)), rng.normal(size=5)), lr.ReLU(),
                         lr.Dense(rng.normal(size=(3, 5)), rng.normal(size=3))])
    x = rng.normal(size=(4, 9))

    def gradient(network, batch, target):
        return network.gradient(batch, np.eye(3)[target]).reshape(-1, 3, 3)

    cascading = ev.model_randomisation(net, gradient, x, random_state=7)
    independent = ev.model_randomisation(net, gradient, x, mode="independent", random_state=7)
    assert cascading.layers == (4, 2, 0) and cascading.names[0] == "layer 4 (Dense(5→3))"
    assert cascading.similarity["spearman"].shape == (4, 3)
    # step 0 re-initialises the same top layer with the same numbers in both modes
    for measure in ev.MEASURES:
        assert np.array_equal(cascading.similarity[measure][:, 0], independent.similarity[measure][:, 0], equal_nan=True)
    # cascading step 1 is the network with layers 4 and 2 re-drawn
    redrawn = ev.reinitialise(net, [4, 2], random_state=7)
    expected = ev.similarity(gradient(net, x, cascading.target), gradient(redrawn, x, cascading.target), "spearman")
    assert np.array_equal(cascading.similarity["spearman"][:, 1], expected, equal_nan=True)
    assert cascading.target.tolist() == net(x).argmax(1).tolist()
