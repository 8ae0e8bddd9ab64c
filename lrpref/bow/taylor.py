"""Layer 3 for differentiable kernels: an expansion at a root (math.md §B3.2).

Two expansions at a root :math:`x_0` (:math:`f(x_0) \\approx 0`):

* ``"taylor"`` — first order (Bach et al. 2015, S15),
  :math:`R^{(3)}_d = (x_{(d)} - x_{0(d)})\\,\\partial_d f(x_0)`; the remainder is second order in
  :math:`\\lVert x - x_0\\rVert`;
* ``"integrated"`` — the exact path decomposition (integrated gradients on the straight path
  from the root), :math:`R^{(3)}_d = (x_{(d)} - x_{0(d)})\\int_0^1 \\partial_d f(x_0 + t(x - x_0))\\,dt`.
  By the fundamental theorem of calculus :math:`\\sum_d R_d = f(x) - f(x_0)` exactly; the
  integral is computed by Gauss-Legendre quadrature with 8, 16, ... points until
  :math:`|f(x) - f(x_0) - \\sum_d R_d| \\le 10^{-12}\\max(1, |f(x)|)` (at most
  ``MAX_NODES``), and what remains is the quadrature error, reported in the ledger.

Two root searches (``root=``):

* ``"line"`` — Bach et al. 2015, algorithm ROOT of math.md §B3.2 (below);
* ``"gradient"`` — the nearest root along the gradient: Newton steps along
  :math:`\\nabla f`, :math:`z \\leftarrow \\Pi(z - f(z)\\nabla f(z)/\\lVert\\nabla f(z)\\rVert^2)`
  (:math:`\\Pi` clips to :math:`\\ge 0` for histograms), from :math:`x` until the sign of
  :math:`f` changes, then bisection on the last step (status ``"gradient"``); if the steps
  stall, the line search is used;
* ``"empty"`` — not a root: the empty histogram :math:`x_0 = 0`, the reference the
  decomposable kernels use (math.md §B3.1). :math:`f(0) \\ne 0` is shared out like the bias
  (the ``bias`` policy); with ``"integrated"`` the decomposition is exact, and it localises
  where the roots do not (``benchmarks/bow_localisation.py``): for an image with
  :math:`f(x) < 0` a root lies towards *more* of the explained class, so
  :math:`(x - x_0)\\,\\nabla f` makes the evidence for the class negative.

Algorithm ROOT (``root="line"``):

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

__all__ = ["TaylorResult", "find_root", "taylor_relevance", "integrated_relevance", "taylor", "ROOTS", "EXPANSIONS"]

ROOTS = ("line", "gradient", "strict", "empty")
EXPANSIONS = ("taylor", "integrated")
MAX_NODES = 512
MAX_GRADIENT_STEPS = 50
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
    ``root_share`` the part of ``f_root`` put into ``relevance`` (nearest-point fallback);
    ``expansion`` "taylor" or "integrated"; ``nodes`` the quadrature points used (0 for Taylor).
    """

    relevance: np.ndarray
    root: np.ndarray
    f_root: float
    status: str
    residual: float
    root_share: float
    expansion: str = "taylor"
    nodes: int = 0


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


def _gradient_root(expansion, x, fx, tol, clip):
    """Newton steps along the gradient from ``x`` until the sign of f changes (then bisection on
    the last step) or :math:`|f| \\le` ``tol``; ``(None, None)`` when the steps stall."""
    z, fz = x, fx
    for _ in range(MAX_GRADIENT_STEPS):
        gradient = expansion.gradient(z)
        norm2 = float(gradient @ gradient)
        if norm2 == 0.0:
            return None, None
        step = z - fz / norm2 * gradient
        step = np.maximum(step, 0.0) if clip else step
        f_step = float(expansion(step[None, :])[0])
        if abs(f_step) <= tol:
            return step, f_step
        if _opposite(f_step, fx):
            root, value, _ = _bisect_path(expansion, lambda t, a=z, b=step: a + t * (b - a), [1.0], fx, tol)
            return root, value
        if abs(f_step) >= abs(fz):
            return None, None
        z, fz = step, f_step
    return None, None


