"""Explaining the classifier a user already has: scikit-learn kernels, one-vs-one classifiers, prefit
codebooks, function features, the histogram-level entry point, root searches and expansions, save/load."""

import functools

import numpy as np
import pytest
from bow_helpers import FEATURES, blob_images
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.frozen import FrozenEstimator
from sklearn.metrics.pairwise import (additive_chi2_kernel, chi2_kernel, laplacian_kernel, linear_kernel,
                                      polynomial_kernel, rbf_kernel, sigmoid_kernel)
from sklearn.mixture import GaussianMixture
from sklearn.multiclass import OneVsOneClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVC, LinearSVC

from lrpref import bow
from lrpref.bow import kernels as K
from lrpref.bow.decompose import words_relevance
from lrpref.bow.models import KernelExpansion, read_classifier
from lrpref.bow.taylor import find_root, integrated_relevance, taylor

seeds = st.integers(0, 2**31 - 1)


def histograms(rng, n, width):
    h = rng.gamma(0.5, size=(n, width)) * (rng.random((n, width)) > 0.3)
    h[:, 0] += 1e-3
    return h / h.sum(axis=1, keepdims=True)


def three_classes(seed, n=45, width=10):
    rng = np.random.default_rng(seed)
    X, y = histograms(rng, n, width), np.arange(n) % 3
    for c in range(3):
        X[y == c, 3 * c:3 * c + 3] += 0.2
    return X / X.sum(axis=1, keepdims=True), np.array(["a", "b", "c"])[y], histograms(rng, 4, width)


# scikit-learn kernels --------------------------------------------------------------------
SKLEARN = [(linear_kernel, K.Linear), (functools.partial(rbf_kernel, gamma=3.0), K.RBF), (chi2_kernel, K.ExpChi2),
           (functools.partial(chi2_kernel, gamma=0.25), K.ExpChi2), (additive_chi2_kernel, K.AdditiveChi2),
           (polynomial_kernel, K.Poly), (functools.partial(polynomial_kernel, degree=2, coef0=0.5), K.Poly),
           (sigmoid_kernel, K.Sigmoid), (rbf_kernel, K.RBF)]


@pytest.mark.parametrize("function, cls", SKLEARN, ids=lambda v: getattr(v, "__name__", repr(v)[:40]))
def test_sklearn_kernels_are_recognised_with_their_parameters(function, cls):
    rng = np.random.default_rng(0)
    X, Y = histograms(rng, 6, 5), histograms(rng, 4, 5)
    kernel = K.as_kernel(function, n_features=5)
    assert type(kernel) is cls
    assert np.allclose(kernel(X, Y), function(X, Y), rtol=1e-13, atol=1e-15)


def test_chi2_kernel_is_exp_chi2_gamma_1_and_unknown_kernels_name_the_nearest():
    assert K.as_kernel(chi2_kernel) == K.ExpChi2(1.0)
    with pytest.raises(TypeError, match="laplacian_kernel.*rbf_kernel .*chi2_kernel"):
        K.as_kernel(laplacian_kernel)
    with pytest.raises(TypeError, match="Python code.*Supported kernels"):
        K.as_kernel(lambda a, b: a @ b.T)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, name=st.sampled_from(["chi2_kernel", "additive_chi2_kernel", "poly-scale", "sigmoid-auto",
                                         "rbf-scale", "partial-chi2"]))
