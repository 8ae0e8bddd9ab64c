"""The engine: one propagation step of a rule through a layer, on the fast or the explicit path.

Both paths read the same rule definition (:mod:`lrpref.rules`) and share the division step
(:func:`scales`) and the absorption accounting (:func:`absorption`); they differ only in how the layer is
applied: the fast path uses the layer's operators (``apply``/``apply_transpose``, numba
kernels), the explicit path builds the layer's matrix and the full message matrix
``M[j, i] = R(i <- j)`` of one sample (math.md §1.1, §3.0).

Per upper neuron ``j`` the relevance not passed down is reported by kind (math.md §1, §10):
``bias`` (``s_j b_j``), ``stabiliser`` (``s_j (S_j - D_j)``) and ``dropped`` (zero
denominators and neurons a group's selector excludes). For every rule
``R_out = rowsum(M) + bias + stabiliser + dropped`` exactly.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from . import config
from ._fast import kernels as _kernels
from .layers import LAYER_TYPES, Layer
from .rules import LinearRule, Pass, Rule, Surrogate, WinnerTakesAll

__all__ = ["Absorbed", "Step", "propagate", "messages", "scales", "absorption", "MatrixTooLarge", "check_rule",
           "memory_budget", "per_edge"]

ABSORPTION_KINDS = ("bias", "stabiliser", "dropped")


class MatrixTooLarge(MemoryError):
    """An explicit matrix would exceed the memory budget (``lrpref.config.max_matrix_bytes``)."""


class Absorbed:
    """Relevance each upper neuron did not pass down, by kind; each array is shaped like ``relevance_out``.

    LRP rules report ``bias``, ``stabiliser`` and ``dropped``; multiplier methods a ``remainder``
    (:mod:`lrpref.chain`). Kinds read as attributes (``absorbed.bias``) or items.
    """

    def __init__(self, **kinds):
        self._kinds = kinds

    @property
    def kinds(self) -> tuple:
        return tuple(self._kinds)

    def __getattr__(self, name):
        kinds = self.__dict__.get("_kinds", {})
        if name in kinds:
            return kinds[name]
        raise AttributeError(f"no absorption of kind {name!r}; this record has {tuple(kinds)}")

    def __getitem__(self, kind):
        if kind not in self._kinds:
            raise KeyError(f"no absorption of kind {kind!r}; this record has {self.kinds}")
        return self._kinds[kind]

    @property
    def total(self) -> np.ndarray:
        return sum(self._kinds.values())

    def per_sample(self) -> dict[str, np.ndarray]:
        """Each kind summed over the neurons of every sample."""
        return {kind: _per_sample_sum(value) for kind, value in self._kinds.items()}

    @classmethod
    def none(cls, like, kinds=ABSORPTION_KINDS):
        zeros = np.zeros_like(like)
        return cls(**{kind: zeros for kind in kinds})


class Step:
    """Result of one node: the lower relevance (one array per input edge), and what the rule did on the way.

    ``relevance_edges`` (one array per input edge; ``relevance_in`` is the array itself for a
    single input, else the tuple); for linear rules each group's denominators ``D``, scales
    ``s = c R / S``, bias ``B`` (broadcast per output) and the layer output ``z`` — and, derived from
    these on first access, the stabilised denominators ``S`` and the absorbed relevance (math.md §1.1).
    Pass-through and max-pooling rules absorb nothing (``linear_rule`` is None).
    """

    def __init__(self, relevance_edges, relevance_out, linear_rule=None, denominators=(), scales=(), biases=(), z=None):
        self.relevance_edges = list(relevance_edges)
        self.relevance_out = relevance_out
        self.linear_rule = linear_rule
        self.denominators = tuple(denominators)
        self.scales = tuple(scales)
        self.biases = tuple(biases)
        self.z = z

    @property
    def relevance_in(self):
        return per_edge(self.relevance_edges)

    @cached_property
    def stabilised(self) -> tuple:
        return tuple(self.linear_rule.stabiliser(D) for D in self.denominators)

    @cached_property
    def absorbed(self) -> Absorbed:
        if self.linear_rule is None:
            return Absorbed.none(self.relevance_out)
        return absorption(self.linear_rule, self.relevance_out, self.denominators, self.stabilised, self.biases, self.z,
                          self.scales)

    @classmethod
    def concatenate(cls, steps: list) -> "Step":
        """The steps of consecutive samples as one step over the batch."""
        def stack(arrays):
            return None if arrays[0] is None else np.concatenate(arrays, axis=0)

        first = steps[0]
        return cls([stack(edge) for edge in zip(*(step.relevance_edges for step in steps))],
                   stack([step.relevance_out for step in steps]),
                   first.linear_rule,
                   [stack(group) for group in zip(*(step.denominators for step in steps))],
                   [stack(group) for group in zip(*(step.scales for step in steps))],
                   [stack(group) for group in zip(*(step.biases for step in steps))],
                   stack([step.z for step in steps]))


def per_edge(values: list):
    """What a node has per input edge, as its public attributes show it: the value itself for one input, else a tuple."""
    return values[0] if len(values) == 1 else tuple(values)


def _per_sample_sum(x):
    return x.reshape(x.shape[0], -1).sum(axis=1)


# --------------------------------------------------------------------------- compatibility


_CAPABILITY_TEXT = {"linear": "affine layers ({})", "pass": "layers that pass relevance through ({})", "winners": "{}"}


def _layers_with(capability) -> str:
    names = sorted(name for name, cls in LAYER_TYPES.items() if capability in cls.capabilities)
    return _CAPABILITY_TEXT[capability].format(", ".join(names))


def check_rule(layer: Layer, rule: Rule, where: str) -> None:
    """Raise a clear error when ``rule`` cannot be applied to ``layer`` (the rule's ``requires`` against the layer's
    ``capabilities``; a :class:`Surrogate` names its layer types)."""
    if not isinstance(rule, Rule):
        raise TypeError(f"{where}: {rule!r} is not an lrpref rule")
    if isinstance(rule, Surrogate):
        if not isinstance(layer, rule.layer_types):
            expected = ", ".join(kind.__name__ for kind in rule.layer_types)
            raise TypeError(f"{where}: the rule {rule.describe()} applies to {expected}, not to {layer.describe()}")
    elif rule.requires not in layer.capabilities:
        raise TypeError(f"{where}: the rule {rule.describe()} applies to {_layers_with(rule.requires)}, "
                        f"not to {layer.describe()}")


# --------------------------------------------------------------------------- shared steps


def _flat(array):
    return np.ascontiguousarray(array.reshape(array.shape[0], -1))


def scales(rule: LinearRule, R, denominators, z):
    """Step 2 of math.md §3.0 for every group: ``s_g = c_g R / S_g`` where ``S_g = stabilise(D_g)`` is
    non-zero and the group's selector admits the neuron (``z > 0`` / ``z < 0``), else 0."""
    out = []
    for group, D in zip(rule.groups, denominators):
        where = {None: 0, "positive": 1, "negative": -1}[group.where]
        s = _kernels.relevance_scale(_flat(R), _flat(D), _flat(z if where else R), rule.stabiliser.epsilon_per_sample(D),
                                     rule.stabiliser.form, where, R.dtype.type(group.coefficient))
        out.append(s.reshape(R.shape))
    return out