def find_root(expansion, x, fx=None, refine=0, strict=False, method="line"):
    """A root :math:`x_0` of :math:`f` near :math:`x` (math.md §B3.2): ``method="line"`` (algorithm
    ROOT of Bach et al. 2015) or ``"gradient"`` (Newton steps along the gradient; module docstring).

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
    if method == "gradient":
        root, value = _gradient_root(expansion, x, fx, tol, clip)
        if root is not None and abs(value) <= tol:
            return root, float(value), "gradient"
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
    """:math:`R_d = (x_{(d)} - x_{0(d)})\\,\\partial_d f(x_0)` (math.md §B3.2, S15)."""
    return (np.asarray(x) - root) * expansion.gradient(root)


def integrated_relevance(expansion, x, root, fx, f_root):
    """:math:`R_d = (x_{(d)} - x_{0(d)})\\int_0^1\\partial_d f(x_0 + t(x - x_0))\\,dt` by Gauss-Legendre
    quadrature with 8, 16, ... ``MAX_NODES`` points, stopping when
    :math:`|f(x) - f(x_0) - \\sum_d R_d| \\le 10^{-12}\\max(1, |f(x)|)`. Returns ``(R, nodes)``."""
    x = np.asarray(x, dtype=np.float64)
    delta = x - root
    tolerance = 1e-12 * max(1.0, abs(fx))
    nodes = 8
    while True:
        t, w = np.polynomial.legendre.leggauss(nodes)
        t, w = 0.5 * (t + 1.0), 0.5 * w
        relevance = delta * (w @ expansion.gradient(root[None, :] + t[:, None] * delta[None, :]))
        if abs(fx - f_root - relevance.sum()) <= tolerance or nodes >= MAX_NODES:
            return relevance, nodes
        nodes *= 2


def taylor(expansion, x, fx, refine=0, root="line", residual="none", method="taylor", empty=None,
           share=None) -> TaylorResult:
    """Layer-3 relevance of a differentiable kernel by an expansion at a reference point (math.md §B3.2).

    ``root`` is ``"line"`` (ROOT with fallbacks), ``"gradient"`` (nearest root along the
    gradient, then ROOT), ``"strict"`` (line search, raise when no root is found) or
    ``"empty"``: the empty histogram ``empty`` (default 0; the image of 0 under the steps
    before the classifier), the reference of the decomposable kernels, whose value
    :math:`f(0)` is not 0 and is shared like a bias by ``share(amount, relevance)`` (default
    uniform). ``method`` is ``"taylor"`` (first order) or ``"integrated"`` (exact path
    decomposition).
    """
    if root not in ROOTS:
        raise ValueError(f"root must be one of {ROOTS}, got {root!r}")
    if method not in EXPANSIONS:
        raise ValueError(f"the expansion must be one of {EXPANSIONS}, got {method!r}")
    if residual not in RESIDUAL_POLICIES:
        raise ValueError(f"taylor_residual must be one of {RESIDUAL_POLICIES}, got {residual!r}")
    if root == "empty":
        x0 = np.zeros(len(x)) if empty is None else np.asarray(empty, dtype=np.float64)
        f0, status = float(expansion(x0[None, :])[0]), "empty"
    else:
        x0, f0, status = find_root(expansion, x, fx, refine=refine, strict=(root == "strict"),
                                   method="gradient" if root == "gradient" else "line")
    nodes = 0
    if method == "taylor":
        relevance = taylor_relevance(expansion, x, x0)
    else:
        relevance, nodes = integrated_relevance(expansion, x, x0, fx, f0)
    root_share = 0.0
    if status == "nearest_point" or (status == "empty" and share is None):
        root_share = f0
        relevance = relevance + f0 / len(relevance)
    elif status == "empty":
        shares = share(f0, relevance)
        root_share = float(shares.sum())
        relevance = relevance + shares
    remainder = fx - relevance.sum()
    if residual == "uniform":
        relevance = relevance + remainder / len(relevance)
    elif residual == "rescale":
        total = relevance.sum()
        if np.sign(total) == np.sign(fx) and abs(total) > _tolerance(fx):
            relevance = relevance * (fx / total)
    return TaylorResult(relevance, x0, f0, status, float(fx - relevance.sum()), root_share, method, nodes)
