"""Kernels usable as ``SVC(kernel=...)`` that know how to be explained (math.md §B3).

Every kernel is a callable ``k(X, Y) -> Gram matrix`` (shape (len(X), len(Y))) and carries
what layer 3 needs:

* a **sum-decomposable** kernel (math.md §B3.1, S13), :math:`k(x,z)=\\sum_d\\kappa(x_{(d)},z_{(d)})`,
  gives the exact per-dimension contributions
  :math:`c_d = \\sum_i a_i\\,\\kappa(x_{i(d)}, x_{(d)})` (``contributions``);
* a **differentiable** kernel (math.md §B3.2) gives
  :math:`\\nabla_z \\sum_i a_i k(x_i, z)` (``gradient``), used by the Taylor rule (S15).

Linear, histogram intersection, additive chi2 in the positive-definite form
:math:`2ab/(a+b)` and scikit-learn's additive chi2 :math:`-(a-b)^2/(a+b)` are both;
Hellinger is decomposable only; RBF, exponential chi2, polynomial and sigmoid are
differentiable only. :class:`Sum` combines kernels over feature channels (math.md §B2.6 S12,
§B3.3).

A decomposable kernel's contributions are taken relative to the empty histogram,
:math:`c_d = \\sum_i a_i[\\kappa(x_{i(d)}, x_{(d)}) - \\kappa(x_{i(d)}, 0)]` (or its image under
the steps before the classifier); the constant :math:`\\sum_d\\sum_i a_i\\kappa(x_{i(d)}, 0)`
(``offset``) does not depend on :math:`x` and joins the bias. It is 0 for every kernel with :math:`\\kappa(\\cdot, 0) = 0`; for
scikit-learn's ``additive_chi2_kernel`` (:math:`\\kappa(a, 0) = -a`) it keeps relevance off
the inactive dimensions, where layer 2 could not deliver it (math.md §B3.1).

:func:`as_kernel` recognises scikit-learn's own kernels wherever a kernel is given: the
functions of :mod:`sklearn.metrics.pairwise` (``linear_kernel``, ``rbf_kernel``,
``chi2_kernel``, ``additive_chi2_kernel``, ``polynomial_kernel``, ``sigmoid_kernel``), also
wrapped in :func:`functools.partial` with their parameters.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
from sklearn.metrics import pairwise
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel, polynomial_kernel, rbf_kernel, sigmoid_kernel

__all__ = [
    "Kernel", "Linear", "HistogramIntersection", "Chi2", "AdditiveChi2", "Hellinger", "RBF", "ExpChi2", "Poly",
    "Sigmoid", "Sum", "linear", "histogram_intersection", "chi2", "additive_chi2", "hellinger", "rbf", "exp_chi2",
    "from_dict", "as_kernel", "SKLEARN_KERNELS",
]

_CHUNK_ELEMENTS = 1 << 22


def _row_chunks(n_rows, row_elements):
    """Slices of at most ``_CHUNK_ELEMENTS / row_elements`` rows covering ``range(n_rows)``."""
    rows = max(1, _CHUNK_ELEMENTS // max(1, row_elements))
    return [slice(i, i + rows) for i in range(0, n_rows, rows)]


def _batched(gradient):
    """Let ``gradient(self, support, coef, Z)`` written for a batch (n, V) also take one point (V,)."""

    @functools.wraps(gradient)
    def wrapper(self, support, coef, z):
        z = np.asarray(z, dtype=np.float64)
        out = gradient(self, np.asarray(support, dtype=np.float64), np.asarray(coef, dtype=np.float64),
                       np.atleast_2d(z))
        return out[0] if z.ndim == 1 else out

    return wrapper


def _dense(X):
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _pair(X, Y):
    X, Y = _dense(X), _dense(Y)
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
    """:math:`k(x, z) = \\sum_d \\kappa(x_{(d)}, z_{(d)})` (math.md §B3.1, S13)."""

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
        return np.concatenate([self.kappa(X[rows, None, :], Y[None]).sum(axis=2)
                               for rows in _row_chunks(len(X), Y.size)] or [np.zeros((0, len(Y)))])

    def contributions(self, support, coef, x, reference=0.0) -> np.ndarray:
        """:math:`c_d = \\sum_i a_i\\,[\\kappa(x_{i(d)}, x_{(d)}) - \\kappa(x_{i(d)}, r_d)]` for support
        vectors ``support`` (S, V), dual coefficients ``coef`` (S,), one BoW vector ``x`` (V,) and
        the reference ``reference`` :math:`r` (the empty histogram 0, or its image under the steps
        before the classifier) (math.md §B3.1, S14; the part at the reference is :meth:`offset`)."""
        support = np.asarray(support, dtype=np.float64)
        at_reference = self.kappa(support, np.broadcast_to(np.asarray(reference, dtype=np.float64), support.shape[1:]))
        return np.asarray(coef) @ (self.kappa(support, np.asarray(x)[None, :]) - at_reference)

    def offset(self, support, coef, reference=0.0) -> float:
        """:math:`\\sum_d\\sum_i a_i\\,\\kappa(x_{i(d)}, r_d)`: the kernel part of :math:`f(r)`, a constant
        that joins the bias (0 when :math:`r = 0` and :math:`\\kappa(\\cdot, 0) = 0`)."""
        support = np.asarray(support, dtype=np.float64)
        at_reference = self.kappa(support, np.broadcast_to(np.asarray(reference, dtype=np.float64), support.shape[1:]))
        return float(np.asarray(coef) @ at_reference.sum(axis=1))

    def slope(self, a, b):
        """Elementwise :math:`\\partial_b\\kappa(a, b)` (differentiable additive kernels)."""
        raise NotImplementedError

    @_batched
    def gradient(self, support, coef, Z):
        """:math:`\\partial_{z_d}\\sum_i a_i k(x_i, z) = \\sum_i a_i\\,\\partial_b\\kappa(x_{i(d)}, z_d)` for each row of ``Z``."""
        return np.concatenate([np.einsum("s,nsv->nv", coef, self.slope(support[None], Z[rows, None, :]))
                               for rows in _row_chunks(len(Z), support.size)])


class Linear(_Additive):
    """:math:`\\kappa(a, b) = ab`; gradient :math:`\\nabla_z = \\sum_i a_i x_i` (= sklearn ``coef_``)."""

    name = "linear"
    differentiable = True
    non_negative = False

    def kappa(self, a, b):
        return a * b

    def _gram(self, X, Y):
        return X @ Y.T

    @_batched
    def gradient(self, support, coef, Z):
        return np.broadcast_to(coef @ support, Z.shape).copy()


class HistogramIntersection(_Additive):
    """:math:`\\kappa(a, b) = \\min(a, b)`; a.e. gradient :math:`\\partial_b\\kappa = \\mathbb 1[b<a]`
    (1/2 at ties). Inputs must be non-negative."""

    name = "histogram_intersection"
    differentiable = True

    def kappa(self, a, b):
        return np.minimum(a, b)

    def slope(self, a, b):
        return (b < a) + 0.5 * (b == a)


class Chi2(_Additive):
    """Additive chi2 in the positive-definite form :math:`\\kappa(a,b) = 2ab/(a+b)` (0 if a+b=0).

    The Gram matrix uses :math:`\\sum_d 2ab/(a+b) = \\tfrac12(\\sum_d a + \\sum_d b +
    \\texttt{additive\\_chi2\\_kernel})` (math.md §B3.1). Gradient
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

    def slope(self, a, b):
        total = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, 2.0 * a ** 2 / np.where(total > 0, total, 1.0) ** 2, 0.0)