def test_svc_with_sklearn_kernels_agrees_with_decision_function(seed, name):
    X, y, Z = three_classes(seed)
    y = (y == "a").astype(int)
    svc = {"chi2_kernel": SVC(kernel=chi2_kernel), "additive_chi2_kernel": SVC(kernel=additive_chi2_kernel),
           "poly-scale": SVC(kernel="poly", degree=2, gamma="scale"), "sigmoid-auto": SVC(kernel="sigmoid", gamma="auto"),
           "rbf-scale": SVC(kernel="rbf", gamma="scale"),
           "partial-chi2": SVC(kernel=functools.partial(chi2_kernel, gamma=0.3))}[name].fit(X, y)
    explained = read_classifier(svc, 1, X.shape[1], training_bow=X)
    assert np.allclose(explained.expansion(Z), svc.decision_function(Z), rtol=1e-10, atol=1e-12)
    if name.endswith("scale"):  # gamma="scale" resolved from the training data as scikit-learn does
        assert explained.expansion.kernel.gamma == pytest.approx(svc._gamma, rel=1e-14)


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_additive_chi2_constant_joins_the_bias(seed):
    """-(a-b)^2/(a+b) has kappa(a, 0) = -a: inactive dimensions get only their bias share, and the sum is exact."""
    X, y, Z = three_classes(seed)
    svc = SVC(kernel=additive_chi2_kernel).fit(X, (y == "a").astype(int))
    expansion = read_classifier(svc, 1, X.shape[1], training_bow=X).expansion
    z = Z[0].copy()
    z[:3] = 0.0
    z[3] += 0.1
    z /= z.sum()
    fz = float(expansion(z[None])[0])
    relevance, row = words_relevance(expansion, z, fz, bias="active")
    assert relevance.sum() == pytest.approx(fz, rel=1e-10, abs=1e-12)
    assert np.all(relevance[:3] == 0.0)
    # offset = sum_i a_i sum_d kappa(x_id, 0) = -sum_i a_i sum_d x_id, by hand
    assert expansion.offset() == pytest.approx(-np.sum(expansion.coef * expansion.support.sum(axis=1)), abs=1e-12)


# one-vs-one --------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(seed=seeds, kernel=st.sampled_from(["rbf", "linear", "hik", "chi2_kernel"]))
def test_one_vs_one_svc_pairwise_and_one_vs_rest_confidence(seed, kernel):
    X, y, Z = three_classes(seed)
    svc = SVC(kernel={"hik": K.histogram_intersection, "chi2_kernel": chi2_kernel}.get(kernel, kernel), gamma=2.0,
              decision_function_shape="ovo").fit(X, y)
    ovo = svc.decision_function(Z)  # pairs (a, b), (a, c), (b, c), positive for the first
    for p, (a, b) in enumerate([("a", "b"), ("a", "c"), ("b", "c")]):
        ab = read_classifier(svc, (a, b), 10, training_bow=X).expansion
        ba = read_classifier(svc, (b, a), 10, training_bow=X).expansion
        assert np.allclose(ab(Z), ovo[:, p], rtol=1e-10, atol=1e-12)
        assert np.allclose(ba(Z), -ovo[:, p], rtol=1e-10, atol=1e-12)
        assert abs(ab.coef.sum()) < 1e-10  # sum_i a_i = 0 for each pairwise SVM
        if kernel in ("linear", "hik"):  # decomposable: the pairwise decision is split exactly (S14)
            for z, f in zip(Z, ab(Z)):
                relevance, row = words_relevance(ab, z, float(f), bias="active")
                assert relevance.sum() == pytest.approx(f, rel=1e-10, abs=1e-12)
                assert abs(row.absorbed["bias"][0]) <= 1e-12
    confidence = read_classifier(svc, "b", 10, training_bow=X).expansion
    assert np.allclose(confidence(Z), -ovo[:, 0] + ovo[:, 2], rtol=1e-10, atol=1e-12)
    # scikit-learn's "ovr" shape is votes + c / (3 (|c| + 1)): its fractional part is our c, squashed
    svc.decision_function_shape = "ovr"
    votes = svc.decision_function(Z)[:, 1]
    c = confidence(Z)
    assert np.allclose(votes - np.round(votes), c / (3 * (np.abs(c) + 1)), atol=1e-10)


def test_one_vs_one_explanations_conserve_end_to_end():
    images, labels = three_class_images()
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.SoftCoding(12, random_state=0), random_state=0)
    for classifier in (SVC(kernel=K.histogram_intersection, C=10.0), OneVsOneClassifier(SVC(kernel=K.chi2, C=10.0)),
                       OneVsOneClassifier(LinearSVC(C=10.0))):
        model = make_pipeline(bag, classifier).fit(images, labels)
        image = images[5]
        for target in [("blob", "vertical"), ("horizontal", "blob"), "vertical"]:
            ex = bow.explain(model, image, target=target)
            assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10, abs=1e-12)
            assert ex.ledger.max_residual() < 1e-10
        pair = bow.explain(model, image, target=("blob", "vertical"))
        swapped = bow.explain(model, image, target=("vertical", "blob"))
        assert np.allclose(pair.pixels, -swapped.pixels, atol=1e-14)


