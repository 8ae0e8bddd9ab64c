"""The engine: one propagation step of a rule through a layer, on the fast or the explicit path.

Both paths read the same rule definition (:mod:`lrpref.rules`) and share the division step
and the absorption accounting (:func:`divide`); they differ only in how the layer is
applied: the fast path uses the layer's operators (``apply``/``apply_transpose``, numba
kernels), the explicit path builds the layer's matrix and the full message matrix
``M[j, i] = R(i <- j)`` of one sample (spec ``neural.md`` §1.1, §3.0).

Per upper neuron ``j`` the relevance not passed down is reported by kind (spec §1, §10):
``bias`` (``s_j b_j``), ``stabiliser`` (``s_j (S_j - D_j)``) and ``dropped`` (zero
denominators and neurons a group's selector excludes). For every rule
``R_out = rowsum(M) + bias + stabiliser + dropped`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import config
from .layers import Affine, BatchNorm, Dense, ElementWise, Flatten, Layer, MaxPool2d
from .rules import LinearRule, Pass, Proportional, Rule, WinnerTakesAll

__all__ = ["Absorbed", "Step", "propagate", "messages", "MatrixTooLarge", "check_rule"]

ABSORPTION_KINDS = ("bias", "stabiliser", "dropped")


class MatrixTooLarge(MemoryError):
    """An explicit matrix would exceed the memory budget (``lrpref.config.max_matrix_bytes``)."""


@dataclass(frozen=True)
class Absorbed:
    """Relevance an upper neuron did not pass down, by kind; each array is shaped like ``relevance_out``."""

    bias: np.ndarray
    stabiliser: np.ndarray
    dropped: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.bias + self.stabiliser + self.dropped

    def __getitem__(self, kind):
        if kind not in ABSORPTION_KINDS:
            raise KeyError(f"absorption kinds are {ABSORPTION_KINDS}, not {kind!r}")
        return getattr(self, kind)

    def per_sample(self) -> dict[str, np.ndarray]:
        """Each kind summed over the neurons of every sample."""
        return {kind: _per_sample_sum(self[kind]) for kind in ABSORPTION_KINDS}

    @classmethod
    def none(cls, like):
        zeros = np.zeros_like(like)
        return cls(zeros, zeros, zeros)


@dataclass(frozen=True)
class Step:
    """Result of one layer: lower relevance, absorption, and (linear rules) each group's ``D`` and ``S``."""

    relevance_in: np.ndarray
    absorbed: Absorbed
    denominators: tuple = ()
    stabilised: tuple = ()


def _per_sample_sum(x):
    return x.reshape(x.shape[0], -1).sum(axis=1)


# --------------------------------------------------------------------------- compatibility


def check_rule(layer: Layer, rule: Rule, where: str) -> None:
    """Raise a clear error when ``rule`` cannot be applied to ``layer``."""
    if isinstance(rule, LinearRule):
        ok, expected = isinstance(layer, Affine), "affine layers (Dense, Conv2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm)"
    elif isinstance(rule, Pass):
        ok, expected = isinstance(layer, (ElementWise, Flatten, BatchNorm)), "element-wise layers, Flatten and BatchNorm"
    elif isinstance(rule, (WinnerTakesAll, Proportional)):
        ok, expected = isinstance(layer, MaxPool2d), "MaxPool2d"
    else:
        raise TypeError(f"{where}: {rule!r} is not an lrpref rule")
    if not ok:
        raise TypeError(f"{where}: the rule {rule.describe()} applies to {expected}, not to {layer.describe()}")


# --------------------------------------------------------------------------- shared steps


def divide(rule: LinearRule, R, denominators, biases, z):
    """Step 2 of spec §3.0 for every group, with the absorption ledger.

    ``s_g = c_g R / S_g`` where ``S_g = stabilise(D_g)`` is non-zero and the group's selector
    admits the neuron, else 0. Returns ``(scales, absorbed, stabilised)``.
    """
    passed = np.zeros_like(R)
    bias_part = np.zeros_like(R)
    stabiliser_part = np.zeros_like(R)
    scales, stabilised = [], []
    for group, D, B in zip(rule.groups, denominators, biases):
        S = rule.stabiliser(D)
        active = S != 0
        if group.where == "positive":
            active &= z > 0
        elif group.where == "negative":
            active &= z < 0
        share = np.where(active, R * R.dtype.type(group.coefficient), 0)
        s = np.divide(share, S, out=np.zeros_like(R), where=active)
        passed += share
        if B is not None:
            bias_part += s * B
        if rule.stabiliser.epsilon:
            stabiliser_part += s * (S - D)
        scales.append(s)
        stabilised.append(S)
    return scales, Absorbed(bias_part, stabiliser_part, R - passed), tuple(stabilised)


