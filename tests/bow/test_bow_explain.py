"""explain() on every supported classifier, its options, and the errors it names."""

import numpy as np
import pytest
from bow_helpers import FEATURES, blob_images, fit_model
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from lrpref import bow
from lrpref.bow import kernels as K
from lrpref.bow.models import KernelExpansion
from lrpref.bow.taylor import find_root, taylor


def three_class_images(n_per_class=8, seed=0):
    images, labels = blob_images(n_per_class=n_per_class, seed=seed)
    rng = np.random.default_rng(seed + 10)
    for _ in range(n_per_class):
        image = 0.3 + 0.05 * rng.standard_normal((24, 24))
        image[::4, :] += 0.2  # horizontal stripes
        images.append(np.clip(image, 0, 1))
    return images, np.concatenate([np.where(labels == 1, "blob", "vertical"), ["horizontal"] * n_per_class])


def fit_three_class(classifier):
    images, labels = three_class_images()
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.SoftCoding(16, random_state=0), random_state=0)
    return make_pipeline(bag, classifier).fit(images, labels)


def decision_of(model, image, target):
    """The classifier's own decision value for ``target`` (the spec's sign convention, bow.md §2.6)."""
    values = model.decision_function([image])
    classes = list(model.classes_)
    if values.ndim == 1:
        return values[0] if target == classes[1] else -values[0]
    return values[0, classes.index(target)]


BINARY = {
    "svc-callable-hik": lambda: SVC(kernel=K.histogram_intersection, C=10.0),
    "svc-callable-hellinger": lambda: SVC(kernel=K.hellinger, C=10.0),
    "svc-linear": lambda: SVC(kernel="linear", C=10.0),
    "svc-rbf": lambda: SVC(kernel="rbf", gamma=5.0, C=10.0),
    "svc-poly": lambda: SVC(kernel="poly", degree=2, gamma="scale", C=10.0),
    "svc-sigmoid": lambda: SVC(kernel="sigmoid", gamma=2.0, coef0=0.0, C=10.0),
    "svc-expchi2": lambda: SVC(kernel=K.ExpChi2(2.0), C=10.0),
    "linearsvc": lambda: LinearSVC(C=10.0),
    "logistic": lambda: LogisticRegression(C=10.0),
    "ovr-binary": lambda: OneVsRestClassifier(SVC(kernel=K.chi2, C=10.0)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_classifiers_agree_with_decision_function(name, test_images):
    model = fit_model(classifier=BINARY[name]())
    taylor_kernel = name in ("svc-rbf", "svc-expchi2", "svc-poly", "svc-sigmoid")
    for image in test_images[:3]:
        for target in (0, 1):
            ex = bow.explain(model, image, target=target, root="line")
            assert ex.f == pytest.approx(decision_of(model, image, target), rel=1e-10, abs=1e-12)
            if taylor_kernel:
                assert ex.taylor.status in ("bisection", "refined")
                assert ex.words.sum() + ex.taylor.residual == pytest.approx(ex.f, rel=1e-12, abs=1e-14)
            else:
                assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10, abs=1e-12)


def test_precomputed_kernel_keeps_the_training_bow(test_images):
    images, labels = blob_images()
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.SoftCoding(16, random_state=0), random_state=0)
    model = make_pipeline(bag, bow.KernelMatrix(K.histogram_intersection), SVC(kernel="precomputed", C=10.0))
    model.fit(images, labels)
    callable_model = fit_model()
    for image in test_images[:3]:
        ex = bow.explain(model, image, target=1)
        assert ex.f == pytest.approx(decision_of(model, image, 1), rel=1e-10)
        assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10)
        # same data, same kernel: the precomputed and the callable SVC give the same explanation
        assert np.allclose(ex.pixels, bow.explain(callable_model, image, target=1).pixels, atol=1e-9)


@pytest.mark.parametrize("classifier", [OneVsRestClassifier(SVC(kernel=K.histogram_intersection, C=10.0)),
                                        LogisticRegression(C=10.0), LinearSVC(C=10.0)],
                         ids=["ovr-svc", "multinomial-logistic", "linearsvc-ovr"])
