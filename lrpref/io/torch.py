"""``from_torch``: a PyTorch model whose forward pass is a chain, as an lrpref :class:`~lrpref.Sequential`.

The model is traced with ``torch.fx.symbolic_trace`` (so ``nn.Sequential`` at any depth and
hand-written ``forward`` methods such as VGG's ``features → avgpool → flatten → classifier``
both work) and the graph is walked node by node. Every node must take the output of the
previous one and nothing else; shape queries (``x.size(0)``, ``x.shape[0]``) are the only
values allowed to branch off, and only to feed a ``view``/``reshape`` that flattens.

Supported: modules ``Linear``, ``Conv2d`` (zero padding, ``'same'`` where symmetric),
``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``Flatten``, ``ReLU``, ``LeakyReLU``,
``Tanh``, ``Sigmoid``, ``BatchNorm1d``/``2d`` (running statistics), ``Dropout``/``1d``/``2d``,
``Identity``; the functions ``torch.flatten``, ``torch.reshape``, ``relu``, ``tanh``,
``sigmoid``, ``leaky_relu``, ``dropout`` (evaluation), ``max_pool2d``, ``avg_pool2d``,
``adaptive_avg_pool2d``; the methods ``.flatten``, ``.view``/``.reshape`` as a flatten to
``(N, -1)``, ``.relu``, ``.tanh``, ``.sigmoid``, ``.contiguous``. ``ceil_mode`` is accepted
where it changes nothing for ``input_shape``. The imported network computes the model's
evaluation-mode forward pass (BatchNorm with running statistics, Dropout as the identity).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import layers as L
from ._chain import ChainBuilder, ModelImportError, as_float, check_ceil_mode, require, target_dtype

__all__ = ["from_torch"]

_BATCH = "N"  # the batch size in a shape query's result


def from_torch(module, input_shape, *, dtype=None):
    """Import a PyTorch module whose forward pass is a chain of supported operations.

    Parameters
    ----------
    module : torch.nn.Module (evaluation semantics are imported: BatchNorm running statistics,
        Dropout as the identity).
    input_shape : the shape of one input sample, without the batch axis: ``(C, H, W)`` or ``(F,)``.
    dtype : None keeps the parameters' dtype (float32 or float64); float32 / float64 converts.

    Returns
    -------
    lrpref.Sequential computing ``module(x)`` for inputs ``(N, *input_shape)``.

    Raises
    ------
    ModelImportError : an operation that is not supported or not part of a chain (the message
        names the fx node, its target and its position), or a model fx cannot trace.
    ImportError : PyTorch is not installed (``pip install 'lrpref[torch]'``).
    """
    torch = require("torch", "torch", "lrpref.io.from_torch")
    require("torch.fx", "torch", "lrpref.io.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    return _TorchChain(torch, module, input_shape, target_dtype(dtype)).convert()


class _TorchChain:
    """Walks an fx graph, checking that it is a chain and converting each node to lrpref layers."""

    def __init__(self, torch, module, input_shape, dtype):
        self.torch = torch
        self.dtype = dtype
        self.chain = ChainBuilder(input_shape, "from_torch")
        self.shapes = {}  # data node -> its sample shape
        nn, F = torch.nn, torch.nn.functional
        element_wise = {nn.ReLU: L.ReLU, nn.Tanh: L.Tanh, nn.Sigmoid: L.Sigmoid, nn.Identity: L.Identity}
        self.module_builders = {kind: (lambda m, make=make: self.add_simple(make)) for kind, make in element_wise.items()}
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
            torch.flatten: ("torch.flatten", self.flatten),
            torch.reshape: ("torch.reshape", lambda input, shape: self.reshape(shape)),
            torch.relu: ("torch.relu", lambda input: self.add_simple(L.ReLU)),
            F.relu: ("F.relu", lambda input, inplace=False: self.add_simple(L.ReLU)),
            torch.tanh: ("torch.tanh", lambda input: self.add_simple(L.Tanh)),
            F.tanh: ("F.tanh", lambda input: self.add_simple(L.Tanh)),
            torch.sigmoid: ("torch.sigmoid", lambda input: self.add_simple(L.Sigmoid)),
            F.sigmoid: ("F.sigmoid", lambda input: self.add_simple(L.Sigmoid)),
            F.leaky_relu: ("F.leaky_relu", self.leaky_relu),
            F.dropout: ("F.dropout", self.dropout),
            F.max_pool2d: ("F.max_pool2d", self.max_pool),
            F.avg_pool2d: ("F.avg_pool2d", self.avg_pool),
            F.adaptive_avg_pool2d: ("F.adaptive_avg_pool2d", self.adaptive_avg_pool),
        }
        self.method_builders = {
            "flatten": self.flatten,
            "view": lambda input, *shape: self.reshape(shape),
            "reshape": lambda input, *shape: self.reshape(shape),
            "relu": lambda input: self.add_simple(L.ReLU),
            "tanh": lambda input: self.add_simple(L.Tanh),
            "sigmoid": lambda input: self.add_simple(L.Sigmoid),
            "contiguous": lambda input, *args, **kwargs: None,
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
        current = None
        for index, node in enumerate(self.traced.graph.nodes):
            self.where = self.describe(index, node)
            if node.op == "placeholder":
                if current is not None:
                    raise ModelImportError(f"{self.where}: a second input; lrpref networks take one input tensor")
                current = node
                self.shapes[node] = self.chain.shape
            elif node.op == "output":
                if node.args[0] is not current:
                    raise ModelImportError(f"{self.where}: the model returns {node.args[0]!r}, not the single tensor "
                                           f"at the end of the chain")
            elif self.is_shape_query(node):
                continue
            elif node.op == "get_attr":
                raise ModelImportError(f"{self.where}: the forward pass uses the parameter or buffer "
                                       f"{node.target!r} directly; only the supported modules and functions can be imported")
            else:
                self.check_chain(node, current)
                self.convert_node(node)
                current = node
                self.shapes[node] = self.chain.shape
        return self.chain.network()

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

    def check_chain(self, node, current):
        users = [user for user in current.users if not self.is_shape_query(user)]
        if users != [node]:
            names = ", ".join(repr(user.name) for user in users)
            raise ModelImportError(f"{self.where}: the value {current.name!r} is used by {len(users)} nodes ({names}); "
                                   f"branching and residual graphs are not chains")
        inputs = [n for n in node.all_input_nodes if not self.is_shape_query(n)]
        if inputs != [current]:
            names = ", ".join(repr(n.name) for n in inputs)
            raise ModelImportError(f"{self.where}: takes the values ({names}); in a chain every operation takes "
                                   f"only the output of the one before ({current.name!r})")

    def convert_node(self, node):
        if node.op == "call_module":
            module = self.modules[node.target]
            builder = self.module_builders.get(type(module))
            if builder is None:
                supported = ", ".join(sorted({kind.__name__ for kind in self.module_builders}))
                raise ModelImportError(f"{self.where}: unsupported module {type(module).__module__}.{type(module).__name__}; "
                                       f"supported: {supported}")
            if len(node.args) != 1 or node.kwargs:
                raise ModelImportError(f"{self.where}: called with extra arguments")
            builder(module)
            return
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
            builder(*node.args, **node.kwargs)
        except TypeError as error:
            raise ModelImportError(f"{self.where}: unexpected arguments {node.args[1:]} {node.kwargs}: {error}") from None

    # ------------------------------------------------------------------ conversions

    def array(self, tensor):
        if tensor.dtype not in (self.torch.float32, self.torch.float64):
            if self.dtype is None:
                raise ModelImportError(f"{self.where}: parameters are {tensor.dtype}; lrpref networks are float32 or "
                                       f"float64, pass dtype=np.float32 or dtype=np.float64 to convert")
            tensor = tensor.to(self.torch.float64)
        return as_float(tensor.detach().cpu().numpy(), self.dtype, self.where)

    def optional_array(self, tensor):
        return None if tensor is None else self.array(tensor)

    def add_simple(self, make):
        self.chain.add(make, self.where)

    def linear(self, weight, bias):
        W, b = self.array(weight), self.optional_array(bias)
        self.chain.add(lambda: L.Dense(W, b), self.where)

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
        self.chain.add(lambda: L.Conv2d(W, b, m.stride, padding, m.dilation, m.groups), self.where)

    def max_pool(self, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if return_indices:
            raise ModelImportError(f"{self.where}: return_indices=True is not supported")
        stride = stride or kernel_size  # PyTorch: None or [] means the kernel size
        layer = self.chain.add(lambda: L.MaxPool2d(kernel_size, stride, padding, dilation), self.where)
        self.check_ceil(layer, ceil_mode)

    def avg_pool(self, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        if divisor_override is not None:
            raise ModelImportError(f"{self.where}: divisor_override is not supported")
        stride = stride or kernel_size
        layer = self.chain.add(lambda: L.AvgPool2d(kernel_size, stride, padding, count_include_pad), self.where)
        self.check_ceil(layer, ceil_mode)

    def check_ceil(self, layer, ceil_mode):
        if ceil_mode:
            check_ceil_mode(self.chain.previous_shape(), layer.kernel, layer.stride, layer.padding, layer.dilation,
                            self.where)

    def adaptive_avg_pool(self, input, output_size):
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        if len(self.chain.shape) != 3 or len(output_size) != 2:
            raise ModelImportError(f"{self.where}: adaptive pooling to {output_size} of a sample shape {self.chain.shape}")
        size = tuple(self.chain.shape[1 + axis] if out is None else out for axis, out in enumerate(output_size))
        self.chain.add(lambda: L.AdaptiveAvgPool2d(size), self.where)

    def flatten(self, input, start_dim=0, end_dim=-1):
        rank = len(self.chain.shape) + 1
        if start_dim % rank != 1 or end_dim % rank != rank - 1:
            raise ModelImportError(f"{self.where}: flatten(start_dim={start_dim}, end_dim={end_dim}) of (N, "
                                   f"{', '.join(map(str, self.chain.shape))}); only flattening every axis after "
                                   f"the batch axis (start_dim=1, end_dim=-1) is supported")
        self.chain.add(L.Flatten, self.where)

    def reshape(self, shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        target = tuple(self.shape_value(value) for value in shape)
        size = self.chain.flat_size()
        if target not in ((_BATCH, -1), (_BATCH, size), (-1, size)):
            raise ModelImportError(f"{self.where}: reshape of (N, {', '.join(map(str, self.chain.shape))}) to "
                                   f"{target}; only a flatten to (N, {size}) is supported")
        self.chain.add(L.Flatten, self.where)

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
        sizes = (_BATCH,) + self.shapes[value.args[0]]
        if value.target == "size" and len(value.args) + len(value.kwargs) > 1:
            return sizes[value.args[1] if len(value.args) > 1 else value.kwargs["dim"]]
        return sizes

    def leaky_relu(self, input, negative_slope=0.01, inplace=False):
        self.chain.add(lambda: L.LeakyReLU(negative_slope), self.where)

    def dropout(self, input, p=0.5, training=True, inplace=False):
        if training:
            raise ModelImportError(f"{self.where}: dropout with training=True is random; pass training=self.training "
                                   f"and import the model in eval() mode")
        self.chain.add(lambda: L.Dropout(p), self.where)

    def batch_norm(self, m):
        if m.running_mean is None or m.running_var is None:
            raise ModelImportError(f"{self.where}: track_running_stats=False normalises with batch statistics even "
                                   f"in evaluation; only running statistics can be imported")
        mean, var = self.array(m.running_mean), self.array(m.running_var)
        gamma, beta = (self.array(m.weight), self.array(m.bias)) if m.affine else (None, None)
        self.chain.add(lambda: L.BatchNorm(mean, var, gamma, beta, m.eps, dtype=mean.dtype), self.where)
