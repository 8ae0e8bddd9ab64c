"""``from_torch``: a PyTorch model as an lrpref network — a :class:`~lrpref.Sequential` when its forward pass
is a chain, a :class:`~lrpref.Graph` when it branches and merges (ResNet, DenseNet).

The model is traced with ``torch.fx.symbolic_trace`` (so ``nn.Sequential`` at any depth and
hand-written ``forward`` methods such as VGG's ``features → avgpool → flatten → classifier`` or
ResNet's blocks all work) and the graph is walked node by node. Each call of a module or
function becomes one node, named as the fx node: a module called at several places (torchvision's
ResNets reuse one ``ReLU`` per block) gives one node per call. Shape queries (``x.size(0)``,
``x.shape[0]``) are the only values allowed besides tensors, and only to feed a ``view``/``reshape``
that flattens.

Supported: modules ``Linear``, ``Conv2d`` (zero padding, ``'same'`` where symmetric),
``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``Flatten``, ``ReLU``, ``LeakyReLU``,
``Tanh``, ``Sigmoid``, ``BatchNorm1d``/``2d`` (running statistics), ``Dropout``/``1d``/``2d``,
``Identity``; the functions ``+`` / ``operator.add`` / ``torch.add`` of two tensors (:class:`~lrpref.Add`),
``torch.cat``/``torch.concat`` along a non-batch axis (:class:`~lrpref.Concat`), ``torch.flatten``,
``torch.reshape``, ``relu``, ``tanh``, ``sigmoid``, ``leaky_relu``, ``dropout`` (evaluation),
``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, ``torch.mean`` over ``(H, W)`` (global average
pooling, :class:`~lrpref.AdaptiveAvgPool2d` then :class:`~lrpref.Flatten` unless ``keepdim``); the methods
``.flatten``, ``.view``/``.reshape`` as a flatten to ``(N, -1)``, ``.relu``, ``.tanh``, ``.sigmoid``,
``.contiguous``, ``.add``, ``.mean``. In-place
operations (``inplace=True``, ``.relu_()``, ``.add_()``) are followed: later readers of the modified
tensor read the result. ``ceil_mode`` is accepted where it changes nothing for ``input_shape``.
The imported network computes the model's evaluation-mode forward pass (BatchNorm with running
statistics, Dropout as the identity).
"""

from __future__ import annotations

import inspect
import operator

from .. import layers as L
from ._chain import INPUT, GraphBuilder, ModelImportError, as_float, check_ceil_mode, require, target_dtype

__all__ = ["from_torch"]

_BATCH = "N"  # the batch size in a shape query's result
_NO_LAYER = object()  # a builder's result for an operation that computes nothing (``.contiguous()``, a cat of one)


