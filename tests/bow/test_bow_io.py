"""save/load: checksummed .npz arrays + JSON, no pickles, documented state only; same decision_function, same explanation."""

import numpy as np
import pytest
from bow_helpers import FEATURES, blob_images, fit_model
from damage import damage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.svm import SVC, LinearSVC

from lrpref import bow
from lrpref._integrity import FileFormatError, read_archive, write_archive
from lrpref.bow import kernels as K


def precomputed_model():
    images, labels = blob_images()
    bag = bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.HardCoding(16, random_state=0), random_state=0)
    return make_pipeline(bag, bow.KernelMatrix(K.chi2), SVC(kernel="precomputed")).fit(images, labels)


def mkl_model():
    images, labels = blob_images()
    union = FeatureUnion([("hog", bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.SoftCoding(8, random_state=0))),
                          ("raw", bow.BagOfWords(bow.DenseFeatures("raw", 6, 3, (1,)), bow.LLCCoding(8, random_state=0)))],
                         transformer_weights={"hog": 1.0, "raw": 0.5})
    kernel = K.Sum([(K.histogram_intersection, 1.0), (K.linear, 2.0)], [8, 8])
    return make_pipeline(union, SVC(kernel=kernel, C=10.0)).fit(images, labels)


MODELS = {
    "svc-hik": lambda: fit_model(),
    "svc-expchi2": lambda: fit_model(classifier=SVC(kernel=K.ExpChi2(2.0), C=10.0)),
    "svc-rbf-class-weight": lambda: fit_model(classifier=SVC(kernel="rbf", gamma="scale", class_weight={0: 2.0, 1: 1.0})),
    "precomputed": precomputed_model,
    "linearsvc": lambda: fit_model(classifier=LinearSVC()),
    "logistic": lambda: fit_model(classifier=LogisticRegression()),
    "ovr": lambda: fit_model(classifier=OneVsRestClassifier(SVC(kernel=K.chi2))),
    "fisher": lambda: fit_model(coder=bow.FisherCoding(2, random_state=0), features=bow.DenseFeatures("raw", 4, 2, (1,)),
                                classifier=LinearSVC(), normalize="improved"),
    "mkl": mkl_model,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip(name, tmp_path, test_images):
    model = MODELS[name]()
    path = tmp_path / "model.npz"
    bow.save(model, path)
    loaded = bow.load(path)
    assert type(loaded) is type(model) and loaded is not model
    assert np.array_equal(loaded.decision_function(test_images), model.decision_function(test_images))
    for image in test_images[:2]:
        a, b = bow.explain(model, image), bow.explain(loaded, image)
        assert a.target == b.target and a.f == b.f
        assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.words, b.words)


def test_the_file_is_checksummed_arrays_and_json(tmp_path):
    path = tmp_path / "model.npz"
    bow.save(fit_model(), path)
    arrays, document = read_archive(path)
    assert all(value.dtype != object for value in arrays.values())
    assert document["format"] == "lrpref.bow/2"
    steps = document["model"]["params"]["steps"]
    assert steps[1]["tuple"][1]["estimator"]["params"]["kernel"] == {"kernel": {"name": "histogram_intersection"}}
    svc_state = steps[1]["tuple"][1]["estimator"]["state"]
    assert set(svc_state) <= {"classes_", "class_weight_", "support_", "support_vectors_", "n_support_",
                              "dual_coef_", "intercept_", "shape_fit_", "n_features_in_", "fit_status_", "gamma_",
                              "n_iter_", "X_fit_"}  # public names only


def test_unstorable_parts_are_named(tmp_path):
    with pytest.raises(TypeError, match="cannot save the function .* it is code.*Storable callables"):
        bow.save(fit_model(classifier=SVC(kernel=lambda X, Y: X @ Y.T)), tmp_path / "a.npz")
    images, labels = blob_images()
    pca = make_pipeline(bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.HardCoding(8, random_state=0)),
                        PCA(3), LinearSVC()).fit(images, labels)
    with pytest.raises(TypeError, match="cannot save a PCA: storable estimators are"):
        bow.save(pca, tmp_path / "b.npz")
    function = bow.BagOfWords(bow.FunctionFeatures(lambda image: (np.zeros((1, 2)), [[1, 1]], 1.0)),
                              coder=np.eye(2))
    with pytest.raises(TypeError, match="features function .* is code. Save the classifier"):
        bow.save(function, tmp_path / "c.npz")


