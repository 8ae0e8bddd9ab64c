"""``from_onnx``: an ONNX graph as an lrpref network — a :class:`~lrpref.Sequential` when it is a chain, a
:class:`~lrpref.Graph` (node names from the ONNX nodes) when it branches and merges.

The file is parsed with the ``onnx`` package's protobuf classes (no external data is ever
read, nothing is executed) and validated here, node by node, in the file's (topological) order:
a node reads values computed before it and constants (initializers, ``Constant`` nodes, an
``Identity`` of a constant). Supported operators (default domain, any opset):

* ``Add`` and ``Sum`` of tensors of the same shape (:class:`~lrpref.Add`), ``Concat`` along a
  non-batch axis (:class:`~lrpref.Concat`);
* ``Gemm`` (``transB``, ``alpha``, ``beta``; ``transA=0``), ``MatMul`` with a constant right
  operand, and ``Add`` of a constant to the output of a ``MatMul``/``Gemm``/``Conv`` read by
  nothing else (its bias);
* ``Conv`` (2-D; ``pads`` symmetric, ``auto_pad``, ``strides``, ``dilations``, ``group``);
* ``MaxPool`` (``dilations``, ``storage_order``, ``ceil_mode`` where it changes nothing),
  ``AveragePool`` (``count_include_pad``), ``GlobalAveragePool``;
* ``Flatten`` (``axis=1``), ``Reshape`` to ``(N, -1)`` with a constant shape;
* ``BatchNormalization`` (inference), ``Relu``, ``LeakyRelu``, ``Tanh``, ``Sigmoid``,
  ``Identity``, ``Dropout`` (inference; ``ratio`` as attribute or input);
* a trailing ``Softmax`` over the classes, which is dropped: the network returns the logits.

Everything else — another operator, an asymmetric padding, a malformed file — is a
:class:`~lrpref.io.ModelImportError` naming the node, its operator and its position.
"""

from __future__ import annotations

import math
import os
from collections import Counter

import numpy as np

from .. import layers as L
from ._chain import INPUT, GraphBuilder, ModelImportError, as_float, check_ceil_mode, require, target_dtype

__all__ = ["from_onnx"]