def absorption(rule: LinearRule, R, denominators, stabilised, biases, z, scales) -> Absorbed:
    """What each upper neuron did not pass down (math.md §1, §10): ``bias = sum_g s_g B_g``,
    ``stabiliser = sum_g s_g (S_g - D_g)``, ``dropped = R - sum_g c_g R [S_g != 0 and admitted]``."""
    bias_part = np.zeros_like(R)
    stabiliser_part = np.zeros_like(R)
    passed = np.zeros_like(R)
    for group, D, S, B, s in zip(rule.groups, denominators, stabilised, biases, scales):
        admitted = S != 0
        if group.where == "positive":
            admitted &= z > 0
        elif group.where == "negative":
            admitted &= z < 0
        passed += np.where(admitted, R * R.dtype.type(group.coefficient), 0)
        if B is not None:
            bias_part += s * B
        if rule.stabiliser.epsilon:
            stabiliser_part += s * (S - D)
    return Absorbed(bias=bias_part, stabiliser=stabiliser_part, dropped=R - passed)


def _group_bias(layer, group):
    if group.bias is None or layer.bias is None:
        return None
    return group.bias(layer.bias)


def _rho(modifier):
    """The modifier to hand to a layer; None for the identity (no copy of the weights)."""
    return None if modifier.is_identity else modifier


def _needs_output(rule: LinearRule) -> bool:
    return any(group.is_plain or group.where for group in rule.groups)


def _accumulate(total, term):
    return term if total is None else total + term


def input_terms(rule: LinearRule, inputs):
    """Per group, its terms with their input parts ``(edge, term, x_t)`` over every input edge (parts that are
    identically 0 left out)."""
    return [[(e, term, x) for e, a in enumerate(inputs) for term in group.terms if (x := term.input(a)) is not None]
            for group in rule.groups]


def contributions(layer, in_shapes, parts, group_scales):
    """Steps 3 and 4 of math.md §3.0, term by term: ``(group index, edge, term, x_t, c_t = rho_t(W_e)^T s_g)``;
    ``R_e = sum over the edge's terms of x_t ⊙ c_t``. Groups whose scales are all 0 contribute nothing and are skipped."""
    for g, (s, terms) in enumerate(zip(group_scales, parts)):
        if not s.any():
            continue
        for e, term, x in terms:
            yield g, e, term, x, layer.edge_transpose(e, s, in_shapes, _rho(term.weight))