class AdditiveChi2(_Additive):
    """scikit-learn's ``additive_chi2_kernel``: :math:`\\kappa(a, b) = -(a-b)^2/(a+b)` (0 if a+b=0).

    :math:`\\kappa(a, 0) = -a \\ne 0`: the contributions are taken relative to the empty
    histogram and the constant :math:`-\\sum_i a_i\\sum_d x_{i(d)}` joins the bias (see the module
    docstring). Gradient :math:`\\partial_b\\kappa = -(b-a)(b+3a)/(a+b)^2`, one-sided :math:`-1`
    at :math:`a = b = 0`. Inputs must be non-negative.
    """

    name = "additive_chi2"
    differentiable = True

    def kappa(self, a, b):
        total = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, -((a - b) ** 2) / np.where(total > 0, total, 1.0), 0.0)

    def _gram(self, X, Y):
        return additive_chi2_kernel(X, Y)

    def slope(self, a, b):
        total = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, -(b - a) * (b + 3 * a) / np.where(total > 0, total, 1.0) ** 2, -1.0)


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


class RBF(_GammaKernel):
    """:math:`k(x, z) = \\exp(-\\gamma\\lVert x - z\\rVert^2)` (sklearn ``rbf_kernel``).

    Gradient (math.md §B3.2, S16): :math:`\\partial_{z_d}k = -2\\gamma\\,(z_d - x_{i,d})\\,k`.
    """

    name = "rbf"
    gram = rbf_kernel

    @_batched
    def gradient(self, support, coef, Z):
        weights = self(Z, support) * coef  # (n, S)
        return -2.0 * self.gamma * (weights.sum(axis=1)[:, None] * Z - weights @ support)


