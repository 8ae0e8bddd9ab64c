"""save/load: .npz arrays + JSON, no pickles; same decision_function, same explanation."""

import json

import numpy as np
import pytest
from bow_helpers import FEATURES, blob_images, fit_model
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from lrpref import bow
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


def test_the_file_is_plain_arrays_and_json(tmp_path):
    path = tmp_path / "model.npz"
    bow.save(fit_model(), path)
    with np.load(path, allow_pickle=False) as stored:
        description = json.loads(str(stored["description.json"]))
        assert all(stored[key].dtype != object for key in stored.files)
    assert description["format"] == "lrpref.bow/1"
    steps = description["model"]["params"]["steps"]
    assert steps[1]["tuple"][1]["estimator"]["params"]["kernel"] == {"kernel": {"name": "histogram_intersection"}}


def test_unstorable_parts_are_named(tmp_path):
    with pytest.raises(TypeError, match="cannot save"):
        bow.save(fit_model(classifier=SVC(kernel=lambda X, Y: X @ Y.T)), tmp_path / "a.npz")
    images, labels = blob_images()
    scaled = make_pipeline(bow.BagOfWords(bow.DenseFeatures(**FEATURES), bow.HardCoding(8, random_state=0)),
                           StandardScaler(), LinearSVC()).fit(images, labels)
    with pytest.raises(TypeError, match="cannot save a StandardScaler"):
        bow.save(scaled, tmp_path / "b.npz")


def test_load_refuses_foreign_files(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a lrpref.bow model file"):
        bow.load(plain)
    path = tmp_path / "model.npz"
    bow.save(fit_model(classifier=LinearSVC()), path)
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    tampered = str(arrays["description.json"]).replace('"class": "LinearSVC"', '"class": "os.system"')
    arrays["description.json"] = np.array(tampered)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="not an allowed estimator"):
        bow.load(path)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"description.json": np.array(tampered), "a0": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        bow.load(pickled)
