"""Layer 3 for differentiable kernels: first-order Taylor expansion at a root (bow.md §3.2).

.. math:: R^{(3)}_d = \\big(x_{(d)} - x_{0(d)}\\big)\\,\\partial_d f(x_0),\\qquad f(x_0) \\approx 0 \\quad (S15)

The root :math:`x_0` is found by algorithm ROOT of bow.md §3.2:

1. bisection on the segment from :math:`x` to a training BoW vector :math:`x'` of opposite
   sign, nearest first (status ``"bisection"``);
2. optional refinement: project :math:`x` onto the linearised level set,
   :math:`z \\leftarrow \\Pi_{\\ge0}(x - \\frac{f(z)+\\nabla f(z)^\\top(x-z)}{\\lVert\\nabla f(z)\\rVert^2}\\nabla f(z))`,
   then bisect again on the ray from :math:`x` through it; a step is kept only if it brings
   the root nearer to :math:`x` (status ``"refined"``);
3. fallbacks when no opposite-sign candidate exists: (a) extend the line beyond a candidate
   (or beyond 0), clipped to :math:`\\ge 0` for histogram inputs (``"extended"``); (b) the
   evaluated point of smallest :math:`|f|`, whose value :math:`f(x_0)` is then shared
   uniformly, :math:`R_d \\mathrel{+}= f(x_0)/V` (``"nearest_point"``); ``root="strict"`` raises
   instead.

The remainder :math:`\\varepsilon_T = f(x) - \\sum_d R_d` is always reported
(``TaylorResult.residual``); ``residual="uniform"`` adds :math:`\\varepsilon_T/V` to every
dimension, ``"rescale"`` multiplies :math:`R` by :math:`f(x)/\\sum_d R_d` when the signs
agree; the default ``"none"`` is faithful to the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import numpy as np

__all__ = ["TaylorResult", "find_root", "taylor_relevance", "taylor"]

MAX_BISECTIONS = 100
MAX_CANDIDATES = 5
CHUNK = 32
EXTENSION = 2.0 ** np.arange(1, 11)
RESIDUAL_POLICIES = ("none", "uniform", "rescale")


@dataclass(frozen=True)
class TaylorResult:
    """Layer-3 Taylor relevance and its bookkeeping.

    ``relevance`` (V,); ``root`` :math:`x_0`; ``f_root`` :math:`f(x_0)`; ``status`` of the root
    search; ``residual`` :math:`\\varepsilon_T = f(x) - \\sum_d R_d` after the residual policy;
    ``root_share`` the part of ``f_root`` put into ``relevance`` (nearest-point fallback).
    """

    relevance: np.ndarray
    root: np.ndarray
    f_root: float
    status: str
    residual: float
    root_share: float


def _tolerance(fx):
    return 1e-10 * max(1.0, abs(fx))


def _opposite(value, fx):
    return value == 0.0 or np.sign(value) != np.sign(fx)


def _bisect_path(decision, point, ts, fx, tol):
    """Root of :math:`g(t) = f(\\mathrm{point}(t))` with :math:`g(0) = f(x)`.

    ``ts`` are increasing trial values > 0; the first one where :math:`g` has the opposite
    sign of :math:`f(x)` closes the bracket, which is then bisected until
    :math:`|g| \\le` ``tol`` (at most 100 halvings). Returns ``(point, value, evaluated)``
    where ``point`` is None when no bracket was found; ``evaluated`` lists every
    ``(point, value)`` seen (for the nearest-point fallback).
    """
    trial = np.stack([point(t) for t in ts])
    values = decision(trial)
    evaluated = list(zip(trial, values))
    flips = [k for k, v in enumerate(values) if _opposite(v, fx)]
    if not flips:
        return None, None, evaluated
    k = flips[0]
    low, high = (0.0 if k == 0 else ts[k - 1]), ts[k]
    best, best_value = trial[k], values[k]
    for _ in range(MAX_BISECTIONS):
        if abs(best_value) <= tol:
            break
        middle = 0.5 * (low + high)
        z = point(middle)
        value = decision(z[None, :])[0]
        evaluated.append((z, value))
        if abs(value) < abs(best_value):
            best, best_value = z, value
        if _opposite(value, fx):
            high = middle
        else:
            low = middle
    return best, best_value, evaluated


def _ray(x, target, clip):
    direction = target - x
    if clip:
        return lambda t: np.maximum(x + t * direction, 0.0)
    return lambda t: x + t * direction


def _opposite_sign_points(expansion, x, fx, candidates, order, evaluated):
    """The candidates where f has the other sign than f(x), nearest first (``order``). f is
    evaluated on ``CHUNK`` candidates at a time, only as far as the caller asks; every
    evaluated point is appended to ``evaluated``."""
    for start in range(0, len(order), CHUNK):
        block = candidates[order[start:start + CHUNK]]
        values = expansion(block)
        evaluated += list(zip(block, values))
        yield from (point for point, value in zip(block, values) if _opposite(value, fx))


def _first_root(expansion, x, targets, ts, clip, fx, tol, evaluated):
    """The first root within ``tol`` on the rays from ``x`` towards ``targets`` (tried in order);
    ``(None, None)`` if none. Every evaluated point is appended to ``evaluated``."""
    for target in targets:
        root, value, seen = _bisect_path(expansion, _ray(x, target, clip), ts, fx, tol)
        evaluated += seen
        if root is not None and abs(value) <= tol:
            return root, value
    return None, None


def find_root(expansion, x, fx=None, refine=0, strict=False):
    """A root :math:`x_0` of :math:`f` near :math:`x` by algorithm ROOT (bow.md §3.2).

    Parameters
    ----------
    expansion : KernelExpansion
    x : (V,) BoW vector
    fx : float, optional
        :math:`f(x)` if already known.
    refine : int
        Number of refinement steps (0 = none).
    strict : bool
        Raise ``RuntimeError`` instead of the nearest-point fallback.

    Returns
    -------
    root : (V,) ndarray, f_root : float, status : str
    """
    x = np.asarray(x, dtype=np.float64)
    fx = float(expansion(x[None, :])[0]) if fx is None else fx
    tol = _tolerance(fx)
    if abs(fx) <= tol:
        return x.copy(), fx, "at_root"
    candidates = np.asarray(expansion.candidates, dtype=np.float64)
    clip = bool(x.min() >= 0 and (len(candidates) == 0 or candidates.min() >= 0))
    order = np.argsort(np.linalg.norm(candidates - x, axis=1), kind="stable")
    evaluated = []
    opposite = islice(_opposite_sign_points(expansion, x, fx, candidates, order, evaluated), MAX_CANDIDATES)
    root, value = _first_root(expansion, x, opposite, [1.0], False, fx, tol, evaluated)
    status = "bisection"
    if root is None:
        # Fallback (a): beyond same-sign candidates, or beyond the origin (the empty image).
        beyond = [candidates[i] for i in order[:MAX_CANDIDATES]] + [np.zeros_like(x)]
        root, value = _first_root(expansion, x, beyond, EXTENSION, clip, fx, tol, evaluated)
        status = "extended"
    if root is None:
        if strict:
            raise RuntimeError(f"no root of the decision function found near x (f(x) = {fx:.6g}): no training "
                               "point of opposite sign and no sign change on extended lines (root='strict')")
        points, point_values = zip(*evaluated) if evaluated else ([x], [fx])
        best = int(np.argmin(np.abs(point_values)))
        return np.asarray(points[best]), float(point_values[best]), "nearest_point"
    value = float(value)
    for _ in range(int(refine)):
        gradient = expansion.gradient(root)
        norm2 = float(gradient @ gradient)
        if norm2 == 0.0:
            break
        projected = x - (value + gradient @ (x - root)) / norm2 * gradient
        projected = np.maximum(projected, 0.0) if clip else projected
        if np.array_equal(projected, x):
            break
        nearer, nearer_value, _ = _bisect_path(expansion, _ray(x, projected, clip),
                                               np.concatenate([[1.0], EXTENSION]), fx, tol)
        if nearer is None or abs(nearer_value) > tol or np.linalg.norm(nearer - x) >= np.linalg.norm(root - x):
            break
        root, value, status = nearer, float(nearer_value), "refined"
    return root, value, status


def taylor_relevance(expansion, x, root) -> np.ndarray:
    """:math:`R_d = (x_{(d)} - x_{0(d)})\\,\\partial_d f(x_0)` (bow.md §3.2, S15)."""
    return (np.asarray(x) - root) * expansion.gradient(root)


def taylor(expansion, x, fx, refine=0, root="line", residual="none") -> TaylorResult:
    """Layer-3 relevance of a differentiable kernel by a Taylor expansion at a root (bow.md §3.2).

    ``root`` is ``"line"`` (ROOT with fallbacks) or ``"strict"`` (raise when no root is found).
    """
    if root not in ("line", "strict"):
        raise ValueError(f"root must be 'line' or 'strict', got {root!r}")
    if residual not in RESIDUAL_POLICIES:
        raise ValueError(f"taylor_residual must be one of {RESIDUAL_POLICIES}, got {residual!r}")
    x0, f0, status = find_root(expansion, x, fx, refine=refine, strict=(root == "strict"))
    relevance = taylor_relevance(expansion, x, x0)
    root_share = 0.0
    if status == "nearest_point":
        root_share = f0
        relevance = relevance + f0 / len(relevance)
    remainder = fx - relevance.sum()
    if residual == "uniform":
        relevance = relevance + remainder / len(relevance)
    elif residual == "rescale":
        total = relevance.sum()
        if np.sign(total) == np.sign(fx) and abs(total) > _tolerance(fx):
            relevance = relevance * (fx / total)
    return TaylorResult(relevance, x0, f0, status, float(fx - relevance.sum()), root_share)
