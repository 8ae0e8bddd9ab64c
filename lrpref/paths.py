"""Points and weights along a straight path ``t ∈ [0, 1]`` (math.md §5, §6.3, §15.10).

``quadrature(n, rule)`` returns ``(t, w)`` with ``sum w = 1``, so that
``∫_0^1 h(t) dt ≈ sum_k w_k h(t_k)``:

* ``"right"`` — ``t_k = k/n``, ``k = 1..n`` (the IG paper, and LID-IG in Chen et al. 2024; the default);
* ``"left"`` — ``t_k = (k-1)/n``;
* ``"midpoint"`` — ``t_k = (k - ½)/n``;
* ``"trapezoid"`` — ``t_k = k/n``, ``k = 0..n``, end weights halved (the IG authors' later code);
* ``"gauss-legendre"`` — ``n`` Gauss–Legendre nodes mapped to ``[0, 1]`` (Captum's default);
* a pair ``(t, w)`` of ``n`` points in ``[0, 1]`` and their weights, used as given (a peer's own
  quadrature, e.g. captum's float32 weights, :func:`lrpref.presets.captum.integrated_gradients`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["quadrature", "rule_name", "RULES"]

RULES = ("right", "left", "midpoint", "trapezoid", "gauss-legendre")


def quadrature(n: int, rule: str = "right") -> tuple[np.ndarray, np.ndarray]:
    """``(t, w)``: points in ``[0, 1]`` and weights summing to 1 (see the module docstring)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of path steps must be an integer >= 1, got {n!r}")
    n = int(n)
    if not isinstance(rule, str):
        return _given(n, rule)
    k = np.arange(1, n + 1, dtype=np.float64)
    if rule == "right":
        return k / n, np.full(n, 1.0 / n)
    if rule == "left":
        return (k - 1) / n, np.full(n, 1.0 / n)
    if rule == "midpoint":
        return (k - 0.5) / n, np.full(n, 1.0 / n)
    if rule == "trapezoid":
        w = np.full(n + 1, 1.0 / n)
        w[[0, -1]] = 0.5 / n
        return np.arange(n + 1) / n, w
    if rule == "gauss-legendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return (nodes + 1) / 2, weights / 2
    raise ValueError(f"unknown quadrature rule {rule!r}; one of {RULES}")


def _given(n: int, rule) -> tuple[np.ndarray, np.ndarray]:
    """A quadrature given as ``(t, w)``: ``n`` finite points in ``[0, 1]`` and ``n`` finite weights."""
    try:
        t, w = (np.asarray(part, dtype=np.float64) for part in rule)
    except (TypeError, ValueError):
        raise ValueError(f"a quadrature rule is a name ({', '.join(RULES)}) or a pair (points, weights); got {rule!r}") from None
    if t.ndim != 1 or t.shape != w.shape or len(t) != n:
        raise ValueError(f"a given quadrature needs {n} points and {n} weights (steps={n}); got shapes {t.shape} and {w.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(w))) or t.min() < 0 or t.max() > 1:
        raise ValueError("a given quadrature needs finite weights and finite points in [0, 1]")
    return t, w


def rule_name(rule) -> str:
    """How a quadrature rule reads in descriptions."""
    return rule if isinstance(rule, str) else "given"
