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

__all__ = ["trace", "steps", "lesson"]


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


# A step's body is a list of items: a plain line (str), a value line ``(label, array)`` printed as
# ``label = numbers``, a sum line ``(label, array, "sum")`` that adds ``(sum …)``, or a matrix
# ``(label, matrix, "matrix")`` printed below its label. The text trace and the HTML lesson render
# the same items, so the page shows exactly the trace's numbers.


def _lrp_items(record, n):
    rule, layer = record.rule, record.layer
    linear = record.linear_rule  # the rule that made D and s (a Surrogate's rule, max-pooling's ε selection)
    inputs = [a[n:n + 1] for a in record._require_activations()[0]]  # kept by explain(..., keep_messages=True)
    edge_text = lambda e: _edge(record, e)  # noqa: E731
    items = [f"   rule: {linear.formula()}"]
    items += [(f"   input a{edge_text(e):<10}=", a) for e, a in enumerate(inputs)]
    if record.z is not None:
        items.append(("   output z         =", record.z[n]))
    items.append(("   R from above     =", record.relevance_out[n]))
    scales = [s[n:n + 1] for s in record.scales]
    for g, group in enumerate(linear.groups):
        if len(linear.groups) > 1:
            items.append(f"   group {g + 1} ({group})")
        items += [("   step 1  D = Σ ρ(w)·x + β(b) =", record.denominators[g][n]),
                  ("           S = stabilised D    =", record.stabilised[g][n]),
                  ("           stabiliser S − D    =", record.stabilised[g][n] - record.denominators[g][n]),
                  ("   step 2  s = c·R / S         =", scales[g])]
    if isinstance(rule, WinnerTakesAll):  # ε on max-pooling: s goes to each window's winner
        a = inputs[0]
        c = layer.route(a, scales[0], rule.ties)
        items += [("   step 3  c = s routed to the winners =", c), ("           x ⊙ c                =", a * c)]
    else:  # an affine layer, or the affine stand-in of a Surrogate (e.g. max-pooling's window sum)
        affine = rule.surrogate(layer) if isinstance(rule, Surrogate) else layer
        shapes = [a.shape[1:] for a in inputs]
        for g, e, term, x, c in contributions(affine, shapes, input_terms(linear, inputs), scales):
            group = f"group {g + 1}, " if len(linear.groups) > 1 else ""
            items += [(f"   step 3  c = ρ(W)ᵀ s  ({group}term {term}{edge_text(e)}) =", c),
                      ("           x ⊙ c                =", x * c)]
    items += [(f"   step 4  R_in{edge_text(e)} = Σ x ⊙ c      =", r[n]) for e, r in enumerate(record.relevance_edges)]
    return items


def _multiplier_items(record, n):
    items = []
    D = getattr(record, "linearization", None)
    if D is not None:
        items.append(f"   linearisation D: {D.describe()}")
        if hasattr(D, "d"):
            items.append(("   diag(D)          =", D.d[n]))
    if getattr(record, "multiplier", None) is not None:
        items.append(("   g (of the output) =", record.multiplier[n]))
    items.append(("   R from above     =", record.relevance_out[n]))
    if getattr(record, "factor_in", None) is not None:
        items += [(f"   factor of input{_edge(record, e)}  =", f[n]) for e, f in enumerate(record.factor_edges)] \
            if hasattr(record, "factor_edges") else [("   factor of input  =", record.factor_in[n])]
    items += [(f"   R_in{_edge(record, e)} = g_in ⊙ factor =", r[n]) for e, r in enumerate(record.relevance_edges)]
    return items


def _edge(record, e) -> str:
    return f" (input {e})" if len(record.relevance_edges) > 1 else ""


def _fan_in_step(ex, t, n):
    """At a tensor read by several nodes: what each consumer sent, and their sum (the tensor's relevance)."""
    net = ex.network
    if net is None or len(net.consumers[t]) < 2:
        return None
    items = [(f"   from {net.nodes[k].name:<12} =", ex.layers[k].relevance_edges[e][n], "sum") for k, e in net.consumers[t]]
    items.append((f"   R({net.tensor_name(t)}) = Σ  =", ex.tensor_relevance(t)[n], "sum"))
    title = f"fan-in at {net.tensor_name(t)}: its relevance is the sum of what its {len(net.consumers[t])} consumers sent"
    return {"title": title, "items": items, "formulas": ["R(t) = Σ over the consumers of what each sent down to t"]}


