"""The teaching trace: every number of an explanation, layer by layer, to redo by hand (``ex.steps()``).

For an LRP rule on an affine layer the trace follows the four steps of Montavon et al. 2019 and math.md §3.0, group by group:

1. forward: ``z`` (the layer output), ``D = sum_t rho_t(W) x_t + beta(b)``, the stabilised
   ``S`` and the stabiliser ``S − D``;
2. divide: ``s = c·R / S``;
3. backward: ``c_t = rho_t(W)^T s`` for every term;
4. multiply: ``R_in = sum_t x_t ⊙ c_t``;

then the message matrix ``M[j, i] = R(i ← j)`` when the layer is small, and the layer's
conservation sum: received = passed + absorbed (by kind) + residual. Nodes are walked in reverse
topological order; a node with several inputs shows every step per input edge, and where a tensor
feeds several nodes the trace prints the fan-in: the tensor's relevance is the sum of what each
consumer sent. Multiplier methods
(DeepLIFT, the LID family, gradients) show the multiplier ``g`` of the layer output, the
linearisation ``D`` (its diagonal for element-wise layers), the factor of the input and
``R_in = g_in ⊙ factor``. Large arrays are summarised (size, sum, min, max).
"""

from __future__ import annotations

import sys

import numpy as np

from .propagate import contributions, input_terms
from .rules import Surrogate, WinnerTakesAll

__all__ = ["trace"]


def _printed(a) -> str:
    """Every number of ``a`` at 6 decimals on one line per row: no wrapping, no elision, no ``-0.``."""
    shown = np.round(np.asarray(a, dtype=np.float64), 6) + 0.0  # + 0.0 turns -0.0 (and what rounds to it) into 0.0
    return np.array2string(shown, precision=6, suppress_small=True, max_line_width=sys.maxsize, threshold=sys.maxsize)


def _values(v, max_size) -> str:
    v = np.asarray(v)
    if v.size <= max_size:
        return _printed(v.ravel())
    return f"({v.size} values: sum {v.sum():.6g}, min {v.min():.6g}, max {v.max():.6g})"


def _matrix(M) -> str:
    return _printed(M.toarray() if hasattr(M, "toarray") else M)


def _lrp_lines(record, n, max_size):
    rule, layer = record.rule, record.layer
    linear = record.linear_rule  # the rule that made D and s (a Surrogate's rule, max-pooling's ε selection)
    inputs = [a[n:n + 1] for a in record._require_activations()[0]]  # kept by explain(..., keep_messages=True)
    edge_text = lambda e: _edge(record, e)  # noqa: E731
    lines = [f"   rule: {linear.formula()}"]
    lines += [f"   input a{edge_text(e):<10}= {_values(a, max_size)}" for e, a in enumerate(inputs)]
    lines += [
             f"   output z         = {_values(record.z[n], max_size)}" if record.z is not None else None,
             f"   R from above     = {_values(record.relevance_out[n], max_size)}"]
    scales = [s[n:n + 1] for s in record.scales]
    for g, group in enumerate(linear.groups):
        head = f"   group {g + 1} ({group})" if len(linear.groups) > 1 else "  "
        if len(linear.groups) > 1:
            lines.append(head)
        lines += [f"   step 1  D = Σ ρ(w)·x + β(b) = {_values(record.denominators[g][n], max_size)}",
                  f"           S = stabilised D    = {_values(record.stabilised[g][n], max_size)}",
                  f"           stabiliser S − D    = {_values(record.stabilised[g][n] - record.denominators[g][n], max_size)}",
                  f"   step 2  s = c·R / S         = {_values(scales[g], max_size)}"]
    if isinstance(rule, WinnerTakesAll):  # ε on max-pooling: s goes to each window's winner
        a = inputs[0]
        c = layer.route(a, scales[0], rule.ties)
        lines += [f"   step 3  c = s routed to the winners = {_values(c, max_size)}",
                  f"           x ⊙ c                = {_values(a * c, max_size)}"]
    else:  # an affine layer, or the affine stand-in of a Surrogate (e.g. max-pooling's window sum)
        affine = rule.surrogate(layer) if isinstance(rule, Surrogate) else layer
        shapes = [a.shape[1:] for a in inputs]
        for g, e, term, x, c in contributions(affine, shapes, input_terms(linear, inputs), scales):
            group = f"group {g + 1}, " if len(linear.groups) > 1 else ""
            lines += [f"   step 3  c = ρ(W)ᵀ s  ({group}term {term}{edge_text(e)}) = {_values(c, max_size)}",
                      f"           x ⊙ c                = {_values(x * c, max_size)}"]
    lines += [f"   step 4  R_in{edge_text(e)} = Σ x ⊙ c      = {_values(r[n], max_size)}" for e, r in enumerate(record.relevance_edges)]
    return lines


