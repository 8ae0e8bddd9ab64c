"""Save and load fitted bag-of-words models as checksummed ``.npz`` archives (no pickles, no code).

:func:`save` writes, through :func:`lrpref._integrity.write_archive`, every array of the model
under its own key and a JSON document that names each estimator (from the fixed list
:data:`STATE`), its constructor parameters and its documented fitted attributes, arrays by
key; every array and the document carry a SHA-256. :func:`load` verifies the checksums, then
rebuilds each estimator from its parameters and sets back exactly the fitted attributes
listed for its class in :data:`STATE` — public attributes only. The private attributes
scikit-learn's ``predict`` / ``decision_function`` read are derived from them (for ``SVC``:
``_dual_coef_``, ``_intercept_`` from ``dual_coef_``, ``intercept_``, ``_n_support`` from
``n_support_``, ``_gamma`` from the resolved ``gamma_`` and, for a callable kernel, its training inputs
``X_fit_``: the two values scikit-learn keeps only privately). Any other key, an inconsistent
model (e.g. an ``SVC`` whose ``dual_coef_`` breaks :math:`\\sum_i a_i = 0` per pair, or whose
shapes disagree) or a damaged file is a :class:`~lrpref._integrity.FileFormatError`.

Parameters that are code are refused with a message naming what is supported: a kernel must
be a :mod:`lrpref.bow.kernels` kernel or a :mod:`sklearn.metrics.pairwise` kernel function
(also in ``functools.partial``), a ``FunctionTransformer`` function ``numpy.sqrt`` or
``numpy.square``; a features *function* (``FunctionFeatures``) cannot be stored (save the
classifier, which :func:`lrpref.bow.explain_histogram` explains, or rebuild the
``BagOfWords`` around the function after loading). A file records the scikit-learn version
that wrote it.
"""

from __future__ import annotations

import functools

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import pairwise
from sklearn.mixture import GaussianMixture
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (FunctionTransformer, LabelBinarizer, MaxAbsScaler, MinMaxScaler, Normalizer,
                                   RobustScaler, StandardScaler)
from sklearn.svm import SVC, LinearSVC

from .._integrity import FileFormatError, read_archive, write_archive
from . import kernels
from .coding import CODERS, PosteriorCoding
from .features import DenseFeatures, FunctionFeatures, KeypointFeatures
from .models import _Dual, _pairs, svc_gamma
from .pipeline import BagOfWords, KernelMatrix
from .steps import PowerNormalizer

__all__ = ["save", "load", "FORMAT", "STATE"]

FORMAT = "lrpref.bow/2"
WHAT = "lrpref bag-of-words model file"
_LINEAR = ("classes_", "coef_", "intercept_", "n_features_in_", "?n_iter_")
_KMEANS = ("cluster_centers_", "n_features_in_", "?inertia_", "?n_iter_")

