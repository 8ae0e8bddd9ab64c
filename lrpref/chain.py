"""The multiplier engine: relevance as multiplier × factor, layer by layer (spec ``neural.md`` §4(e), §6.1(d), §6.3(e)).

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

Averaged methods (IG, SmoothGrad) run this for several points and add with weights.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from . import config
from .propagate import Absorbed, MatrixTooLarge

__all__ = ["ChainStep", "Increments", "propagate_chain"]


def _made(holder, name):
    """The attribute ``name``, given as a value or as a function that makes it (called once, on first use)."""
    value = getattr(holder, name)
    if callable(value):
        value = value()
        setattr(holder, name, value)
    return value


class ChainStep:
    """One layer of a multiplier method: relevance in and out, and (lazily) remainder and messages.

    ``terms`` is a list of ``(weight, linearisation, g_out)``, one per point of an averaged
    method (a single ``(1, D, g_out)`` otherwise); ``factor_in`` the factor of the layer input.
    """

    def __init__(self, relevance_in, relevance_out, terms, factor_in, remainder=None):
        # relevance and factor: arrays, or functions that make them on first use (see propagate_chain)
        self._relevance_in, self._relevance_out, self._factor_in = relevance_in, relevance_out, factor_in
        self.terms = terms
        self._remainder = remainder

    relevance_in = property(lambda self: _made(self, "_relevance_in"))
    relevance_out = property(lambda self: _made(self, "_relevance_out"))
    factor_in = property(lambda self: _made(self, "_factor_in"))

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
            rows = sum(w * g * D.jvp(self.factor_in) for w, D, g in self.terms)
            self._remainder = self.relevance_out - rows
        return Absorbed(remainder=self._remainder)

    def messages(self, n, where="layer", max_bytes=None):
        """``sum_k w_k diag(g_k[n]) D_k[n] diag(factor_in[n])`` as a sparse (or dense) matrix."""
        total = None
        for w, D, g in self.terms:
            matrix = D.matrix(n)
            _check_budget(matrix, where, max_bytes, len(self.terms))
            rows, cols = w * g[n].ravel(), self.factor_in[n].ravel()
            if sp.issparse(matrix):
                part = sp.diags(rows) @ matrix @ sp.diags(cols)
            else:
                part = rows[:, None] * matrix * cols[None, :]
            total = part if total is None else total + part
        return total.tocsr() if sp.issparse(total) else total


def _check_budget(matrix, where, max_bytes, copies):
    budget = config.max_matrix_bytes if max_bytes is None else int(max_bytes)
    nonzeros = matrix.nnz if sp.issparse(matrix) else matrix.size
    needed = nonzeros * (matrix.dtype.itemsize + (8 if sp.issparse(matrix) else 0)) * (copies + 1)
    if needed > budget:
        raise MatrixTooLarge(f"{where}: the explicit message matrix ({matrix.shape[0]}×{matrix.shape[1]} with {nonzeros} "
                             f"non-zeros) needs about {needed / 2**20:.1f} MiB, over the budget of {budget / 2**20:.1f} MiB; "
                             f"raise lrpref.config.max_matrix_bytes (or pass max_bytes=) or use a smaller input")


FUSED = object()  # marks the upper layer of a pair whose span-2 linearisation sits at the layer below


class PassStep:
    """The upper layer of a fused pair: its relevance passes to its input unchanged (``M = diag(R)``)."""

    def __init__(self, relevance):
        self._relevance = relevance

    relevance_in = relevance_out = property(lambda self: _made(self, "_relevance"))

    @cached_property
    def absorbed(self) -> Absorbed:
        return Absorbed(remainder=np.zeros_like(self.relevance_out))

    def messages(self, n, where="layer", max_bytes=None):
        return sp.diags(self.relevance_out[n].ravel(), format="csr")


class Increments:
    """The increments ``ΔY^l = Y^l − Ŷ^l`` of a forward record against a reference record (whose batch may be
    one, shared by all samples), made when indexed: they are not stored."""

    def __init__(self, activations, reference):
        self.activations, self.reference = activations, reference

    def __len__(self):
        return len(self.activations)

    def __getitem__(self, k):
        return self.activations[k] - self.reference[k]


def propagate_chain(linearizations, g_top, factors):
    """One step per layer (bottom first) for one point.

    ``linearizations[l]`` is ``D`` of layer ``l``; a span-2 linearisation at ``l`` covers layers
    ``l`` and ``l+1``, and ``linearizations[l+1]`` is then :data:`FUSED`. ``factors[l]`` is the
    factor of ``Y^l`` (the last one the network output's; a list, or :class:`Increments`), or ``factors="multiplier"``:
    the multiplier itself (sensitivity, ``R = g²``).

    Only the multipliers are computed here; the relevance ``g ⊙ factor`` of a layer (independent of
    every other layer's in this division-free form) is made when it is first read.
    """
    own = isinstance(factors, str) and factors == "multiplier"

    def relevance(k, g):
        return (lambda: g * g) if own else (lambda: g * factors[k])

    steps = [None] * len(linearizations)
    g = g_top
    R_out = relevance(len(linearizations), g)
    for k in reversed(range(len(linearizations))):
        if linearizations[k] is FUSED:
            steps[k] = PassStep(R_out)
            continue
        D = linearizations[k]
        g_in = D.vjp(g)
        if D.span == 2:
            R_out = lambda step=steps[k + 1]: step.relevance_out  # noqa: E731 - the pair's output, through its upper layer
        steps[k] = ChainStep(relevance(k, g_in), R_out, [(1.0, D, g)], g_in if own else (lambda k=k: factors[k]))
        g, R_out = g_in, (lambda step=steps[k]: step.relevance_in)  # this layer's input is the next one's output
    return steps
