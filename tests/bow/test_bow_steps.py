"""Steps between histograms and classifier (lrpref.bow.steps): forward = scikit-learn's transform,
conservation through each layer (hypothesis), a hand-computed example per step, and end to end."""

import numpy as np
import pytest
from bow_helpers import FEATURES, blob_images
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics.pairwise import chi2_kernel
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, Normalizer, RobustScaler, StandardScaler
from sklearn.svm import SVC, LinearSVC

from lrpref import bow
from lrpref.bow import kernels as K
from lrpref.bow.decompose import words_relevance
from lrpref.bow.models import KernelExpansion
from lrpref.bow.steps import read_step

seeds = st.integers(0, 2**31 - 1)

STEPS = {
    "normalizer-l1": lambda: Normalizer("l1"),
    "normalizer-l2": lambda: Normalizer("l2"),
    "normalizer-max": lambda: Normalizer("max"),
    "power": lambda: bow.PowerNormalizer(0.5),
    "sqrt": lambda: FunctionTransformer(np.sqrt),
    "tfidf": lambda: TfidfTransformer(),
    "tfidf-sublinear-l1": lambda: TfidfTransformer(norm="l1", sublinear_tf=True),
    "tfidf-raw": lambda: TfidfTransformer(norm=None, smooth_idf=False),
    "standard": lambda: StandardScaler(),
    "standard-no-mean": lambda: StandardScaler(with_mean=False),
    "minmax": lambda: MinMaxScaler(),
    "maxabs": lambda: MaxAbsScaler(),
    "robust": lambda: RobustScaler(),
}


def histograms(rng, n, width):
    h = rng.gamma(0.5, size=(n, width)) * (rng.random((n, width)) > 0.3)
    h[:, 0] += 1e-3
    return h / h.sum(axis=1, keepdims=True)


