"""Steps between the bag-of-words histograms and the classifier, explained as layers (math.md §B3.4).

A fitted scikit-learn step :math:`y = T(x)` is read by :func:`read_step` as a :class:`Step`
with the forward map (the same numbers as the step's own ``transform``) and a relevance rule
from :math:`R(y)` to :math:`R(x)` with its ledger row:

* :class:`GlobalScale` — ``Normalizer`` (``"l1"``, ``"l2"``, ``"max"``) and the norm of
  ``TfidfTransformer``: :math:`y = x/n(x)` with one positive number :math:`n(x)` treated as a
  constant (a frozen normaliser). Relevance passes unchanged; nothing is absorbed.
* :class:`Elementwise` — :class:`PowerNormalizer` (power / signed square root),
  ``FunctionTransformer(numpy.sqrt)`` and the sublinear tf of ``TfidfTransformer``
  (:math:`1 + \\log x` on :math:`x > 0`): :math:`y_d = g(x_d)` with :math:`g(0) = 0`, one to
  one on each dimension. Relevance passes unchanged (a dimension stays zero iff it was);
  nothing is absorbed.
* :class:`Affine` — ``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``,
  ``RobustScaler`` and the idf weights of ``TfidfTransformer``:
  :math:`y_d = s_d x_d + t_d`, one to one on each dimension. Relevance passes unchanged;
  nothing is absorbed. Layer 3 takes its relevance relative to the image of the empty
  histogram, :math:`T(0)` (:math:`y_d = t_d`), not to :math:`y = 0`: the decomposable rule
  uses :math:`\\kappa(x_{i(d)}, y_d) - \\kappa(x_{i(d)}, t_d)` and puts the constant
  :math:`f`-part at :math:`T(0)` into the bias, the expansions start from :math:`T(0)` or
  from a root. :math:`R_d` is then the effect of word :math:`d` moving from absent to its
  value, whatever the shift.

Every rule passes the relevance unchanged and closes the books exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, Normalizer, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .decompose import ledger_row

__all__ = ["PowerNormalizer", "Step", "GlobalScale", "Elementwise", "Affine", "read_step", "SUPPORTED_STEPS"]

SUPPORTED_STEPS = ("Normalizer (l1, l2, max)", "TfidfTransformer", "StandardScaler", "MinMaxScaler (clip=False)",
                   "MaxAbsScaler", "RobustScaler", "bow.PowerNormalizer", "FunctionTransformer(numpy.sqrt)")


class PowerNormalizer(TransformerMixin, BaseEstimator):
    """Power normalisation :math:`y = \\mathrm{sign}(x)\\,|x|^{\\rho}` (math.md §B2.5, S10c); ``power=0.5``
    is the signed square root of improved Fisher vectors. Stateless."""

    def __init__(self, power=0.5):
        self.power = power

    def fit(self, X, y=None):
        if not float(self.power) > 0:
            raise ValueError(f"power must be positive, got {self.power!r}")
        validate_data(self, X, reset=True)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False)
        return np.sign(X) * np.abs(X) ** float(self.power)


@dataclass(frozen=True)
class Step:
    """A step read as a layer: ``name``, ``forward(x)`` on one vector and ``relevance(x, R)``."""

    name: str

    def forward(self, x):
        raise NotImplementedError

    def relevance(self, x, relevance):
        """``(R(x), ledger row)`` for the input ``x`` and the relevance ``relevance`` of ``forward(x)``."""
        return relevance, ledger_row(f"{self.name}: pass-through", relevance.sum(), relevance.sum())


@dataclass(frozen=True)
class GlobalScale(Step):
    """:math:`y = x / n(x)`, ``norm`` in {"l1", "l2", "max"} (0 stays 0)."""

    norm: str = "l2"

    def forward(self, x):
        size = {"l1": lambda v: np.abs(v).sum(), "l2": lambda v: np.sqrt(v @ v), "max": lambda v: np.abs(v).max()}
        n = size[self.norm](x) if len(x) else 0.0
        return x / n if n > 0 else x.copy()


@dataclass(frozen=True)
class Elementwise(Step):
    """:math:`y_d = g(x_d)` with :math:`g(0) = 0`: ``kind`` "power" (:math:`\\mathrm{sign}(x)|x|^\\rho`) or "log1" (:math:`1 + \\log x` on :math:`x > 0`)."""

    kind: str = "power"
    power: float = 0.5

    def forward(self, x):
        if self.kind == "power":
            return np.sign(x) * np.abs(x) ** self.power
        with np.errstate(divide="ignore"):
            return np.where(x != 0, np.log(np.where(x != 0, x, 1.0)) + 1.0, 0.0)


@dataclass(frozen=True)
class Affine(Step):
    """:math:`y_d = s_d x_d + t_d` (relevance relative to :math:`T(0)`, passed unchanged; module docstring)."""

    scale: np.ndarray = None
    shift: np.ndarray = None

    def forward(self, x):
        return self.scale * x + self.shift


def _inverse(scale):
    scale = np.asarray(scale, dtype=np.float64)
    return 1.0 / np.where(scale == 0, 1.0, scale)  # scikit-learn replaces zero scales by 1


def _refuse(step, why):
    raise TypeError(f"cannot explain the step {step!r} between the histograms and the classifier: {why}. Supported "
                    f"steps: {', '.join(SUPPORTED_STEPS)}")


def read_step(step) -> list[Step]:
    """The layers of a fitted step, in forward order (TfidfTransformer gives up to three)."""
    name = type(step).__name__
    check_is_fitted(step)
    if isinstance(step, Normalizer):
        if step.norm not in ("l1", "l2", "max"):
            _refuse(step, f"unknown norm {step.norm!r}")
        return [GlobalScale(f"Normalizer({step.norm})", step.norm)]
    if isinstance(step, PowerNormalizer):
        return [Elementwise(f"PowerNormalizer({step.power})", "power", float(step.power))]
    if isinstance(step, FunctionTransformer):
        if step.func is np.sqrt and not step.kw_args:
            return [Elementwise("FunctionTransformer(sqrt)", "power", 0.5)]
        if step.func is None:
            return []
        _refuse(step, "a FunctionTransformer runs arbitrary code; numpy.sqrt is recognised, and "
                      "bow.PowerNormalizer(power) is the nearest alternative for a power map")
    if isinstance(step, TfidfTransformer):
        layers = []
        if step.sublinear_tf:
            layers.append(Elementwise("TfidfTransformer sublinear tf", "log1"))
        if step.use_idf:
            idf = np.asarray(step.idf_, dtype=np.float64)
            layers.append(Affine("TfidfTransformer idf", idf, np.zeros_like(idf)))
        if step.norm is not None:
            layers.append(GlobalScale(f"TfidfTransformer norm {step.norm}", step.norm))
        return layers
    if isinstance(step, StandardScaler):
        scale = _inverse(step.scale_) if step.with_std else np.ones(step.n_features_in_)
        mean = step.mean_ if step.with_mean else np.zeros(step.n_features_in_)
        return [Affine(name, scale, -np.asarray(mean, dtype=np.float64) * scale)]
    if isinstance(step, RobustScaler):
        scale = _inverse(step.scale_) if step.with_scaling else np.ones(step.n_features_in_)
        center = step.center_ if step.with_centering else np.zeros(step.n_features_in_)
        return [Affine(name, scale, -np.asarray(center, dtype=np.float64) * scale)]
    if isinstance(step, MinMaxScaler):
        if step.clip:
            _refuse(step, "clip=True is not an affine map; refit with clip=False")
        return [Affine(name, np.asarray(step.scale_, np.float64), np.asarray(step.min_, np.float64))]
    if isinstance(step, MaxAbsScaler):
        scale = _inverse(step.scale_)
        return [Affine(name, scale, np.zeros_like(scale))]
    _refuse(step, f"lrpref has no relevance rule for {name}")