def three_class_images():
    images, labels = blob_images(n_per_class=8)
    rng = np.random.default_rng(10)
    for _ in range(8):
        image = 0.3 + 0.05 * rng.standard_normal((24, 24))
        image[::4, :] += 0.2
        images.append(np.clip(image, 0, 1))
    return images, np.concatenate([np.where(labels == 1, "blob", "vertical"), ["horizontal"] * 8])


def test_pairwise_target_on_a_one_vs_rest_model_is_refused():
    X, y, _ = three_classes(0)
    from sklearn.multiclass import OneVsRestClassifier
    ovr = OneVsRestClassifier(SVC(kernel="linear")).fit(X, y)
    with pytest.raises(ValueError, match="pairwise target .* needs a one-vs-one classifier"):
        read_classifier(ovr, ("a", "b"), 10)


# prefit codebooks and function features --------------------------------------------------
@pytest.mark.parametrize("make", [lambda d: KMeans(5, n_init=2, random_state=0).fit(d),
                                  lambda d: MiniBatchKMeans(5, n_init=2, random_state=0).fit(d),
                                  lambda d: FrozenEstimator(KMeans(5, n_init=2, random_state=0).fit(d)),
                                  lambda d: KMeans(5, n_init=2, random_state=0).fit(d).cluster_centers_,
                                  lambda d: GaussianMixture(4, covariance_type="full", random_state=0).fit(d)],
                         ids=["kmeans", "minibatch", "frozen", "centres", "gmm-full"])
def test_prefit_codebooks_are_used_without_refitting(make):
    images, labels = blob_images()
    dense = bow.DenseFeatures(**FEATURES)
    descriptors = np.concatenate([dense.extract(im).descriptors for im in images])
    codebook = make(descriptors)
    before = np.array(getattr(codebook, "cluster_centers_", getattr(codebook, "means_", codebook)), copy=True) \
        if not isinstance(codebook, FrozenEstimator) else codebook.estimator.cluster_centers_.copy()
    bag = bow.BagOfWords(dense, coder=codebook, normalize="l1").fit(images, labels)
    codes = bag.encode(dense.extract(images[3]))
    inner = codebook.estimator if isinstance(codebook, FrozenEstimator) else codebook
    if isinstance(inner, GaussianMixture):
        assert np.allclose(codes, inner.predict_proba(dense.extract(images[3]).descriptors), rtol=1e-12)
        assert np.array_equal(inner.means_, before)
    elif isinstance(inner, np.ndarray):
        assert np.array_equal(bag.coder_.centers_, before)
    else:
        assert np.array_equal(np.argmax(codes, axis=1), inner.predict(dense.extract(images[3]).descriptors))
        assert np.array_equal(inner.cluster_centers_, before)
    model = make_pipeline(bag, SVC(kernel=K.histogram_intersection, C=10.0)).fit(images, labels)
    ex = bow.explain(model, images[3], target=1)
    assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10, abs=1e-12)


def test_an_unfitted_sklearn_codebook_is_named():
    with pytest.raises(Exception, match="KMeans given as coder is not fitted.*FrozenEstimator"):
        bow.BagOfWords(coder=KMeans(3)).fit(blob_images(n_per_class=1)[0])


def describe(image):
    """A user's own descriptor: 4x4 patch means and gradient energy on a grid every 4 pixels."""
    rows, cols = np.mgrid[4:image.shape[0] - 4:4, 4:image.shape[1] - 4:4]
    gy, gx = np.gradient(image)
    energy = gx ** 2 + gy ** 2
    descriptors = np.array([[image[r - 2:r + 2, c - 2:c + 2].mean(), energy[r - 2:r + 2, c - 2:c + 2].mean()]
                            for r, c in zip(rows.ravel(), cols.ravel())])
    return descriptors, np.stack([rows.ravel(), cols.ravel()], axis=1), 3.0