def test_multiclass_explains_the_chosen_class(classifier):
    model = fit_three_class(classifier)
    images, _ = three_class_images(n_per_class=2, seed=5)
    for image in images[::2]:
        for target in model.classes_:
            ex = bow.explain(model, image, target=target)
            assert ex.f == pytest.approx(decision_of(model, image, target), rel=1e-10)
            assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10, abs=1e-12)


def test_one_vs_rest_is_its_estimator_for_the_class():
    model = fit_three_class(OneVsRestClassifier(SVC(kernel=K.histogram_intersection, C=10.0)))
    image = three_class_images(n_per_class=1, seed=7)[0][2]
    bag, ovr = model[0], model[-1]
    for index, target in enumerate(ovr.classes_):
        via_ovr = bow.explain(model, image, target=target)
        direct = bow.explain((bag, ovr.estimators_[index]), image, target=1)
        assert np.array_equal(via_ovr.pixels, direct.pixels)


def test_default_target_is_the_prediction(hik_model, test_images):
    for image in test_images:
        ex = bow.explain(hik_model, image)
        assert ex.target == hik_model.predict([image])[0]
        assert ex.f > 0


def test_pair_and_pipeline_give_the_same_explanation(hik_model, test_images):
    a = bow.explain(hik_model, test_images[0], target=1)
    b = bow.explain((hik_model[0], hik_model[-1]), test_images[0], target=1)
    assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.words, b.words)


def test_explanation_fields(hik_model, test_images):
    image = test_images[1]
    ex = bow.explain(hik_model, image, target=1)
    local = hik_model[0].local_features(image)
    assert ex.pixels.shape == image.shape
    assert ex.features.shape == (len(local),) and len(ex.supports) == len(local)
    assert ex.words.shape == ex.bow.shape == (16,)
    assert np.allclose(ex.bow, hik_model[0].transform([image])[0])
    assert [row.name for row in ex.ledger] == ["layer 3: f -> words", "normalisation: words -> pooled words",
                                               "layer 2: words -> local features", "layer 1: local features -> pixels"]
    assert "bias" in ex.ledger.kinds and ex.ledger.n_samples == 1
    assert "layer 2" in str(ex.ledger)


# options ---------------------------------------------------------------------------------
def test_gaussian_projection_is_exact_and_different(hik_model, test_images):
    uniform = bow.explain(hik_model, test_images[1], target=1)
    gaussian = bow.explain(hik_model, test_images[1], target=1, projection="gaussian")
    assert gaussian.pixels.sum() == pytest.approx(uniform.pixels.sum(), rel=1e-12)
    assert np.array_equal(gaussian.features, uniform.features)
    assert not np.allclose(gaussian.pixels, uniform.pixels)


def test_clip_false_loses_the_part_outside_the_image():
    images, labels = blob_images(n_per_class=8, sizes=(48,))
    bag = bow.BagOfWords(bow.KeypointFeatures(), bow.SoftCoding(8, random_state=0), random_state=0)
    model = make_pipeline(bag, SVC(kernel=K.histogram_intersection, C=10.0)).fit(images, labels)
    ex_clip = bow.explain(model, images[1], target=1)
    ex_out = bow.explain(model, images[1], target=1, clip=False)
    row = ex_out.ledger[3]
    assert ex_clip.ledger[3].absorbed["outside_image"][0] == 0.0
    assert abs(row.absorbed["outside_image"][0]) > 0
    assert ex_out.ledger.max_residual() < 1e-12
    assert ex_out.pixels.sum() + row.absorbed["outside_image"][0] == pytest.approx(ex_out.features.sum(), rel=1e-12)


def test_taylor_on_a_decomposable_kernel(test_images):
    model = fit_model(classifier=SVC(kernel=K.chi2, C=10.0))
    ex = bow.explain(model, test_images[1], target=1, layer3="taylor")
    assert ex.taylor is not None and ex.ledger[0].name == "layer 3: f -> words (Taylor)"
    assert ex.words.sum() + ex.taylor.residual == pytest.approx(ex.f, rel=1e-12)


@pytest.mark.parametrize("policy", ["uniform", "rescale"])
def test_taylor_residual_policies_close_the_books(policy, expchi2_model, test_images):
    ex = bow.explain(expchi2_model, test_images[0], taylor_residual=policy)
    assert ex.words.sum() == pytest.approx(ex.f, rel=1e-12)
    assert abs(ex.taylor.residual) <= 1e-12


