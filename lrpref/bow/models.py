"""Fitted scikit-learn classifiers read as one kernel expansion (math.md §B2.6, §B8).

Every supported classifier is explained through the dual form (S11)

.. math:: f(x) = b + \\sum_{i=1}^{S} a_i\\,k(x_i, x),

with the sign chosen so that :math:`f > 0` means "the explained class":

* binary :class:`~sklearn.svm.SVC`: :math:`a` = ``dual_coef_[0]``, :math:`b` = ``intercept_[0]``,
  :math:`x_i` = ``support_vectors_`` for the built-in kernels (``"linear"``, ``"rbf"``,
  ``"poly"``, ``"sigmoid"``; ``gamma`` resolved as scikit-learn resolves it) and the training
  BoW rows ``support_`` for callable and precomputed kernels (``support_vectors_`` is empty
  there); ``decision_function > 0`` means ``classes_[1]``, so explaining ``classes_[0]``
  negates :math:`a` and :math:`b`;
* linear models with ``coef_`` (``LinearSVC``, ``LogisticRegression``, ...): one "support
  vector" :math:`w` = ``coef_[row]`` with :math:`a = \\pm1` and the linear kernel;
* :class:`~sklearn.multiclass.OneVsRestClassifier`: the estimator of the explained class;
* one-vs-one: a multi-class ``SVC`` or a :class:`~sklearn.multiclass.OneVsOneClassifier`.
  ``target=(a, b)`` explains the pairwise decision :math:`f_{ab}` (positive for ``a``), one
  kernel expansion, exactly. ``target=k`` explains the one-vs-rest *confidence*
  :math:`c_k = \\sum_{j\\ne k} f_{kj}`, again one kernel expansion (the pairwise expansions
  added). scikit-learn's ``decision_function_shape="ovr"`` returns
  :math:`\\mathrm{votes}_k + c_k/(3(|c_k|+1))`: the integer votes and the squashing are not
  decomposable, :math:`c_k` is.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.svm import SVC

from . import kernels as K

__all__ = ["KernelExpansion", "ExplainedClassifier", "read_classifier", "svc_kernel", "svc_gamma"]

BUILT_IN_KERNELS = ("linear", "rbf", "poly", "sigmoid")


@dataclass(frozen=True)
class KernelExpansion:
    """:math:`f(x) = b + \\sum_i a_i k(x_i, x)` (math.md §B2.6, S11).

    ``candidates`` are the BoW vectors of the training set when known (the start points of
    the root search of math.md §B3.2), else the support vectors.
    """

    kernel: K.Kernel
    support: np.ndarray
    coef: np.ndarray
    intercept: float
    candidates: np.ndarray

    def __call__(self, Z) -> np.ndarray:
        """Decision values of the rows of ``Z`` (n, V)."""
        return self.kernel(np.atleast_2d(Z), self.support) @ self.coef + self.intercept

    def contributions(self, x, reference=0.0) -> np.ndarray:
        """:math:`c_d = \\sum_i a_i [\\kappa_d(x_{i(d)}, x_{(d)}) - \\kappa_d(x_{i(d)}, r_d)]` (sum-decomposable kernels, S14)."""
        return self.kernel.contributions(self.support, self.coef, x, reference)

    def offset(self, reference=0.0) -> float:
        """:math:`\\sum_d\\sum_i a_i\\kappa_d(x_{i(d)}, r_d)`, the kernel part of :math:`f(r)` (decomposable kernels)."""
        return self.kernel.offset(self.support, self.coef, reference)

    def gradient(self, z) -> np.ndarray:
        """:math:`\\nabla f(z) = \\sum_i a_i \\nabla_z k(x_i, z)` for a point (V,) or a batch (n, V) (S16/S17)."""
        return self.kernel.gradient(self.support, self.coef, z)


@dataclass(frozen=True)
class ExplainedClassifier:
    """The expansion of the explained target and ``reference(X)``: the same decision values
    computed by the classifier's own ``decision_function`` on classifier inputs ``X``."""

    expansion: KernelExpansion
    reference: Callable
    target: object


def _class_index(classes, target):
    matches = np.flatnonzero(np.asarray(classes) == target)
    if len(matches) != 1:
        raise ValueError(f"target {target!r} is not one of the classifier's classes_ {np.asarray(classes).tolist()}")
    return int(matches[0])


def _check_width(classifier, trained, expected):
    if trained != expected:
        raise ValueError(f"{type(classifier).__name__} was trained on {trained} features but the bag of words "
                         f"produces {expected}: the classifier does not belong to this bag of words")