def test_function_features_and_explain_histogram_agree():
    images, labels = blob_images()
    bag = bow.BagOfWords(describe, coder=bow.HardCoding(6, random_state=0), pooling="sum", normalize="none",
                         random_state=0)
    model = make_pipeline(bag, Normalizer("l1"), SVC(kernel=chi2_kernel, C=10.0)).fit(images, labels)
    assert isinstance(model[0].features_, bow.FunctionFeatures)
    image = images[7]
    ex = bow.explain(model, image, target=1)
    local = model[0].local_features(image)
    assert np.allclose(local.supports.areas()[:1], [29])  # a disc of radius 3: 29 pixels
    codes = model[0].encode(local)
    hist = codes.sum(axis=0)
    ex_h = bow.explain_histogram(model[1:], codes, local.supports, target=1, histogram=hist,
                                 training_bow=model[0].training_bow_)
    assert ex_h.f == ex.f and np.allclose(ex_h.pixels, ex.pixels, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="not the 'sum' pooling of the codes"):
        bow.explain_histogram(model[1:], codes, local.supports, histogram=hist / 2, training_bow=model[0].training_bow_)
    with pytest.raises(ValueError, match="keeps no support vectors .* training_bow"):
        bow.explain_histogram(model[1:], codes, local.supports)


@pytest.mark.parametrize("output, message", [((np.zeros((2, 3)),), "must return \\(descriptors, positions, scales\\)"),
                                              ((np.zeros((2, 3)), np.zeros((3, 2)), 1.0), "2 descriptors but 3"),
                                              ((np.zeros((2, 3)), np.zeros((2, 2)), -1.0), "must be positive"),
                                              ((np.full((2, 3), np.nan), np.zeros((2, 2)), 1.0), "non-finite")])
def test_bad_function_features_are_named(output, message):
    with pytest.raises(ValueError, match=message):
        bow.FunctionFeatures(lambda image: output).extract(np.zeros((8, 8)))


# root searches and expansions --------------------------------------------------------------
def rbf_model(seed):
    X, y, Z = three_classes(seed)
    svc = SVC(kernel="rbf", gamma=5.0, C=10.0).fit(X, (y == "a").astype(int))
    return read_classifier(svc, 1, X.shape[1], training_bow=X).expansion, Z


@settings(max_examples=20, deadline=None)
@given(seed=seeds, root=st.sampled_from(["line", "gradient"]))
def test_integrated_gradients_sum_to_f_minus_f_root(seed, root):
    expansion, Z = rbf_model(seed)
    for z in Z:
        fz = float(expansion(z[None])[0])
        result = taylor(expansion, z, fz, root=root, method="integrated")
        assert abs(result.f_root) <= 1e-10 * max(1, abs(fz)) or result.status == "nearest_point"
        assert abs(fz - result.f_root - result.relevance.sum() + result.root_share) <= 1e-10 * max(1.0, abs(fz))


@settings(max_examples=25, deadline=None)
@given(seed=seeds, name=st.sampled_from(["linear", "chi2", "additive_chi2"]))
def test_integrated_gradients_from_the_empty_histogram_is_the_additive_decomposition(seed, name):
    """For an additive kernel, integrated gradients on the path t x from 0 give
    R_d = sum_i a_i [kappa(x_id, x_d) - kappa(x_id, 0)]: the exact rule S14, found by another route."""
    rng = np.random.default_rng(seed)
    support, x = histograms(rng, 5, 6), histograms(rng, 1, 6)[0]
    expansion = KernelExpansion(getattr(K, name), support, rng.normal(size=5), rng.normal(), support)
    fx = float(expansion(x[None])[0])
    result = taylor(expansion, x, fx, root="empty", method="integrated", share=lambda amount, r: np.zeros_like(r))
    assert result.status == "empty" and result.f_root == pytest.approx(float(expansion(np.zeros((1, 6)))[0]))
    exact = expansion.contributions(x)
    quadrature = fx - result.f_root - result.relevance.sum()  # what the ledger reports as `quadrature`
    assert quadrature == pytest.approx(exact.sum() - result.relevance.sum(), abs=1e-12)
    if result.nodes < 512:
        assert np.allclose(result.relevance, exact, rtol=0, atol=1e-10)
    else:  # chi2's integrand 2a^2/(a + t b)^2 is a spike near t = 0 when a support value a is tiny
        assert np.allclose(result.relevance, exact, rtol=0, atol=1e-6)