def from_torch(module, input_shape, *, dtype=None):
    """Import a PyTorch module whose forward pass is made of supported operations.

    Parameters
    ----------
    module : torch.nn.Module (evaluation semantics are imported: BatchNorm running statistics,
        Dropout as the identity).
    input_shape : the shape of one input sample, without the batch axis: ``(C, H, W)`` or ``(F,)``.
    dtype : None keeps the parameters' dtype (float32 or float64); float32 / float64 converts.

    Returns
    -------
    lrpref.Sequential computing ``module(x)`` for inputs ``(N, *input_shape)`` when the traced
    graph is a chain, otherwise an lrpref.Graph whose node names are the fx node names.

    Raises
    ------
    ModelImportError : an operation that is not supported (the message names the fx node, its
        target and its position), or a model fx cannot trace.
    ImportError : PyTorch is not installed (``pip install 'lrpref[torch]'``).
    """
    torch = require("torch", "torch", "lrpref.io.from_torch")
    require("torch.fx", "torch", "lrpref.io.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    return _TorchGraph(torch, module, input_shape, target_dtype(dtype)).convert()


class _TorchGraph:
    """Walks an fx graph in execution order, converting each node to an lrpref node."""

    def __init__(self, torch, module, input_shape, dtype):
        self.torch = torch
        self.dtype = dtype
        self.graph = GraphBuilder(input_shape, "from_torch")
        self.tensors = {}  # fx node -> the lrpref tensor (node name) holding its value
        nn, F = torch.nn, torch.nn.functional
        element_wise = {nn.ReLU: L.ReLU, nn.Tanh: L.Tanh, nn.Sigmoid: L.Sigmoid, nn.Identity: L.Identity}
        self.module_builders = {kind: (lambda m, make=make: self.add(make)) for kind, make in element_wise.items()}
        self.module_builders.update({
            nn.Linear: lambda m: self.linear(m.weight, m.bias),
            nn.Conv2d: self.conv,
            nn.MaxPool2d: lambda m: self.max_pool(None, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                                                  m.return_indices),
            nn.AvgPool2d: lambda m: self.avg_pool(None, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                                  m.count_include_pad, m.divisor_override),
            nn.AdaptiveAvgPool2d: lambda m: self.adaptive_avg_pool(None, m.output_size),
            nn.Flatten: lambda m: self.flatten(None, m.start_dim, m.end_dim),
            nn.LeakyReLU: lambda m: self.leaky_relu(None, m.negative_slope),
            nn.BatchNorm1d: self.batch_norm,
            nn.BatchNorm2d: self.batch_norm,
            nn.Dropout: lambda m: self.dropout(None, m.p, False),
            nn.Dropout1d: lambda m: self.dropout(None, m.p, False),
            nn.Dropout2d: lambda m: self.dropout(None, m.p, False),
        })
        self.function_builders = {
            operator.add: ("+", self.sum),
            torch.add: ("torch.add", self.sum),
            torch.cat: ("torch.cat", self.cat),
            torch.concat: ("torch.concat", self.cat),
            torch.flatten: ("torch.flatten", self.flatten),
            torch.reshape: ("torch.reshape", lambda input, shape: self.reshape(shape)),
            torch.relu: ("torch.relu", lambda input: self.add(L.ReLU)),
            F.relu: ("F.relu", lambda input, inplace=False: self.add(L.ReLU)),
            torch.tanh: ("torch.tanh", lambda input: self.add(L.Tanh)),
            F.tanh: ("F.tanh", lambda input: self.add(L.Tanh)),
            torch.sigmoid: ("torch.sigmoid", lambda input: self.add(L.Sigmoid)),
            F.sigmoid: ("F.sigmoid", lambda input: self.add(L.Sigmoid)),
            F.leaky_relu: ("F.leaky_relu", self.leaky_relu),
            F.dropout: ("F.dropout", self.dropout),
            F.max_pool2d: ("F.max_pool2d", self.max_pool),
            F.avg_pool2d: ("F.avg_pool2d", self.avg_pool),
            F.adaptive_avg_pool2d: ("F.adaptive_avg_pool2d", self.adaptive_avg_pool),
            torch.mean: ("torch.mean", self.mean),
        }
        self.method_builders = {
            "flatten": self.flatten,
            "view": lambda input, *shape: self.reshape(shape),
            "reshape": lambda input, *shape: self.reshape(shape),
            "relu": lambda input: self.add(L.ReLU),
            "relu_": lambda input: self.add(L.ReLU),
            "tanh": lambda input: self.add(L.Tanh),
            "sigmoid": lambda input: self.add(L.Sigmoid),
            "contiguous": lambda input, *args, **kwargs: _NO_LAYER,
            "add": self.sum,
            "add_": self.sum,
            "mean": self.mean,
        }
        if type(module) in self.module_builders:  # a single supported layer: trace it as a chain of one
            module = nn.Sequential(module)
        try:
            self.traced = torch.fx.symbolic_trace(module)
        except Exception as error:  # tracing runs the model's own Python code, which may raise anything
            raise ModelImportError(f"torch.fx cannot trace {type(module).__name__}: {type(error).__name__}: {error}") from error
        self.modules = dict(self.traced.named_modules())

    # ------------------------------------------------------------------ graph walk

    def convert(self):
        for index, node in enumerate(self.traced.graph.nodes):
            self.where = self.describe(index, node)
            if node.op == "placeholder":
                if self.tensors:
                    raise ModelImportError(f"{self.where}: a second input; lrpref networks take one input tensor")
                self.tensors[node] = INPUT
            elif node.op == "output":
                result = node.args[0]
                if not isinstance(result, self.torch.fx.Node) or result not in self.tensors:
                    raise ModelImportError(f"{self.where}: the model returns {result!r}; lrpref networks return "
                                           f"one tensor")
                return self.graph.network(self.tensors[result])
            elif self.is_shape_query(node):
                continue
            elif node.op == "get_attr":
                raise ModelImportError(f"{self.where}: the forward pass uses the parameter or buffer "
                                       f"{node.target!r} directly; only the supported modules and functions can be imported")
            else:
                self.convert_node(node)
        raise ModelImportError("from_torch: the traced graph has no output")

    def describe(self, index, node) -> str:
        if node.op == "call_module":
            what = f"module {node.target!r}: {type(self.modules[node.target]).__name__}"
        elif node.op == "call_function":
            name = self.function_builders[node.target][0] if node.target in self.function_builders else None
            what = f"function {name or getattr(node.target, '__name__', repr(node.target))}"
        elif node.op == "call_method":
            what = f"method .{node.target}()"
        else:
            what = node.op
        return f"fx node {index} {node.name!r} ({what})"

    def is_shape_query(self, node) -> bool:
        """``x.size()``, ``x.size(d)``, ``x.shape`` or an item of one of them."""
        if node.op == "call_method" and node.target == "size":
            return True
        if node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",):
            return True
        return node.op == "call_function" and node.target is operator.getitem and self.is_shape_query(node.args[0])

    def convert_node(self, node):
        self.node = node
        if node.op == "call_module":
            module = self.modules[node.target]
            builder = self.module_builders.get(type(module))
            if builder is None:
                supported = ", ".join(sorted({kind.__name__ for kind in self.module_builders}))
                raise ModelImportError(f"{self.where}: unsupported module {type(module).__module__}.{type(module).__name__}; "
                                       f"supported: {supported}")
            if len(node.args) != 1 or node.kwargs:
                raise ModelImportError(f"{self.where}: called with extra arguments")
            result = builder(module)
        else:
            if node.op == "call_function":
                if node.target not in self.function_builders:
                    raise ModelImportError(f"{self.where}: unsupported function {getattr(node.target, '__module__', '')}."
                                           f"{getattr(node.target, '__name__', node.target)}")
                builder = self.function_builders[node.target][1]
            elif node.op == "call_method":
                if node.target not in self.method_builders:
                    raise ModelImportError(f"{self.where}: unsupported tensor method .{node.target}()")
                builder = self.method_builders[node.target]
            else:
                raise ModelImportError(f"{self.where}: unsupported node kind {node.op!r}")
            try:
                result = builder(*node.args, **node.kwargs)
            except TypeError as error:
                raise ModelImportError(f"{self.where}: unexpected arguments {node.args[1:]} {node.kwargs}: {error}") from None
        self.tensors[node] = self.tensors[self.single_input()] if result is _NO_LAYER else result
        if self.is_in_place(node):
            self.follow_in_place(node)

    # ------------------------------------------------------------------ inputs and in-place operations

    def data_inputs(self):
        """The fx nodes holding tensors that the current node reads (shape queries excluded)."""
        return [n for n in self.node.all_input_nodes if not self.is_shape_query(n)]

    def single_input(self):
        """The one tensor an operation of one input reads: its first argument."""
        inputs = self.data_inputs()
        first = self.node.args[0] if self.node.args else None
        if len(inputs) != 1 or first is not inputs[0]:
            names = ", ".join(repr(n.name) for n in inputs)
            raise ModelImportError(f"{self.where}: reads the tensors ({names}); this operation is supported on one "
                                   f"input tensor, passed first")
        return first

    def tensor(self, node) -> str:
        if not isinstance(node, self.torch.fx.Node) or node not in self.tensors:
            raise ModelImportError(f"{self.where}: an operand {node!r} that is not a tensor of the model (constants "
                                   f"are not supported)")
        return self.tensors[node]

    @property
    def in_shape(self) -> tuple:
        return self.graph.shape(self.tensor(self.single_input()))

    def is_in_place(self, node) -> bool:
        if node.op == "call_module":
            return bool(getattr(self.modules[node.target], "inplace", False))
        if node.op == "call_method":
            return node.target.endswith("_")
        try:
            return bool(inspect.signature(node.target).bind(*node.args, **node.kwargs).arguments.get("inplace", False))
        except (TypeError, ValueError):  # a builtin without a signature, or arguments it does not take
            return False

    def follow_in_place(self, node):
        """An in-place operation overwrites its first argument: later readers of that value read the result (an
        in-place Dropout changes nothing in evaluation). A view of another value (a flatten, a reshape,
        ``.contiguous()``) shares its memory, so changing it in place is refused."""
        if isinstance(self.graph.layer(self.tensors[node]), L.Identity):
            return
        target = node.args[0]
        if self.is_view(target):
            raise ModelImportError(f"{self.where}: modifies {target.name!r} in place, which is a view of another value "
                                   f"of the model; use the out-of-place operation")
        self.tensors[target] = self.tensors[node]

    def is_view(self, node) -> bool:
        """Whether fx node ``node`` returns a view of its input (the supported flattening operations)."""
        if node.op == "call_method":
            return node.target in ("view", "reshape", "flatten", "contiguous")
        if node.op == "call_module":
            return isinstance(self.modules[node.target], self.torch.nn.Flatten)
        return node.op == "call_function" and node.target in (self.torch.flatten, self.torch.reshape)

    # ------------------------------------------------------------------ conversions

    def add(self, make, inputs=None) -> str:
        """Add the node ``make()`` reading ``inputs`` (fx nodes; default: the operation's one input tensor)."""
        inputs = [self.single_input()] if inputs is None else inputs
        return self.graph.add(make, self.where, [self.tensor(n) for n in inputs], self.node.name)

    def array(self, tensor):
        if tensor.dtype not in (self.torch.float32, self.torch.float64):
            if self.dtype is None:
                raise ModelImportError(f"{self.where}: parameters are {tensor.dtype}; lrpref networks are float32 or "
                                       f"float64, pass dtype=np.float32 or dtype=np.float64 to convert")
            tensor = tensor.to(self.torch.float64)
        return as_float(tensor.detach().cpu().numpy(), self.dtype, self.where)

    def optional_array(self, tensor):
        return None if tensor is None else self.array(tensor)

    def sum(self, input, other, *, alpha=1, out=None):
        """``input + alpha * other`` of two tensors of the same shape, as :class:`~lrpref.Add` (alpha = 1 only)."""
        if alpha != 1 or out is not None:
            raise ModelImportError(f"{self.where}: alpha={alpha!r}, out={out!r}; only the plain sum of two tensors "
                                   f"is supported")
        for operand in (input, other):
            if not isinstance(operand, self.torch.fx.Node):
                raise ModelImportError(f"{self.where}: adds the constant {operand!r}; only the sum of two tensors of "
                                       f"the same shape is supported")
        return self.add(L.Add, [input, other])

    def cat(self, tensors, dim=0, *, out=None):
        """``torch.cat(tensors, dim)`` along a non-batch axis, as :class:`~lrpref.Concat`; a cat of one tensor is that
        tensor."""
        if out is not None or not isinstance(tensors, (list, tuple)) or not tensors:
            raise ModelImportError(f"{self.where}: expects a list of tensors (and no out=)")
        shape = self.graph.shape(self.tensor(tensors[0]))
        rank = len(shape) + 1
        if not isinstance(dim, int) or not -rank <= dim < rank or dim % rank == 0:
            raise ModelImportError(f"{self.where}: cat along dim={dim!r} of (N, {', '.join(map(str, shape))}); "
                                   f"only a non-batch axis (1 .. {rank - 1}) is supported")
        if len(tensors) == 1:
            self.tensor(tensors[0])
            return self.tensors[tensors[0]]
        return self.add(lambda: L.Concat(dim % rank), list(tensors))

    def linear(self, weight, bias):
        W, b = self.array(weight), self.optional_array(bias)
        return self.add(lambda: L.Dense(W, b))

    def conv(self, m):
        if m.padding_mode != "zeros":
            raise ModelImportError(f"{self.where}: padding_mode={m.padding_mode!r}; lrpref's Conv2d pads with zeros")
        padding = m.padding
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            totals = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
            if any(total % 2 for total in totals):
                raise ModelImportError(f"{self.where}: padding='same' with kernel {m.kernel_size} and dilation "
                                       f"{m.dilation} pads asymmetrically; lrpref's Conv2d pads symmetrically")
            padding = tuple(total // 2 for total in totals)
        W, b = self.array(m.weight), self.optional_array(m.bias)
        return self.add(lambda: L.Conv2d(W, b, m.stride, padding, m.dilation, m.groups))

    def max_pool(self, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if return_indices:
            raise ModelImportError(f"{self.where}: return_indices=True is not supported")
        stride = stride or kernel_size  # PyTorch: None or [] means the kernel size
        return self.pool(lambda: L.MaxPool2d(kernel_size, stride, padding, dilation), ceil_mode)

    def avg_pool(self, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        if divisor_override is not None:
            raise ModelImportError(f"{self.where}: divisor_override is not supported")
        stride = stride or kernel_size
        return self.pool(lambda: L.AvgPool2d(kernel_size, stride, padding, count_include_pad), ceil_mode)

    def pool(self, make, ceil_mode):
        in_shape = self.in_shape
        name = self.add(make)
        if ceil_mode:
            layer = self.graph.layer(name)
            check_ceil_mode(in_shape, layer.kernel, layer.stride, layer.padding, layer.dilation, self.where)
        return name

    def adaptive_avg_pool(self, input, output_size):
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        shape = self.in_shape
        if len(shape) != 3 or len(output_size) != 2:
            raise ModelImportError(f"{self.where}: adaptive pooling to {output_size} of a sample shape {shape}")
        size = tuple(shape[1 + axis] if out is None else out for axis, out in enumerate(output_size))
        return self.add(lambda: L.AdaptiveAvgPool2d(size))

    def mean(self, input, dim=None, keepdim=False, *, dtype=None):
        """The spatial mean ``x.mean((2, 3))`` of ``(N, C, H, W)``: global average pooling, flattened unless ``keepdim``."""
        shape = self.in_shape
        dims = (dim,) if isinstance(dim, int) else tuple(dim) if isinstance(dim, (tuple, list)) else None
        if dtype is not None or len(shape) != 3 or dims is None or sorted(d % 4 for d in dims) != [2, 3]:
            raise ModelImportError(f"{self.where}: mean over dim={dim!r} of (N, {', '.join(map(str, shape))}); only the "
                                   f"spatial mean (dim=(2, 3)) of (N, C, H, W) is supported")
        if keepdim:
            return self.add(lambda: L.AdaptiveAvgPool2d(1))
        pooled = self.graph.add(lambda: L.AdaptiveAvgPool2d(1), self.where, [self.tensor(self.single_input())],
                                f"{self.node.name}_pool")
        return self.graph.add(L.Flatten, self.where, [pooled], self.node.name)

    def flatten(self, input, start_dim=0, end_dim=-1):
        shape = self.in_shape
        rank = len(shape) + 1
        if start_dim % rank != 1 or end_dim % rank != rank - 1:
            raise ModelImportError(f"{self.where}: flatten(start_dim={start_dim}, end_dim={end_dim}) of (N, "
                                   f"{', '.join(map(str, shape))}); only flattening every axis after "
                                   f"the batch axis (start_dim=1, end_dim=-1) is supported")
        return self.add(L.Flatten)

    def reshape(self, shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        target = tuple(self.shape_value(value) for value in shape)
        size = self.graph.flat_size(self.tensor(self.single_input()))
        if target not in ((_BATCH, -1), (_BATCH, size), (-1, size)):
            raise ModelImportError(f"{self.where}: reshape of (N, {', '.join(map(str, self.in_shape))}) to "
                                   f"{target}; only a flatten to (N, {size}) is supported")
        return self.add(L.Flatten)

    def shape_value(self, value):
        """An int, or ``_BATCH`` for the batch axis read by a shape query."""
        if isinstance(value, int):
            return value
        if not hasattr(value, "op") or not self.is_shape_query(value):
            raise ModelImportError(f"{self.where}: a reshape to a computed size {value!r}")
        if value.target is operator.getitem:
            sizes, item = self.shape_value(value.args[0]), value.args[1]
            if not isinstance(item, int):
                raise ModelImportError(f"{self.where}: a reshape to a slice of a shape")
            return sizes[item]
        sizes = (_BATCH,) + self.graph.shape(self.tensor(value.args[0]))
        if value.target == "size" and len(value.args) + len(value.kwargs) > 1:
            return sizes[value.args[1] if len(value.args) > 1 else value.kwargs["dim"]]
        return sizes

    def leaky_relu(self, input, negative_slope=0.01, inplace=False):
        return self.add(lambda: L.LeakyReLU(negative_slope))

    def dropout(self, input, p=0.5, training=True, inplace=False):
        if training:
            raise ModelImportError(f"{self.where}: dropout with training=True is random; pass training=self.training "
                                   f"and import the model in eval() mode")
        return self.add(lambda: L.Dropout(p))

    def batch_norm(self, m):
        if m.running_mean is None or m.running_var is None:
            raise ModelImportError(f"{self.where}: track_running_stats=False normalises with batch statistics even "
                                   f"in evaluation; only running statistics can be imported")
        mean, var = self.array(m.running_mean), self.array(m.running_var)
        gamma, beta = (self.array(m.weight), self.array(m.bias)) if m.affine else (None, None)
        return self.add(lambda: L.BatchNorm(mean, var, gamma, beta, m.eps, dtype=mean.dtype))
