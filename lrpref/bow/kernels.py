"""Kernels usable as ``SVC(kernel=...)`` that know how to be explained (bow.md §3).

Every kernel is a callable ``k(X, Y) -> Gram matrix`` (shape (len(X), len(Y))) and carries
what layer 3 needs:

* a **sum-decomposable** kernel (bow.md §3.1, S13), :math:`k(x,z)=\\sum_d\\kappa(x_{(d)},z_{(d)})`,
  gives the exact per-dimension contributions
  :math:`c_d = \\sum_i a_i\\,\\kappa(x_{i(d)}, x_{(d)})` (``contributions``);
* a **differentiable** kernel (bow.md §3.2) gives
  :math:`\\nabla_z \\sum_i a_i k(x_i, z)` (``gradient``), used by the Taylor rule (S15).

Linear, histogram intersection and additive chi2 (in the positive-definite form
:math:`2ab/(a+b)`) are both; Hellinger is decomposable only; RBF and exponential chi2 are
differentiable only. :class:`Sum` combines kernels over feature channels (bow.md §2.6 S12,
§3.3). All kernels with :math:`\\kappa(0,\\cdot)=0` are used on purpose (bow.md §3.1:
sklearn's ``additive_chi2_kernel`` has :math:`\\kappa(0,b)=-b` and leaks relevance onto
inactive dimensions).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel, rbf_kernel

__all__ = [
    "Kernel", "Linear", "HistogramIntersection", "Chi2", "Hellinger", "RBF", "ExpChi2", "Sum",
    "linear", "histogram_intersection", "chi2", "hellinger", "rbf", "exp_chi2", "from_dict",
]

_CHUNK_ELEMENTS = 1 << 22


def _pair(X, Y):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"kernel inputs must be 2-D with the same number of features, got {X.shape} and {Y.shape}")
    return X, Y


def _check_non_negative(name, *arrays):
    if any(np.any(a < 0) for a in arrays):
        raise ValueError(f"the {name} kernel is defined on non-negative inputs (histograms); got negative values")


class Kernel:
    """Base class: a Gram-matrix callable with a name and JSON-able parameters."""

    name = "kernel"
    decomposable = False
    differentiable = False

    def __call__(self, X, Y):
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        """JSON description, inverted by :func:`from_dict`."""
        return {"name": self.name, **self.params()}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(repr(self))


class _Additive(Kernel):
    """:math:`k(x, z) = \\sum_d \\kappa(x_{(d)}, z_{(d)})` (bow.md §3.1, S13)."""

    decomposable = True
    non_negative = True

    def kappa(self, a, b):
        """Elementwise :math:`\\kappa(a, b)`."""
        raise NotImplementedError

    def __call__(self, X, Y):
        X, Y = _pair(X, Y)
        if self.non_negative:
            _check_non_negative(self.name, X, Y)
        return self._gram(X, Y)

    def _gram(self, X, Y):
        rows = max(1, _CHUNK_ELEMENTS // max(1, Y.size))
        return np.concatenate([self.kappa(X[i:i + rows, None, :], Y[None]).sum(axis=2)
                               for i in range(0, len(X), rows)] or [np.zeros((0, len(Y)))])

    def contributions(self, support, coef, x) -> np.ndarray:
        """:math:`c_d = \\sum_i a_i\\,\\kappa(x_{i(d)}, x_{(d)})` for support vectors ``support`` (S, V),
        dual coefficients ``coef`` (S,) and one BoW vector ``x`` (V,) (bow.md §3.1, S14)."""
        return np.asarray(coef) @ self.kappa(np.asarray(support), np.asarray(x)[None, :])


class Linear(_Additive):
    """:math:`\\kappa(a, b) = ab`; gradient :math:`\\nabla_z = \\sum_i a_i x_i` (= sklearn ``coef_``)."""

    name = "linear"
    differentiable = True
    non_negative = False

    def kappa(self, a, b):
        return a * b

    def _gram(self, X, Y):
        return X @ Y.T

    def gradient(self, support, coef, z):
        return np.asarray(coef) @ np.asarray(support)


class HistogramIntersection(_Additive):
    """:math:`\\kappa(a, b) = \\min(a, b)`; a.e. gradient :math:`\\partial_b\\kappa = \\mathbb 1[b<a]`
    (1/2 at ties). Inputs must be non-negative."""

    name = "histogram_intersection"
    differentiable = True

    def kappa(self, a, b):
        return np.minimum(a, b)

    def gradient(self, support, coef, z):
        support = np.asarray(support)
        step = (z[None, :] < support) + 0.5 * (z[None, :] == support)
        return np.asarray(coef) @ step


class Chi2(_Additive):
    """Additive chi2 in the positive-definite form :math:`\\kappa(a,b) = 2ab/(a+b)` (0 if a+b=0).

    The Gram matrix uses :math:`\\sum_d 2ab/(a+b) = \\tfrac12(\\sum_d a + \\sum_d b +
    \\texttt{additive\\_chi2\\_kernel})` (bow.md §3.1). Gradient
    :math:`\\partial_b\\kappa = 2a^2/(a+b)^2`. Inputs must be non-negative.
    """

    name = "chi2"
    differentiable = True

    def kappa(self, a, b):
        total = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, 2.0 * a * b / np.where(total > 0, total, 1.0), 0.0)

    def _gram(self, X, Y):
        return 0.5 * (X.sum(axis=1)[:, None] + Y.sum(axis=1)[None, :] + additive_chi2_kernel(X, Y))

    def gradient(self, support, coef, z):
        support = np.asarray(support)
        total = support + z[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(total > 0, 2.0 * support ** 2 / np.where(total > 0, total, 1.0) ** 2, 0.0)
        return np.asarray(coef) @ step


class Hellinger(_Additive):
    """:math:`\\kappa(a, b) = \\sqrt{ab}`; decomposable, no gradient at 0. Inputs must be non-negative."""

    name = "hellinger"

    def kappa(self, a, b):
        return np.sqrt(a * b)

    def _gram(self, X, Y):
        return np.sqrt(X) @ np.sqrt(Y).T


class _GammaKernel(Kernel):
    """A kernel :math:`\\exp(-\\gamma\\,\\mathrm{distance}(x, z))` computed by a scikit-learn function."""

    differentiable = True
    gram = None  # the scikit-learn pairwise function, called with gamma

    def __init__(self, gamma=1.0):
        if not float(gamma) > 0:
            raise ValueError(f"gamma must be positive, got {gamma!r}")
        self.gamma = float(gamma)

    def params(self):
        return {"gamma": self.gamma}

    def __call__(self, X, Y):
        return type(self).gram(*_pair(X, Y), gamma=self.gamma)

    def _values(self, support, z):
        """:math:`k(x_i, z)` for every support vector, (S,)."""
        return type(self).gram(support, z[None, :], gamma=self.gamma)[:, 0]


class RBF(_GammaKernel):
    """:math:`k(x, z) = \\exp(-\\gamma\\lVert x - z\\rVert^2)` (sklearn ``rbf_kernel``).

    Gradient (bow.md §3.2, S16): :math:`\\partial_{z_d}k = -2\\gamma\\,(z_d - x_{i,d})\\,k`.
    """

    name = "rbf"
    gram = rbf_kernel

    def gradient(self, support, coef, z):
        support = np.asarray(support)
        return -2.0 * self.gamma * ((np.asarray(coef) * self._values(support, z)) @ (z[None, :] - support))


class ExpChi2(_GammaKernel):
    """Exponential chi2, :math:`k = \\exp(-\\gamma\\sum_d (z_d-x_d)^2/(z_d+x_d))` (sklearn ``chi2_kernel``).

    Gradient (bow.md §3.2, S17):
    :math:`\\partial_{z_d}k = -\\gamma\\,k\\,(z_d-x_{i,d})(z_d+3x_{i,d})/(z_d+x_{i,d})^2`, with the
    one-sided value :math:`-\\gamma k` where :math:`z_d = x_{i,d} = 0`. Inputs must be non-negative.
    """

    name = "exp_chi2"
    gram = chi2_kernel

    def gradient(self, support, coef, z):
        support = np.asarray(support)
        total = z[None, :] + support
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(total > 0, (z[None, :] - support) * (z[None, :] + 3 * support)
                             / np.where(total > 0, total, 1.0) ** 2, 1.0)
        return -self.gamma * ((np.asarray(coef) * self._values(support, z)) @ slope)


class Sum(Kernel):
    """Multiple kernels over feature channels (bow.md §2.6 S12, §3.3):
    :math:`k(x, z) = \\sum_u \\beta_u k_u(x^{(u)}, z^{(u)})`.

    Parameters
    ----------
    parts : list of (Kernel, float)
        The kernel of each channel and its weight :math:`\\beta_u > 0`.
    sizes : list of int
        The width :math:`V_u` of each channel in the concatenated BoW vector, in order.

    Decomposable if every part is (contributions are concatenated, times :math:`\\beta_u`);
    differentiable if every part is (gradients are concatenated).
    """

    name = "sum"

    def __init__(self, parts, sizes):
        self.parts = [(kernel, float(weight)) for kernel, weight in parts]
        self.sizes = [int(s) for s in sizes]
        if len(self.parts) != len(self.sizes) or not self.parts:
            raise ValueError(f"Sum needs one size per part, got {len(self.parts)} parts and {len(self.sizes)} sizes")
        for kernel, weight in self.parts:
            if not isinstance(kernel, Kernel):
                raise TypeError(f"Sum parts must be lrpref.bow.kernels.Kernel instances, got {kernel!r}")
            if not weight > 0:
                raise ValueError(f"Sum weights must be positive, got {weight}")
        self.decomposable = all(k.decomposable for k, _ in self.parts)
        self.differentiable = all(k.differentiable for k, _ in self.parts)
        self.bounds = np.concatenate([[0], np.cumsum(self.sizes)])

    def params(self):
        return {"parts": [[k.to_dict(), w] for k, w in self.parts], "sizes": self.sizes}

    def __repr__(self):
        return f"Sum({[(k, w) for k, w in self.parts]!r}, sizes={self.sizes})"

    def _slices(self):
        return [slice(lo, hi) for lo, hi in zip(self.bounds[:-1], self.bounds[1:])]

    def __call__(self, X, Y):
        X, Y = _pair(X, Y)
        if X.shape[1] != self.bounds[-1]:
            raise ValueError(f"Sum kernel expects {self.bounds[-1]} features (sizes {self.sizes}), got {X.shape[1]}")
        return sum(w * k(X[:, s], Y[:, s]) for (k, w), s in zip(self.parts, self._slices()))

    def contributions(self, support, coef, x):
        support = np.asarray(support)
        return np.concatenate([w * k.contributions(support[:, s], coef, x[s])
                               for (k, w), s in zip(self.parts, self._slices())])

    def gradient(self, support, coef, z):
        support = np.asarray(support)
        return np.concatenate([w * k.gradient(support[:, s], coef, z[s])
                               for (k, w), s in zip(self.parts, self._slices())])


linear = Linear()
histogram_intersection = HistogramIntersection()
chi2 = Chi2()
hellinger = Hellinger()


def rbf(gamma=1.0) -> RBF:
    """The RBF kernel with width ``gamma`` (see :class:`RBF`)."""
    return RBF(gamma)


def exp_chi2(gamma=1.0) -> ExpChi2:
    """The exponential chi2 kernel with ``gamma`` (see :class:`ExpChi2`)."""
    return ExpChi2(gamma)


_BY_NAME = {cls.name: cls for cls in (Linear, HistogramIntersection, Chi2, Hellinger, RBF, ExpChi2)}


def from_dict(description) -> Kernel:
    """The kernel described by :meth:`Kernel.to_dict`."""
    params = dict(description)
    name = params.pop("name")
    if name == "sum":
        return Sum([(from_dict(k), w) for k, w in params["parts"]], params["sizes"])
    if name not in _BY_NAME:
        raise ValueError(f"unknown kernel {name!r}; known: {sorted(_BY_NAME) + ['sum']}")
    return _BY_NAME[name](**params)