def _group_bias(layer: Affine, group):
    if group.bias is None or layer.bias is None:
        return None
    return group.bias(layer.bias)


def _rho(modifier):
    """The modifier to hand to a layer; None for the identity (no copy of the weights)."""
    return None if modifier.is_identity else modifier


def _needs_output(rule: LinearRule) -> bool:
    return any(group.is_plain or group.where for group in rule.groups)


# --------------------------------------------------------------------------- fast path


def _linear_fast(layer: Affine, rule: LinearRule, a, z, R) -> Step:
    in_shape = a.shape[1:]
    if z is None and _needs_output(rule):
        z = layer.forward(a)
    denominators, biases, parts = [], [], []
    for group in rule.groups:
        bias = _group_bias(layer, group)
        terms = [(term, x) for term in group.terms if (x := term.input(a)) is not None]
        if group.is_plain:
            D = z
        else:
            D = np.zeros_like(R)
            for term, x in terms:
                D = D + layer.apply(x, _rho(term.weight))
            D = layer.add_bias(D, bias)
        denominators.append(D)
        biases.append(None if bias is None else layer.add_bias(np.zeros_like(R), bias))
        parts.append(terms)
    scales, absorbed, stabilised = divide(rule, R, denominators, biases, z)
    R_in = np.zeros_like(a)
    for s, terms in zip(scales, parts):
        if not s.any():
            continue
        for term, x in terms:
            R_in += x * layer.apply_transpose(s, in_shape, _rho(term.weight))
    return Step(R_in, absorbed, tuple(denominators), stabilised)


def _fast(layer, rule, a, z, R) -> Step:
    if isinstance(rule, LinearRule):
        return _linear_fast(layer, rule, a, z, R)
    if isinstance(rule, Pass):
        return Step(R.reshape(a.shape), Absorbed.none(R))
    if isinstance(rule, WinnerTakesAll):
        return Step(layer.route(a, R, rule.ties), Absorbed.none(R))
    return _linear_fast(layer.window_sum, rule.rule, a, None, R)


# --------------------------------------------------------------------------- explicit path


def _scale(matrix, rows, cols):
    """``diag(rows) @ matrix @ diag(cols)`` for a dense or sparse matrix."""
    if sp.issparse(matrix):
        return (sp.diags(rows) @ matrix @ sp.diags(cols)).tocsr()
    return rows[:, None] * matrix * cols[None, :]


def _linear_explicit(layer: Affine, rule: LinearRule, a, z, R):
    """Message matrix of sample ``a`` (a batch of one): ``M = sum_g sum_t diag(s_g) rho_t(W) diag(x_t)``."""
    in_shape, out_shape = a.shape[1:], R.shape[1:]
    if z is None and _needs_output(rule):
        z = layer.forward(a)
    denominators, biases, parts = [], [], []
    for group in rule.groups:
        terms = []
        D = np.zeros(R.size, dtype=R.dtype)
        for term in group.terms:
            x = term.input(a)
            if x is None:
                continue
            W = layer.matrix(in_shape, _rho(term.weight)).astype(a.dtype, copy=False)
            x = x.reshape(-1)
            D = D + W @ x
            terms.append((W, x))
        bias = _group_bias(layer, group)
        B = None if bias is None else layer.bias_vector(out_shape, bias).astype(R.dtype)
        if B is not None:
            D = D + B
        denominators.append(D.reshape(R.shape))
        biases.append(None if B is None else B.reshape(R.shape))
        parts.append(terms)
    scales, absorbed, stabilised = divide(rule, R, denominators, biases, z)
    M = None
    for s, terms in zip(scales, parts):
        for W, x in terms:
            contribution = _scale(W, s.reshape(-1), x)
            M = contribution if M is None else M + contribution
    if M is None:
        M = sp.csr_matrix((R.size, a.size), dtype=R.dtype)
    return M, Step(_column_sums(M, a.shape), absorbed, tuple(denominators), stabilised)