def _node_step(record, n, max_size):
    if getattr(record, "linear_rule", None) is not None:  # an LRP rule on an affine layer (or a pooling window sum)
        items = _lrp_items(record, n)
        formulas = ["z_j = Σ_i ρ(w_ji) x_i + β(b_j);  S_j = stabilised z_j", "s_j = c R_j / S_j",
                    "c_i = Σ_j ρ(w_ji) s_j", "R_i = x_i c_i"]
    elif getattr(record, "multiplier", None) is not None:
        items = _multiplier_items(record, n)
        formulas = ["g_in = g_out D", "R = g ⊙ factor", "M = diag(g_out) D diag(factor_in)"]
    else:
        items = [("   R from above     =", record.relevance_out[n])]
        items += [(f"   R_in{_edge(record, e)}             =", r[n]) for e, r in enumerate(record.relevance_edges)]
        formulas = ["R_in = R (routed unchanged)"]
    small = max(sum(r[n].size for r in record.relevance_edges), record.relevance_out[n].size) <= max_size
    if small and record.has_messages:
        matrices = record.messages(n)
        for e, M in enumerate(matrices if isinstance(matrices, tuple) else (matrices,)):
            items.append((f"   messages M[j, i] = R(i ← j){_edge(record, e)} (rows: outputs j, columns: inputs i):",
                          M.toarray() if hasattr(M, "toarray") else np.asarray(M), "matrix"))
    row = record.ledger_row()
    absorbed = " + ".join(f"{kind} {amount[n]:.6g}" for kind, amount in row.absorbed.items()) or "nothing absorbed"
    items.append(f"   conservation: received {row.received[n]:.6g} = passed {row.passed[n]:.6g} + {absorbed}"
                 f" + residual {row.residual[n]:.3g}")
    return {"title": f"{record.where} · {record.rule.describe()}", "items": items, "formulas": formulas}


def steps(ex, n: int = 0, max_size: int = 16) -> dict:
    """The trace of sample ``n`` as data: ``{"head": [...], "steps": [...], "tail": [...]}``, each step a dict with
    its ``title``, ``formulas`` and ``items`` (see the comment above); text and HTML render it."""
    if not -len(ex.relevance) <= n < len(ex.relevance):
        raise IndexError(f"sample {n} out of range for a batch of {len(ex.relevance)}")
    n %= len(ex.relevance)
    head = [f"{ex.description}: sample {n}" + (f", target {ex.target[n]}" if ex.target is not None else ""),
            ("top relevance R(Y^L) =", ex.top[n], "sum")]
    found = []
    for record in reversed(ex.layers):
        found += [step for step in (_fan_in_step(ex, record.index + 1, n), _node_step(record, n, max_size)) if step]
    found += [step for step in (_fan_in_step(ex, 0, n),) if step]
    return {"head": head, "steps": found, "tail": [("input relevance R(x) =", ex.relevance[n], "sum")]}


def _text(item, max_size) -> str:
    if isinstance(item, str):
        return item
    label, value, *kind = item
    if kind == ["matrix"]:
        return label + "\n   " + _matrix(value).replace("\n", "\n   ")
    text = f"{label} {_values(value, max_size)}"
    return text + (f"  (sum {np.asarray(value).sum():.6g})" if kind == ["sum"] else "")


def trace(ex, n: int = 0, max_size: int = 16) -> str:
    """The trace of sample ``n`` as text (top layer first); arrays longer than ``max_size`` are summarised."""
    data = steps(ex, n, max_size)
    lines = [_text(item, max_size) for item in data["head"]]
    for step in data["steps"]:
        lines += ["", f"== {step['title']}"] + [_text(item, max_size) for item in step["items"]]
    lines += [""] + [_text(item, max_size) for item in data["tail"]]
    return "\n".join(lines)


def lesson(ex, directory, n: int = 0, max_size: int = 16):
    """Write the trace of sample ``n`` as a step-through page ``DIR/index.html`` (:mod:`lrpref.lesson`): one step
    per node (and per fan-in), its formulas beside the trace's numbers, next / previous navigation."""
    from . import lesson as page

    data = steps(ex, n, max_size)

    def arrays(items):
        found = []
        for item in items:
            if isinstance(item, str):
                continue
            label, value, *kind = item
            value = np.asarray(value, dtype=np.float64)
            if kind == ["matrix"]:
                found.append((label.strip().rstrip(":"), value, {"sums": True}))
            elif value.size <= max_size:
                found.append((label.strip().rstrip("="), value.ravel()))
        return found

    def lines(items, rule):
        """The step's plain lines: the rule's formula (``rule=True``) or the rest (headers, the conservation sum)."""
        return [item.strip() for item in items if isinstance(item, str) and item.strip().startswith("rule:") == rule]

    pages = [{"title": data["head"][0], "arrays": arrays(data["head"]), "text": "the relevance the explanation starts from",
              "formulas": ["R(Y^L) = e_c ⊙ Z (or the given top relevance)"]}]
    pages += [{"title": step["title"], "formulas": lines(step["items"], True) + step["formulas"],
               "arrays": arrays(step["items"]), "text": " · ".join(lines(step["items"], False))} for step in data["steps"]]
    pages.append({"title": "input relevance", "arrays": arrays(data["tail"]), "text": "the explanation of the input"})
    return page.write(pages, directory, title=f"lrpref lesson: {ex.description}")
