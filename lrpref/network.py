"""Networks: a :class:`Graph` of layers with a forward record per tensor; :class:`Sequential` is a chain (math.md §1).

Nodes are layers, edges are tensors. Nodes are kept in a topological order ``0 .. L-1``;
tensor ``0`` is the network input and tensor ``k + 1`` the output of node ``k``, so the forward
record ``record(x) = [x, Y^1, ..., Y^L]`` reads exactly as the chain's ``[Y^0, ..., Y^L]`` and the
output of the network is the last tensor. A node may take several tensors (:class:`~lrpref.Add`,
:class:`~lrpref.Concat`) and a tensor may feed several nodes (fan-out, e.g. a residual
connection); explanations sum the relevance a tensor receives from all its consumers.

Build a graph from symbolic tensors, calling layers on them::

    x = lr.Input()
    h = lr.ReLU()(lr.Conv2d(W1, b1, padding=1)(x))
    y = lr.ReLU()(lr.Add()(lr.Conv2d(W2, b2, padding=1)(h), x))   # a residual block
    net = lr.Graph(x, y)

A network is float32 or float64 — the dtype of its parameters — and refuses inputs of the
other dtype.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

from ._validate import as_batch
from .layers import Layer, ShapeError

__all__ = ["Graph", "Sequential", "Input", "Tensor", "Node"]

INPUT = "input"  # the name of the network input in node lists


@dataclass(frozen=True)
class Node:
    """One node: a ``layer`` with a unique ``name``, reading the tensors ``inputs`` (tensor ``t`` is the output of node
    ``t - 1``, tensor 0 the network input)."""

    name: str
    layer: Layer
    inputs: tuple


class Tensor:
    """A symbolic tensor while a graph is being built: the network input (:func:`Input`) or a layer applied to tensors."""

    _counter = itertools.count()

    def __init__(self, layer, inputs, name):
        self.layer, self.inputs, self.name = layer, tuple(inputs), name
        self.order = next(Tensor._counter)  # creation order: a topological order of any graph built from tensors

    @classmethod
    def apply(cls, layer, inputs, name):
        if not inputs:
            raise TypeError(f"{layer.describe()}(...) needs at least one input tensor")
        for position, tensor in enumerate(inputs):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"{layer.describe()}: input {position} is {type(tensor).__name__}; calling a layer builds "
                                f"a graph from lrpref.Input() tensors — to compute with arrays use layer.forward(x)")
        _check_arity(layer, len(inputs), name or layer.describe())
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a node name must be a string, got {name!r}")
        return cls(layer, inputs, name)

    def __repr__(self):
        return f"<Tensor {'input' if self.layer is None else self.layer.describe()}{f' {self.name!r}' if self.name else ''}>"


def Input(name: str = INPUT) -> Tensor:
    """The (single) input of a graph being built."""
    return Tensor(None, (), name)


def _check_arity(layer, count, where):
    if layer.n_inputs is None:
        if count < 2:
            raise TypeError(f"{where}: {layer.describe()} takes two or more inputs, got {count}")
    elif count != layer.n_inputs:
        raise TypeError(f"{where}: {layer.describe()} takes {layer.n_inputs} input(s), got {count}")


class Graph:
    """A network whose layers form a directed acyclic graph with one input and one output (see the module docstring).

    ``Graph(x, y)`` from symbolic tensors; :meth:`from_nodes` from a list of
    ``(name, layer, input names)``. ``len(net)`` nodes; ``net[k]`` or ``net["name"]`` is a layer;
    iterating yields the layers in topological order; ``net.nodes[k]`` the :class:`Node`.
    """

    def __init__(self, inputs: Tensor, outputs: Tensor):
        if not isinstance(inputs, Tensor) or inputs.layer is not None:
            raise TypeError("Graph(inputs, outputs): inputs must be the tensor returned by lrpref.Input()")
        if not isinstance(outputs, Tensor):
            raise TypeError(f"Graph(inputs, outputs): outputs must be a tensor, got {type(outputs).__name__}")
        reached, stack = {}, [outputs]
        while stack:
            tensor = stack.pop()
            if id(tensor) in reached:
                continue
            reached[id(tensor)] = tensor
            if tensor.layer is None and tensor is not inputs:
                raise ValueError(f"the output depends on another input {tensor!r}; a graph has one input")
            stack.extend(tensor.inputs)
        if id(inputs) not in reached:
            raise ValueError("the output does not depend on the input")
        ordered = sorted((t for t in reached.values() if t.layer is not None), key=lambda t: t.order)
        index = {id(inputs): 0}
        nodes = []
        for k, tensor in enumerate(ordered):
            index[id(tensor)] = k + 1
            nodes.append((tensor.name, tensor.layer, tuple(index[id(t)] for t in tensor.inputs)))
        self._init(nodes)

    @classmethod
    def from_nodes(cls, nodes) -> "Graph":
        """A graph from ``(name, layer, input names)`` in a topological order; the input is ``"input"``, the output the
        last node. Every node must lie on a path from the input to the output."""
        net = cls.__new__(cls)
        names = {INPUT: 0}
        resolved = []
        for k, entry in enumerate(nodes):
            try:
                name, layer, inputs = entry
            except (TypeError, ValueError):
                raise TypeError(f"node {k}: expected (name, layer, input names), got {entry!r}") from None
            if isinstance(inputs, str):
                inputs = (inputs,)
            missing = [i for i in inputs if i not in names]
            if missing:
                raise ValueError(f"node {k} {name!r} reads {missing[0]!r}, which is not the input or an earlier node")
            resolved.append((name, layer, tuple(names[i] for i in inputs)))
            names[name] = k + 1
        net._init(resolved)
        return net

    def _init(self, nodes):
        if not nodes:
            raise ValueError(f"{type(self).__name__} needs at least one layer")
        built, seen = [], set()
        for k, (name, layer, inputs) in enumerate(nodes):
            if not isinstance(layer, Layer):
                raise TypeError(f"{type(self).__name__}: item {k} is {type(layer).__name__}, not an lrpref layer")
            name = f"{type(layer).__name__.lower()}{k}" if name is None else name
            if not isinstance(name, str) or name in seen or name == INPUT:
                raise ValueError(f"node {k}: the name {name!r} is taken (names are unique, and {INPUT!r} is the input)")
            seen.add(name)
            _check_arity(layer, len(inputs), f"node {k} {name!r}")
            built.append(Node(name, layer, tuple(inputs)))
        consumers = [[] for _ in range(len(built) + 1)]
        for k, node in enumerate(built):
            for e, t in enumerate(node.inputs):
                consumers[t].append((k, e))
        unused = [built[t - 1].name for t in range(1, len(built)) if not consumers[t]]
        if unused:
            raise ValueError(f"node(s) {unused} do not reach the output (the last node)")
        dtypes = {node.layer.dtype for node in built if node.layer.dtype is not None}
        if len(dtypes) > 1:
            listing = ", ".join(f"{self._where(k, built)}: {node.layer.dtype}" for k, node in enumerate(built)
                                if node.layer.dtype is not None)
            raise TypeError(f"{type(self).__name__}: parameters of mixed dtypes ({listing}); cast with .astype()")
        self.nodes = tuple(built)
        self.layers = tuple(node.layer for node in built)  # with read-only parameters, a network cannot change
        self.consumers = tuple(tuple(c) for c in consumers)
        self.dtype = dtypes.pop() if dtypes else None
        self._index = {node.name: k for k, node in enumerate(built)}
        self._wheres = [self._where(k) for k in range(len(built))]  # layers are immutable: their text is too
        self._last_reference = (None, None)

    # ------------------------------------------------------------------ structure

    @property
    def is_chain(self) -> bool:
        """Every node reads the previous node's output and nothing else."""
        return all(node.inputs == (k,) for k, node in enumerate(self.nodes))

    def label(self, k: int) -> str | None:
        """Node ``k``'s name for records and ledgers, or None in a chain (where the position says it all)."""
        return None if self.is_chain else self.nodes[k].name

    def __len__(self):
        return len(self.nodes)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, k):
        return self.layers[self.index(k)]

    def index(self, key) -> int:
        """The position of a node given by position (negative from the end) or name."""
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"no node named {key!r}; the nodes are {list(self._index)}")
            return self._index[key]
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"a node is given by position or name, got {key!r}")
        if not -len(self) <= key < len(self):
            raise IndexError(f"node {key} out of range: the network has {len(self)} nodes")
        return int(key) % len(self)

    def _where(self, k, nodes=None) -> str:
        node = (nodes or self.nodes)[k]
        return f"node {k} {node.name!r} ({node.layer.describe()})"

    def where(self, k: int) -> str:
        """How errors name node ``k``."""
        return self._wheres[k]

    def tensor_name(self, t: int) -> str:
        """``"input"`` or the name of the node that produces tensor ``t``."""
        return INPUT if t == 0 else self.nodes[t - 1].name

    # ------------------------------------------------------------------ forward

    def shapes(self, in_shape) -> list[tuple]:
        """Sample shape of every tensor ``[input, out of node 0, ..., out of node L-1]``; a ShapeError names the node."""
        shapes = [tuple(int(d) for d in in_shape)]
        for k, node in enumerate(self.nodes):
            try:
                shapes.append(tuple(node.layer.output_shape(*(shapes[t] for t in node.inputs))))
            except ShapeError as error:
                raise ShapeError(f"{self._shape_where(k)}: {error}") from None
        return shapes

    def _shape_where(self, k):
        return f"node {k} {self.nodes[k].name!r}"

    def check_input(self, x, what: str = "input x") -> np.ndarray:
        """Validate a batch (dtype, finiteness, batch axis, shapes through every node)."""
        x = as_batch(x, self.dtype, what)
        self.shapes(x.shape[1:])
        return x

    def inputs_of(self, k: int, activations) -> list:
        """The input batches of node ``k`` from a forward record."""
        return [activations[t] for t in self.nodes[k].inputs]

    def record(self, x, states: bool = False):
        """The forward record ``[x, Y^1, ..., Y^L]`` (one array per tensor) of a validated batch.

        With ``states=True`` also each node's reusable state (max-pooling: its winners), as
        ``(activations, states)``.
        """
        x = self.check_input(x)
        activations, kept = [x], []
        for k, node in enumerate(self.nodes):
            inputs = self.inputs_of(k, activations)
            y, state = node.layer.forward_with_state(*inputs) if states else (node.layer.forward(*inputs), None)
            self._check_finite_output(k, y)
            activations.append(y)
            kept.append(state)
        return (activations, kept) if states else activations

    def _check_finite_output(self, k, y):
        """Refuse an output that became non-finite from finite inputs (overflow), naming the node where it happened."""
        with np.errstate(over="ignore", invalid="ignore"):
            total = y.sum()
        if not np.isfinite(total) and not np.all(np.isfinite(y)):  # the sum alone may overflow while every entry is finite
            raise FloatingPointError(f"{self.where(k)}: the forward pass overflowed ({int(np.count_nonzero(~np.isfinite(y)))} "
                                     f"non-finite value(s), from finite inputs) in {y.dtype}; scale the input or use float64")

    def record_reference(self, reference) -> list[np.ndarray]:
        """:meth:`record` of a reference input; one shared by the whole batch (batch axis 1) is remembered.

        Reference-based methods push the same reference (zeros, a constant, a mean image)
        through the network for every batch they explain; the network keeps the record of the
        last shared reference (read-only arrays) and reuses it while the same values come again.
        """
        reference = self.check_input(reference, "the reference")
        if reference.shape[0] != 1:
            return self.record(reference)
        key = (reference.shape, reference.dtype.str, hashlib.blake2b(reference.tobytes(), digest_size=16).digest())
        last_key, last_record = self._last_reference
        if key != last_key:
            last_record = self.record(reference.copy())  # the caller's array stays writable
            for a in last_record:
                a.setflags(write=False)
            self._last_reference = (key, last_record)
        return list(last_record)

    def forward(self, x) -> np.ndarray:
        """The network output for a batch."""
        return self.record(x)[-1]

    __call__ = forward

    def backward(self, activations, output_gradient, stop: int = 0) -> list:
        """Gradients of every tensor ``t >= stop`` given the output's ``output_gradient`` (vector-Jacobian products,
        summed over a tensor's consumers); entries below ``stop`` are None."""
        grads = [None] * (len(self) + 1)
        grads[-1] = output_gradient
        for k in range(len(self) - 1, stop - 1, -1):
            node = self.nodes[k]
            if grads[k + 1] is None:
                continue
            for t, g in zip(node.inputs, node.layer.input_gradients(self.inputs_of(k, activations), grads[k + 1])):
                if t >= stop:
                    grads[t] = g if grads[t] is None else grads[t] + g
        return grads

    def gradient(self, x, output_gradient) -> np.ndarray:
        """``output_gradient @ dY^L/dx`` for every sample (the vector-Jacobian product of the whole network)."""
        activations = self.record(x)
        g = np.asarray(output_gradient)
        if g.dtype.kind == "f" and g.dtype != activations[-1].dtype:
            raise TypeError(f"the output gradient is {g.dtype} but the network is {activations[-1].dtype}; never mixed "
                            f"silently: cast it explicitly")
        if g.dtype.kind not in "fiub":
            raise TypeError(f"the output gradient must be a numeric array, got {g.dtype}")
        g = g.astype(activations[-1].dtype, copy=False)
        if g.shape != activations[-1].shape:
            raise ShapeError(f"output gradient has shape {g.shape}, the output {activations[-1].shape}")
        from ._validate import check_finite

        check_finite(g, "the output gradient")
        return self.backward(activations, g)[0]

    # ------------------------------------------------------------------ copies and text

    def replace_layers(self, layers) -> "Graph":
        """The same graph with node ``k``'s layer replaced by ``layers[k]`` (names and edges kept)."""
        return Graph.from_nodes([(node.name, layer, [self.tensor_name(t) for t in node.inputs])
                                 for node, layer in zip(self.nodes, layers)])

    def astype(self, dtype) -> "Graph":
        """The same network with parameters cast to ``dtype`` (float32 or float64)."""
        return self.replace_layers([layer.astype(np.dtype(dtype)) for layer in self.layers])

    def summary(self, in_shape=None) -> str:
        """One line per node (its inputs, and sample shapes when ``in_shape`` is given)."""
        shapes = self.shapes(in_shape) if in_shape is not None else None
        lines = []
        for k, node in enumerate(self.nodes):
            shape = f"  -> {shapes[k + 1]}" if shapes else ""
            reads = ", ".join(self.tensor_name(t) for t in node.inputs)
            lines.append(f"{k:>3}  {node.name}: {node.layer.describe()} <- {reads}{shape}")
        head = f"Graph ({len(self)} nodes, {self.dtype or 'no parameters'})"
        if shapes:
            head += f", input {shapes[0]}"
        return "\n".join([head] + lines)

    def __repr__(self):
        return self.summary()