def apply(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


@settings(max_examples=40, deadline=None)
@given(seed=seeds, name=st.sampled_from(sorted(STEPS)))
def test_forward_is_sklearn_transform_and_every_layer_closes_its_books(seed, name):
    rng = np.random.default_rng(seed)
    train, x = histograms(rng, 20, 7), histograms(rng, 1, 7)[0]
    step = STEPS[name]().fit(train)
    layers = read_step(step)
    expected = step.transform(x[None])
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    assert np.allclose(apply(layers, x), expected[0], rtol=1e-12, atol=1e-14)
    relevance = rng.normal(size=7)
    inputs = [x]
    for layer in layers:
        inputs.append(layer.forward(inputs[-1]))
    for layer, layer_input in reversed(list(zip(layers, inputs[:-1]))):
        passed, row = layer.relevance(layer_input, relevance)
        assert row.residual[0] == 0.0 and row.absorbed == {}
        assert np.array_equal(passed, relevance)  # global scales and one-to-one maps pass everything unchanged
        relevance = passed


def test_hand_computed_normalizer_and_power():
    (l1,) = read_step(Normalizer("l1").fit(np.ones((1, 2))))
    assert np.allclose(l1.forward(np.array([1.0, 3.0])), [0.25, 0.75])
    passed, row = l1.relevance(np.array([1.0, 3.0]), np.array([2.0, -1.0]))
    assert np.array_equal(passed, [2.0, -1.0]) and row.absorbed == {}
    (power,) = read_step(bow.PowerNormalizer(0.5).fit(np.ones((1, 3))))
    assert np.allclose(power.forward(np.array([0.25, -0.04, 0.0])), [0.5, -0.2, 0.0])


def test_hand_computed_standard_scaler_with_a_linear_kernel():
    # scaler: mean [1, 2], scale [1, 2], so T(x) = [x0 - 1, (x1 - 2)/2] and T(0) = [-1, -1].
    # classifier: f(y) = 0.5 + y . w, w = [1, 2]. x = [3, 0]: y = [2, -1], f = 0.5 + 2 - 2 = 0.5.
    # relative to T(0): c = w * (y - T(0)) = [3, 0]; offset w . T(0) = -3 joins the bias: b' = -2.5,
    # all of it on the one active word (x0): R = [0.5, 0], passed unchanged through the scaler.
    scaler = StandardScaler().fit(np.array([[0.0, 0.0], [2.0, 4.0]]))
    (layer,) = read_step(scaler)
    x = np.array([3.0, 0.0])
    y, reference = layer.forward(x), layer.forward(np.zeros(2))
    assert np.allclose(y, [2.0, -1.0]) and np.allclose(reference, [-1.0, -1.0])
    w = np.array([[1.0, 2.0]])
    expansion = KernelExpansion(K.linear, w, np.array([1.0]), 0.5, w)
    relevance, row = words_relevance(expansion, y, 0.5, bias="active", reference=reference, histogram=x)
    assert np.allclose(relevance, [0.5, 0.0]) and row.absorbed["bias"][0] == pytest.approx(0.0, abs=1e-15)
    passed, step_row = layer.relevance(x, relevance)
    assert np.array_equal(passed, relevance) and step_row.name == "StandardScaler: pass-through"


def test_hand_computed_tfidf():
    # n = 2 documents, df = [2, 1]: smooth idf = ln(3/3) + 1 = 1 and ln(3/2) + 1
    step = TfidfTransformer(norm=None).fit(np.array([[1.0, 0.0], [1.0, 1.0]]))
    layers = read_step(step)
    assert [type(layer).__name__ for layer in layers] == ["Affine"]
    assert np.allclose(apply(layers, np.array([2.0, 1.0])), [2.0, np.log(1.5) + 1.0])
    sublinear = read_step(TfidfTransformer(norm="l2", sublinear_tf=True).fit(np.array([[1.0, 0.0], [1.0, 1.0]])))
    assert [type(layer).__name__ for layer in sublinear] == ["Elementwise", "Affine", "GlobalScale"]
    assert np.allclose(sublinear[0].forward(np.array([np.e, 0.0])), [2.0, 0.0])  # 1 + log x, 0 stays 0


def test_hand_computed_minmax_and_maxabs():
    train = np.array([[0.0, -2.0], [4.0, 2.0]])
    (minmax,) = read_step(MinMaxScaler().fit(train))  # y = x/4, (x + 2)/4
    assert np.allclose(minmax.forward(np.array([2.0, 0.0])), [0.5, 0.5])
    (maxabs,) = read_step(MaxAbsScaler().fit(train))  # y = x/4, x/2
    assert np.allclose(maxabs.forward(np.array([2.0, 1.0])), [0.5, 0.5])


@pytest.mark.parametrize("step", ["normalizer-l1", "tfidf", "power", "standard", "sqrt"])
def test_pipelines_with_steps_explain_exactly(step):
    images, labels = blob_images()
    test_images = blob_images(n_per_class=2, seed=1)[0]
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.SoftCoding(12, random_state=0), random_state=0)
    kernel = K.histogram_intersection if step in ("normalizer-l1", "power", "sqrt") else K.linear
    model = make_pipeline(bag, STEPS[step](), SVC(kernel=kernel, C=10.0)).fit(images, labels)
    for image in test_images:
        ex = bow.explain(model, image, target=1)
        assert ex.f == pytest.approx(model.decision_function([image])[0], rel=1e-10)
        assert ex.ledger.max_residual() < 1e-10
        assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10, abs=1e-12)  # exact end to end, steps included
        names = [row.name for row in ex.ledger]
        assert any(type(model[1]).__name__.split("(")[0] in name for name in names), names


def test_the_issue_pipeline_normalizer_and_chi2_kernel():
    """Pipeline(Normalizer, SVC(kernel=chi2_kernel)) on histograms the user computed, explained as it is."""
    images, labels = blob_images()
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.HardCoding(12, random_state=0), pooling="sum",
                         normalize="none", random_state=0).fit(images)
    histograms_ = bag.transform(images)  # counts
    assert np.allclose(histograms_.sum(axis=1), [len(bag.local_features(im)) for im in images])
    clf = make_pipeline(Normalizer("l1"), SVC(kernel=chi2_kernel, C=10.0)).fit(histograms_, labels)
    image = blob_images(n_per_class=1, seed=3)[0][1]
    ex = bow.explain((bag, *clf), image, target=1, training_bow=histograms_)
    assert ex.f == pytest.approx(clf.decision_function(bag.transform([image]))[0], rel=1e-10)
    assert ex.ledger[1].name == "Normalizer(l1): pass-through"
    assert ex.ledger.max_residual() < 1e-10


def test_unsupported_steps_name_the_alternative():
    with pytest.raises(TypeError, match="FunctionTransformer runs arbitrary code.*PowerNormalizer"):
        read_step(FunctionTransformer(np.log1p).fit(np.ones((2, 2))))
    with pytest.raises(TypeError, match="clip=True is not an affine map"):
        read_step(MinMaxScaler(clip=True).fit(np.ones((2, 2))))
    with pytest.raises(TypeError, match="no relevance rule for LinearSVC.*Supported steps"):
        read_step(LinearSVC().fit(np.eye(2), [0, 1]))