def test_integrated_gradients_of_a_linear_kernel_is_gradient_times_input_by_hand():
    support = np.array([[1.0, 0.0, 2.0]])
    expansion = KernelExpansion(K.linear, support, np.array([2.0]), -1.0, support)  # f = -1 + 2 x0 + 4 x2
    x, root = np.array([1.0, 3.0, 0.5]), np.array([0.25, 0.0, 0.125])  # f(root) = -1 + .5 + .5 = 0
    relevance, nodes = integrated_relevance(expansion, x, root, 3.0, 0.0)
    assert np.allclose(relevance, [2 * 0.75, 0.0, 4 * 0.375]) and nodes == 8


def test_gradient_root_is_a_root_and_usually_nearer():
    expansion, Z = rbf_model(3)
    nearer = 0
    for z in Z:
        fz = float(expansion(z[None])[0])
        line, f_line, _ = find_root(expansion, z, fz, method="line")
        grad, f_grad, status = find_root(expansion, z, fz, method="gradient")
        assert abs(f_grad) <= 1e-10 * max(1, abs(fz)) and status in ("gradient", "bisection")
        nearer += np.linalg.norm(grad - z) <= np.linalg.norm(line - z) + 1e-12
    assert nearer >= len(Z) - 1


def test_every_expansion_closes_the_ledger(expchi2_model, test_images):
    for layer3 in ("taylor", "integrated"):
        for root in ("line", "gradient"):
            ex = bow.explain(expchi2_model, test_images[0], target=1, layer3=layer3, root=root)
            assert ex.ledger.max_residual() < 1e-12
            kind = "quadrature" if layer3 == "integrated" else "taylor_remainder"
            assert kind in ex.ledger[0].absorbed
    ex = bow.explain(expchi2_model, test_images[0], target=1, layer3="integrated")
    assert abs(ex.ledger[0].absorbed["quadrature"][0]) <= 1e-10 * abs(ex.f)


# save / load of every new model kind -------------------------------------------------------
def models_to_save():
    images, labels = blob_images()
    dense = bow.DenseFeatures(**FEATURES)
    descriptors = np.concatenate([dense.extract(im).descriptors for im in images[:8]])
    kmeans = KMeans(6, n_init=2, random_state=0).fit(descriptors)
    gmm = GaussianMixture(3, random_state=0).fit(descriptors)
    tri_images, tri_labels = three_class_images()

    def bag(coder=None, **kw):
        return bow.BagOfWords(dense, coder or bow.SoftCoding(8, random_state=0), random_state=0, **kw)

    return {
        "kmeans-normalizer-partial-chi2": (make_pipeline(bag(kmeans, pooling="sum", normalize="none"), Normalizer("l1"),
                                           SVC(kernel=functools.partial(chi2_kernel, gamma=0.5))), images, labels),
        "gmm-power-poly-scale": (make_pipeline(bag(gmm), bow.PowerNormalizer(0.5), SVC(kernel="poly", gamma="scale")),
                                 images, labels),
        "scaler-sigmoid": (make_pipeline(bag(), StandardScaler(), SVC(kernel="sigmoid", gamma=0.1)), images, labels),
        "ovo-svc": (make_pipeline(bag(), SVC(kernel=K.histogram_intersection)), tri_images, tri_labels),
        "ovo-classifier": (make_pipeline(bag(), OneVsOneClassifier(SVC(kernel=additive_chi2_kernel))), tri_images,
                           tri_labels),
    }


@pytest.mark.parametrize("name", sorted(models_to_save()))
def test_new_models_round_trip(name, tmp_path):
    model, images, labels = models_to_save()[name]
    model.fit(images, labels)
    path = bow.save(model, tmp_path / "model")
    loaded = bow.load(path)
    assert np.array_equal(loaded.decision_function(images[:4]), model.decision_function(images[:4]))
    a, b = bow.explain(model, images[1]), bow.explain(loaded, images[1])
    assert a.target == b.target and np.array_equal(a.pixels, b.pixels)
