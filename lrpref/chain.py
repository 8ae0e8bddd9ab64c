"""The multiplier engine: relevance as multiplier × factor, node by node (math.md §4(e), §6.1(d), §6.3(e)).

Given a linearisation ``D^l`` of every layer (:mod:`lrpref.linearize`), a top multiplier ``g^L``
and a *factor* per layer (the increment ``ΔY^l`` for reference-based methods, the
activation ``Y^l`` for LRP-Taylor and gradient × input, the gradient itself for sensitivity):

* multipliers go down as ``g^{l-1} = g^l D^l``;
* relevance is ``R(Y^l) = g^{l+1} ⊙ factor^l``;
* the division-free message matrix of layer ``l`` is ``M = diag(g_out) D diag(factor_in)``:
  its column sums are ``R`` of the layer input, its row sums ``g_out ⊙ (D factor_in)``;
* what a row does not pass down, ``R_out − g_out ⊙ (D factor_in)``, is reported as the
  ``remainder`` (the Taylor remainder of LID-Taylor, the discretisation error of LID-IG, the
  max-pool gradient mode of DeepLIFT; zero for affine layers and DeepLIFT's Rescale).

On a graph, multipliers arriving at a tensor from several consumers add up, and each input edge
``e`` of a node gets ``R_e = g_e ⊙ factor`` of its tensor, so a tensor's relevance is the sum of
what its consumers sent. Averaged methods (IG, SmoothGrad) run this for several points and add
with weights.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .propagate import Absorbed, MatrixTooLarge, memory_budget, per_edge

__all__ = ["ChainStep", "PassStep", "Increments", "propagate_graph", "FUSED"]


def _made(holder, name):
    """The attribute ``name``, given as a value or as a function that makes it (called once, on first use)."""
    value = getattr(holder, name)
    if callable(value):
        value = value()
        setattr(holder, name, value)
    return value


class ChainStep:
    """One node of a multiplier method: relevance in (per input edge) and out, and (lazily) remainder and messages.

    ``terms`` is a list of ``(weight, linearisation, g_out)``, one per point of an averaged
    method (a single ``(1, D, g_out)`` otherwise); ``factor_edges`` the factor of each input.
    """

    def __init__(self, relevance_edges, relevance_out, terms, factor_edges, remainder=None):
        # relevance and factors: arrays, or functions that make them on first use (see propagate_graph)
        self._relevance_edges, self._relevance_out, self._factor_edges = relevance_edges, relevance_out, factor_edges
        self.terms = terms
        self._remainder = remainder

    relevance_out = property(lambda self: _made(self, "_relevance_out"))

    @property
    def relevance_edges(self) -> list:
        return [_made_value(value) for value in self._relevance_edges]

    @property
    def relevance_in(self):
        return per_edge(self.relevance_edges)

    @property
    def factor_edges(self) -> list:
        return [_made_value(value) for value in self._factor_edges]

    @property
    def factor_in(self):
        return per_edge(self.factor_edges)

    @property
    def linearization(self):
        return self.terms[0][1]

    @property
    def multiplier(self):
        """``g`` of the layer output (the weighted sum over points for averaged methods)."""
        return sum(w * g for w, _, g in self.terms)

    @cached_property
    def absorbed(self) -> Absorbed:
        if self._remainder is None:
            rows = sum(w * g * D.jvp_edges(self.factor_edges) for w, D, g in self.terms)
            self._remainder = self.relevance_out - rows
        return Absorbed(remainder=self._remainder)

    def messages(self, n, where="layer", max_bytes=None) -> list:
        """Per input edge ``e``: ``sum_k w_k diag(g_k[n]) D_k,e[n] diag(factor_e[n])`` as a sparse (or dense) matrix."""
        out = []
        for e, factor in enumerate(self.factor_edges):
            total = None
            for w, D, g in self.terms:
                matrix = D.matrix(n, e)
                _check_budget(matrix, where, max_bytes, len(self.terms))
                rows, cols = w * g[n].ravel(), factor[n].ravel()
                if sp.issparse(matrix):
                    part = sp.diags(rows) @ matrix @ sp.diags(cols)
                else:
                    part = rows[:, None] * matrix * cols[None, :]
                total = part if total is None else total + part
            out.append(total.tocsr() if sp.issparse(total) else total)
        return out


def _made_value(value):
    return value() if callable(value) else value


def _check_budget(matrix, where, max_bytes, copies):
    budget = memory_budget(max_bytes)
    nonzeros = matrix.nnz if sp.issparse(matrix) else matrix.size
    needed = nonzeros * (matrix.dtype.itemsize + (8 if sp.issparse(matrix) else 0)) * (copies + 1)
    if needed > budget:
        raise MatrixTooLarge(f"{where}: the explicit message matrix ({matrix.shape[0]}×{matrix.shape[1]} with {nonzeros} "
                             f"non-zeros) needs about {needed / 2**20:.1f} MiB, over the budget of {budget / 2**20:.1f} MiB; "
                             f"raise lrpref.config.max_matrix_bytes (or pass max_bytes=) or use a smaller input")


FUSED = object()  # marks the upper node of a pair whose span-2 linearisation sits at the node below


class PassStep:
    """The upper node of a fused pair: its relevance passes to its input unchanged (``M = diag(R)``)."""

    def __init__(self, relevance):
        self._relevance = relevance

    relevance_out = property(lambda self: _made(self, "_relevance"))

    @property
    def relevance_edges(self):
        return [self.relevance_out]

    relevance_in = relevance_out

    @cached_property
    def absorbed(self) -> Absorbed:
        return Absorbed(remainder=np.zeros_like(self.relevance_out))

    def messages(self, n, where="layer", max_bytes=None):
        return [sp.diags(self.relevance_out[n].ravel(), format="csr")]


class Increments:
    """The increments ``ΔY^t = Y^t − Ŷ^t`` of a forward record against a reference record (whose batch may be
    one, shared by all samples), made when indexed: they are not stored."""

    def __init__(self, activations, reference):
        self.activations, self.reference = activations, reference

    def __len__(self):
        return len(self.activations)

    def __getitem__(self, t):
        return self.activations[t] - self.reference[t]


def propagate_graph(net, linearizations, g_top, factors):
    """One step per node (reverse topological order) for one point.

    ``linearizations[k]`` is ``D`` of node ``k``; a span-2 linearisation at node ``p`` covers ``p``
    and its only consumer ``j`` (an element-wise node), and ``linearizations[j]`` is then
    :data:`FUSED`. ``factors[t]`` is the factor of tensor ``t`` (a list, or :class:`Increments`),
    or ``factors="multiplier"``: the multiplier itself (sensitivity, ``R = g ⊙ g``).

    Multipliers go down as ``g_e = g_out D_e`` and add up where a tensor feeds several nodes;
    the relevance ``g_e ⊙ factor`` of an edge (independent of every other in this division-free
    form) is made when it is first read.
    """
    own = isinstance(factors, str) and factors == "multiplier"
    g_tensor = [None] * (len(net) + 1)
    g_tensor[-1] = g_top

    def factor(t):
        return g_tensor[t] if own else factors[t]

    relevance_of = [lambda t=t: g_tensor[t] * factor(t) for t in range(len(net) + 1)]
    steps = [None] * len(net)
    for k in reversed(range(len(net))):
        inputs = net.nodes[k].inputs
        g = g_tensor[k + 1]
        if linearizations[k] is FUSED:
            (t,) = inputs
            steps[k] = PassStep(relevance_of[k + 1])
            g_tensor[t], relevance_of[t] = g, relevance_of[k + 1]  # the pair's output multiplier, for the node below
            continue
        D = linearizations[k]
        g_edges = D.vjp_edges(g)
        for t, g_e in zip(inputs, g_edges):
            g_tensor[t] = g_e if g_tensor[t] is None else g_tensor[t] + g_e
        steps[k] = ChainStep([lambda g_e=g_e, t=t: g_e * factor(t) for t, g_e in zip(inputs, g_edges)],
                             relevance_of[k + 1], [(1.0, D, g)], [lambda t=t: factor(t) for t in inputs])
    return steps