# Attributes each operator may carry (anything else is refused rather than ignored);
# "consumed_inputs" is a legacy (opset 1-5) annotation without effect on values.
_ATTRIBUTES = {
    "Gemm": {"alpha", "beta", "transA", "transB", "broadcast"},
    "MatMul": set(),
    "Add": {"broadcast"},
    "Sum": set(),
    "Concat": {"axis"},
    "Conv": {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
    "MaxPool": {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"},
    "AveragePool": {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"},
    "GlobalAveragePool": set(),
    "Flatten": {"axis"},
    "Reshape": {"shape", "allowzero"},
    "BatchNormalization": {"epsilon", "momentum", "spatial", "training_mode", "is_test"},
    "Relu": set(), "Tanh": set(), "Sigmoid": set(), "Identity": set(),
    "LeakyRelu": {"alpha"},
    "Dropout": {"ratio", "is_test", "seed"},
    "Softmax": {"axis"},
    "Constant": {"value", "value_float", "value_floats", "value_int", "value_ints"},
}
_ELEMENT_WISE = {"Relu": L.ReLU, "Tanh": L.Tanh, "Sigmoid": L.Sigmoid, "Identity": L.Identity}
_MAX_ELEMENTS = 2**31  # larger tensors in a file are refused before numpy allocates them


def from_onnx(path_or_model, *, input_shape=None, dtype=None):
    """Import an ONNX model made of supported operators.

    Parameters
    ----------
    path_or_model : a path to a ``.onnx`` file, its bytes, or an ``onnx.ModelProto``.
    input_shape : the shape of one input sample, without the batch axis; by default read from
        the graph input (required when the graph leaves a sample dimension symbolic).
    dtype : None keeps the initializers' dtype (float32 or float64); float32 / float64 converts.

    Returns
    -------
    lrpref.Sequential (a chain) or lrpref.Graph computing the graph's output (before a final Softmax, if any).

    Raises
    ------
    ModelImportError : a malformed file, an unsupported operator or attribute (the message names
        the node, its operator and its index).
    OSError : the file cannot be read.
    ImportError : the ``onnx`` package is not installed (``pip install 'lrpref[onnx]'``).
    """
    onnx = require("onnx", "onnx", "lrpref.io.from_onnx")
    model = _load(onnx, path_or_model)
    return _OnnxGraph(onnx, model, input_shape, target_dtype(dtype)).convert()


def _load(onnx, path_or_model):
    """A ModelProto from a path, bytes or a ModelProto (external data is never loaded)."""
    if isinstance(path_or_model, onnx.ModelProto):
        model, source = path_or_model, "from_onnx(ModelProto)"
    else:
        if isinstance(path_or_model, (bytes, bytearray, memoryview)):
            data, source = bytes(path_or_model), "from_onnx(bytes)"
        elif isinstance(path_or_model, (str, os.PathLike)):
            with open(path_or_model, "rb") as file:
                data, source = file.read(), os.fspath(path_or_model)
        else:
            raise TypeError(f"from_onnx expects a path, bytes or an onnx.ModelProto, got {type(path_or_model).__name__}")
        from google.protobuf.message import DecodeError

        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise ModelImportError(f"{source}: not a valid ONNX model file ({error})") from None
    if not model.HasField("graph"):
        raise ModelImportError(f"{source}: not an ONNX model (it has no graph)")
    return model


class _OnnxGraph:
    """Walks the nodes of an ONNX graph in order, converting each node to an lrpref node."""

    def __init__(self, onnx, model, input_shape, dtype):
        self.onnx = onnx
        self.graph = model.graph
        self.dtype = dtype
        self.opset = self.default_opset(model)
        self.where = "ONNX graph"
        self.constants = {}
        if len(self.graph.sparse_initializer):
            raise ModelImportError("ONNX graph: sparse initializers are not supported")
        for tensor in self.graph.initializer:
            self.constants[tensor.name] = self.tensor_array(tensor, f"ONNX initializer {tensor.name!r}")
        inputs = [value for value in self.graph.input if value.name not in self.constants]
        if len(inputs) != 1:
            raise ModelImportError(f"ONNX graph: {len(inputs)} inputs ({', '.join(repr(v.name) for v in inputs)}); "
                                   f"lrpref networks take exactly one")
        if len(self.graph.output) != 1:
            raise ModelImportError(f"ONNX graph: {len(self.graph.output)} outputs; lrpref networks have exactly one")
        self.input = inputs[0]
        self.batch = None  # the graph input's static batch size, if it has one
        self.builder = GraphBuilder(self.sample_shape(input_shape), "from_onnx")
        self.values = {self.input.name: INPUT}  # ONNX value name -> the lrpref tensor holding it

    @staticmethod
    def default_opset(model) -> int:
        versions = {entry.domain: entry.version for entry in model.opset_import}
        version = versions.get("", versions.get("ai.onnx"))
        if version is None or version < 1:
            raise ModelImportError("ONNX model: no opset version for the default domain")
        return int(version)

    def sample_shape(self, input_shape):
        value_type = self.input.type
        known = value_type.HasField("tensor_type") and value_type.tensor_type.HasField("shape")
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in value_type.tensor_type.shape.dim] if known else None
        if dims:
            self.batch = dims[0]
        if input_shape is not None:
            if dims is not None and len(dims) != len(tuple(input_shape)) + 1:
                raise ModelImportError(f"ONNX graph input {self.input.name!r} has rank {len(dims)}, but input_shape "
                                       f"{tuple(input_shape)} (without the batch axis) implies rank {len(tuple(input_shape)) + 1}")
            return input_shape
        if not dims or any(d is None for d in dims[1:]):
            shown = "unknown" if dims is None else "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
            raise ModelImportError(f"ONNX graph input {self.input.name!r} has shape {shown}; pass input_shape= "
                                   f"(one sample, without the batch axis)")
        return tuple(dims[1:])

    # ------------------------------------------------------------------ values

    def tensor_array(self, tensor, where) -> np.ndarray:
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise ModelImportError(f"{where}: stored as external data, which from_onnx does not read")
        if any(d < 0 for d in tensor.dims) or math.prod(tensor.dims) > _MAX_ELEMENTS:
            raise ModelImportError(f"{where}: invalid dimensions {list(tensor.dims)}")
        try:
            return np.array(self.onnx.numpy_helper.to_array(tensor))
        except Exception as error:  # a malformed tensor can fail anywhere in onnx's decoder
            raise ModelImportError(f"{where}: cannot decode the tensor: {type(error).__name__}: {error}") from None

    def constant(self, name, what):
        if name not in self.constants:
            raise ModelImportError(f"{self.where}: {what} {name!r} must be a constant (an initializer or a Constant node)")
        value = self.constants[name]
        if value.dtype.kind not in "fiub":
            raise ModelImportError(f"{self.where}: {what} {name!r} is a constant of dtype {value.dtype}, not numbers")
        return value

    def parameter(self, name, what):
        return as_float(self.constant(name, what), self.dtype, f"{self.where} {what}")

    def optional_input(self, node, position):
        return node.input[position] if len(node.input) > position and node.input[position] else None

    def attributes(self, node):
        allowed = _ATTRIBUTES[node.op_type]
        values = {}
        for attribute in node.attribute:
            if attribute.name not in allowed and attribute.name != "consumed_inputs":
                raise ModelImportError(f"{self.where}: unsupported attribute {attribute.name!r}")
            values[attribute.name] = attribute
        return values

    def attribute(self, attrs, name, kind, default=None):
        """The value of attribute ``name`` of ``kind`` "int", "ints", "float", "string" or "tensor"."""
        if name not in attrs:
            return default
        A = self.onnx.AttributeProto
        expected, read = {"int": (A.INT, lambda a: int(a.i)), "ints": (A.INTS, lambda a: [int(v) for v in a.ints]),
                          "float": (A.FLOAT, lambda a: float(a.f)), "floats": (A.FLOATS, lambda a: [float(v) for v in a.floats]),
                          "string": (A.STRING, lambda a: a.s.decode("utf-8", "replace")),
                          "tensor": (A.TENSOR, lambda a: self.tensor_array(a.t, f"{self.where} attribute {name!r}"))}[kind]
        attribute = attrs[name]
        if attribute.type != expected:
            raise ModelImportError(f"{self.where}: attribute {name!r} should be of type {kind}")
        return read(attribute)

    def pair(self, attrs, name, default):
        values = self.attribute(attrs, name, "ints", default)
        if len(values) != 2:
            raise ModelImportError(f"{self.where}: {name}={values}; only 2-D (N, C, H, W) operations are supported")
        return tuple(values)

    # ------------------------------------------------------------------ graph walk

    def convert(self):
        self.uses = Counter(name for node in self.graph.node for name in node.input if name)
        self.uses.update(value.name for value in self.graph.output)
        self.output = self.graph.output[0].name
        for index, node in enumerate(self.graph.node):
            self.where = f"ONNX node {index} {node.name or (node.output[0] if node.output else '')!r} ({node.op_type})"
            if node.domain not in ("", "ai.onnx"):
                raise ModelImportError(f"{self.where}: operator of domain {node.domain!r} is not supported")
            if node.op_type not in _ATTRIBUTES:
                raise ModelImportError(f"{self.where}: unsupported operator {node.op_type!r}; supported: "
                                       f"{', '.join(sorted(_ATTRIBUTES))}")
            if len(node.output) < 1 or not node.output[0]:
                raise ModelImportError(f"{self.where}: has no output")
            attrs = self.attributes(node)
            if node.op_type == "Constant":
                self.constants[node.output[0]] = self.constant_value(attrs)
                continue
            if node.op_type == "Identity" and len(node.input) == 1 and node.input[0] in self.constants:
                self.constants[node.output[0]] = self.constants[node.input[0]]  # exporters copy parameters this way
                continue
            self.node = node
            self.check_inputs(node)
            self.values[node.output[0]] = getattr(self, "convert_" + node.op_type)(node, attrs)
        if self.output not in self.values:
            raise ModelImportError(f"ONNX graph: the output {self.output!r} is not computed by any node")
        if self.values[self.output] == INPUT:
            raise ModelImportError(f"ONNX graph: the output {self.output!r} is the graph input; no node computes it")
        return self.builder.network(self.values[self.output])

    def check_inputs(self, node):
        for name in node.input:
            if name and name not in self.constants and name not in self.values:
                raise ModelImportError(f"{self.where}: reads {name!r}, which is not the graph input, a constant or the "
                                       f"output of an earlier node")
        unused = [name for name in node.output[1:] if name and self.uses[name]]
        if unused:
            raise ModelImportError(f"{self.where}: its extra outputs {unused} are used; only the first output can be imported")

    def data_inputs(self, node):
        return [name for name in node.input if name and name not in self.constants]

    def single_input(self) -> str:
        """The lrpref tensor an operator of one data input reads (its first input; the others are constants)."""
        data = self.data_inputs(self.node)
        if not self.node.input or data != [self.node.input[0]]:
            raise ModelImportError(f"{self.where}: reads the values {data}; this operator reads one tensor (its first "
                                   f"input) and constants")
        return self.values[data[0]]

    @property
    def in_shape(self) -> tuple:
        return self.builder.shape(self.single_input())

    def constant_value(self, attrs):
        if len(attrs) != 1:
            raise ModelImportError(f"{self.where}: a Constant needs exactly one value attribute, got {sorted(attrs)}")
        (name, attribute), = attrs.items()
        kind = {"value": "tensor", "value_float": "float", "value_floats": "floats", "value_int": "int",
                "value_ints": "ints"}.get(name)
        if kind is None:
            raise ModelImportError(f"{self.where}: unsupported Constant attribute {name!r}")
        return np.asarray(self.attribute(attrs, name, kind))

    # ------------------------------------------------------------------ operators

    def add(self, make, inputs=None) -> str:
        """Add the node ``make()`` reading the lrpref tensors ``inputs`` (default: the node's one data input)."""
        inputs = [self.single_input()] if inputs is None else inputs
        return self.builder.add(make, self.where, inputs, self.node.name or self.node.output[0])

    def convert_Gemm(self, node, attrs):
        if self.attribute(attrs, "transA", "int", 0):
            raise ModelImportError(f"{self.where}: transA=1 transposes the batch; only transA=0 is supported")
        if len(node.input) < 2:
            raise ModelImportError(f"{self.where}: Gemm needs inputs A and B")
        B = self.parameter(node.input[1], "B")
        if B.ndim != 2:
            raise ModelImportError(f"{self.where}: B must be a matrix, got shape {B.shape}")
        W = B if self.attribute(attrs, "transB", "int", 0) else B.T
        alpha = self.attribute(attrs, "alpha", "float", 1.0)
        if alpha != 1.0:
            W = W * W.dtype.type(alpha)
        bias = None
        if self.optional_input(node, 2):
            beta = self.attribute(attrs, "beta", "float", 1.0)
            bias = self.row_bias(self.parameter(node.input[2], "C"), W.shape[0]) * W.dtype.type(beta)
        return self.add(lambda: L.Dense(W, bias))

    def row_bias(self, c, out):
        """A constant broadcast along the batch as one value per output (shapes (), (1,), (out,), (1, 1), (1, out))."""
        if c.shape not in ((), (1,), (out,), (1, 1), (1, out)):
            raise ModelImportError(f"{self.where}: a constant of shape {c.shape} is not a bias of {out} outputs")
        return np.broadcast_to(c.reshape(-1), (out,)).copy()

    def convert_MatMul(self, node, attrs):
        if len(node.input) != 2 or node.input[1] not in self.constants:
            raise ModelImportError(f"{self.where}: only data @ constant-matrix is supported")
        B = self.parameter(node.input[1], "B")
        if B.ndim != 2:
            raise ModelImportError(f"{self.where}: the constant operand must be a matrix, got shape {B.shape}")
        return self.add(lambda: L.Dense(B.T))

    def convert_Add(self, node, attrs):
        data = self.data_inputs(node)
        if len(node.input) != 2 or not data:
            raise ModelImportError(f"{self.where}: Add needs two inputs, at least one of them computed")
        if len(data) == 2:
            return self.add(L.Add, [self.values[name] for name in data])
        constant = next(name for name in node.input if name in self.constants)
        return self.add_bias(data[0], self.parameter(constant, "addend"))

    def add_bias(self, value, c):
        """The sum of ``value`` and a constant, folded into the bias of the MatMul, Gemm or Conv computing ``value``."""
        tensor = self.values[value]
        last = self.builder.layer(tensor)
        if not isinstance(last, (L.Dense, L.Conv2d)) or self.uses[value] != 1:
            raise ModelImportError(f"{self.where}: Add of a constant is supported only as the bias of a MatMul, Gemm "
                                   f"or Conv whose output nothing else reads")
        if isinstance(last, L.Dense):
            bias = self.row_bias(c, last.out_features)
        else:
            if c.shape not in ((), (1,), (last.out_channels, 1, 1), (1, last.out_channels, 1, 1)):
                raise ModelImportError(f"{self.where}: a constant of shape {c.shape} is not a bias of "
                                       f"{last.out_channels} channels")
            bias = np.broadcast_to(c.reshape(-1), (last.out_channels,)).copy()
        if last.bias is not None:
            bias = bias + last.bias
        if isinstance(last, L.Dense):
            self.builder.replace(tensor, lambda: L.Dense(last.W, bias), self.where)
        else:
            self.builder.replace(tensor, lambda: L.Conv2d(last.W, bias, last.stride, last.padding, last.dilation,
                                                          last.groups), self.where)
        return tensor

    def merged_inputs(self, node):
        """The lrpref tensors of a Sum's or Concat's inputs, all computed (no constants)."""
        if len(node.input) < 1 or any(not name or name in self.constants for name in node.input):
            raise ModelImportError(f"{self.where}: {node.op_type} of constants or empty inputs is not supported; "
                                   f"its inputs must be computed tensors")
        return [self.values[name] for name in node.input]

    def convert_Sum(self, node, attrs):
        inputs = self.merged_inputs(node)
        return inputs[0] if len(inputs) == 1 else self.add(L.Add, inputs)

    def convert_Concat(self, node, attrs):
        inputs = self.merged_inputs(node)
        shape = self.builder.shape(inputs[0])
        rank = len(shape) + 1
        axis = self.attribute(attrs, "axis", "int")
        if axis is None or not -rank <= axis < rank or axis % rank == 0:
            raise ModelImportError(f"{self.where}: Concat along axis={axis} of (N, {', '.join(map(str, shape))}); only "
                                   f"a non-batch axis (1 .. {rank - 1}) is supported")
        return inputs[0] if len(inputs) == 1 else self.add(lambda: L.Concat(axis % rank), inputs)

    def window(self, attrs, kernel, default_dilation=(1, 1)):
        """``(stride, padding, dilation, auto_pad)`` with ONNX's ``auto_pad`` resolved to a symmetric padding."""
        stride = self.pair(attrs, "strides", [1, 1])
        dilation = self.pair(attrs, "dilations", list(default_dilation))
        if min(stride) < 1 or min(dilation) < 1 or min(kernel) < 1:
            raise ModelImportError(f"{self.where}: kernel {kernel}, strides {stride} and dilations {dilation} must be >= 1")
        auto_pad = self.attribute(attrs, "auto_pad", "string", "NOTSET")
        shape = self.in_shape
        if len(shape) != 3:
            raise ModelImportError(f"{self.where}: expects inputs (N, C, H, W); got a sample shape {shape}")
        if auto_pad == "NOTSET":
            pads = self.attribute(attrs, "pads", "ints", [0, 0, 0, 0])
            if len(pads) != 4:
                raise ModelImportError(f"{self.where}: pads={pads}; only 2-D operations are supported")
            if pads[:2] != pads[2:]:
                raise ModelImportError(f"{self.where}: asymmetric pads {pads} (begin {pads[:2]}, end {pads[2:]}); "
                                       f"lrpref pads symmetrically")
            return stride, tuple(pads[:2]), dilation, auto_pad
        if auto_pad == "VALID":
            return stride, (0, 0), dilation, auto_pad
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            padding = []
            for size, k, s, d in zip(shape[1:], kernel, stride, dilation):
                total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
                if total % 2:
                    raise ModelImportError(f"{self.where}: auto_pad={auto_pad} pads {total} in total along an axis of "
                                           f"{size}, which is asymmetric; lrpref pads symmetrically")
                padding.append(total // 2)
            return stride, tuple(padding), dilation, auto_pad
        raise ModelImportError(f"{self.where}: unknown auto_pad {auto_pad!r}")

    def convert_Conv(self, node, attrs):
        if len(node.input) < 2:
            raise ModelImportError(f"{self.where}: Conv needs inputs X and W")
        W = self.parameter(node.input[1], "W")
        if W.ndim != 4:
            raise ModelImportError(f"{self.where}: weights of shape {W.shape}; only 2-D convolutions are supported")
        kernel = W.shape[2:]
        if self.pair(attrs, "kernel_shape", list(kernel)) != kernel:
            raise ModelImportError(f"{self.where}: kernel_shape {attrs['kernel_shape'].ints} differs from the weights' {kernel}")
        stride, padding, dilation, _ = self.window(attrs, kernel)
        bias = self.parameter(node.input[2], "B") if self.optional_input(node, 2) else None
        groups = self.attribute(attrs, "group", "int", 1)
        return self.add(lambda: L.Conv2d(W, bias, stride, padding, dilation, groups))

    def pool_window(self, attrs):
        if "kernel_shape" not in attrs:
            raise ModelImportError(f"{self.where}: kernel_shape is required")
        kernel = self.pair(attrs, "kernel_shape", None)
        stride, padding, dilation, auto_pad = self.window(attrs, kernel)
        if self.attribute(attrs, "ceil_mode", "int", 0) and auto_pad == "NOTSET":  # VALID/SAME: ceil mode changes nothing
            check_ceil_mode(self.in_shape, kernel, stride, padding, dilation, self.where)
        return kernel, stride, padding, dilation

    def convert_MaxPool(self, node, attrs):
        kernel, stride, padding, dilation = self.pool_window(attrs)
        return self.add(lambda: L.MaxPool2d(kernel, stride, padding, dilation))

    def convert_AveragePool(self, node, attrs):
        kernel, stride, padding, dilation = self.pool_window(attrs)
        if dilation != (1, 1):
            raise ModelImportError(f"{self.where}: dilations {dilation}; lrpref's AvgPool2d has no dilation")
        count_include_pad = bool(self.attribute(attrs, "count_include_pad", "int", 0))
        return self.add(lambda: L.AvgPool2d(kernel, stride, padding, count_include_pad))

    def convert_GlobalAveragePool(self, node, attrs):
        return self.add(lambda: L.AdaptiveAvgPool2d(1))

    def convert_Flatten(self, node, attrs):
        rank = len(self.in_shape) + 1
        axis = self.attribute(attrs, "axis", "int", 1)
        if axis % rank != 1 or not -rank <= axis < rank:
            raise ModelImportError(f"{self.where}: Flatten(axis={axis}) of a rank-{rank} tensor; only axis=1 "
                                   f"(keep the batch axis) is supported")
        return self.add(L.Flatten)

    def convert_Reshape(self, node, attrs):
        size = self.builder.flat_size(self.single_input())
        if self.opset < 5 or "shape" in attrs:
            shape = self.attribute(attrs, "shape", "ints", None)
        else:
            shape = self.constant(node.input[1], "shape") if self.optional_input(node, 1) else None
        if shape is None:
            raise ModelImportError(f"{self.where}: Reshape without a shape")
        shape = [int(v) for v in np.asarray(shape).reshape(-1)]
        keeps_batch = (0 if not self.attribute(attrs, "allowzero", "int", 0) else None, -1, self.batch)
        if len(shape) != 2 or shape[0] not in keeps_batch or shape[1] not in (-1, size) or shape == [-1, -1]:
            raise ModelImportError(f"{self.where}: Reshape of (N, {', '.join(map(str, self.in_shape))}) to {shape}; "
                                   f"only a flatten to (N, {size}) is supported (shape [0, -1] or [-1, {size}])")
        return self.add(L.Flatten)

    def convert_BatchNormalization(self, node, attrs):
        if self.attribute(attrs, "training_mode", "int", 0):
            raise ModelImportError(f"{self.where}: training_mode=1 normalises with batch statistics; export in eval mode")
        if not self.attribute(attrs, "spatial", "int", 1):
            raise ModelImportError(f"{self.where}: spatial=0 (per-position statistics) is not supported")
        if len(node.input) != 5:
            raise ModelImportError(f"{self.where}: BatchNormalization needs inputs X, scale, B, mean, var")
        gamma, beta, mean, var = (self.parameter(name, what) for name, what in
                                  zip(node.input[1:], ("scale", "B", "input_mean", "input_var")))
        eps = self.attribute(attrs, "epsilon", "float", 1e-5)
        return self.add(lambda: L.BatchNorm(mean, var, gamma, beta, eps))

    def convert_Relu(self, node, attrs):
        return self.add(_ELEMENT_WISE[node.op_type])

    convert_Tanh = convert_Sigmoid = convert_Identity = convert_Relu

    def convert_LeakyRelu(self, node, attrs):
        alpha = self.attribute(attrs, "alpha", "float", 0.01)
        return self.add(lambda: L.LeakyReLU(alpha))

    def convert_Dropout(self, node, attrs):
        ratio = self.attribute(attrs, "ratio", "float", 0.5)
        if self.optional_input(node, 1):
            ratio = self.constant(node.input[1], "ratio")
            if ratio.size != 1:
                raise ModelImportError(f"{self.where}: ratio must be a single number, got shape {ratio.shape}")
            ratio = float(ratio.reshape(-1)[0])
        if self.optional_input(node, 2) and np.any(self.constant(node.input[2], "training_mode")):
            raise ModelImportError(f"{self.where}: training_mode is true; dropout is imported at inference only")
        return self.add(lambda: L.Dropout(ratio))

    def convert_Softmax(self, node, attrs):
        axis = self.attribute(attrs, "axis", "int", 1 if self.opset < 13 else -1)
        if node.output[0] != self.output or len(self.in_shape) != 1 or axis not in (1, -1):
            raise ModelImportError(f"{self.where}: only a trailing Softmax over the classes of (N, C) outputs is "
                                   f"supported (it is dropped: the network returns the logits)")
        return self.single_input()
