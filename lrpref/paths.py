"""Points and weights along a straight path ``t ∈ [0, 1]`` (math.md §5, §6.3, §15.10).

``quadrature(n, rule)`` returns ``(t, w)`` with ``sum w = 1``, so that
``∫_0^1 h(t) dt ≈ sum_k w_k h(t_k)``:

* ``"right"`` — ``t_k = k/n``, ``k = 1..n`` (the IG paper, and LID-IG in Chen et al. 2024; the default);
* ``"left"`` — ``t_k = (k-1)/n``;
* ``"midpoint"`` — ``t_k = (k - ½)/n``;
* ``"trapezoid"`` — ``t_k = k/n``, ``k = 0..n``, end weights halved (the IG authors' later code);
* ``"gauss-legendre"`` — ``n`` Gauss–Legendre nodes mapped to ``[0, 1]`` (Captum's default);
* a pair ``(t, w)`` of ``n`` points in ``[0, 1]`` and their weights summing to 1 (to 1e-6), used
  as given; a :class:`Quadrature` with ``check_sum=False`` takes weights with any sum — a peer's own
  quadrature reproduced with its flaw (captum's trapezoid weights sum to ``(n-1)/n``,
  :func:`lrpref.presets.captum.integrated_gradients` with ``quirks=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["quadrature", "rule_name", "RULES", "Quadrature"]

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


@dataclass(frozen=True, eq=False)
class Quadrature:
    """A given quadrature: ``points`` in ``[0, 1]`` and their ``weights``; ``check_sum=False`` accepts weights that do
    not sum to 1 (a peer's flawed quadrature, reproduced on purpose)."""

    points: object
    weights: object
    check_sum: bool = True

    def __iter__(self):
        return iter((self.points, self.weights))


def _given(n: int, rule) -> tuple[np.ndarray, np.ndarray]:
    """A quadrature given as ``(t, w)``: ``n`` finite points in ``[0, 1]`` and ``n`` finite weights summing to 1."""
    check_sum = rule.check_sum if isinstance(rule, Quadrature) else True
    try:
        t, w = (np.asarray(part, dtype=np.float64) for part in rule)
    except (TypeError, ValueError):
        raise ValueError(f"a quadrature rule is a name ({', '.join(RULES)}) or a pair (points, weights); got {rule!r}") from None
    if t.ndim != 1 or t.shape != w.shape or len(t) != n:
        raise ValueError(f"a given quadrature needs {n} points and {n} weights (steps={n}); got shapes {t.shape} and {w.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(w))) or t.min() < 0 or t.max() > 1:
        raise ValueError("a given quadrature needs finite weights and finite points in [0, 1]")
    if check_sum and abs(w.sum() - 1) > 1e-6:
        raise ValueError(f"the given quadrature weights add up to {w.sum():.10g}; they must sum to 1: normalise them (w / w.sum()), or "
                         f"pass lrpref.paths.Quadrature(points, weights, check_sum=False) to use them as they are")
    return t, w


def rule_name(rule) -> str:
    """How a quadrature rule reads in descriptions."""
    return rule if isinstance(rule, str) else "given"