#: The fitted attributes stored for each class (``?`` marks optional ones); nothing else is read back.
STATE = {
    Pipeline: (), FeatureUnion: (), FrozenEstimator: (), DenseFeatures: (), KeypointFeatures: (),
    SVC: ("classes_", "class_weight_", "support_", "support_vectors_", "n_support_", "dual_coef_", "intercept_",
          "shape_fit_", "?n_features_in_", "fit_status_", "gamma_", "?n_iter_", "?X_fit_"),
    LinearSVC: _LINEAR, LogisticRegression: _LINEAR,
    OneVsRestClassifier: ("classes_", "estimators_", "label_binarizer_", "?n_features_in_"),
    LabelBinarizer: ("classes_", "y_type_", "sparse_input_"),
    OneVsOneClassifier: ("classes_", "estimators_", "pairwise_indices_", "?n_features_in_"),
    Normalizer: ("n_features_in_",), FunctionTransformer: ("n_features_in_",), PowerNormalizer: ("n_features_in_",),
    TfidfTransformer: ("idf_", "n_features_in_"),
    StandardScaler: ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_"),
    MinMaxScaler: ("min_", "scale_", "data_min_", "data_max_", "data_range_", "n_samples_seen_", "n_features_in_"),
    MaxAbsScaler: ("max_abs_", "scale_", "n_samples_seen_", "n_features_in_"),
    RobustScaler: ("center_", "scale_", "n_features_in_"),
    KMeans: _KMEANS, MiniBatchKMeans: _KMEANS + ("?n_steps_",),
    GaussianMixture: ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "converged_",
                      "n_iter_", "lower_bound_", "n_features_in_", "?lower_bounds_"),
    BagOfWords: ("features_", "coder_", "n_features_out_", "?training_bow_", "?training_labels_"),
    KernelMatrix: ("X_fit_",),
    **{cls: ("centers_",) for cls in (CODERS["HardCoding"], CODERS["LLCCoding"])},
    CODERS["SoftCoding"]: ("centers_", "sigma_"),
    CODERS["FisherCoding"]: ("weights_", "means_", "variances_"),
    PosteriorCoding: ("n_words_",),
}
ALLOWED = {cls.__name__: cls for cls in STATE}
FUNCTIONS = {"numpy.sqrt": np.sqrt, "numpy.square": np.square}
#: Fitted SVC values scikit-learn keeps only in private attributes, stored under public names:
#: the resolved gamma, and the training inputs a callable kernel is evaluated against.
_SVC_PRIVATE = {"gamma_": lambda svc: svc_gamma(svc) if svc.kernel in ("rbf", "poly", "sigmoid") else None,
                "X_fit_": lambda svc: np.asarray(svc._BaseLibSVM__Xfit) if callable(svc.kernel) else None}


def _state_keys(cls):
    keys = STATE[cls]
    return [k.lstrip("?") for k in keys], {k for k in keys if not k.startswith("?")}


