"""The result of an explanation: relevance at every layer, absorption, messages, conservation.

``ex.layers[k]`` describes node ``k`` of the network (layer ``k`` of a chain): ``relevance_out`` (relevance of its
output, received from above), ``relevance_in`` (relevance of its input, passed down),
``absorbed`` (per upper neuron, by kind: ``bias`` / ``stabiliser`` / ``dropped`` for LRP rules,
``remainder`` for multiplier methods) and — when the explanation was made with
``keep_messages=True`` — ``messages(n)``, the explicit message matrix ``M[j, i] = R(i <- j)`` of
sample ``n`` (math.md §1.1). A node with several inputs (``Add``, ``Concat``) has one
relevance array and one message matrix per input edge: ``relevance_in`` and ``messages(n)`` are then
tuples (``relevance_edges`` is always a list). What the method computed on the way is there too:
``denominators``, ``stabilised`` and ``scales`` for LRP rules; ``multiplier``, ``factor_in`` and
``linearization`` for multiplier methods (DeepLIFT, the LID family, gradients).
"""

from __future__ import annotations

import numpy as np

from .ledger import Ledger, LedgerRow
from .propagate import _per_sample_sum, per_edge

__all__ = ["Explanation", "LayerRelevance"]


class LayerRelevance:
    """Relevance through one layer (see the module docstring).

    ``step`` is what the method computed for the layer (``relevance_in``, ``relevance_out``,
    ``absorbed``, and method-specific details read through this record); ``messages`` builds the
    message matrix of one sample, or is None when the explanation did not keep what it needs.
    """

    def __init__(self, index, layer, rule, step, where, messages=None, activations=None, name=None):
        self.index = index
        self.layer = layer
        self.rule = rule
        self.where = where
        self.name = name
        self._step = step
        self._messages = messages
        self._activations = activations  # ([input per edge], output) batches, kept with keep_messages=True

    @property
    def relevance_in(self):
        """Relevance of the layer input (passed down), shaped like the input batch; a tuple (one per edge) for several inputs."""
        return self._step.relevance_in

    @property
    def relevance_edges(self) -> list:
        """Relevance passed down each input edge (a list, also for one input)."""
        return self._step.relevance_edges

    @property
    def relevance_out(self):
        """Relevance of the layer output (received from above), shaped like the output batch."""
        return self._step.relevance_out

    @property
    def absorbed(self):
        """Relevance each output neuron did not pass down, by kind (``.total`` sums them)."""
        return self._step.absorbed

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        step = self.__dict__.get("_step")
        if step is not None and hasattr(step, name):
            return getattr(step, name)
        raise AttributeError(f"{self.__dict__.get('where', 'layer')}: no attribute {name!r} for this method")

    @property
    def input(self):
        """The layer's input activations (kept with ``keep_messages=True``); a tuple for several inputs."""
        return per_edge(self._require_activations()[0])

    @property
    def output(self):
        """The layer's output activations (kept with ``keep_messages=True``)."""
        return self._require_activations()[1]

    def _require_activations(self):
        if self._activations is None:
            raise RuntimeError(f"{self.where}: activations and message matrices are kept only by "
                               f"lrpref.explain(..., keep_messages=True)")
        return self._activations

    @property
    def has_messages(self) -> bool:
        """Whether :meth:`messages` can build the message matrix (always for multiplier methods; with
        ``keep_messages=True`` for LRP)."""
        return self._messages is not None

    def messages(self, n: int = 0, max_bytes: int | None = None):
        """Message matrix ``M[j, i] = R(i <- j)`` of sample ``n``: rows are this layer's outputs ``j``, columns its inputs ``i``.

        NumPy for Dense layers under LRP, ``scipy.sparse`` CSR otherwise. Column sums are
        ``relevance_in[n]`` (flattened), row sums plus ``absorbed.total`` are ``relevance_out[n]``.
        A node with several inputs gives a tuple ``(M_0, M_1, ...)``, one matrix per input edge
        (columns: that input); the row sums of all of them together plus ``absorbed.total`` are
        ``relevance_out[n]``. Raises ``MatrixTooLarge`` above the memory budget
        (``lrpref.config.max_matrix_bytes`` or ``max_bytes``).
        """
        if self._messages is None:
            self._require_activations()
        size = self.relevance_out.shape[0]
        if not -size <= n < size:
            raise IndexError(f"sample {n} out of range for a batch of {size}")
        return per_edge(self._messages(n % size, max_bytes))

    def ledger_row(self) -> LedgerRow:
        passed = sum(_per_sample_sum(r) for r in self.relevance_edges)
        label = f"{self.index:>2} {self.name + ': ' if self.name else ''}"
        return LedgerRow(f"{label}{self.layer.describe()} · {self.rule.describe()}",
                         _per_sample_sum(self.relevance_out), passed, self.absorbed.per_sample())

    def __repr__(self):
        return f"<LayerRelevance {self.where}, rule {self.rule.describe()}>"


