"""The result of an explanation: relevance at every layer, absorption, messages, conservation.

``ex.layers[k]`` describes layer ``k`` of the network: ``relevance_out`` (relevance of its
output, received from above), ``relevance_in`` (relevance of its input, passed down),
``absorbed`` (bias / stabiliser / dropped, per upper neuron), for linear rules the
denominators ``D`` and stabilised denominators ``S`` of every group, and — when the
explanation was made with ``keep_messages=True`` — ``messages(n)``, the explicit message
matrix ``M[j, i] = R(i <- j)`` of sample ``n`` (spec ``neural.md`` §1.1).
"""

from __future__ import annotations

import numpy as np

from .ledger import Ledger, LedgerRow
from .propagate import ABSORPTION_KINDS, _per_sample_sum, messages

__all__ = ["Explanation", "LayerRelevance"]


class LayerRelevance:
    """Relevance through one layer (see the module docstring)."""

    def __init__(self, index, layer, rule, step, relevance_out, where, activations=None):
        self.index = index
        self.layer = layer
        self.rule = rule
        self.relevance_in = step.relevance_in
        self.relevance_out = relevance_out
        self.where = where
        self._step = step
        self._activations = activations  # (input, output) batches, kept with keep_messages=True

    @property
    def absorbed(self):
        """Relevance each output neuron did not pass down: ``.bias``, ``.stabiliser``, ``.dropped``, ``.total``."""
        return self._step.absorbed

    @property
    def denominators(self) -> tuple:
        """Per group of a linear rule, the denominators ``D`` (before the stabiliser), shaped like the output."""
        return self._step.denominators

    @property
    def stabilised(self) -> tuple:
        """Per group, the stabilised denominators ``S``."""
        return self._step.stabilised

    @property
    def scales(self) -> tuple:
        """Per group, ``s = c R / S`` (step 2 of the four-step rule, spec §3.0)."""
        return self._step.scales

    @property
    def input(self):
        """The layer's input activations (kept with ``keep_messages=True``)."""
        return self._require_activations()[0]

    @property
    def output(self):
        """The layer's output activations (kept with ``keep_messages=True``)."""
        return self._require_activations()[1]

    def _require_activations(self):
        if self._activations is None:
            raise RuntimeError(f"{self.where}: activations and message matrices are kept only by "
                               f"lrpref.explain(..., keep_messages=True)")
        return self._activations

    def messages(self, n: int = 0, max_bytes: int | None = None):
        """Message matrix ``M[j, i] = R(i <- j)`` of sample ``n``: rows are this layer's outputs ``j``, columns its inputs ``i``.

        NumPy for Dense layers, ``scipy.sparse`` CSR otherwise. Column sums are
        ``relevance_in[n]`` (flattened), row sums plus ``absorbed`` are ``relevance_out[n]``.
        Raises ``MatrixTooLarge`` above the memory budget (``lrpref.config.max_matrix_bytes``
        or ``max_bytes``).
        """
        a, z = self._require_activations()
        if not -a.shape[0] <= n < a.shape[0]:
            raise IndexError(f"sample {n} out of range for a batch of {a.shape[0]}")
        one = slice(n % a.shape[0], n % a.shape[0] + 1)
        return messages(self.layer, self.rule, a[one], z[one], self.relevance_out[one], self.where, max_bytes)

    def ledger_row(self) -> LedgerRow:
        absorbed = self.absorbed.per_sample()
        return LedgerRow(f"{self.index:>2} {self.layer.describe()} · {self.rule.describe()}",
                         _per_sample_sum(self.relevance_out), _per_sample_sum(self.relevance_in),
                         {kind: absorbed[kind] for kind in ABSORPTION_KINDS})

    def __repr__(self):
        return f"<LayerRelevance {self.where}, rule {self.rule.describe()}>"


class Explanation:
    """What :func:`lrpref.explain` returns.

    Attributes: ``relevance`` (input relevance, shape of ``x``), ``output`` (the network's
    output), ``target`` (class per sample, or None when an explicit top relevance was given),
    ``top`` (the relevance the explanation starts from), ``layers`` (one
    :class:`LayerRelevance` per layer), ``rules`` (the rule of every layer), ``method``,
    ``path``, and ``conservation``, a :class:`~lrpref.ledger.Ledger` with one row per layer,
    top first.
    """

    def __init__(self, relevance, output, target, top, layers, method, path, description):
        self.relevance = relevance
        self.output = output
        self.target = target
        self.top = top
        self.layers = layers
        self.rules = [record.rule for record in layers]
        self.method = method
        self.path = path
        self.description = description
        self._conservation = None

    @property
    def conservation(self) -> Ledger:
        """Per layer (top first): relevance received, passed down, absorbed by kind, residual."""
        if self._conservation is None:
            self._conservation = Ledger([record.ledger_row() for record in reversed(self.layers)], ABSORPTION_KINDS)
        return self._conservation

    def __repr__(self):
        sums = _per_sample_sum(self.relevance)
        tops = _per_sample_sum(self.top)
        return (f"<Explanation {self.method} ({self.description}), {len(self.layers)} layers, "
                f"batch {self.relevance.shape[0]}: sum of top relevance {np.array2string(tops, precision=6)}, "
                f"sum of input relevance {np.array2string(sums, precision=6)}>")
