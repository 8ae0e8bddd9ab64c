"""Fitted scikit-learn classifiers read as one kernel expansion (bow.md §2.6, §8).

Every supported classifier is explained through the dual form (S11)

.. math:: f(x) = b + \\sum_{i=1}^{S} a_i\\,k(x_i, x),

with the sign chosen so that :math:`f > 0` means "the explained class":

* binary :class:`~sklearn.svm.SVC`: :math:`a` = ``dual_coef_[0]``, :math:`b` = ``intercept_[0]``,
  :math:`x_i` = ``support_vectors_`` for built-in kernels and the training BoW rows
  ``support_`` for callable and precomputed kernels (``support_vectors_`` is empty there);
  ``decision_function > 0`` means ``classes_[1]``, so explaining ``classes_[0]`` negates
  :math:`a` and :math:`b`;
* linear models with ``coef_`` (``LinearSVC``, ``LogisticRegression``, ...): one "support
  vector" :math:`w` = ``coef_[row]`` with :math:`a = \\pm1` and the linear kernel;
* :class:`~sklearn.multiclass.OneVsRestClassifier`: the estimator of the explained class.

Multi-class ``SVC`` (one-vs-one) is refused: wrap it in ``OneVsRestClassifier``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import SVC

from . import kernels as K

__all__ = ["KernelExpansion", "ExplainedClassifier", "read_classifier"]


@dataclass(frozen=True)
class KernelExpansion:
    """:math:`f(x) = b + \\sum_i a_i k(x_i, x)` (bow.md §2.6, S11).

    ``candidates`` are the BoW vectors of the training set when known (the start points of
    the root search of bow.md §3.2), else the support vectors.
    """

    kernel: K.Kernel
    support: np.ndarray
    coef: np.ndarray
    intercept: float
    candidates: np.ndarray

    def __call__(self, Z) -> np.ndarray:
        """Decision values of the rows of ``Z`` (n, V)."""
        return self.kernel(np.atleast_2d(Z), self.support) @ self.coef + self.intercept

    def contributions(self, x) -> np.ndarray:
        """:math:`c_d = \\sum_i a_i \\kappa_d(x_{i(d)}, x_{(d)})` (sum-decomposable kernels, S14)."""
        return self.kernel.contributions(self.support, self.coef, x)

    def gradient(self, z) -> np.ndarray:
        """:math:`\\nabla f(z) = \\sum_i a_i \\nabla_z k(x_i, z)` (differentiable kernels, S16/S17)."""
        return self.kernel.gradient(self.support, self.coef, z)


@dataclass(frozen=True)
class ExplainedClassifier:
    """The expansion of the explained class and how to read it back from ``decision_function``:
    :math:`f` = ``sign * decision_function(X)[:, column]`` (``column`` None for a 1-D output)."""

    expansion: KernelExpansion
    sign: float
    column: int | None
    target: object


def _check_target(classes, target):
    matches = np.flatnonzero(np.asarray(classes) == target)
    if len(matches) != 1:
        raise ValueError(f"target {target!r} is not one of the classifier's classes_ {np.asarray(classes).tolist()}")
    return int(matches[0])


def read_classifier(classifier, target, n_features, training_bow=None, kernel=None) -> ExplainedClassifier:
    """Read ``classifier`` as the kernel expansion of class ``target``.

    Parameters
    ----------
    classifier : fitted SVC, linear model with ``coef_``, or OneVsRestClassifier of those
    target : a label of ``classifier.classes_``
    n_features : int
        The BoW dimension V the classifier must have been trained on.
    training_bow : (n_train, V) array or None
        The BoW vectors the classifier was trained on; required for callable and precomputed
        kernels.
    kernel : Kernel or None
        The kernel behind ``kernel="precomputed"``.
    """
    classes = classifier.classes_
    index = _check_target(classes, target)
    if isinstance(classifier, OneVsRestClassifier):
        if len(classes) == 2:  # one estimator, positive for classes_[1]
            estimator, row, sign, column = classifier.estimators_[0], 0, (1.0 if index == 1 else -1.0), None
        else:
            estimator, row, sign, column = classifier.estimators_[index], 0, 1.0, index
    elif isinstance(classifier, SVC):
        if len(classes) != 2:
            raise ValueError(f"a multi-class SVC (one-vs-one, {len(classes)} classes) cannot be explained as one "
                             "decision function; wrap it: OneVsRestClassifier(SVC(...))")
        estimator, row, sign, column = classifier, 0, (1.0 if index == 1 else -1.0), None
    elif hasattr(classifier, "coef_") and hasattr(classifier, "intercept_"):
        if len(np.atleast_2d(classifier.coef_)) == 1:
            estimator, row, sign, column = classifier, 0, (1.0 if index == 1 else -1.0), None
        else:
            estimator, row, sign, column = classifier, index, 1.0, index
    else:
        raise TypeError(f"cannot explain {type(classifier).__name__}: expected SVC, a linear model with coef_ "
                        "(LinearSVC, LogisticRegression, ...) or OneVsRestClassifier of those")
    expansion = _expansion(estimator, row, sign, n_features, training_bow, kernel)
    return ExplainedClassifier(expansion, sign, column, target)


def _check_width(classifier, trained, expected):
    if trained != expected:
        raise ValueError(f"{type(classifier).__name__} was trained on {trained} features but the bag of words "
                         f"produces {expected}: the classifier does not belong to this bag of words")


def _expansion(estimator, row, sign, n_features, training_bow, kernel):
    """Row ``row`` of ``estimator``'s decision function, times ``sign``, as a kernel expansion."""
    if not isinstance(estimator, SVC):
        if not hasattr(estimator, "coef_"):
            raise TypeError(f"cannot explain {type(estimator).__name__}: expected SVC or a linear model with coef_")
        weights = np.atleast_2d(estimator.coef_)[row][None, :].astype(np.float64)
        _check_width(estimator, weights.shape[1], n_features)
        return KernelExpansion(K.linear, weights, np.array([sign]),
                               sign * float(np.atleast_1d(estimator.intercept_)[row]),
                               weights if training_bow is None else training_bow)
    svc_kernel = estimator.kernel
    if svc_kernel in ("linear", "rbf"):
        _check_width(estimator, estimator.n_features_in_, n_features)
        support = estimator.support_vectors_
        kernel = K.linear if svc_kernel == "linear" else K.RBF(estimator._gamma)
    elif svc_kernel == "precomputed" or callable(svc_kernel):
        if svc_kernel == "precomputed" and kernel is None:
            raise ValueError("an SVC with kernel='precomputed' needs the kernel behind the matrix: put a "
                             "bow.KernelMatrix(kernel) step before it")
        if callable(svc_kernel):
            kernel = svc_kernel
            _check_width(estimator, estimator.shape_fit_[1], n_features)
        if not isinstance(kernel, K.Kernel) or not (kernel.decomposable or kernel.differentiable):
            raise TypeError(f"kernel {kernel!r} has neither a sum decomposition nor a gradient that lrpref knows; "
                            "use one of lrpref.bow.kernels (linear, histogram_intersection, chi2, hellinger, "
                            "RBF, ExpChi2, Sum)")
        if training_bow is None or len(training_bow) != estimator.shape_fit_[0]:
            have = "none" if training_bow is None else f"{len(training_bow)} rows"
            raise ValueError(f"the SVC was trained on {estimator.shape_fit_[0]} samples but the training BoW "
                             f"kept by the bag of words has {have}; fit the whole pipeline together")
        _check_width(estimator, training_bow.shape[1], n_features)  # precomputed: the KernelMatrix's BoW
        support = training_bow[estimator.support_]
    else:
        raise TypeError(f"SVC(kernel={svc_kernel!r}) has neither a sum decomposition nor a gradient in lrpref; "
                        "use kernel='linear', 'rbf', 'precomputed' or a lrpref.bow.kernels kernel")
    return KernelExpansion(kernel, np.asarray(support, dtype=np.float64), sign * estimator.dual_coef_[0],
                           sign * float(estimator.intercept_[0]), support if training_bow is None else training_bow)