class Sequential(Graph):
    """A chain of :mod:`lrpref.layers` layers (a graph whose node ``k`` reads node ``k - 1``); nested ``Sequential``
    objects are flattened."""

    def __init__(self, layers):
        flat = []
        for position, layer in enumerate(layers):
            if isinstance(layer, Sequential):
                flat.extend(layer.layers)
            elif isinstance(layer, Layer):
                flat.append(layer)
            else:
                raise TypeError(f"Sequential: item {position} is {type(layer).__name__}, not an lrpref layer")
        self._init([(None, layer, (k,)) for k, layer in enumerate(flat)])

    def __getitem__(self, k):
        if isinstance(k, slice):
            return Sequential(self.layers[k])
        return super().__getitem__(k)

    def _where(self, k, nodes=None) -> str:
        return f"layer {k} ({(nodes or self.nodes)[k].layer.describe()})"

    def _shape_where(self, k):
        return f"layer {k}"

    def replace_layers(self, layers) -> "Sequential":
        return Sequential(layers)

    def summary(self, in_shape=None) -> str:
        """One line per layer, with sample shapes when ``in_shape`` is given."""
        shapes = self.shapes(in_shape) if in_shape is not None else None
        lines = []
        for k, layer in enumerate(self.layers):
            shape = f"  -> {shapes[k + 1]}" if shapes else ""
            lines.append(f"{k:>3}  {layer.describe()}{shape}")
        head = f"Sequential ({len(self)} layers, {self.dtype or 'no parameters'})"
        if shapes:
            head += f", input {shapes[0]}"
        return "\n".join([head] + lines)
