"""The engine of every perturbation metric (math.md §14.1, §14.2, §14.4).

A metric describes its perturbations of sample ``n`` by one integer map ``removal[n] (H, W)`` and
thresholds ``t_1 … t_T``: the ``j``-th perturbed input removes every position whose removal
value is at most ``t_j``, in all channels,

    X_j = where(removal <= t_j, B, X),          j = 1..T,     X_0 = X,

with ``B`` the replacement image (:mod:`lrpref.evaluate.replacement`). Region perturbation
stores the step at which a pixel's region is removed, the PC curve the pixel's rank, a patch the
Chebyshev distance from its centre.

The model sees a sample's ``T + 1`` inputs in calls of at most ``batch_size`` inputs, never
mixed with other samples', so a sample's scores are the same bit for bit whatever batch or dask
chunk it is evaluated in. A progress bar over the samples shows on a terminal (stderr).
"""

from __future__ import annotations

import numpy as np

from .._progress import progress
from ..tops import resolve_target
from ._inputs import class_scores, model_outputs, positive_int

__all__ = ["perturbed_scores"]


def perturbed_scores(model, x_shape, x4, removal, thresholds, B, target, output, batch_size):
    """``(scores (N, T + 1), classes (N,))``: the class score of ``X_0 = X, X_1, …, X_T`` of every sample.

    ``x_shape`` is the images' shape as given (the model receives arrays of that shape), ``x4``
    their ``(N, C, H, W)`` view, ``removal`` ``(N, H, W)`` integers, ``thresholds`` ``(T,)``.
    """
    batch_size = positive_int(batch_size, "batch_size")
    levels = np.concatenate([[-np.inf], np.asarray(thresholds, dtype=np.float64)])[:, None, None]
    outputs = None
    for n in progress(range(len(x4)), "perturbing samples"):
        rows = []
        for start in range(0, len(levels), batch_size):
            removed = removal[n][None] <= levels[start:start + batch_size]          # (j, H, W)
            batch = np.where(removed[:, None], B[n][None], x4[n][None])              # (j, C, H, W)
            rows.append(model_outputs(model, batch.reshape(len(batch), *x_shape[1:])))
        scores = np.concatenate(rows)
        if outputs is None:
            resolve_target(np.zeros((len(x4), scores.shape[1])), target)  # a bad target fails before the other samples run
            outputs = np.empty((len(x4), *scores.shape))
        elif scores.shape[1] != outputs.shape[2]:
            raise ValueError(f"the model returned {scores.shape[1]} scores for sample {n} but {outputs.shape[2]} before")
        outputs[n] = scores
    return class_scores(outputs, target, output)