def svc_gamma(svc, training_bow=None) -> float:
    """:math:`\\gamma` of a fitted ``SVC`` with a built-in kernel, resolved as scikit-learn does:
    a number as given; ``"auto"``: :math:`1/V`; ``"scale"``: :math:`1/(V\\,\\mathrm{Var}(X_{train}))`
    (1 if the variance is 0), from ``training_bow`` when it is known. scikit-learn keeps the
    resolved value of ``"scale"`` only in the private ``_gamma``, which is read when the
    training data are not given."""
    if not isinstance(svc.gamma, str):
        return float(svc.gamma)
    n_features = svc.n_features_in_
    if svc.gamma == "auto":
        return 1.0 / n_features
    if training_bow is not None and len(training_bow) == svc.shape_fit_[0]:
        variance = float(np.var(training_bow))
        return 1.0 / (n_features * variance) if variance != 0 else 1.0
    return float(svc._gamma)


def svc_kernel(svc, n_features, training_bow=None, kernel=None) -> K.Kernel:
    """The :class:`~lrpref.bow.kernels.Kernel` of a fitted ``SVC`` (``kernel`` is the one behind ``"precomputed"``)."""
    name = svc.kernel
    if callable(name):
        return K.as_kernel(name, n_features)
    if name == "precomputed":
        if kernel is None:
            raise ValueError("an SVC with kernel='precomputed' needs the kernel behind the matrix: put a "
                             "bow.KernelMatrix(kernel) step before it")
        return K.as_kernel(kernel, n_features)
    if name not in BUILT_IN_KERNELS:
        raise TypeError(f"SVC(kernel={name!r}) is not supported; supported: {BUILT_IN_KERNELS}, 'precomputed' "
                        "(with a bow.KernelMatrix step), a lrpref.bow.kernels kernel or a sklearn.metrics.pairwise "
                        "kernel function")
    if name == "linear":
        return K.linear
    gamma = svc_gamma(svc, training_bow)
    if name == "rbf":
        return K.RBF(gamma)
    if name == "poly":
        return K.Poly(svc.degree, gamma, svc.coef0)
    return K.Sigmoid(gamma, svc.coef0)


@dataclass(frozen=True)
class _Dual:
    """An SVC's kernel, its support rows and libsvm's raw dual layout (one-vs-one, positive for the first class of a pair)."""

    kernel: K.Kernel
    support: np.ndarray
    dual: np.ndarray  # (n_classes - 1, S), libsvm's layout (not sign-flipped)
    intercept: np.ndarray  # (n_pairs,), libsvm's sign
    starts: np.ndarray  # support rows of class c: starts[c]:starts[c + 1]

    def pair(self, i, j):
        """``(coef over all support rows, intercept)`` of :math:`f_{ij}`, positive for class ``i``."""
        if i > j:
            coef, intercept = self.pair(j, i)
            return -coef, -intercept
        n = len(self.starts) - 1
        p = sum(n - 1 - k for k in range(i)) + (j - i - 1)  # index of (i, j) in (0,1), (0,2), ..., (1,2), ...
        coef = np.zeros(self.dual.shape[1])
        rows_i, rows_j = slice(self.starts[i], self.starts[i + 1]), slice(self.starts[j], self.starts[j + 1])
        coef[rows_i] = self.dual[j - 1, rows_i]
        coef[rows_j] = self.dual[i, rows_j]
        return coef, float(self.intercept[p])


def _svc_dual(svc, n_features, training_bow, kernel, rows=None) -> _Dual:
    """Read a fitted SVC; ``rows`` are the training rows it was fitted on (a OneVsOne pair), default all."""
    explained_kernel = svc_kernel(svc, n_features, training_bow, kernel)
    if svc.kernel in BUILT_IN_KERNELS:
        _check_width(svc, svc.n_features_in_, n_features)
        support = svc.support_vectors_
        support = support.toarray() if hasattr(support, "toarray") else support  # fitted on sparse input
    else:
        if training_bow is None:
            raise ValueError(f"an SVC with a {'precomputed' if svc.kernel == 'precomputed' else 'callable'} kernel keeps "
                             "no support vectors (support_vectors_ is empty): give the training BoW, "
                             "bow.explain(..., training_bow=X_train), or fit a BagOfWords in the pipeline")
        if callable(svc.kernel):
            _check_width(svc, svc.shape_fit_[1], n_features)
        fitted_on = training_bow if rows is None else training_bow[rows]
        if len(fitted_on) != svc.shape_fit_[0]:
            raise ValueError(f"the SVC was trained on {svc.shape_fit_[0]} samples but the training BoW given has "
                             f"{len(fitted_on)} rows; give the rows it was fitted on (training_bow=...)")
        _check_width(svc, fitted_on.shape[1], n_features)
        support = fitted_on[svc.support_]
    dual, intercept = svc.dual_coef_, svc.intercept_
    if len(svc.classes_) == 2:  # scikit-learn flips the binary sign: undo it to get libsvm's layout
        dual, intercept = -dual, -intercept
    starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
    return _Dual(explained_kernel, np.asarray(support, dtype=np.float64), dual, intercept, starts)


