"""What every importer shares: the error type, optional imports, parameter conversion and
:class:`GraphBuilder`, which adds layers as graph nodes while tracking every tensor's sample shape, so that
every problem is reported with the position of the source operation that caused it.
"""

from __future__ import annotations

import importlib
import math

import numpy as np

from ..layers import Layer
from ..network import INPUT, Graph, Sequential

__all__ = ["ModelImportError", "require", "target_dtype", "as_float", "check_ceil_mode", "GraphBuilder", "INPUT"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ModelImportError(ValueError):
    """A model cannot be imported: an unsupported layer or operator, a malformed file or parameters the lrpref layers cannot represent. The message names the
    offending operation and its position in the source model."""


def require(package: str, extra: str, caller: str):
    """Import an optional ``package``; a missing one is an ImportError naming the extra to install."""
    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"{caller} needs the optional package {package!r}: pip install 'lrpref[{extra}]'") from error


def target_dtype(dtype):
    """``None`` (keep the source's dtype) or float32 / float64."""
    if dtype is None:
        return None
    dtype = np.dtype(dtype)
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be None, float32 or float64, got {dtype}")
    return dtype


def as_float(array: np.ndarray, dtype, where: str) -> np.ndarray:
    """``array`` in ``dtype``, or unchanged when it is already float32/float64 and ``dtype`` is None."""
    array = np.asarray(array)
    if dtype is not None:
        if array.dtype.kind not in "fiub":
            raise ModelImportError(f"{where}: parameter of dtype {array.dtype} cannot be converted to {dtype}")
        return array.astype(dtype)
    if array.dtype not in _FLOAT_DTYPES:
        raise ModelImportError(f"{where}: parameters are {array.dtype}; lrpref networks are float32 or float64, "
                               f"pass dtype=np.float32 or dtype=np.float64 to convert")
    return array


def pooled_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """Output length of a pooling window along one axis, as PyTorch and ONNX compute it.

    ``floor`` or ``ceil`` of ``(size + 2p - d(k-1) - 1) / s``, plus one; in ceil mode a last
    window that would start in the right padding is dropped.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def check_ceil_mode(in_shape, kernel, stride, padding, dilation, where: str) -> None:
    """Accept ``ceil_mode`` only where it gives the floor-mode output size (lrpref pools floor)."""
    if len(in_shape) != 3:
        raise ModelImportError(f"{where}: pooling expects inputs (N, C, H, W); got a sample shape {tuple(in_shape)}")
    for axis, size in enumerate(in_shape[1:]):
        geometry = (size, kernel[axis], stride[axis], padding[axis], dilation[axis])
        if pooled_size(*geometry, True) != pooled_size(*geometry, False):
            raise ModelImportError(f"{where}: ceil_mode adds a partial window for input {tuple(in_shape)} "
                                   f"(lrpref's pooling layers use floor mode); pad the input or use ceil_mode=False")


class GraphBuilder:
    """Layers added as nodes of a graph while every tensor's sample shape is tracked; errors name the source position.

    Tensors are named by the node that produces them (``"input"`` is the network input). :meth:`network`
    keeps the nodes the output depends on and returns a :class:`~lrpref.Sequential` when they form a
    chain, otherwise a :class:`~lrpref.Graph` whose node names are the source's.
    """

    def __init__(self, in_shape, source: str):
        self.source = source
        try:
            shape = tuple(int(d) for d in in_shape)
        except (TypeError, ValueError):
            raise ModelImportError(f"{source}: input_shape must be a tuple of ints (one sample, no batch axis), "
                                   f"got {in_shape!r}") from None
        if not shape or min(shape) < 1:
            raise ModelImportError(f"{source}: input_shape must be a non-empty tuple of positive ints "
                                   f"(one sample, no batch axis), got {shape}")
        self.in_shape = shape
        self.shapes = {INPUT: shape}  # tensor name -> sample shape
        self.nodes: dict[str, tuple] = {}  # name -> (layer, input names, source position), in insertion order

    def shape(self, tensor: str) -> tuple:
        return self.shapes[tensor]

    def add(self, make_layer, where: str, inputs, name: str) -> str:
        """Add the node ``make_layer()`` reading the tensors ``inputs``; returns its (unique) name.

        Construction and shape errors name ``where``; a name already taken gets a numeric suffix.
        """
        inputs = tuple(inputs)
        try:
            layer = make_layer()
            shape = tuple(layer.output_shape(*(self.shapes[t] for t in inputs)))
        except ModelImportError:
            raise
        except (ValueError, TypeError) as error:  # lrpref's layer checks: shapes, finiteness, dtypes, arity
            raise ModelImportError(f"{where}: {error}") from None
        unique, suffix = name, 1
        while unique in self.shapes:
            unique, suffix = f"{name}_{suffix}", suffix + 1
        self.nodes[unique] = (layer, inputs, where)
        self.shapes[unique] = shape
        return unique

    def layer(self, tensor: str) -> Layer | None:
        """The layer that produces ``tensor`` (None for the input)."""
        return self.nodes[tensor][0] if tensor in self.nodes else None

    def replace(self, tensor: str, make_layer, where: str) -> None:
        """Rebuild the layer that produces ``tensor`` with the same inputs and output shape (e.g. to attach a bias
        that follows it as a separate operation)."""
        _, inputs, _ = self.nodes[tensor]
        try:
            layer = make_layer()
            shape = tuple(layer.output_shape(*(self.shapes[t] for t in inputs)))
        except (ValueError, TypeError) as error:
            raise ModelImportError(f"{where}: {error}") from None
        if shape != self.shapes[tensor]:
            raise ModelImportError(f"{where}: changes the shape of {tensor!r} from {self.shapes[tensor]} to {shape}")
        self.nodes[tensor] = (layer, inputs, where)

    def flat_size(self, tensor: str) -> int:
        return math.prod(self.shapes[tensor])

    def network(self, output: str) -> Graph:
        """The network computing ``output``: a Sequential when its nodes form a chain, a Graph otherwise."""
        if output == INPUT or not self.nodes:
            raise ModelImportError(f"{self.source}: the model has no layers (its output is its input)")
        needed, stack = set(), [output]
        while stack:
            tensor = stack.pop()
            if tensor != INPUT and tensor not in needed:
                needed.add(tensor)
                stack.extend(self.nodes[tensor][1])
        kept = [(name, *self.nodes[name]) for name in self.nodes if name in needed]
        dtypes = {layer.dtype for _, layer, _, _ in kept if layer.dtype is not None}
        if len(dtypes) > 1:
            listing = ", ".join(f"{where}: {layer.dtype}" for _, layer, _, where in kept if layer.dtype is not None)
            raise ModelImportError(f"{self.source}: parameters of mixed dtypes ({listing}); pass dtype= to convert")
        previous = [INPUT] + [name for name, *_ in kept[:-1]]
        if all(inputs == (before,) for (_, _, inputs, _), before in zip(kept, previous)):
            return Sequential([layer for _, layer, _, _ in kept])
        try:
            return Graph.from_nodes([(name, layer, inputs) for name, layer, inputs, _ in kept])
        except (ValueError, TypeError) as error:
            raise ModelImportError(f"{self.source}: {error}") from None
