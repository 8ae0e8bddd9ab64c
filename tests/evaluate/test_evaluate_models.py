"""The metrics on real models: the bundled digits MLP, a small CNN given directly, float32, a bag-of-words pipeline."""

import numpy as np
import pytest

import lrpref as lr
from lrpref import evaluate as ev
from lrpref.datasets import digits_split, load_network

NET, _ = load_network("digits_mlp")
X_TEST, Y_TEST = digits_split()[1], digits_split()[3]
IMAGES = X_TEST[:60].reshape(-1, 8, 8)


def digits_model(images):
    return NET(images.reshape(len(images), -1))


def gradient_maps(net, x, target):
    """``∂y_c/∂x`` as 8×8 maps."""
    return net.gradient(x, np.eye(10)[target]).reshape(-1, 8, 8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cascading_randomisation_lowers_the_similarity_of_gradient_maps(seed):
    result = ev.model_randomisation(NET, gradient_maps, X_TEST[:100], random_state=seed)
    assert result.layers == (2, 0)
    spearman, absolute = result.mean["spearman"], result.mean["spearman_abs"]
    # the original maps compared with themselves have similarity 1; re-initialising destroys it
    assert np.all(spearman < 0.3)
    assert absolute[0] < 0.5 and absolute[1] < absolute[0]
    assert np.all(result.mean["ssim"] < 0.3)


def test_an_explanation_blind_to_the_parameters_fails_the_check():
    result = ev.model_randomisation(NET, lambda net, x, target: x.reshape(-1, 8, 8), X_TEST[:20], random_state=0)
    for measure in ev.MEASURES:
        assert np.allclose(result.similarity[measure], 1.0)


def test_relevance_orders_beat_random_and_lerf_on_the_digits_mlp():
    relevance = lr.explain(NET, X_TEST[:60], rule=lr.Epsilon(0.01)).relevance.reshape(-1, 8, 8)
    options = dict(region_size=2, replacement=0.0, random_state=0)
    morf = ev.region_perturbation(digits_model, IMAGES, relevance, **options)
    lerf = ev.region_perturbation(digits_model, IMAGES, relevance, order="lerf", **options)
    shuffled = ev.region_perturbation(digits_model, IMAGES, relevance, order="random", **options)
    assert morf.aopc > shuffled.aopc > lerf.aopc
    assert np.array_equal(morf.target, NET(X_TEST[:60]).argmax(1))
    assert np.allclose(morf.scores[:, 0], NET(X_TEST[:60])[np.arange(60), morf.target])


def test_a_network_on_nchw_images_is_a_model_as_it_is():
    rng = np.random.default_rng(3)
    cnn = lr.Sequential([lr.Conv2d(rng.normal(size=(4, 3, 3, 3)), np.zeros(4), padding=1), lr.ReLU(),
                         lr.MaxPool2d(2), lr.Flatten(), lr.Dense(rng.normal(size=(5, 4 * 4 * 4)), np.zeros(5))])
    x = rng.random((3, 3, 8, 8))
    relevance = lr.explain(cnn, x, rule=lr.Epsilon(0.1)).relevance  # (N, C, H, W): summed over channels
    result = ev.region_perturbation(cnn, x, relevance, region_size=4, replacement="blur", random_state=0)
    assert result.scores.shape == (3, 5) and result.removal.shape == (3, 8, 8)
    summed = ev.region_perturbation(cnn, x, relevance.sum(axis=1), region_size=4, replacement="blur", random_state=0)
    assert np.array_equal(result.scores, summed.scores)
    pc = ev.probability_change(cnn, x, relevance, replacement="mean")
    assert pc.change.shape == (3, 9) and np.all(np.abs(pc.change) <= 1)


def test_float32_models_and_images():
    net32 = NET.astype(np.float32)
    images32 = IMAGES[:10].astype(np.float32)

    def model32(images):
        assert images.dtype == np.float32
        return net32(images.reshape(len(images), -1))

    relevance = lr.explain(NET, X_TEST[:10], rule=lr.Epsilon(0.01)).relevance.reshape(-1, 8, 8)
    for metric in (ev.probability_change, ev.minimal_patch):
        r32 = metric(model32, images32, relevance.astype(np.float32), replacement="uniform", random_state=1)
        r64 = metric(digits_model, IMAGES[:10], relevance, replacement="uniform", random_state=1)
        assert r32.change.dtype == np.float64
        assert np.allclose(r32.change, r64.change, atol=1e-5)
    aopc32 = ev.pixel_flipping(model32, images32, relevance.astype(np.float32), steps=20, replacement=0.0).aopc
    aopc64 = ev.pixel_flipping(digits_model, IMAGES[:10], relevance, steps=20, replacement=0.0).aopc
    assert aopc32 == pytest.approx(aopc64, rel=1e-5)


def test_a_bag_of_words_pipeline_is_scored_by_the_same_metrics():
    from skimage import data
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from lrpref import bow

    faces = data.lfw_subset()
    train = np.concatenate([faces[:20], faces[100:120]])
    labels = np.r_[np.ones(20, int), np.zeros(20, int)]
    bag = bow.BagOfWords(bow.DenseFeatures(descriptor="hog", patch=8, step=4, scales=(1,)),
                         coder=bow.SoftCoding(n_words=12, random_state=0), pooling=1.0, normalize="l1", random_state=0)
    pipeline = make_pipeline(bag, SVC(kernel=bow.kernels.histogram_intersection, C=1.0)).fit(list(train), labels)

    def model(images):  # two classes: (−f, f)
        f = pipeline.decision_function(list(images))
        return np.stack([-f, f], axis=1)

    images = faces[30:33]
    relevance = np.stack([bow.explain(pipeline, image, target=1).pixels for image in images])
    result = ev.region_perturbation(model, images, relevance, target=1, region_size=5, steps=6, replacement="mean")
    assert np.allclose(result.scores[:, 0], pipeline.decision_function(list(images)))
    assert result.scores.shape == (3, 7)
    rank = ev.relevance_rank_accuracy(relevance, relevance > np.median(relevance, axis=(1, 2), keepdims=True))
    assert np.all(rank.values == 1.0)


def test_importing_the_package_loads_neither_dask_nor_skimage_metrics():
    import subprocess
    import sys

    code = ("import sys, lrpref.evaluate; "
            "print(sorted(m for m in ('dask', 'distributed', 'skimage.metrics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