def _column_sums(M, shape):
    return np.asarray(M.sum(axis=0)).reshape(shape)


def _explicit_sample(layer, rule, a, z, R):
    """``(M, Step)`` for one sample given as batches of one."""
    if isinstance(rule, LinearRule):
        return _linear_explicit(layer, rule, a, z, R)
    if isinstance(rule, Proportional):
        return _linear_explicit(layer.window_sum, rule.rule, a, None, R)
    if isinstance(rule, Pass):
        M = sp.diags(R.reshape(-1), format="csr")
    else:
        M = (sp.diags(R.reshape(-1)) @ layer.selection_matrix(a[0], rule.ties)).tocsr()
    return M, Step(_column_sums(M, a.shape), Absorbed.none(R))


def _matrix_bytes(layer, rule, in_shape, out_size, itemsize) -> tuple[int, str]:
    """Estimated bytes of the explicit message matrix of one sample and a description of it."""
    size = f"{out_size}×{int(np.prod(in_shape))}"
    if isinstance(rule, LinearRule):
        nonzeros = layer.matrix_nonzeros(in_shape)
        terms = max(len(group.terms) for group in rule.groups) + 1
        if isinstance(layer, Dense):
            return terms * nonzeros * itemsize, f"dense {size}"
        return terms * nonzeros * (itemsize + 8), f"sparse {size} with {nonzeros} non-zeros"
    if isinstance(rule, Proportional):
        nonzeros = layer.window_sum.matrix_nonzeros(in_shape)
        return 2 * nonzeros * (itemsize + 8), f"sparse {size} with {nonzeros} non-zeros"
    return out_size * (itemsize + 8), f"sparse {size} with {out_size} non-zeros"


def _check_budget(layer, rule, a, R, where, max_bytes):
    budget = config.max_matrix_bytes if max_bytes is None else int(max_bytes)
    needed, what = _matrix_bytes(layer, rule, a.shape[1:], R[0].size, R.itemsize)
    if needed > budget:
        raise MatrixTooLarge(f"{where}: the explicit message matrix ({what}) needs about {needed / 2**20:.1f} MiB, "
                             f"over the budget of {budget / 2**20:.1f} MiB; raise lrpref.config.max_matrix_bytes "
                             f"(or pass max_bytes=) or use a smaller input")


def messages(layer, rule, a, z, R, where: str = "layer", max_bytes: int | None = None):
    """The explicit message matrix ``M[j, i] = R(i <- j)`` of one sample (arrays given as batches of one).

    Refuses with :class:`MatrixTooLarge` when the matrix would exceed ``max_bytes``
    (default ``lrpref.config.max_matrix_bytes``).
    """
    check_rule(layer, rule, where)
    _check_budget(layer, rule, a, R, where, max_bytes)
    return _explicit_sample(layer, rule, a, z, R)[0]


def propagate(layer: Layer, rule: Rule, a, z, R, path: str = "fast", where: str = "layer",
              max_bytes: int | None = None) -> Step:
    """One step down: relevance ``R`` of the layer output to its input ``a`` (batches), with the ledger.

    ``z`` is the layer's forward output for ``a`` (or None). ``path="explicit"`` builds every
    sample's message matrix (within the memory budget) and takes its column sums.
    """
    check_rule(layer, rule, where)
    if isinstance(rule, LinearRule):
        rule.check_input(a, where)
    if path == "fast":
        return _fast(layer, rule, a, z, R)
    if path != "explicit":
        raise ValueError(f"path must be 'fast' or 'explicit', got {path!r}")
    steps = []
    for n in range(a.shape[0]):
        one = slice(n, n + 1)
        _check_budget(layer, rule, a[one], R[one], where, max_bytes)
        steps.append(_explicit_sample(layer, rule, a[one], None if z is None else z[one], R[one])[1])
    stack = lambda arrays: np.concatenate(arrays, axis=0)  # noqa: E731
    return Step(
        stack([s.relevance_in for s in steps]),
        Absorbed(*(stack([s.absorbed[k] for s in steps]) for k in ABSORPTION_KINDS)),
        tuple(stack(ds) for ds in zip(*(s.denominators for s in steps))),
        tuple(stack(ss) for ss in zip(*(s.stabilised for s in steps))),
    )
