"""``from_sklearn``: a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor`` as an lrpref network.

scikit-learn stores layer ``k`` as ``coefs_[k]`` shaped (in, out) and ``intercepts_[k]``; the
lrpref layer is ``Dense(coefs_[k].T, intercepts_[k])``. Every hidden layer is followed by the
estimator's ``activation`` (``identity``, ``logistic`` = Sigmoid, ``tanh``, ``relu``). The output
activation ``out_activation_`` is *not* part of the network: it returns the decision values
before it (the logits), which is what LRP explains. So

* ``MLPRegressor``: the output is ``predict(X)`` (shape (N, n_outputs), also for one output);
  with ``loss="poisson"`` (output activation ``exp``), ``exp(output) = predict(X)``;
* ``MLPClassifier`` with softmax (three or more classes): ``softmax(output) = predict_proba(X)``;
* ``MLPClassifier`` with a logistic output (two classes: one logit for class 1; multilabel:
  one logit per label): ``sigmoid(output)`` is the probability of class 1 / of each label.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L
from ._chain import INPUT, GraphBuilder, ModelImportError, as_float, target_dtype

__all__ = ["from_sklearn"]

_ACTIVATIONS = {"identity": L.Identity, "logistic": L.Sigmoid, "tanh": L.Tanh, "relu": L.ReLU}


def from_sklearn(estimator, *, dtype=None):
    """Import a fitted ``MLPClassifier`` / ``MLPRegressor`` (see the module docstring for its output).

    Parameters
    ----------
    estimator : a fitted ``sklearn.neural_network.MLPClassifier`` or ``MLPRegressor``.
    dtype : None keeps the dtype of ``coefs_`` (float32 when fitted on float32 data, else
        float64); float32 / float64 converts.

    Raises
    ------
    ModelImportError : another estimator, or an activation lrpref does not have.
    sklearn.exceptions.NotFittedError : the estimator is not fitted.
    """
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise ModelImportError(f"from_sklearn supports MLPClassifier and MLPRegressor, got {type(estimator).__name__}")
    check_is_fitted(estimator, "coefs_")
    if estimator.activation not in _ACTIVATIONS:
        raise ModelImportError(f"{type(estimator).__name__}: activation {estimator.activation!r} is not one of "
                               f"{sorted(_ACTIVATIONS)}")
    dtype = target_dtype(dtype)
    builder, tensor = GraphBuilder((estimator.coefs_[0].shape[0],), "from_sklearn"), INPUT
    for k, (coef, intercept) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        where = f"{type(estimator).__name__} layer {k}"
        W, b = as_float(np.asarray(coef).T, dtype, where), as_float(intercept, dtype, where)
        tensor = builder.add(lambda: L.Dense(W, b), where, [tensor], f"dense{k}")
        if k < len(estimator.coefs_) - 1:
            tensor = builder.add(_ACTIVATIONS[estimator.activation], f"{where} activation {estimator.activation!r}",
                                 [tensor], f"activation{k}")
    return builder.network(tensor)
