"""Top-layer relevance: what an explanation starts from (math.md §2).

``resolve_target`` validates a target (class index per sample, or an explicit top
relevance array); ``logit`` is the LRP initialisation ``R(Y^L) = e_c ⊙ Z``.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_finite

__all__ = ["resolve_target", "one_hot", "logit", "softmax", "softmax_gradient", "path_softmax_gradient", "multiplier", "top_relevance"]


def resolve_target(output: np.ndarray, target):
    """``(classes, explicit)``: one class index per sample, or an explicit top relevance array.

    ``target`` is None (each sample's arg-max), an int, a sequence of N ints, or a float array
    of the output's shape used as the top relevance itself.
    """
    n = output.shape[0]
    if target is None or isinstance(target, (int, np.integer)) and not isinstance(target, (bool, np.bool_)):
        classes = _require_classes(output)
        picked = output.reshape(n, -1).argmax(axis=1) if target is None else np.full(n, int(target))
    else:
        array = np.asarray(target)
        if array.dtype.kind == "f":
            if array.shape != output.shape:
                raise ValueError(f"an explicit top relevance must have the output's shape {output.shape}, got {array.shape}")
            check_finite(array, "the explicit top relevance")
            if array.dtype != output.dtype:
                raise TypeError(f"the explicit top relevance is {array.dtype} but the network output is {output.dtype}; "
                                f"never mixed silently: cast it explicitly")
            return None, array
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise TypeError(f"target must be None, an int, N ints or a float array of the output's shape; "
                            f"got {array.dtype} of shape {array.shape}")
        if array.shape[0] != n:
            raise ValueError(f"target has {array.shape[0]} entries for a batch of {n}")
        classes = _require_classes(output)
        picked = array.astype(np.int64)
    bad = (picked < 0) | (picked >= classes)
    if bad.any():
        raise ValueError(f"target {int(picked[bad][0])} is out of range: the output has {classes} classes (0..{classes - 1})")
    return picked, None


def _require_classes(output):
    if output.ndim != 2:
        raise ValueError(f"a class index target needs outputs of shape (N, K); this network outputs {output.shape[1:]} "
                         f"per sample: pass an explicit top relevance array instead")
    return output.shape[1]


def one_hot(classes: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``e_c`` for every sample, shaped and typed like ``output``."""
    e = np.zeros_like(output)
    e[np.arange(output.shape[0]), classes] = 1
    return e


def logit(output: np.ndarray, target) -> tuple[np.ndarray, np.ndarray | None]:
    """LRP's top relevance ``e_c ⊙ Z`` (math.md §2), or the explicit array given as target."""
    classes, explicit = resolve_target(output, target)
    if explicit is not None:
        return explicit, None
    return one_hot(classes, output) * output, classes


def softmax(Z: np.ndarray) -> np.ndarray:
    """``exp(Z − max Z) / sum exp(Z − max Z)`` per sample (math.md §1)."""
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_gradient(Z: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``P'_c = ∂P_c/∂Z = P_c (e_c − P)`` per sample (math.md §1; Chen et al. 2024 eq. 10); it sums to 0."""
    P = softmax(Z)
    Pc = P[np.arange(len(P)), classes][:, None]
    return Pc * (one_hot(classes, Z) - P)


def path_softmax_gradient(Z_from, Z_to, classes, ts, weights) -> np.ndarray:
    """``P̄'_c = sum_k w_k P'_c(Z_from + t_k (Z_to − Z_from))`` (math.md §2, SIG)."""
    dZ = Z_to - Z_from
    return sum(w * softmax_gradient(Z_from + t * dZ, classes) for t, w in zip(ts, weights))


def multiplier(kind: str, Z, Z_ref, classes, ts=None, weights=None) -> np.ndarray:
    """The top multiplier ``g^L`` of an increment method: ``"increment"`` ``e_c``, ``"st"`` ``P'_c(Z)``, ``"sig"`` ``P̄'_c``."""
    if kind == "increment":
        return one_hot(classes, Z)
    if kind == "st":
        return softmax_gradient(Z, classes)
    if kind == "sig":
        return path_softmax_gradient(np.broadcast_to(Z_ref, Z.shape), Z, classes, ts, weights).astype(Z.dtype)
    raise ValueError(f"unknown top multiplier {kind!r}")


def top_relevance(kind: str, Z, classes, ts=None, weights=None) -> np.ndarray:
    """Top relevance of an LRP-based method: ``"logit"``, ``"sg"``, ``"st-lrp-0"``, ``"sig-lrp-0"`` (math.md §2, §6.5)."""
    if kind == "logit":
        return one_hot(classes, Z) * Z
    if kind == "sg":
        return softmax_gradient(Z, classes)
    if kind == "st-lrp-0":
        return softmax_gradient(Z, classes) * Z
    if kind == "sig-lrp-0":
        return path_softmax_gradient(np.zeros_like(Z), Z, classes, ts, weights).astype(Z.dtype) * Z
    raise ValueError(f"unknown top relevance {kind!r}")