def _pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _svc_ovo_reference(svc):
    """``X -> (n, n_pairs)`` one-vs-one decision values of ``svc`` (positive for the first class), public parameters only."""
    if len(svc.classes_) == 2:
        return lambda X: -svc.decision_function(X)[:, None]
    ovo = copy.copy(svc)
    ovo.decision_function_shape = "ovo"
    return ovo.decision_function


def _combine(terms, candidates):
    """One expansion from ``terms`` = [(kernel, support, coef, intercept)], supports concatenated."""
    kernel = terms[0][0]
    if any(t[0] != kernel for t in terms):
        raise TypeError("the one-vs-one estimators use different kernels; explain a pairwise target=(a, b) instead")
    support = np.concatenate([t[1] for t in terms])
    coef = np.concatenate([t[2] for t in terms])
    keep = coef != 0
    return KernelExpansion(kernel, support[keep], coef[keep], float(sum(t[3] for t in terms)),
                           support if candidates is None else candidates)


def _one_vs_one(classes, target, pair_terms, pair_reference, candidates):
    """Pairwise target (a, b) or one-vs-rest confidence of class k from per-pair readers.

    ``pair_terms(i, j)`` -> [(kernel, support, coef, intercept)] of :math:`f_{ij}` (positive for
    ``i``); ``pair_reference(X)`` -> (n, n_pairs) decision values in the same convention.
    """
    n = len(classes)
    index = {pair: p for p, pair in enumerate(_pairs(n))}

    def value(values, i, j):
        return values[:, index[(i, j)]] if i < j else -values[:, index[(j, i)]]

    if isinstance(target, tuple):
        i, j = (_class_index(classes, t) for t in target)
        if i == j:
            raise ValueError(f"a pairwise target needs two different classes, got {target!r}")
        return _combine(pair_terms(i, j), candidates), lambda X: value(pair_reference(X), i, j)
    k = _class_index(classes, target)
    terms = [term for j in range(n) if j != k for term in pair_terms(k, j)]
    return _combine(terms, candidates), lambda X: sum(value(pair_reference(X), k, j) for j in range(n) if j != k)


def _linear_terms(estimator, row, sign, n_features):
    weights = np.atleast_2d(estimator.coef_)[row][None, :].astype(np.float64)
    _check_width(estimator, weights.shape[1], n_features)
    return K.linear, weights, np.array([sign]), sign * float(np.atleast_1d(estimator.intercept_)[row])


def _binary_terms(estimator, n_features, training_bow, kernel, rows=None):
    """``(kernel, support, coef, intercept)`` of a binary estimator's decision function (positive for ``classes_[1]``)."""
    if isinstance(estimator, SVC):
        dual = _svc_dual(estimator, n_features, training_bow, kernel, rows)
        if len(estimator.classes_) != 2:
            raise ValueError("expected a binary SVC inside the one-vs-one / one-vs-rest wrapper")
        coef, intercept = dual.pair(1, 0)
        return dual.kernel, dual.support, coef, intercept
    if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
        return _linear_terms(estimator, 0, 1.0, n_features)
    raise TypeError(f"cannot explain {type(estimator).__name__}: expected SVC or a linear model with coef_ "
                    "(LinearSVC, LogisticRegression, ...)")


def _no_pairs(classifier, target):
    if isinstance(target, tuple):
        raise ValueError(f"a pairwise target {target!r} needs a one-vs-one classifier (a multi-class SVC or "
                         f"OneVsOneClassifier); {type(classifier).__name__} explains one class: target=<class>")