def test_signed_codes_report_the_stabiliser(test_images):
    model = fit_model(coder=bow.LLCCoding(12, random_state=0), classifier=SVC(kernel="linear", C=10.0),
                      normalize="l2")
    ex = bow.explain(model, test_images[0], target=1)
    row = ex.ledger[2]
    assert row.absorbed["stabiliser"][0] != 0.0
    assert abs(row.absorbed["stabiliser"][0]) < 1e-6 * np.abs(ex.words).sum()
    assert ex.ledger.max_residual() < 1e-10


def test_fisher_vector_model(test_images):
    features = bow.DenseFeatures("raw", 4, 2, (1,))
    model = fit_model(coder=bow.FisherCoding(2, random_state=0), classifier=LinearSVC(C=1.0),
                      normalize="improved", features=features)
    ex = bow.explain(model, test_images[0], target=1)
    assert ex.words.shape == (2 * 2 * 16,)
    assert ex.f == pytest.approx(decision_of(model, test_images[0], 1), rel=1e-10)
    assert ex.ledger.max_residual() < 1e-10


def test_paper_tiles(hik_model):
    image = np.clip(0.3 + 0.05 * np.random.default_rng(0).standard_normal((120, 130)), 0, 1)
    ex = bow.explain(hik_model, image, target=1, tiles=True)
    # rows: 0 and 120 - 102 = 18; cols: 0, 28 (= 130 - 102): 4 tiles of 102 x 102
    assert len(ex.tiling.boxes) == 4
    assert set(map(tuple, ex.tiling.boxes)) == {(0, 102, 0, 102), (0, 102, 28, 130), (18, 120, 0, 102),
                                                (18, 120, 28, 130)}
    assert ex.tiling.coverage.max() == 4 and ex.tiling.coverage.min() == 1


def test_image_without_features(hik_model):
    ex = bow.explain(hik_model, np.zeros((6, 6)), target=1)
    assert len(ex.features) == 0 and np.all(ex.pixels == 0)
    # nothing is active: the bias stays unexplained and nothing reaches layer 2
    assert ex.ledger[0].absorbed["bias"][0] == pytest.approx(ex.f)
    assert ex.ledger.max_residual() == 0.0


# Taylor root search fallbacks ------------------------------------------------------------
def rbf_expansion(intercept):
    support = np.array([[0.6, 0.4, 0.0], [0.2, 0.3, 0.5]])
    return KernelExpansion(K.RBF(2.0), support, np.array([1.0, 1.0]), intercept, support)


def test_root_beyond_same_sign_candidates_is_extended():
    expansion = rbf_expansion(-1.0)  # positive near the support vectors, -1 far away; all candidates > 0
    x = np.array([0.5, 0.4, 0.1])
    root, value, status = find_root(expansion, x)
    assert status == "extended" and abs(value) <= 1e-10 and root.min() >= 0


def test_no_root_falls_back_to_the_nearest_point_or_raises():
    expansion = rbf_expansion(0.1)  # f > 0 everywhere
    x = np.array([0.5, 0.4, 0.1])
    fx = expansion(x[None])[0]
    result = taylor(expansion, x, fx)
    assert result.status == "nearest_point" and result.f_root > 0
    # the zeroth-order term is shared uniformly: R = (x - x0) grad f(x0) + f(x0)/V
    expected = (x - result.root) * expansion.gradient(result.root) + result.f_root / 3
    assert np.allclose(result.relevance, expected, rtol=1e-14)
    with pytest.raises(RuntimeError, match="no root"):
        taylor(expansion, x, fx, root="strict")


# errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("image, message", [(np.zeros((0, 4)), "empty"), (np.full((20, 20), np.nan), "NaN")])
def test_bad_image(hik_model, image, message):
    with pytest.raises(ValueError, match=message):
        bow.explain(hik_model, image)


def test_unfitted_pipeline():
    model = make_pipeline(bow.BagOfWords(), SVC(kernel=K.histogram_intersection))
    with pytest.raises(NotFittedError, match="not fitted"):
        bow.explain(model, np.zeros((20, 20)))


