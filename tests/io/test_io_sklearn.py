"""from_sklearn: MLPClassifier / MLPRegressor with every activation; the network's output is the
decision value before ``out_activation_``, checked against predict / predict_proba (float32 ≤ 1e-5,
float64 ≤ 1e-12 relative) and against the layers computed by hand from ``coefs_``."""

import warnings

import numpy as np
import pytest
from io_helpers import assert_same_forward
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor

import lrpref as lr
from lrpref.io import ModelImportError, from_sklearn

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


def data(n_classes, dtype, n_features=5, multilabel=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, n_features)).astype(dtype)
    if multilabel:
        return X, (X[:, :3] + rng.normal(scale=0.5, size=(60, 3)) > 0).astype(int)
    if n_classes is None:
        return X, np.stack([X[:, 0] - X[:, 1], X.sum(axis=1)], axis=1)
    return X, np.digitize(X[:, 0] + 0.5 * X[:, 1], np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1]))


def fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_classifier_softmax_output(activation, dtype):
    X, y = data(3, dtype)
    model = fit(MLPClassifier(hidden_layer_sizes=(7, 4), activation=activation, max_iter=60, random_state=0), X, y)
    assert model.out_activation_ == "softmax"
    net = from_sklearn(model)
    assert net.dtype == dtype and len(net) == 5
    logits = net(X)
    assert logits.shape == (60, 3) and logits.dtype == dtype
    assert_same_forward(softmax(logits.astype(np.float64), axis=1), model.predict_proba(X), dtype)
    np.testing.assert_array_equal(model.classes_[logits.argmax(axis=1)], model.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_binary_classifier_returns_the_logit_of_class_1(activation, dtype):
    X, y = data(2, dtype)
    model = fit(MLPClassifier(hidden_layer_sizes=(6,), activation=activation, max_iter=60, random_state=1), X, y)
    assert model.out_activation_ == "logistic"
    logit = from_sklearn(model)(X)
    assert logit.shape == (60, 1)
    assert_same_forward(expit(logit[:, 0].astype(np.float64)), model.predict_proba(X)[:, 1], dtype)


def test_multilabel_classifier():
    X, Y = data(None, np.float64, multilabel=True)
    model = fit(MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=80, random_state=2), X, Y)
    assert_same_forward(expit(from_sklearn(model)(X)), model.predict_proba(X), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regressor_equals_predict(activation, dtype):
    X, Y = data(None, dtype)
    model = fit(MLPRegressor(hidden_layer_sizes=(6, 5), activation=activation, max_iter=60, random_state=0), X, Y)
    assert_same_forward(from_sklearn(model)(X), model.predict(X), dtype)
    single = fit(MLPRegressor(hidden_layer_sizes=(4,), activation=activation, max_iter=60, random_state=0), X, Y[:, 0])
    out = from_sklearn(single)(X)
    assert out.shape == (60, 1)
    assert_same_forward(out[:, 0], single.predict(X), dtype)


def test_poisson_regressor_returns_the_log_of_predict():
    X, Y = data(None, np.float64)
    model = fit(MLPRegressor("poisson", hidden_layer_sizes=(5,), max_iter=60, random_state=0), X, np.exp(Y[:, 0] / 4))
    assert model.out_activation_ == "exp"
    assert_same_forward(np.exp(from_sklearn(model)(X)[:, 0]), model.predict(X), np.float64)


def test_layers_by_hand_and_dtype_conversion():
    X, y = data(3, np.float64)
    model = fit(MLPClassifier(hidden_layer_sizes=(4,), activation="relu", max_iter=30, random_state=0), X, y)
    (W1, W2), (b1, b2) = model.coefs_, model.intercepts_
    np.testing.assert_allclose(from_sklearn(model)(X), np.maximum(X @ W1 + b1, 0) @ W2 + b2, rtol=1e-13, atol=1e-13)
    net32 = from_sklearn(model, dtype=np.float32)
    assert net32.dtype == np.float32 and net32[0].W.shape == (4, 5)
    np.testing.assert_array_equal(net32[0].W, W1.T.astype(np.float32))


def test_lrp_on_imported_network_equals_hand_built():
    X, y = data(3, np.float64)
    model = fit(MLPClassifier(hidden_layer_sizes=(6, 5), activation="relu", max_iter=60, random_state=3), X, y)
    (W1, W2, W3), (b1, b2, b3) = model.coefs_, model.intercepts_
    hand_built = lr.Sequential([lr.Dense(W1.T, b1), lr.ReLU(), lr.Dense(W2.T, b2), lr.ReLU(), lr.Dense(W3.T, b3)])
    rule = lr.Epsilon(0.01)
    ours, reference = lr.explain(from_sklearn(model), X[:5], rule=rule), lr.explain(hand_built, X[:5], rule=rule)
    np.testing.assert_allclose(ours.relevance, reference.relevance, rtol=1e-12, atol=1e-14)
    assert np.abs(reference.relevance).max() > 0


def test_errors():
    with pytest.raises(NotFittedError):
        from_sklearn(MLPClassifier())
    X, y = data(2, np.float64)
    with pytest.raises(ModelImportError, match="supports MLPClassifier and MLPRegressor, got LogisticRegression"):
        from_sklearn(LogisticRegression().fit(X, y))
    model = fit(MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0), X, y)
    model.activation = "softsign"
    with pytest.raises(ModelImportError, match="activation 'softsign'"):
        from_sklearn(model)