def read_classifier(classifier, target, n_features, training_bow=None, kernel=None,
                    training_labels=None) -> ExplainedClassifier:
    """Read ``classifier`` as the kernel expansion of ``target``.

    Parameters
    ----------
    classifier : fitted SVC, linear model with ``coef_``, OneVsRestClassifier or OneVsOneClassifier of those
    target : a label of ``classifier.classes_``, or a pair ``(a, b)`` of labels (one-vs-one classifiers)
    n_features : int
        The dimension V of the classifier's input.
    training_bow : (n_train, V) array or None
        The classifier's training inputs; required for callable and precomputed kernels.
    kernel : Kernel or None
        The kernel behind ``kernel="precomputed"``.
    training_labels : (n_train,) array or None
        The training labels; required for a OneVsOneClassifier of callable-kernel SVCs (each
        pair is fitted on the rows of its two classes).
    """
    classes = list(classifier.classes_)
    candidates = training_bow

    def as_explained(terms, sign, reference):
        kernel_, support, coef, intercept = terms
        expansion = KernelExpansion(kernel_, np.asarray(support, np.float64), sign * np.asarray(coef), sign * intercept,
                                    support if candidates is None else candidates)
        return ExplainedClassifier(expansion, reference, target)

    if isinstance(classifier, OneVsOneClassifier):
        return _read_one_vs_one(classifier, target, n_features, training_bow, kernel, training_labels)
    if isinstance(classifier, SVC) and len(classes) > 2:
        dual = _svc_dual(classifier, n_features, training_bow, kernel)
        expansion, reference = _one_vs_one(
            classes, target, lambda i, j: [(dual.kernel, dual.support, *dual.pair(i, j))], _svc_ovo_reference(classifier),
            candidates)
        return ExplainedClassifier(expansion, reference, target)
    if isinstance(target, tuple) and len(classes) == 2 and not isinstance(classifier, OneVsRestClassifier):
        i, j = (_class_index(classes, t) for t in target)
        if i == j:
            raise ValueError(f"a pairwise target needs two different classes, got {target!r}")
        index = i
    else:
        _no_pairs(classifier, target)
        index = _class_index(classes, target)
    if isinstance(classifier, OneVsRestClassifier):
        if len(classes) == 2:  # one estimator, positive for classes_[1]
            sign = 1.0 if index == 1 else -1.0
            terms = _binary_terms(classifier.estimators_[0], n_features, training_bow, kernel)
            return as_explained(terms, sign, lambda X: sign * np.ravel(classifier.decision_function(X)))
        terms = _binary_terms(classifier.estimators_[index], n_features, training_bow, kernel)
        return as_explained(terms, 1.0, lambda X: classifier.decision_function(X)[:, index])
    if isinstance(classifier, SVC) or len(np.atleast_2d(getattr(classifier, "coef_", np.zeros((1, 1))))) == 1:
        sign = 1.0 if index == 1 else -1.0
        terms = _binary_terms(classifier, n_features, training_bow, kernel)
        return as_explained(terms, sign, lambda X: sign * np.ravel(classifier.decision_function(X)))
    if hasattr(classifier, "coef_") and hasattr(classifier, "intercept_"):
        terms = _linear_terms(classifier, index, 1.0, n_features)
        return as_explained(terms, 1.0, lambda X: classifier.decision_function(X)[:, index])
    raise TypeError(f"cannot explain {type(classifier).__name__}: expected SVC, a linear model with coef_ "
                    "(LinearSVC, LogisticRegression, ...), OneVsRestClassifier or OneVsOneClassifier of those. "
                    "The nearest alternative for another kernel classifier: refit it as "
                    "SVC(kernel=<a supported kernel>)")


def _read_one_vs_one(classifier, target, n_features, training_bow, kernel, training_labels):
    classes = list(classifier.classes_)
    pairs = _pairs(len(classes))
    pairwise = getattr(classifier, "pairwise_indices_", None)

    def rows(p):
        if pairwise is not None:
            return np.asarray(pairwise[p])
        estimator = classifier.estimators_[p]
        if not isinstance(estimator, SVC) or estimator.kernel in BUILT_IN_KERNELS:
            return None
        if training_labels is None:
            raise ValueError("a OneVsOneClassifier of SVCs with a callable kernel fits each pair on the rows of its "
                             "two classes: give the training labels (training_labels=y_train) or fit a BagOfWords "
                             "in the pipeline (it keeps them)")
        i, j = pairs[p]
        return np.flatnonzero(np.isin(np.asarray(training_labels), [classes[i], classes[j]]))

    def pair_terms(i, j):  # estimator p of (min, max) is positive for the larger class index
        p = pairs.index((min(i, j), max(i, j)))
        kernel_, support, coef, intercept = _binary_terms(classifier.estimators_[p], n_features, training_bow,
                                                          kernel, rows(p))
        sign = -1.0 if i < j else 1.0
        return [(kernel_, support, sign * coef, sign * intercept)]

    def reference(X):
        values = []
        for p, estimator in enumerate(classifier.estimators_):
            X_p = X if pairwise is None else X[:, pairwise[p]]
            values.append(-np.ravel(estimator.decision_function(X_p)))
        return np.stack(values, axis=1)

    expansion, ref = _one_vs_one(classes, target, pair_terms, reference, training_bow)
    return ExplainedClassifier(expansion, ref, target)