class ExpChi2(_GammaKernel):
    """Exponential chi2, :math:`k = \\exp(-\\gamma\\sum_d (z_d-x_d)^2/(z_d+x_d))` (sklearn ``chi2_kernel``).

    Gradient (math.md §B3.2, S17):
    :math:`\\partial_{z_d}k = -\\gamma\\,k\\,(z_d-x_{i,d})(z_d+3x_{i,d})/(z_d+x_{i,d})^2`, with the
    one-sided value :math:`-\\gamma k` where :math:`z_d = x_{i,d} = 0`. Inputs must be non-negative.
    """

    name = "exp_chi2"
    gram = chi2_kernel

    @_batched
    def gradient(self, support, coef, Z):
        weights = self(Z, support) * coef  # (n, S)
        return self.gamma * np.concatenate([
            np.einsum("ns,nsv->nv", weights[rows], additive_chi2.slope(support[None], Z[rows, None, :]))
            for rows in _row_chunks(len(Z), support.size)])


class _DotKernel(Kernel):
    """A kernel :math:`g(\\gamma\\,x\\cdot z + c_0)` of the dot product; gradient
    :math:`\\nabla_z = \\sum_i a_i\\,\\gamma\\,g'(\\gamma\\,x_i\\cdot z + c_0)\\,x_i`."""

    differentiable = True

    def __init__(self, gamma=1.0, coef0=1.0):
        self.gamma = float(gamma)
        self.coef0 = float(coef0)

    def params(self):
        return {"gamma": self.gamma, "coef0": self.coef0}

    def derivative(self, t):
        raise NotImplementedError

    @_batched
    def gradient(self, support, coef, Z):
        inner = self.gamma * (Z @ support.T) + self.coef0
        return self.gamma * (self.derivative(inner) * coef) @ support


class Poly(_DotKernel):
    """:math:`k(x, z) = (\\gamma\\,x\\cdot z + c_0)^{p}` (sklearn ``polynomial_kernel``, ``SVC(kernel="poly")``)."""

    name = "poly"

    def __init__(self, degree=3, gamma=1.0, coef0=1.0):
        super().__init__(gamma, coef0)
        self.degree = degree

    def params(self):
        return {"degree": self.degree, **super().params()}

    def __call__(self, X, Y):
        return polynomial_kernel(*_pair(X, Y), degree=self.degree, gamma=self.gamma, coef0=self.coef0)

    def derivative(self, t):
        return self.degree * t ** (self.degree - 1)


class Sigmoid(_DotKernel):
    """:math:`k(x, z) = \\tanh(\\gamma\\,x\\cdot z + c_0)` (sklearn ``sigmoid_kernel``, ``SVC(kernel="sigmoid")``)."""

    name = "sigmoid"

    def __call__(self, X, Y):
        return sigmoid_kernel(*_pair(X, Y), gamma=self.gamma, coef0=self.coef0)

    def derivative(self, t):
        return 1.0 - np.tanh(t) ** 2