# --------------------------------------------------------------------------- fast path


def _linear_fast(layer, rule: LinearRule, inputs, z, R) -> Step:
    """The four steps of math.md §3.0 on the layer's affine map ``y = sum_e W_e x_e + b`` through its operators."""
    in_shapes = [a.shape[1:] for a in inputs]
    if z is None and _needs_output(rule):
        z = layer.forward(*inputs)
    denominators, biases, parts = [], [], input_terms(rule, inputs)
    for group, terms in zip(rule.groups, parts):
        bias = _group_bias(layer, group)
        if group.is_plain:
            D = z
        else:
            D = np.zeros_like(R)
            for e, term, x in terms:
                D = D + layer.edge_apply(e, x, in_shapes, _rho(term.weight))
            D = layer.add_bias(D, bias)
        denominators.append(D)
        biases.append(None if bias is None else layer.add_bias(np.zeros((1,) + R.shape[1:], R.dtype), bias))
    group_scales = scales(rule, R, denominators, z)
    R_edges = [None] * len(inputs)
    for _, e, _, x, c in contributions(layer, in_shapes, parts, group_scales):
        R_edges[e] = _accumulate(R_edges[e], x * c)
    R_edges = [np.zeros_like(a) if r is None else r for a, r in zip(inputs, R_edges)]
    return Step(R_edges, R, rule, denominators, group_scales, biases, z)


def _fast(layer, rule, inputs, z, R, state=None) -> Step:
    if isinstance(rule, LinearRule):
        return _linear_fast(layer, rule, inputs, z, R)
    if isinstance(rule, Pass):
        return Step(layer.pass_relevance(inputs, R), R)
    a = inputs[0]
    if isinstance(rule, WinnerTakesAll):
        if not rule.epsilon:
            return Step([layer.route(a, R, rule.ties, winners=state)], R)
        z = layer.forward(a) if z is None else z
        s = scales(rule.selection_rule, R, [z], z)[0]
        return Step([a * layer.route(a, s, rule.ties, winners=state)], R, rule.selection_rule, [z], [s], [None], z)
    return _linear_fast(rule.surrogate(layer), rule.rule, inputs, None, R)


# --------------------------------------------------------------------------- explicit path


def _scale(matrix, rows, cols):
    """``diag(rows) @ matrix @ diag(cols)`` for a dense or sparse matrix."""
    if sp.issparse(matrix):
        return (sp.diags(rows) @ matrix @ sp.diags(cols)).tocsr()
    return rows[:, None] * matrix * cols[None, :]


def _linear_explicit(layer, rule: LinearRule, inputs, z, R):
    """Message matrices of sample ``inputs`` (batches of one), one per edge: ``M_e = sum_g sum_t diag(s_g) rho_t(W_e) diag(x_t)``."""
    in_shapes, out_shape = [a.shape[1:] for a in inputs], R.shape[1:]
    if z is None and _needs_output(rule):
        z = layer.forward(*inputs)
    denominators, biases, parts = [], [], []
    for group in rule.groups:
        terms = []
        D = np.zeros(R.size, dtype=R.dtype)
        for e, a in enumerate(inputs):
            for term in group.terms:
                x = term.input(a)
                if x is None:
                    continue
                W = layer.edge_matrix(e, in_shapes, _rho(term.weight)).astype(a.dtype, copy=False)
                x = x.reshape(-1)
                D = D + W @ x
                terms.append((e, W, x))
        bias = _group_bias(layer, group)
        B = None if bias is None else layer.bias_vector(out_shape, bias).astype(R.dtype).reshape(R.shape)
        denominators.append((D if B is None else D + B.ravel()).reshape(R.shape))
        biases.append(B)
        parts.append(terms)
    group_scales = scales(rule, R, denominators, z)
    M = [None] * len(inputs)
    for s, terms in zip(group_scales, parts):
        for e, W, x in terms:
            M[e] = _accumulate(M[e], _scale(W, s.reshape(-1), x))
    M = [sp.csr_matrix((R.size, a.size), dtype=R.dtype) if m is None else m for a, m in zip(inputs, M)]
    return M, Step([_column_sums(m, a.shape) for m, a in zip(M, inputs)], R, rule, denominators, group_scales, biases, z)


def _column_sums(M, shape):
    return np.asarray(M.sum(axis=0)).reshape(shape)