class Explanation:
    """What :func:`lrpref.explain` returns.

    Attributes: ``relevance`` (input relevance, shape of ``x``), ``output`` (the network's
    output), ``target`` (class per sample, or None when an explicit top relevance was given),
    ``top`` (the relevance the explanation starts from), ``layers`` (one
    :class:`LayerRelevance` per layer), ``rules`` (the rule or linearisation of every layer),
    ``method``, ``path``, ``extras`` (method-specific results, e.g. the reference output) and
    ``conservation``, a :class:`~lrpref.ledger.Ledger` with one row per layer, top first.
    """

    def __init__(self, relevance, output, target, top, layers, method, path, description, network=None, **extras):
        self.relevance = relevance
        self.output = output
        self.target = target
        self.top = top
        self.layers = layers
        self.network = network
        self.rules = [record.rule for record in layers]
        self.method = method
        self.path = path
        self.description = description
        self.extras = extras
        self._conservation = None

    def __getattr__(self, name):
        extras = self.__dict__.get("extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(f"this {self.__dict__.get('method', '')} explanation has no attribute {name!r}")

    def tensor_relevance(self, t: int):
        """Relevance of tensor ``t`` (0: the input; ``k + 1``: the output of node ``k``): the sum of what its consumers
        sent down (for the network output: the top relevance)."""
        if t == 0:
            return self.relevance
        return self.layers[t - 1].relevance_out

    @property
    def conservation(self) -> Ledger:
        """Per node (top first): relevance received, passed down, absorbed by kind, residual; at every tensor that
        feeds several nodes also a fan-in row — what the consumers sent (received) against the relevance the
        tensor's producer explained further (passed)."""
        if self._conservation is None:
            rows = []
            for record in reversed(self.layers):
                rows += self._fan_in_rows(record.index + 1) + [record.ledger_row()]
            self._conservation = Ledger(rows + self._fan_in_rows(0))
        return self._conservation

    def _fan_in_rows(self, t) -> list:
        net = self.network
        if net is None or not self.layers or len(net.consumers[t]) < 2:
            return []
        received = sum(_per_sample_sum(self.layers[k].relevance_edges[e]) for k, e in net.consumers[t])
        senders = " + ".join(net.nodes[k].name for k, _ in net.consumers[t])
        return [LedgerRow(f"   fan-in at {net.tensor_name(t)} <- {senders}", received,
                          _per_sample_sum(self.tensor_relevance(t)))]

    def steps(self, n: int = 0, max_size: int = 16, file=None, html=None):
        """Print the teaching trace of sample ``n``: node by node, top first, every number of the
        method's steps (for LRP: ``z``, ``D``, the stabiliser, ``s``, ``c``, ``R``; the message matrix of
        nodes with at most ``max_size`` inputs and outputs; each conservation sum; the fan-in at each
        branch point) — see :mod:`lrpref.trace`. LRP explanations need ``keep_messages=True``.

        ``html=DIR`` writes the same steps as a self-contained page ``DIR/index.html`` with next /
        previous navigation and the formulas beside the numbers (:mod:`lrpref.lesson`) and returns
        its path, instead of printing.
        """
        from .trace import lesson, trace

        if html is not None:
            return lesson(self, html, n, max_size)
        print(trace(self, n, max_size), file=file)
        return None

    def __repr__(self):
        sums = _per_sample_sum(self.relevance)
        tops = _per_sample_sum(self.top)
        return (f"<Explanation {self.method} ({self.description}), {len(self.layers)} nodes, "
                f"batch {self.relevance.shape[0]}: sum of top relevance {np.array2string(tops, precision=6)}, "
                f"sum of input relevance {np.array2string(sums, precision=6)}>")