def _rewrite(path, out, change):
    """Re-write a saved file with its document changed by ``change(document, arrays)`` and fresh checksums."""
    arrays, document = read_archive(path)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    change(document, arrays)
    return write_archive(out, arrays, document)


def test_load_refuses_foreign_and_changed_files(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(FileFormatError, match="not a lrpref bag-of-words model file"):
        bow.load(plain)
    path = tmp_path / "model.npz"
    bow.save(fit_model(classifier=LinearSVC()), path)

    def rename_class(document, arrays):
        document["model"]["params"]["steps"][1]["tuple"][1]["estimator"]["class"] = "os.system"

    with pytest.raises(FileFormatError, match="not an allowed estimator"):
        bow.load(_rewrite(path, tmp_path / "class.npz", rename_class))

    def add_private_state(document, arrays):
        document["model"]["params"]["steps"][1]["tuple"][1]["estimator"]["state"]["_secret"] = 1

    with pytest.raises(FileFormatError, match=r"LinearSVC: unexpected state \['_secret'\]"):
        bow.load(_rewrite(path, tmp_path / "private.npz", add_private_state))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"document.json": np.array("{}"), "document.sha256": np.array("0"),
                         "a0": np.array([{}], dtype=object)})
    with pytest.raises(FileFormatError):
        bow.load(pickled)


def svc_dual_key(path):
    arrays, document = read_archive(path)
    svc = document["model"]["params"]["steps"][1]["tuple"][1]["estimator"]
    return svc["state"]["dual_coef_"]["array"], arrays


def test_a_tampered_dual_coef_is_a_file_format_error(tmp_path):
    path = tmp_path / "model.npz"
    bow.save(fit_model(), path)
    key, arrays = svc_dual_key(path)
    changed = {k: np.array(v) for k, v in arrays.items()}
    changed[key][0, 0] += 0.5
    with np.load(path, allow_pickle=False) as stored:  # bytes changed, checksums kept: the checksum catches it
        entries = {k: stored[k] for k in stored.files}
    entries[key] = changed[key]
    np.savez(tmp_path / "bytes.npz", **entries)
    with pytest.raises(FileFormatError, match=f"the entry '{key}' does not match its SHA-256"):
        bow.load(tmp_path / "bytes.npz")

    def tamper(document, arrays):  # re-checksummed: the model's own constraint catches it
        arrays[key][0, 0] += 0.5

    with pytest.raises(FileFormatError, match=r"dual_coef_ of classes \(0, 1\) breaks sum_i a_i = 0"):
        bow.load(_rewrite(path, tmp_path / "resigned.npz", tamper))

    def reshape(document, arrays):
        arrays[key] = arrays[key][:, :-1]

    with pytest.raises(FileFormatError, match="SVC: inconsistent shapes"):
        bow.load(_rewrite(path, tmp_path / "reshaped.npz", reshape))

    def nan(document, arrays):
        arrays[key][0, 0] = np.nan

    with pytest.raises(FileFormatError, match="SVC.dual_coef_ holds NaN"):
        bow.load(_rewrite(path, tmp_path / "nan.npz", nan))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_bytes_load_intact_or_raise_file_format_error(saved_model, tmp_path_factory, data):
    """Truncations, bit flips and overwritten bytes: the same model, or FileFormatError."""
    path, decision, image = saved_model
    damaged = tmp_path_factory.mktemp("fuzz") / "damaged.npz"
    damaged.write_bytes(damage(path.read_bytes(), data))
    try:
        model = bow.load(damaged)
    except FileFormatError:
        return
    assert np.array_equal(model.decision_function([image]), decision)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, test_images):
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    model = fit_model(coder=bow.HardCoding(6, random_state=0))
    bow.save(model, path)
    return path, model.decision_function([test_images[0]]), test_images[0]