def _explicit_sample(layer, rule, inputs, z, R):
    """``(M per edge, Step)`` for one sample given as batches of one."""
    if isinstance(rule, LinearRule):
        return _linear_explicit(layer, rule, inputs, z, R)
    if isinstance(rule, Surrogate):
        return _linear_explicit(rule.surrogate(layer), rule.rule, inputs, None, R)
    in_shapes = [a.shape[1:] for a in inputs]
    if isinstance(rule, Pass):
        M = [(sp.diags(R.reshape(-1)) @ layer.pass_matrix(e, in_shapes).astype(R.dtype)).tocsr() for e in range(len(inputs))]
        return M, Step([_column_sums(m, a.shape) for m, a in zip(M, inputs)], R)
    a = inputs[0]
    if not rule.epsilon:
        M = (sp.diags(R.reshape(-1)) @ layer.selection_matrix(a[0], rule.ties)).tocsr()
        return [M], Step([_column_sums(M, a.shape)], R)
    z = layer.forward(a) if z is None else z
    s = scales(rule.selection_rule, R, [z], z)[0]
    M = (sp.diags(s.reshape(-1)) @ layer.selection_matrix(a[0], rule.ties) @ sp.diags(a.reshape(-1))).tocsr()
    return [M], Step([_column_sums(M, a.shape)], R, rule.selection_rule, [z], [s], [None], z)


def _matrix_bytes(layer, rule, in_shapes, out_size, itemsize) -> tuple[int, str]:
    """Estimated bytes of the explicit message matrices of one sample and a description of them."""
    size = f"{out_size}×{sum(int(np.prod(shape)) for shape in in_shapes)}"
    if isinstance(rule, (LinearRule, Surrogate)):
        affine, linear = (layer, rule) if isinstance(rule, LinearRule) else (rule.surrogate(layer), rule.rule)
        nonzeros = sum(affine.edge_nonzeros(e, in_shapes) for e in range(len(in_shapes)))
        terms = max(len(group.terms) for group in linear.groups) + 1
        if affine.dense_edges():
            return terms * nonzeros * itemsize, f"dense {size}"
        return terms * nonzeros * (itemsize + 8), f"sparse {size} with {nonzeros} non-zeros"
    return out_size * (itemsize + 8), f"sparse {size} with {out_size} non-zeros"


def memory_budget(max_bytes, name: str = "max_bytes") -> int:
    """The explicit path's memory budget in bytes: ``max_bytes``, or ``lrpref.config.max_matrix_bytes`` when None."""
    if max_bytes is None:
        return config.max_matrix_bytes
    if isinstance(max_bytes, (bool, np.bool_)) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise ValueError(f"{name} must be a whole number of bytes >= 0 (or None for lrpref.config.max_matrix_bytes), "
                         f"got {max_bytes!r}")
    return int(max_bytes)


def _check_budget(layer, rule, inputs, R, where, max_bytes):
    budget = memory_budget(max_bytes)
    needed, what = _matrix_bytes(layer, rule, [a.shape[1:] for a in inputs], R[0].size, R.itemsize)
    if needed > budget:
        raise MatrixTooLarge(f"{where}: the explicit message matrix ({what}) needs about {needed / 2**20:.1f} MiB, "
                             f"over the budget of {budget / 2**20:.1f} MiB; raise lrpref.config.max_matrix_bytes "
                             f"(or pass max_bytes=) or use a smaller input")


def messages(layer, rule, inputs, z, R, where: str = "layer", max_bytes: int | None = None):
    """The explicit message matrices ``M_e[j, i] = R(i <- j)`` of one sample (arrays given as batches of one), one per
    input edge ``e``.

    Refuses with :class:`MatrixTooLarge` when the matrices would exceed ``max_bytes``
    (default ``lrpref.config.max_matrix_bytes``).
    """
    check_rule(layer, rule, where)
    _check_budget(layer, rule, inputs, R, where, max_bytes)
    return _explicit_sample(layer, rule, inputs, z, R)[0]


def propagate(layer: Layer, rule: Rule, inputs, z, R, path: str = "fast", where: str = "layer",
              max_bytes: int | None = None, state=None) -> Step:
    """One step down: relevance ``R`` of the node output to its inputs (a list of batches, one per edge), with the ledger.

    ``z`` is the layer's forward output (or None), ``state`` what its forward pass kept
    (``Layer.forward_with_state``). ``path="explicit"`` builds every sample's message matrices
    (within the memory budget) and takes their column sums.
    """
    check_rule(layer, rule, where)
    if isinstance(rule, (LinearRule, Surrogate)):
        for a in inputs:
            (rule if isinstance(rule, LinearRule) else rule.rule).check_input(a, where)
    if path == "fast":
        return _fast(layer, rule, inputs, z, R, state)
    if path != "explicit":
        raise ValueError(f"path must be 'fast' or 'explicit', got {path!r}")
    steps = []
    for n in range(R.shape[0]):
        one = slice(n, n + 1)
        sample = [a[one] for a in inputs]
        _check_budget(layer, rule, sample, R[one], where, max_bytes)
        steps.append(_explicit_sample(layer, rule, sample, None if z is None else z[one], R[one])[1])
    return Step.concatenate(steps)