class Sum(Kernel):
    """Multiple kernels over feature channels (math.md §B2.6 S12, §B3.3):
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

    def contributions(self, support, coef, x, reference=0.0):
        support = np.asarray(support)
        reference = np.broadcast_to(np.asarray(reference, dtype=np.float64), support.shape[1:])
        return np.concatenate([w * k.contributions(support[:, s], coef, x[s], reference[s])
                               for (k, w), s in zip(self.parts, self._slices())])

    def offset(self, support, coef, reference=0.0):
        support = np.asarray(support)
        reference = np.broadcast_to(np.asarray(reference, dtype=np.float64), support.shape[1:])
        return sum(w * k.offset(support[:, s], coef, reference[s]) for (k, w), s in zip(self.parts, self._slices()))

    def gradient(self, support, coef, z):
        support, z = np.asarray(support), np.asarray(z)
        return np.concatenate([w * k.gradient(support[:, s], coef, z[..., s])
                               for (k, w), s in zip(self.parts, self._slices())], axis=-1)


linear = Linear()
histogram_intersection = HistogramIntersection()
chi2 = Chi2()
additive_chi2 = AdditiveChi2()
hellinger = Hellinger()


def rbf(gamma=1.0) -> RBF:
    """The RBF kernel with width ``gamma`` (see :class:`RBF`)."""
    return RBF(gamma)


def exp_chi2(gamma=1.0) -> ExpChi2:
    """The exponential chi2 kernel with ``gamma`` (see :class:`ExpChi2`)."""
    return ExpChi2(gamma)


_BY_NAME = {cls.name: cls for cls in (Linear, HistogramIntersection, Chi2, AdditiveChi2, Hellinger, RBF, ExpChi2,
                                      Poly, Sigmoid)}


def from_dict(description) -> Kernel:
    """The kernel described by :meth:`Kernel.to_dict`."""
    params = dict(description)
    name = params.pop("name")
    if name == "sum":
        return Sum([(from_dict(k), w) for k, w in params["parts"]], params["sizes"])
    if name not in _BY_NAME:
        raise ValueError(f"unknown kernel {name!r}; known: {sorted(_BY_NAME) + ['sum']}")
    return _BY_NAME[name](**params)


def _default_gamma(gamma, n_features):
    return 1.0 / n_features if gamma is None else float(gamma)


#: scikit-learn kernel functions -> the lrpref kernel computing the same Gram matrix, from the
#: function's keyword arguments (defaults filled in) and the number of features.
SKLEARN_KERNELS = {
    "linear_kernel": lambda p, n: Linear(),
    "rbf_kernel": lambda p, n: RBF(_default_gamma(p["gamma"], n)),
    "chi2_kernel": lambda p, n: ExpChi2(p["gamma"]),
    "additive_chi2_kernel": lambda p, n: AdditiveChi2(),
    "polynomial_kernel": lambda p, n: Poly(p["degree"], _default_gamma(p["gamma"], n), p["coef0"]),
    "sigmoid_kernel": lambda p, n: Sigmoid(_default_gamma(p["gamma"], n), p["coef0"]),
}
_NEAREST = {
    "laplacian_kernel": "it has no gradient where x_d = z_d; the nearest supported kernels are rbf_kernel "
                        "(bow.kernels.RBF) and chi2_kernel (bow.kernels.ExpChi2)",
    "cosine_similarity": "it is the linear kernel on L2-normalised vectors: put sklearn.preprocessing.Normalizer('l2') "
                         "before SVC(kernel='linear')",
}


def sklearn_function(kernel):
    """``(name, keyword arguments with defaults)`` of a :mod:`sklearn.metrics.pairwise` kernel
    function or a :func:`functools.partial` of one (positional arguments after X, Y included);
    ``(None, None)`` for anything else."""
    function, args, keywords = kernel, (), {}
    if isinstance(kernel, functools.partial):
        function, args, keywords = kernel.func, kernel.args, dict(kernel.keywords)
    name = getattr(function, "__name__", None)
    if name is None or getattr(pairwise, name, None) is not function:
        return None, None
    bound = inspect.signature(function).bind(None, None, *args, **keywords)
    bound.apply_defaults()
    params = {k: v for k, v in bound.arguments.items() if k not in ("X", "Y")}
    return name, params


def as_kernel(kernel, n_features=None) -> Kernel:
    """The :class:`Kernel` computing the same Gram matrix as ``kernel``.

    ``kernel`` is a :class:`Kernel` (returned as is) or a scikit-learn kernel function of
    :data:`SKLEARN_KERNELS`, possibly a :func:`functools.partial` with its parameters;
    ``n_features`` resolves their ``gamma=None`` (:math:`1/V`, as scikit-learn does). Any
    other callable raises ``TypeError`` naming the supported kernels and the nearest one.
    """
    if isinstance(kernel, Kernel):
        return kernel
    name, params = sklearn_function(kernel)
    if name in SKLEARN_KERNELS:
        if n_features is None and params.get("gamma", 0) is None:
            raise ValueError(f"{name} with gamma=None needs the number of features to resolve gamma = 1/n_features")
        return SKLEARN_KERNELS[name](params, n_features)
    supported = ("lrpref.bow.kernels (linear, histogram_intersection, chi2, additive_chi2, hellinger, RBF, ExpChi2, "
                 f"Poly, Sigmoid, Sum) and the sklearn.metrics.pairwise functions {sorted(SKLEARN_KERNELS)}, "
                 "also in functools.partial")
    if name in _NEAREST:
        raise TypeError(f"cannot explain the kernel {name}: {_NEAREST[name]}. Supported kernels: {supported}")
    raise TypeError(f"kernel {kernel!r} is Python code lrpref cannot decompose or differentiate. Supported kernels: "
                    f"{supported}. The nearest alternative for a custom additive kernel: write it as a subclass of "
                    "lrpref.bow.kernels.Kernel with kappa (decomposable) or gradient (differentiable)")