def _multiplier_lines(record, n, max_size):
    lines = []
    D = getattr(record, "linearization", None)
    if D is not None:
        lines.append(f"   linearisation D: {D.describe()}")
        if hasattr(D, "d"):
            lines.append(f"   diag(D)          = {_values(D.d[n], max_size)}")
    if getattr(record, "multiplier", None) is not None:
        lines.append(f"   g (of the output) = {_values(record.multiplier[n], max_size)}")
    lines.append(f"   R from above     = {_values(record.relevance_out[n], max_size)}")
    if getattr(record, "factor_in", None) is not None:
        lines.append(f"   factor of input  = {_values(record.factor_in[n], max_size)}")
    lines += [f"   R_in{_edge(record, e)} = g_in ⊙ factor = {_values(r[n], max_size)}" for e, r in enumerate(record.relevance_edges)]
    return lines


def _edge(record, e) -> str:
    return f" (input {e})" if len(record.relevance_edges) > 1 else ""


def _fan_in_lines(ex, t, n, max_size):
    """At a tensor read by several nodes: what each consumer sent, and their sum (the tensor's relevance)."""
    net = ex.network
    if net is None or len(net.consumers[t]) < 2:
        return []
    lines = ["", f"== fan-in at {net.tensor_name(t)}: its relevance is the sum of what its {len(net.consumers[t])} "
                 f"consumers sent"]
    for k, e in net.consumers[t]:
        sent = ex.layers[k].relevance_edges[e][n]
        lines.append(f"   from {net.nodes[k].name:<12} = {_values(sent, max_size)}  (sum {sent.sum():.6g})")
    total = ex.tensor_relevance(t)[n]
    lines.append(f"   R({net.tensor_name(t)}) = Σ  = {_values(total, max_size)}  (sum {total.sum():.6g})")
    return lines


def trace(ex, n: int = 0, max_size: int = 16) -> str:
    """The trace of sample ``n`` as text (top layer first); arrays longer than ``max_size`` are summarised."""
    if not -len(ex.relevance) <= n < len(ex.relevance):
        raise IndexError(f"sample {n} out of range for a batch of {len(ex.relevance)}")
    n %= len(ex.relevance)
    lines = [f"{ex.description}: sample {n}" + (f", target {ex.target[n]}" if ex.target is not None else ""),
             f"top relevance R(Y^L) = {_values(ex.top[n], max_size)}  (sum {ex.top[n].sum():.6g})"]
    for record in reversed(ex.layers):
        lines += _fan_in_lines(ex, record.index + 1, n, max_size)
        row = record.ledger_row()
        lines += ["", f"== {record.where} · {record.rule.describe()}"]
        if getattr(record, "linear_rule", None) is not None:  # an LRP rule on an affine layer (or a pooling window sum)
            lines += _lrp_lines(record, n, max_size)
        elif getattr(record, "multiplier", None) is not None:
            lines += _multiplier_lines(record, n, max_size)
        else:
            lines += [f"   R from above     = {_values(record.relevance_out[n], max_size)}"]
            lines += [f"   R_in{_edge(record, e)}             = {_values(r[n], max_size)}" for e, r in enumerate(record.relevance_edges)]
        small = max(sum(r[n].size for r in record.relevance_edges), record.relevance_out[n].size) <= max_size
        if small and record.has_messages:
            matrices = record.messages(n)
            for e, M in enumerate(matrices if isinstance(matrices, tuple) else (matrices,)):
                lines += [f"   messages M[j, i] = R(i ← j){_edge(record, e)} (rows: outputs j, columns: inputs i):",
                          "   " + _matrix(M).replace("\n", "\n   ")]
        absorbed = " + ".join(f"{kind} {amount[n]:.6g}" for kind, amount in row.absorbed.items()) or "nothing absorbed"
        lines.append(f"   conservation: received {row.received[n]:.6g} = passed {row.passed[n]:.6g} + {absorbed}"
                     f" + residual {row.residual[n]:.3g}")
    lines += _fan_in_lines(ex, 0, n, max_size)
    lines += ["", f"input relevance R(x) = {_values(ex.relevance[n], max_size)}  (sum {ex.relevance[n].sum():.6g})"]
    return "\n".join(line for line in lines if line is not None)
