"""BagOfWords and KernelMatrix follow the scikit-learn estimator contract."""

import numpy as np
import pytest
from bow_helpers import blob_images
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils import estimator_checks

from lrpref import bow

CHECKS = ["check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
          "check_estimator_cloneable", "check_estimator_repr", "check_parameters_default_constructible",
          "check_mixin_order", "check_transformers_unfitted", "check_estimator_tags_renamed"]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("estimator", [bow.BagOfWords(bow.DenseFeatures("raw", 4, 2), bow.HardCoding(4)),
                                       bow.KernelMatrix(bow.kernels.chi2)], ids=["BagOfWords", "KernelMatrix"])
def test_sklearn_checks_that_apply_to_image_input(check, estimator):
    """The data-free checks of sklearn.utils.estimator_checks (the others feed 2-D numeric arrays, not images)."""
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def small_bag(**params):
    return bow.BagOfWords(bow.DenseFeatures("hog", 8, 4, (1,)), bow.SoftCoding(n_words=6, random_state=0),
                          random_state=0, **params)


def test_fit_transform_clone_and_params():
    images, labels = blob_images(n_per_class=4)
    bag = small_bag()
    assert bag.fit(images) is bag
    X = bag.transform(images)
    assert X.shape == (8, 6)
    assert np.allclose(X.sum(axis=1), 1.0)  # L1 normalised
    assert np.array_equal(clone(bag).fit_transform(images), X)  # same random_state: same codebook
    assert np.array_equal(bag.training_bow_, X)
    fresh = clone(bag)
    assert not hasattr(fresh, "coder_") and fresh.get_params()["coder__n_words"] == 6
    fresh.set_params(coder__n_words=5, pooling=np.inf)
    assert fresh.fit_transform(images).shape == (8, 5)
    assert list(bag.get_feature_names_out()[:2]) == ["word0", "word1"]


def test_default_parameters_work():
    images = blob_images(n_per_class=4, sizes=(40,))[0]
    X = bow.BagOfWords(coder=bow.SoftCoding(n_words=8, random_state=0)).fit_transform(images)
    assert X.shape == (8, 8)


def test_image_collections_of_every_kind():
    images, _ = blob_images(n_per_class=3, sizes=(24,))
    bag = small_bag().fit(images)
    stack = np.stack(images)
    assert np.array_equal(bag.transform(stack), bag.transform(images))
    colour = np.repeat(stack[..., None], 3, axis=3)  # (N, H, W, 3) with equal channels
    assert np.allclose(bag.transform(colour), bag.transform(images), atol=1e-12)
    uint8 = [np.round(im * 255).astype(np.uint8) for im in images]
    assert bag.transform(uint8).shape == (6, 6)
    mixed = [images[0], colour[1], np.zeros((30, 20))]
    assert bag.transform(mixed).shape == (3, 6)


def test_unfitted_transform_raises():
    with pytest.raises(NotFittedError):
        small_bag().transform(blob_images(n_per_class=1)[0])


@pytest.mark.parametrize("bag, images, error, message", [
    (small_bag(), [], ValueError, "no images"),
    (small_bag(), "image.png", TypeError, "list of arrays"),
    (small_bag(), np.zeros((4, 5)), ValueError, r"\(N, H, W\)"),
    (small_bag(), np.zeros((30, 40, 3)), ValueError, "looks like one colour image"),
    (small_bag(), [np.zeros((20, 20)), np.zeros((0, 3))], ValueError, "image 1 is empty"),
    (small_bag(), [np.full((20, 20), np.nan)], ValueError, "image 0 has NaN pixels"),
    (bow.BagOfWords(coder=bow.LLCCoding(4), pooling=2.0), [np.zeros((20, 20))], ValueError, "signed codes"),
    (small_bag(pooling=0.5), [np.zeros((20, 20))], ValueError, "pooling must be"),
    (small_bag(normalize="l3"), [np.zeros((20, 20))], ValueError, "normalize must be one of"),
    (bow.BagOfWords(bow.DenseFeatures("raw", 8, 8, (1,)), bow.HardCoding(50)), [np.zeros((16, 16))], ValueError,
     "at least 50 descriptors"),
    (small_bag(), [np.zeros((3, 3))], ValueError, "no local features"),
])
def test_bad_fit_input_is_named(bag, images, error, message):
    with pytest.raises(error, match=message):
        bag.fit(images)


def test_grid_search_over_nested_parameters():
    images, labels = blob_images(n_per_class=6, sizes=(24,))
    model = make_pipeline(small_bag(), SVC(kernel=bow.kernels.histogram_intersection))
    search = GridSearchCV(model, {"bagofwords__coder__n_words": [4, 6]}, cv=2).fit(images, labels)
    assert search.best_estimator_[0].n_features_out_ in (4, 6)


def test_kernel_matrix():
    rng = np.random.default_rng(0)
    X, Z = rng.random((5, 3)), rng.random((2, 3))
    step = bow.KernelMatrix(bow.kernels.histogram_intersection).fit(X)
    assert np.allclose(step.transform(Z), np.minimum(Z[:, None], X[None]).sum(-1))
    with pytest.raises(TypeError, match="is Python code lrpref cannot decompose.*Supported kernels: lrpref.bow.kernels"):
        bow.KernelMatrix(lambda a, b: a @ b.T).fit(X)


@pytest.mark.parametrize("coder", [bow.HardCoding(6, codebook="minibatch", random_state=0),
                                   bow.SoftCoding(6, codebook="gmm", random_state=0),
                                   bow.LLCCoding(6, random_state=0), bow.FisherCoding(2, random_state=0)])
def test_every_coder_and_codebook(coder):
    images, _ = blob_images(n_per_class=3)
    bag = bow.BagOfWords(bow.DenseFeatures("raw", 4, 4, (1,)), coder, random_state=0,
                         normalize="improved" if isinstance(coder, bow.FisherCoding) else "l1")
    X = bag.fit_transform(images)
    expected_width = 2 * 2 * 16 if isinstance(coder, bow.FisherCoding) else 6
    assert X.shape == (6, expected_width) and np.all(np.isfinite(X))


def test_unknown_codebook_is_named():
    with pytest.raises(ValueError, match="codebook must be one of"):
        bow.HardCoding(4, codebook="som").fit(np.random.default_rng(0).random((20, 3)))