class _Writer:
    def __init__(self):
        self.arrays = {}

    def value(self, value):
        """JSON form of one parameter or attribute value."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                if not all(isinstance(v, str) for v in value.ravel()):
                    raise TypeError("cannot save an object array that does not hold strings")
                value = value.astype(str)
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"array": key}
        if isinstance(value, kernels.Kernel):
            return {"kernel": value.to_dict()}
        if isinstance(value, BaseEstimator):
            return {"estimator": self.estimator(value)}
        if isinstance(value, tuple):
            return {"tuple": [self.value(v) for v in value]}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {"dict": [[self.value(k), self.value(v)] for k, v in value.items()]}
        if hasattr(value, "toarray"):
            raise TypeError("cannot save a sparse matrix (a model fitted on sparse input, e.g. after "
                            "TfidfTransformer): fit the classifier on dense input (X.toarray()) to save it")
        if callable(value):
            return self.function(value)
        raise TypeError(f"cannot save {value!r} ({type(value).__name__}): only arrays, numbers, strings, kernels and "
                        "the estimators of lrpref.bow.io.STATE can be stored")

    def function(self, value):
        name, params = kernels.sklearn_function(value)
        if name in kernels.SKLEARN_KERNELS:
            return {"sklearn_kernel": [name, self.value(params) if isinstance(value, functools.partial) else None]}
        for key, function in FUNCTIONS.items():
            if value is function:
                return {"function": key}
        raise TypeError(f"cannot save the function {value!r}: it is code, and bow.save stores data only. Storable "
                        f"callables: lrpref.bow.kernels kernels, the sklearn.metrics.pairwise kernels "
                        f"{sorted(kernels.SKLEARN_KERNELS)} (also in functools.partial), {sorted(FUNCTIONS)}")

    def estimator(self, estimator):
        cls = type(estimator)
        if isinstance(estimator, FunctionFeatures) or (isinstance(estimator, BagOfWords) and callable(estimator.features)
                                                       and not isinstance(estimator.features, BaseEstimator)):
            raise TypeError("cannot save a features function (FunctionFeatures): it is code. Save the classifier "
                            "(the steps after the BagOfWords), which bow.explain_histogram explains, or rebuild the "
                            "BagOfWords around your function after bow.load")
        if ALLOWED.get(cls.__name__) is not cls:
            raise TypeError(f"cannot save a {cls.__name__}: storable estimators are {sorted(ALLOWED)}")
        params = {k: self.value(v) for k, v in estimator.get_params(deep=False).items()}
        keys, _ = _state_keys(cls)
        state = {}
        for key in keys:
            if cls is SVC and key in _SVC_PRIVATE:
                if hasattr(estimator, "dual_coef_"):
                    state[key] = self.value(_SVC_PRIVATE[key](estimator))
            elif hasattr(estimator, key):
                state[key] = self.value(getattr(estimator, key))
        return {"class": cls.__name__, "params": params, "state": state}


def save(model, path):
    """Write a fitted model (a Pipeline, a tuple's parts, or any estimator of :data:`STATE`) to ``path``.

    Returns the path written (``.npz`` is appended when missing). Raises ``TypeError`` naming
    a part that is code or not storable (see the module docstring).
    """
    if isinstance(model, (tuple, list)):
        model = Pipeline([(f"step{k}", step) for k, step in enumerate(model)])
    writer = _Writer()
    document = {"format": FORMAT, "sklearn": sklearn.__version__, "numpy": np.__version__,
                "model": writer.estimator(model)}
    return write_archive(path, writer.arrays, document)


class _Reader:
    def __init__(self, arrays, where):
        self.arrays, self.where = arrays, where

    def fail(self, message):
        raise FileFormatError(f"{self.where}: {message}")

    def value(self, value):
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            self.fail(f"malformed entry {value!r} in the model description")
        (kind, content), = value.items()
        if kind == "array":
            if content not in self.arrays:
                self.fail(f"the description refers to a missing array {content!r}")
            return np.array(self.arrays[content])  # a writable copy
        if kind == "kernel":
            try:
                return kernels.from_dict(content)
            except (ValueError, TypeError, KeyError) as error:
                self.fail(f"bad kernel description {content!r}: {error}")
        if kind == "sklearn_kernel":
            name, params = content
            if name not in kernels.SKLEARN_KERNELS:
                self.fail(f"unknown scikit-learn kernel {name!r}")
            function = getattr(pairwise, name)
            return function if params is None else functools.partial(function, **self.value(params))
        if kind == "function":
            if content not in FUNCTIONS:
                self.fail(f"unknown function {content!r}; storable: {sorted(FUNCTIONS)}")
            return FUNCTIONS[content]
        if kind == "estimator":
            return self.estimator(content)
        if kind == "tuple":
            return tuple(self.value(v) for v in content)
        if kind == "dict":
            return {self.value(k): self.value(v) for k, v in content}
        self.fail(f"unknown entry {kind!r} in the model description")

    def estimator(self, description):
        if not isinstance(description, dict) or set(description) != {"class", "params", "state"}:
            self.fail("an estimator description must have exactly 'class', 'params' and 'state'")
        name = description["class"]
        if name not in ALLOWED:
            self.fail(f"the file names a {name!r}, which is not an allowed estimator ({sorted(ALLOWED)})")
        cls = ALLOWED[name]
        keys, required = _state_keys(cls)
        state = description["state"]
        unexpected = sorted(set(state) - set(keys))
        missing = sorted(required - set(state)) if state else []  # no state at all: an unfitted parameter
        if unexpected or missing:
            self.fail(f"{name}: unexpected state {unexpected}, missing state {missing} (documented: {keys})")
        try:
            estimator = cls(**{k: self.value(v) for k, v in description["params"].items()})
        except TypeError as error:
            self.fail(f"{name}: bad parameters: {error}")
        values = {key: self.value(value) for key, value in state.items()}
        for key, value in values.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                self.fail(f"{name}.{key} holds NaN or infinite values")
            if not isinstance(getattr(cls, key, None), property) and not (cls is SVC and key in _SVC_PRIVATE):
                setattr(estimator, key, value)
        if values:
            _RESTORE.get(cls, lambda e, v, r: None)(estimator, values, self)
        return estimator


def _restore_svc(svc, values, reader):
    """Derive the private attributes of a fitted SVC from its public ones, after checking them."""
    classes, dual, intercept = np.asarray(svc.classes_), np.asarray(svc.dual_coef_), np.asarray(svc.intercept_)
    n_support, support = np.asarray(values["n_support_"]), np.asarray(svc.support_)
    n, k = len(support), len(classes)
    if (dual.shape != (k - 1, n) or intercept.shape != (k * (k - 1) // 2,) or n_support.shape != (k,)
            or n_support.sum() != n or len(svc.shape_fit_) != 2):
        reader.fail(f"SVC: inconsistent shapes (dual_coef_ {dual.shape}, intercept_ {intercept.shape}, n_support_ "
                    f"{n_support.tolist()}, support_ {support.shape}, {k} classes)")
    built_in = svc.kernel in ("linear", "rbf", "poly", "sigmoid")
    expected = (n, getattr(svc, "n_features_in_", -1)) if built_in else (0, 0)
    if svc.support_vectors_.shape != expected or np.any(support < 0) or np.any(support >= svc.shape_fit_[0]):
        reader.fail(f"SVC: support_vectors_ {svc.support_vectors_.shape} / support_ do not match the model")
    raw_dual, raw_intercept = (-dual, -intercept) if k == 2 else (dual, intercept)
    dual_view = _Dual(None, None, raw_dual, raw_intercept, np.concatenate([[0], np.cumsum(n_support)]))
    bound = svc.C * max([1.0, *np.ravel(svc.class_weight_)])
    if np.max(np.abs(dual), initial=0.0) > bound * (1 + 1e-8):
        reader.fail(f"SVC: dual_coef_ exceeds the box constraint |a_i| <= C = {bound} (tampered or damaged)")
    for i, j in _pairs(k):
        coef, _ = dual_view.pair(i, j)
        if abs(coef.sum()) > 1e-8 * max(1.0, np.abs(coef).sum()):
            reader.fail(f"SVC: dual_coef_ of classes ({i}, {j}) breaks sum_i a_i = 0 (sum {coef.sum():.3g}); the "
                        "file was tampered or damaged")
    svc._dual_coef_, svc._intercept_, svc._n_support = raw_dual, raw_intercept, n_support.astype(np.int32)
    if callable(svc.kernel):
        fitted_on = values.get("X_fit_")
        if fitted_on is None or fitted_on.shape != tuple(svc.shape_fit_):
            reader.fail(f"SVC with a callable kernel: X_fit_ must be its {tuple(svc.shape_fit_)} training inputs")
        svc._BaseLibSVM__Xfit = fitted_on
    gamma = values["gamma_"]
    svc._gamma = 0.0 if gamma is None else float(gamma)
    svc._probA = svc._probB = np.empty(0)
    svc._sparse, svc._effective_probability = False, False
    svc._num_iter = np.asarray(getattr(svc, "n_iter_", np.zeros(k * (k - 1) // 2)), dtype=np.int32)
    svc.epsilon = svc.nu = 0.0


def _restore_linear(model, values, reader):
    coef, intercept = np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)
    if coef.shape[1] != model.n_features_in_ or len(intercept) != len(coef):
        reader.fail(f"{type(model).__name__}: coef_ {coef.shape} and intercept_ {intercept.shape} do not match")


def _restore_kmeans(model, values, reader):
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    model._n_threads = _openmp_effective_n_threads()
    model._n_features_out = len(model.cluster_centers_)


_RESTORE = {SVC: _restore_svc, LinearSVC: _restore_linear, LogisticRegression: _restore_linear,
            KMeans: _restore_kmeans, MiniBatchKMeans: _restore_kmeans}


def load(path):
    """Read a model written by :func:`save`; every checksum and every stored attribute is checked.

    Raises :class:`~lrpref._integrity.FileFormatError` for any damaged, tampered or foreign file.
    """
    arrays, document = read_archive(path, WHAT, legacy={"description.json": "it is an lrpref.bow/1 file, written before "
                                                                          "the checksums: load it with that version and "
                                                                          "re-save it with this one"})
    if document.get("format") != FORMAT:
        raise FileFormatError(f"{path}: format {document.get('format')!r}, expected {FORMAT!r} (a file of an older "
                              "lrpref: save the model again)")
    if "model" not in document:
        raise FileFormatError(f"{path}: no 'model' in the document")
    return _Reader(arrays, str(path)).estimator(document["model"])
