"""Save and load fitted bag-of-words pipelines as ``.npz`` arrays plus a JSON description.

No pickles: :func:`save` writes one ``.npz`` file holding every array of the model and,
under the key ``"description.json"``, a JSON text that names each estimator (from a fixed
list of allowed classes), its constructor parameters and its fitted attributes, with
arrays referenced by key. :func:`load` reads it with ``np.load(..., allow_pickle=False)``,
rebuilds each estimator from its parameters and sets its fitted attributes back, so the
loaded pipeline gives the same ``decision_function`` and the same explanations.

Fitted scikit-learn attributes are restored as they were, including private ones that
``SVC.decision_function`` reads (``_dual_coef_``, ``_n_support``, ``_gamma``, ...); a file
written by one scikit-learn version is meant for that version (it is recorded).
"""

from __future__ import annotations

import json

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import LabelBinarizer
from sklearn.svm import SVC, LinearSVC

from . import kernels
from .coding import CODERS
from .features import DenseFeatures, KeypointFeatures
from .pipeline import BagOfWords, KernelMatrix

__all__ = ["save", "load", "FORMAT"]

FORMAT = "lrpref.bow/1"
DESCRIPTION_KEY = "description.json"
ALLOWED = {cls.__name__: cls for cls in (
    Pipeline, FeatureUnion, OneVsRestClassifier, LabelBinarizer, SVC, LinearSVC, LogisticRegression,
    BagOfWords, KernelMatrix, DenseFeatures, KeypointFeatures, *CODERS.values())}


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
        raise TypeError(f"cannot save {value!r} ({type(value).__name__}): only arrays, numbers, strings, "
                        "lrpref.bow kernels and the estimators of lrpref.bow.io.ALLOWED can be stored")

    def estimator(self, estimator):
        name = type(estimator).__name__
        if ALLOWED.get(name) is not type(estimator):
            raise TypeError(f"cannot save a {name}: allowed estimators are {sorted(ALLOWED)}")
        params = estimator.get_params(deep=False)
        state = {k: v for k, v in vars(estimator).items() if k not in params}
        return {"class": name, "params": {k: self.value(v) for k, v in params.items()},
                "state": {k: self.value(v) for k, v in state.items()}}


def _read(value, arrays):
    if isinstance(value, list):
        return [_read(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    (kind, content), = value.items()
    if kind == "array":
        return arrays[content]
    if kind == "kernel":
        return kernels.from_dict(content)
    if kind == "estimator":
        return _read_estimator(content, arrays)
    if kind == "tuple":
        return tuple(_read(v, arrays) for v in content)
    if kind == "dict":
        return {_read(k, arrays): _read(v, arrays) for k, v in content}
    raise ValueError(f"unknown entry {kind!r} in the model description")


def _read_estimator(description, arrays):
    name = description["class"]
    if name not in ALLOWED:
        raise ValueError(f"the file names a {name!r}, which is not an allowed estimator ({sorted(ALLOWED)})")
    estimator = ALLOWED[name](**{k: _read(v, arrays) for k, v in description["params"].items()})
    for key, value in description["state"].items():
        setattr(estimator, key, _read(value, arrays))
    return estimator


def save(model, path) -> None:
    """Write a fitted model (a Pipeline, or any allowed estimator) to the ``.npz`` file ``path``.

    Raises ``TypeError`` for a part that cannot be stored without pickles (a plain Python
    function as kernel, an estimator outside :data:`ALLOWED`).
    """
    writer = _Writer()
    description = {"format": FORMAT, "sklearn": sklearn.__version__, "numpy": np.__version__,
                   "model": writer.estimator(model)}
    with open(path, "wb") as file:  # exactly at ``path``: np.savez would append ".npz"
        np.savez_compressed(file, **writer.arrays, **{DESCRIPTION_KEY: np.array(json.dumps(description))})


def load(path):
    """Read a model written by :func:`save` (``np.load(..., allow_pickle=False)``)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    if DESCRIPTION_KEY not in arrays:
        raise ValueError(f"{path} is not a lrpref.bow model file: no {DESCRIPTION_KEY!r} entry")
    description = json.loads(str(arrays.pop(DESCRIPTION_KEY)))
    if description.get("format") != FORMAT:
        raise ValueError(f"{path} has format {description.get('format')!r}, expected {FORMAT!r}")
    return _read_estimator(description["model"], arrays)