@pytest.mark.parametrize("kernel, message", [
    (lambda X, Y: X @ Y.T, "is Python code lrpref cannot decompose or differentiate. Supported kernels"),
    (K.Sum([(K.hellinger, 1.0), (K.RBF(1.0), 1.0)], [8, 8]), "neither a sum decomposition nor a gradient")],
    ids=["python-function", "sum-hellinger-rbf"])
def test_kernel_without_decomposition_or_gradient(kernel, message, test_images):
    features = bow.DenseFeatures(**FEATURES)
    images, labels = blob_images()
    if isinstance(kernel, K.Sum):
        union = FeatureUnion([(name, bow.BagOfWords(features, bow.SoftCoding(8, random_state=0)))
                              for name in ("a", "b")])
        model = make_pipeline(union, SVC(kernel=kernel)).fit(images, labels)
    else:
        model = fit_model(classifier=SVC(kernel=kernel))
    with pytest.raises(TypeError, match=message):
        bow.explain(model, test_images[0])


@pytest.mark.parametrize("classifier", [SVC(kernel=K.histogram_intersection), SVC(kernel="rbf"), LinearSVC()],
                         ids=["callable", "rbf", "linearsvc"])
def test_classifier_trained_on_a_different_feature_size(classifier, hik_model, test_images):
    other = fit_model(coder=bow.SoftCoding(n_words=12, random_state=0), classifier=classifier)
    with pytest.raises(ValueError, match="trained on 12 features but the bag of words produces 16"):
        bow.explain((hik_model[0], other[-1]), test_images[0])


def test_classifier_trained_on_other_data_of_the_same_size(hik_model, test_images):
    other = fit_model(seed=3)  # same shapes, other training BoW
    with pytest.raises(ValueError, match="do not match"):
        bow.explain((hik_model[0], other[-1]), test_images[0], target=1)


def test_target_not_in_classes(hik_model, test_images):
    with pytest.raises(ValueError, match=r"target 'cat' is not one of the classifier's classes_ \[0, 1\]"):
        bow.explain(hik_model, test_images[0], target="cat")


@pytest.mark.parametrize("option, message", [
    (dict(bias="half"), "bias must be one of"), (dict(layer3="exact"), "layer3 must be one of"),
    (dict(projection="disc"), "projection must be"), (dict(zero_dim="keep"), "zero_dim must be one of"),
    (dict(epsilon=-1.0), "epsilon must be"), (dict(tiles=(0, 3)), "tiles must be"),
])
def test_bad_options(option, message, hik_model, test_images):
    with pytest.raises(ValueError, match=message):
        bow.explain(hik_model, test_images[0], **option)


@pytest.mark.parametrize("option, message", [(dict(root="near"), "root must be"),
                                             (dict(taylor_residual="all"), "taylor_residual must be")])
def test_bad_taylor_options(option, message, expchi2_model, test_images):
    with pytest.raises(ValueError, match=message):
        bow.explain(expchi2_model, test_images[0], **option)


def test_decompose_needs_a_decomposable_kernel(expchi2_model, test_images):
    with pytest.raises(TypeError, match="no sum decomposition"):
        bow.explain(expchi2_model, test_images[0], layer3="decompose")


@pytest.mark.parametrize("model, error, message", [
    ("svc", TypeError, "Pipeline or a tuple"),
    ("pca", TypeError, "cannot explain the step PCA.*Supported steps: Normalizer"),
    ("first", TypeError, "first step must be a BagOfWords"),
    ("precomputed-pair", ValueError, "kernel='precomputed' needs the kernel"),
])
def test_bad_model_structure(model, error, message, hik_model, test_images):
    bag, svc = hik_model[0], hik_model[-1]
    pca = PCA(4).fit(bag.training_bow_)
    models = {"svc": svc, "pca": (bag, pca, svc), "first": (StandardScaler(), svc),
              "precomputed-pair": (bag, SVC(kernel="precomputed").fit(bag.training_bow_ @ bag.training_bow_.T,
                                                                       np.arange(len(bag.training_bow_)) % 2))}
    with pytest.raises(error, match=message):
        bow.explain(models[model], test_images[0])
