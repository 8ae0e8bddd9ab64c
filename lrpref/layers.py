"""Layers: forward pass, vector-Jacobian product and explicit matrix, NCHW with a batch axis.

Every layer maps a batch ``x`` of shape ``(N, *in_shape)`` to ``(N, *out_shape)`` — or, for
:class:`Add` and :class:`Concat`, several input batches to one. Everything the rest of lrpref
needs to know about a layer is in its class (the *layer protocol*, :class:`Layer`): forward pass,
vector-Jacobian product, the linearisations the multiplier methods use, the affine map LRP rules
act on (per input edge), the pass-through routing, its role in a composite and its default rule,
and its constructor arguments for files (``spec()``). Four families:

* **Affine layers** (:class:`Affine`: :class:`Dense`, :class:`Conv2d`, :class:`AvgPool2d`,
  :class:`AdaptiveAvgPool2d`, :class:`BatchNorm`) compute ``y = W x + b`` for a fixed
  matrix ``W``. They expose ``apply(x, rho)`` and ``apply_transpose(g, rho)`` — the map and
  its transpose with the parameter array modified element-wise by ``rho`` (the ``rho(w)``
  of an LRP rule, math.md §3.0) — and ``matrix(in_shape, rho)``, the same map as
  an explicit matrix (NumPy for Dense, ``scipy.sparse`` CSR otherwise, unrolled as in
  math.md §11). LRP rules are written once against this interface.
* **Element-wise layers** (:class:`ReLU`, :class:`LeakyReLU`, :class:`Tanh`,
  :class:`Sigmoid`, :class:`Identity`, :class:`Dropout`) and :class:`Flatten`.
* :class:`MaxPool2d`.
* **Merging layers** (:class:`Add`, :class:`Concat`): several inputs, one block ``W_e`` per
  input edge (``y = sum_e W_e x_e``).

Every layer has ``forward(x)``, ``vjp(x, g)`` (``g`` times the Jacobian at ``x``),
``jvp(x, v)`` (the Jacobian at ``x`` times ``v``) and ``jacobian(x)``, the explicit local
Jacobian at one sample ``x`` (unbatched).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._fast import blas as _blas
from ._fast import kernels as _kernels
from ._fast.conv import ConvKernels
from ._fast.scratch import BoundedCache
from ._validate import check_finite, float_dtype
from .linearize import CrossMax, Diagonal, Linear, Reshape, Selections, rescale_multiplier

__all__ = [
    "Layer", "Affine", "Dense", "Conv2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm",
    "MaxPool2d", "Flatten", "ElementWise", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
    "Identity", "Dropout", "Add", "Concat", "ShapeError",
]

LAYER_TYPES: dict = {}  # type name -> class, every concrete layer (files, error messages)

class ShapeError(ValueError):
    """An input or parameter has a shape the layer cannot take."""


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (bools and floats refused)."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2 and all(is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def _parameter(array, name: str, owner: str, ndim: int | None = None, dtype=None, like=None) -> np.ndarray:
    """A read-only, finite, float32/float64 copy of a parameter array (integers become float64, exactly).

    ``like``: the layer's main parameter; a float array of another dtype is refused (never cast silently).
    """
    given = np.asarray(array)
    if like is not None and dtype is None and given.dtype.kind == "f" and given.dtype != like.dtype:
        raise TypeError(f"{owner}: {name} is {given.dtype} but the weights are {like.dtype}; never mixed silently: "
                        f"cast one of them, or pass dtype= to convert both")
    array = np.array(given, dtype=dtype if like is None else like.dtype, copy=True)
    if dtype is None and array.dtype.kind in "iub":
        array = array.astype(np.float64)
    float_dtype(array, f"{owner} {name}")
    if ndim is not None and array.ndim != ndim:
        raise ShapeError(f"{owner} {name} must have {ndim} dimensions, got shape {array.shape}")
    check_finite(array, f"{owner} {name}")
    array.setflags(write=False)
    return array


def _number(value, name: str, owner: str) -> float:
    """A finite float setting (``negative_slope``, ``p``, ``eps``), refused with its name otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, (bool, np.bool_)) or not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    return number


def _per_position(values, shape) -> np.ndarray:
    """Per-channel ``values`` repeated over the spatial positions of a sample of ``shape``, flattened."""
    return np.repeat(values, math.prod(shape[1:]))


class Layer:
    """Base class: the layer protocol.

    Subclasses define ``forward``, ``vjp``, ``jacobian`` and ``output_shape`` (single input;
    merging layers take one argument per input), and say how rules and methods see them:

    * ``role``: ``"weight"`` (Dense, Conv2d: a composite's first / middle / last), ``"affine"``
      (takes a composite's ``default`` rule, else :meth:`default_rule`) or ``"fixed"`` (always
      :meth:`default_rule` unless a composite names the layer or its type);
    * ``capabilities``: the rule families that apply — ``"linear"`` (LRP rules on the layer's
      affine map ``y = sum_e W_e x_e + b``, :class:`Affine`), ``"pass"`` (relevance routed
      unchanged, :meth:`pass_relevance`), ``"winners"`` (max-pooling's winner-takes-all);
    * the linearisations of the multiplier methods: :meth:`local_linearization`,
      :meth:`rescale_linearization` (DeepLIFT), :meth:`path_linearization` (LID-IG);
    * :meth:`spec`: the constructor arguments, so that ``type(layer)(**layer.spec())`` rebuilds it.
    """

    dtype = None  # parameter dtype, or None for parameter-free layers
    n_inputs = 1  # None: two or more inputs
    role = "fixed"
    capabilities = frozenset()
    elementwise = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and not cls.__dict__.get("abstract", False):
            LAYER_TYPES[cls.__name__] = cls

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_with_state(self, *inputs):
        """``(y, state)``: the output and what the backward pass can reuse (max-pooling: the winners), or None."""
        return self.forward(*inputs), None

    def vjp(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g @ J(x)`` for every sample: the gradient with respect to the layer input."""
        raise NotImplementedError

    def input_gradients(self, inputs, g) -> list:
        """``g @ J_e`` for every input edge ``e`` (one gradient per input)."""
        return [self.vjp(inputs[0], g)]

    def jvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``J(x) @ v`` for every sample: the directional derivative along ``v`` (input-shaped)."""
        raise NotImplementedError

    def jacobian(self, x: np.ndarray):
        """The local Jacobian ``dy/dx`` at one (unbatched) sample as an explicit matrix."""
        raise NotImplementedError

    def output_shape(self, in_shape: tuple) -> tuple:
        """Shape of one output sample for one input sample of ``in_shape``; raises ShapeError."""
        raise NotImplementedError

    def default_rule(self):
        """The rule this layer gets when a composite says nothing more specific."""
        raise TypeError(f"{self.describe()} has no default LRP rule")

    def pass_relevance(self, inputs, R) -> list:
        """Pass-through (math.md §3.8): the relevance of the output routed unchanged to the inputs, one array per edge."""
        raise TypeError(f"{self.describe()} cannot pass relevance through")

    def pass_matrix(self, edge: int, in_shapes):
        """The 0/1 routing ``S_e`` of :meth:`pass_relevance` (``M_e = diag(R) S_e``), one sample."""
        raise TypeError(f"{self.describe()} cannot pass relevance through")

    def local_linearization(self, inputs, state=None):
        """The Jacobian at ``inputs`` as a :class:`~lrpref.linearize.Linearization` (LID-Taylor, gradients)."""
        raise TypeError(f"no linearisation for {self.describe()}")

    def rescale_linearization(self, inputs, references, y, y_ref, state=None, convention="deeplift"):
        """DeepLIFT's operator (math.md §4): for linear layers the layer itself, as here."""
        return self.local_linearization(inputs, state)

    def path_linearization(self, inputs, references, ts, weights):
        """LID-IG's path-averaged Jacobian (math.md §6.3): for linear layers the layer itself, as here."""
        return self.local_linearization(inputs)

    def spec(self) -> dict:
        """The constructor arguments (arrays and JSON values): ``type(layer)(**layer.spec())`` is the same layer."""
        return {}

    def astype(self, dtype) -> "Layer":
        return self

    def describe(self) -> str:
        return type(self).__name__ + "()"

    def __repr__(self):
        return self.describe()

    def __call__(self, *inputs, name: str | None = None):
        """Apply the layer to symbolic tensors when building a :class:`~lrpref.Graph` (``y = layer(x)``)."""
        from .network import Tensor

        return Tensor.apply(self, inputs, name)


# --------------------------------------------------------------------------- element-wise


class ElementWise(Layer):
    """``y = f(x)`` element by element; ``jacobian`` is the diagonal of ``f'(x)``. Default rule: pass-through."""

    abstract = True
    capabilities = frozenset({"pass"})
    elementwise = True

    def function(self, x):
        raise NotImplementedError

    def derivative(self, x):
        raise NotImplementedError

    def forward(self, x):
        return self.function(x)

    def vjp(self, x, g):
        return g * self.derivative(x)

    def jvp(self, x, v):
        return v * self.derivative(x)

    def jacobian(self, x):
        return sp.diags(self.derivative(x).ravel(), format="csr")

    def path_derivative(self, x_ref, dx, ts, weights):
        """``sum_k w_k f'(x̂ + t_k Δx)``: the derivative averaged over the points of a straight path (math.md §6.3)."""
        t, w = np.asarray(ts, dtype=dx.dtype), np.asarray(weights, dtype=dx.dtype)
        return sum(w[k] * self.derivative(x_ref + t[k] * dx) for k in range(len(t)))

    def output_shape(self, in_shape):
        return tuple(in_shape)

    def default_rule(self):
        from .rules import Pass

        return Pass()

    def pass_relevance(self, inputs, R):
        return [R]

    def pass_matrix(self, edge, in_shapes):
        return sp.identity(math.prod(in_shapes[0]), format="csr")

    def local_linearization(self, inputs, state=None):
        return Diagonal(self.derivative(inputs[0]), "f'(x)")

    def rescale_linearization(self, inputs, references, y, y_ref, state=None, convention="deeplift"):
        """``diag(Δy/Δx)``, the derivative where ``Δx`` is near 0 (math.md §4 (b2); :func:`lrpref.linearize.rescale_multiplier`)."""
        return rescale_multiplier(self.derivative, inputs[0], references[0], y, y_ref, convention)

    def path_linearization(self, inputs, references, ts, weights):
        dx = inputs[0] - references[0]
        return Diagonal(self.path_derivative(references[0], dx, ts, weights), f"path average of D ({len(ts)} points)")


class ReLU(ElementWise):
    """``max(0, x)``, with ``ReLU'(0) = 0`` (PyTorch's convention, math.md §1)."""

    def function(self, x):
        return np.maximum(x, 0)

    def derivative(self, x):
        return (x > 0).astype(x.dtype)

    def path_derivative(self, x_ref, dx, ts, weights):
        """As :meth:`ElementWise.path_derivative` (the same arithmetic, bit for bit), in one pass over the arrays."""
        x_ref = np.ascontiguousarray(np.broadcast_to(x_ref, dx.shape))
        dx = np.ascontiguousarray(dx)
        out = np.empty_like(dx)
        _kernels.path_positive_weight(x_ref.reshape(-1), dx.reshape(-1), np.asarray(ts, dtype=dx.dtype),
                                     np.asarray(weights, dtype=dx.dtype), out.reshape(-1))
        return out


class LeakyReLU(ElementWise):
    """``x`` for ``x > 0``, else ``negative_slope * x`` (derivative ``negative_slope`` at 0, as PyTorch)."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = _number(negative_slope, "negative_slope", "LeakyReLU")

    def spec(self):
        return {"negative_slope": self.negative_slope}

    def function(self, x):
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def derivative(self, x):
        return np.where(x > 0, 1, self.negative_slope).astype(x.dtype)

    def describe(self):
        return f"LeakyReLU({self.negative_slope:g})"


class Tanh(ElementWise):
    def function(self, x):
        return np.tanh(x)

    def derivative(self, x):
        return 1 - np.tanh(x) ** 2


class Sigmoid(ElementWise):
    def function(self, x):
        return expit(x)

    def derivative(self, x):
        s = self.function(x)
        return s * (1 - s)


class Identity(ElementWise):
    def function(self, x):
        return x

    def derivative(self, x):
        return np.ones_like(x)


class Dropout(Identity):
    """Dropout at evaluation time: the identity. ``p`` is kept for the record only."""

    def __init__(self, p: float = 0.5):
        self.p = _number(p, "p", "Dropout")
        if not 0 <= self.p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")

    def spec(self):
        return {"p": self.p}

    def describe(self):
        return f"Dropout({self.p:g}, eval)"


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C*H*W)`` in row-major (NCHW) order, as ``torch.flatten(x, 1)``. Default rule: pass-through."""

    capabilities = frozenset({"pass"})

    def forward(self, x):
        return x.reshape(x.shape[0], -1)

    def vjp(self, x, g):
        return g.reshape(x.shape)

    def jvp(self, x, v):
        return v.reshape(v.shape[0], -1)

    def jacobian(self, x):
        return sp.identity(x.size, dtype=x.dtype, format="csr")

    def output_shape(self, in_shape):
        return (math.prod(in_shape),)

    def default_rule(self):
        from .rules import Pass

        return Pass()

    def pass_relevance(self, inputs, R):
        return [R.reshape(inputs[0].shape)]

    def pass_matrix(self, edge, in_shapes):
        return sp.identity(math.prod(in_shapes[0]), format="csr")

    def local_linearization(self, inputs, state=None):
        return Reshape(inputs[0].shape[1:], self.output_shape(inputs[0].shape[1:]))


# --------------------------------------------------------------------------- window geometry


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((size + 2p - d(k-1) - 1) / s) + 1`` (math.md §11)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def window_taps(height, width, kernel, stride, padding, dilation):
    """The input position read by every (output position, tap) pair, row-major.

    Returns ``(ho, wo, out_pos, in_pos, tap)``: flat output position ``p*wo + q``, flat input
    position ``i*W + j`` (``-1`` where the tap falls into the padding) and tap ``u*kw + v``,
    each of length ``ho*wo*kh*kw`` (math.md §11: ``i = p*s + u*d - pad``).
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    ho = _output_size(height, kh, sh, ph, dh)
    wo = _output_size(width, kw, sw, pw, dw)
    p, q, u, v = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kh), np.arange(kw), indexing="ij")
    i = p * sh + u * dh - ph
    j = q * sw + v * dw - pw
    inside = (i >= 0) & (i < height) & (j >= 0) & (j < width)
    in_pos = np.where(inside, i * width + j, -1)
    return ho, wo, (p * wo + q).ravel(), in_pos.ravel(), (u * kw + v).ravel()


def _spatial_output(in_shape, kernel, stride, padding, dilation, owner):
    if len(in_shape) != 3:
        raise ShapeError(f"{owner} expects input (N, C, H, W); got a sample shape {tuple(in_shape)}")
    _, height, width = in_shape
    ho = _output_size(height, kernel[0], stride[0], padding[0], dilation[0])
    wo = _output_size(width, kernel[1], stride[1], padding[1], dilation[1])
    if ho < 1 or wo < 1:
        raise ShapeError(f"{owner}: input {height}x{width} is too small for the window; output would be {ho}x{wo}")
    return ho, wo


# --------------------------------------------------------------------------- affine layers


class Affine(Layer):
    """``y = sum_e W_e x_e + b`` for fixed matrices ``W_e`` given by a parameter array (see module docstring).

    Single-input subclasses implement ``_apply(x, weight)``, ``_apply_transpose(g, weight, in_shape)``,
    ``_matrix(in_shape, weight)`` and ``_weight(in_shape)`` (the parameter array that ``rho``
    modifies); merging layers override the ``edge_*`` methods. ``bias`` is one value per output
    channel (or None). The ``edge_*`` methods are the interface LRP rules and linearisations use.
    """

    abstract = True
    bias: np.ndarray | None = None
    role = "affine"
    capabilities = frozenset({"linear"})

    def __init__(self):
        self._modified = BoundedCache()

    def weight_for(self, in_shape, rho=None) -> np.ndarray:
        """``rho(w)`` for the parameter array, cached per (input shape, rho) for the last few of them."""
        def make():
            weight = self._weight(tuple(in_shape))
            return weight if rho is None else np.asarray(rho(weight), dtype=weight.dtype)

        return self._modified.get_or_make((tuple(in_shape), rho), make)

    def apply(self, x, rho=None):
        """``rho(W) x`` for a batch, without bias."""
        return self._apply(x, self.weight_for(x.shape[1:], rho))

    def apply_transpose(self, g, in_shape, rho=None):
        """``rho(W)^T g`` for a batch ``g`` of output shape; returns input-shaped arrays."""
        return self._apply_transpose(g, self.weight_for(in_shape, rho), tuple(in_shape))

    def matrix(self, in_shape, rho=None):
        """``rho(W)`` as an explicit (out_size, in_size) matrix: dense for Dense, CSR otherwise."""
        return self._matrix(tuple(in_shape), self.weight_for(in_shape, rho))

    def matrix_nonzeros(self, in_shape) -> int:
        """Number of stored entries of ``matrix(in_shape)`` (for memory budgets)."""
        return self._matrix_nonzeros(tuple(in_shape))

    # the affine map per input edge e: y = sum_e rho(W_e) x_e (+ bias); one edge unless a merging layer
    def edge_apply(self, edge, x, in_shapes, rho=None):
        """``rho(W_e) x_e`` for a batch."""
        return self.apply(x, rho)

    def edge_transpose(self, edge, g, in_shapes, rho=None):
        """``rho(W_e)^T g`` for a batch ``g`` of output shape."""
        return self.apply_transpose(g, in_shapes[edge], rho)

    def edge_matrix(self, edge, in_shapes, rho=None):
        """``rho(W_e)`` as an explicit matrix."""
        return self.matrix(in_shapes[edge], rho)

    def edge_nonzeros(self, edge, in_shapes) -> int:
        return self.matrix_nonzeros(in_shapes[edge])

    def dense_edges(self) -> bool:
        """Whether ``edge_matrix`` is a dense NumPy array (else scipy.sparse CSR)."""
        return False

    @staticmethod
    def _per_channel(bias, ndim):
        """``bias`` shaped to broadcast over a batch of ``ndim`` dimensions, channels on axis 1."""
        return bias.reshape((1, -1) + (1,) * (ndim - 2))

    def add_bias(self, y, bias):
        """``y + bias`` with the bias broadcast over the spatial positions of each channel."""
        return y if bias is None else y + self._per_channel(bias, y.ndim)

    def bias_vector(self, out_shape, bias) -> np.ndarray:
        """The bias of every output position, flattened (the unrolled ``b_u`` of math.md §11)."""
        return _per_position(bias, out_shape)

    def forward(self, x):
        y = self.apply(x)
        if self.bias is not None:
            y += self._per_channel(self.bias, y.ndim)  # in place: apply returns a fresh array
        return y

    def vjp(self, x, g):
        return self.apply_transpose(g, x.shape[1:])

    def jvp(self, x, v):
        return self.apply(v)

    def jacobian(self, x):
        return self.matrix(x.shape)

    def default_rule(self):
        from .rules import LRP0

        return LRP0()

    def local_linearization(self, inputs, state=None):
        return Linear(self, [a.shape[1:] for a in inputs])

    def _matrix_nonzeros(self, in_shape):
        return self.matrix(in_shape).nnz


class Dense(Affine):
    """``y = W x + b`` with ``W`` shaped (out, in) as in PyTorch's ``nn.Linear``."""

    role = "weight"

    def __init__(self, W, b=None, *, dtype=None):
        super().__init__()
        self.W = _parameter(W, "W", "Dense", ndim=2, dtype=dtype)
        if 0 in self.W.shape:
            raise ValueError(f"Dense: W has shape {self.W.shape}: zero output or input features")
        self.bias = None if b is None else _parameter(b, "b", "Dense", ndim=1, dtype=dtype, like=self.W)
        if self.bias is not None and self.bias.shape[0] != self.W.shape[0]:
            raise ShapeError(f"Dense: W is {self.W.shape} (out, in) but b has {self.bias.shape[0]} entries")
        self.dtype = self.W.dtype
        self.out_features, self.in_features = self.W.shape

    def _weight(self, in_shape):
        return self.W

    def _apply(self, x, weight):
        return _blas.matmul(x, weight.T)

    def _apply_transpose(self, g, weight, in_shape):
        return _blas.matmul(g, weight)

    def _matrix(self, in_shape, weight):
        return weight

    def _matrix_nonzeros(self, in_shape):
        return self.W.size

    def dense_edges(self):
        return True

    def spec(self):
        return {"W": self.W, "b": self.bias}

    def output_shape(self, in_shape):
        if tuple(in_shape) != (self.in_features,):
            hint = " (add Flatten() before it)" if len(in_shape) > 1 else ""
            raise ShapeError(f"{self.describe()} expects input (N, {self.in_features}); got a sample shape {tuple(in_shape)}{hint}")
        return (self.out_features,)

    def astype(self, dtype):
        return Dense(self.W, self.bias, dtype=dtype)

    def describe(self):
        return f"Dense({self.in_features}→{self.out_features}{'' if self.bias is not None else ', no bias'})"


class Conv2d(Affine):
    """2-D cross-correlation as PyTorch's ``nn.Conv2d``: ``W`` is (out, in/groups, kh, kw), zero padding.

    Fast path (:class:`lrpref._fast.conv.ConvKernels`): for stride 1 with at least 8 input
    channels per group, one accumulating BLAS GEMM per kernel tap on shifted views of the padded
    input; otherwise im2col (numba) + one GEMM per group, and for the transpose GEMM + col2im. Explicit path: the unrolled sparse matrix of math.md §11,
    ``W_u[(o,p,q), (c, p*s+u*d-pad, q*s+v*d-pad)] = K[o, c, u, v]``.
    """

    role = "weight"

    def __init__(self, W, b=None, stride=1, padding=0, dilation=1, groups=1, *, dtype=None):
        super().__init__()
        self.W = _parameter(W, "W", "Conv2d", ndim=4, dtype=dtype)
        self.out_channels, in_per_group, kh, kw = self.W.shape
        if 0 in self.W.shape:
            raise ValueError(f"Conv2d: W has shape {self.W.shape} (out, in/groups, kh, kw): zero channels or a "
                             f"{kh}×{kw} kernel")
        self.groups = int(groups)
        if self.groups < 1 or self.out_channels % self.groups:
            raise ShapeError(f"Conv2d: {self.out_channels} output channels are not divisible into {groups} groups")
        self.in_channels = in_per_group * self.groups
        self.bias = None if b is None else _parameter(b, "b", "Conv2d", ndim=1, dtype=dtype, like=self.W)
        if self.bias is not None and self.bias.shape[0] != self.out_channels:
            raise ShapeError(f"Conv2d: {self.out_channels} output channels but b has {self.bias.shape[0]} entries")
        self.kernel = (kh, kw)
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2d: stride and dilation must be >= 1 and padding >= 0, got stride {self.stride}, padding {self.padding}, dilation {self.dilation}")
        self.dtype = self.W.dtype
        self._patterns = {}
        self._fast = ConvKernels(self)

    # geometry
    def _geometry(self):
        return (*self.kernel, *self.stride, *self.padding, *self.dilation)

    def output_shape(self, in_shape):
        ho, wo = _spatial_output(in_shape, self.kernel, self.stride, self.padding, self.dilation, self.describe())
        if in_shape[0] != self.in_channels:
            raise ShapeError(f"{self.describe()} expects {self.in_channels} input channels; got a sample shape {tuple(in_shape)}")
        return (self.out_channels, ho, wo)

    def _is_pointwise(self):
        return self.kernel == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)

    def _weight(self, in_shape):
        return self.W

    def _apply(self, x, weight):
        return self._fast.apply(x, weight)

    def _apply_transpose(self, g, weight, in_shape):
        return self._fast.apply_transpose(g, weight, in_shape)

    def _pattern(self, in_shape):
        """Rows, columns and kernel entry (flat index into W) of every non-padding tap of W_u."""
        if in_shape not in self._patterns:
            channels, height, width = in_shape
            ho, wo, out_pos, in_pos, tap = window_taps(height, width, self.kernel, self.stride, self.padding, self.dilation)
            keep = in_pos >= 0
            out_pos, in_pos, tap = out_pos[keep], in_pos[keep], tap[keep]
            o_g, c_g = self.out_channels // self.groups, self.in_channels // self.groups
            taps = self.kernel[0] * self.kernel[1]
            o = np.arange(self.out_channels)[:, None, None]
            c_local = np.arange(c_g)[None, :, None]
            c = (o // o_g) * c_g + c_local
            rows = o * (ho * wo) + out_pos[None, None, :]
            cols = c * (height * width) + in_pos[None, None, :]
            entry = (o * c_g + c_local) * taps + tap[None, None, :]
            shape = (self.out_channels * ho * wo, channels * height * width)
            self._patterns[in_shape] = (
                np.broadcast_to(rows, entry.shape).ravel(),
                np.broadcast_to(cols, entry.shape).ravel(),
                entry.ravel(),
                shape,
            )
        return self._patterns[in_shape]

    def _matrix(self, in_shape, weight):
        rows, cols, entry, shape = self._pattern(in_shape)
        return sp.csr_matrix((weight.ravel()[entry], (rows, cols)), shape=shape)

    def _matrix_nonzeros(self, in_shape):
        return self._pattern(in_shape)[2].size

    def astype(self, dtype):
        return Conv2d(self.W, self.bias, self.stride, self.padding, self.dilation, self.groups, dtype=dtype)

    def spec(self):
        return {"W": self.W, "b": self.bias, "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups}

    def describe(self):
        parts = [f"{self.in_channels}→{self.out_channels}", f"{self.kernel[0]}×{self.kernel[1]}"]
        if self.stride != (1, 1):
            parts.append(f"stride {self.stride[0]}" if self.stride[0] == self.stride[1] else f"stride {self.stride}")
        if self.padding != (0, 0):
            parts.append(f"pad {self.padding[0]}" if self.padding[0] == self.padding[1] else f"pad {self.padding}")
        if self.dilation != (1, 1):
            parts.append(f"dilation {self.dilation}")
        if self.groups != 1:
            parts.append(f"groups {self.groups}")
        if self.bias is None:
            parts.append("no bias")
        return f"Conv2d({', '.join(parts)})"


class _PoolingMap(Affine):
    """A per-channel linear map ``y[c] = P x[c]`` given by a sparse spatial matrix ``P``.

    The parameter array that rules modify is ``P.data`` (e.g. the ``1/k`` of average
    pooling, math.md §3.10), held in float64; outputs take the dtype of the input. No bias.
    """

    def __init__(self):
        super().__init__()
        self._spatial = {}

    def spatial_matrix(self, in_shape) -> sp.csr_matrix:
        """``P`` (out_h*out_w, H*W) for inputs of ``in_shape`` (C, H, W)."""
        key = tuple(in_shape[1:])
        if key not in self._spatial:
            self._spatial[key] = self._build_spatial(*key)
        return self._spatial[key]

    def _modified_spatial(self, in_shape, weight):
        base = self.spatial_matrix(in_shape)
        return sp.csr_matrix((weight, base.indices, base.indptr), shape=base.shape)

    def _weight(self, in_shape):
        return self.spatial_matrix(in_shape).data

    def _apply(self, x, weight):
        n_batch, channels = x.shape[:2]
        P = self._modified_spatial(x.shape[1:], weight)
        flat = x.reshape(n_batch * channels, -1)
        _, ho, wo = self.output_shape(x.shape[1:])
        return np.asarray((P @ flat.T).T, dtype=x.dtype).reshape(n_batch, channels, ho, wo)

    def _apply_transpose(self, g, weight, in_shape):
        n_batch, channels = g.shape[:2]
        P = self._modified_spatial(in_shape, weight)
        flat = g.reshape(n_batch * channels, -1)
        return np.asarray((P.T @ flat.T).T, dtype=g.dtype).reshape(n_batch, *in_shape)

    def _matrix(self, in_shape, weight):
        P = self._modified_spatial(in_shape, weight)
        return sp.kron(sp.identity(in_shape[0], dtype=P.dtype, format="csr"), P, format="csr")

    def _matrix_nonzeros(self, in_shape):
        return in_shape[0] * self.spatial_matrix(in_shape).nnz


def _window_matrix(height, width, kernel, stride, padding, dilation, value_of_window):
    """Spatial CSR matrix of a pooling window: ``value_of_window(window size, real taps)`` on every real tap."""
    ho, wo, out_pos, in_pos, _ = window_taps(height, width, kernel, stride, padding, dilation)
    keep = in_pos >= 0
    real = np.bincount(out_pos[keep], minlength=ho * wo)
    values = value_of_window(kernel[0] * kernel[1], real[out_pos[keep]])
    return sp.csr_matrix((values, (out_pos[keep], in_pos[keep])), shape=(ho * wo, height * width))


class _Window:
    """Kernel, stride, padding and dilation of a pooling window, with PyTorch's checks."""

    def _init_window(self, kernel_size, stride, padding, dilation, owner):
        self.kernel = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(f"{owner}: kernel, stride and dilation must be >= 1")
        effective = [d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation)]
        if any(p < 0 or p > e // 2 for p, e in zip(self.padding, effective)):
            raise ValueError(f"{owner}: padding {self.padding} must be between 0 and half the window {tuple(effective)}")

    def _geometry(self):
        return (*self.kernel, *self.stride, *self.padding, *self.dilation)

    def output_shape(self, in_shape):
        ho, wo = _spatial_output(in_shape, self.kernel, self.stride, self.padding, self.dilation, self.describe())
        return (in_shape[0], ho, wo)

    def _window_text(self):
        text = f"{self.kernel[0]}×{self.kernel[1]}"
        if self.stride != self.kernel:
            text += f", stride {self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        if self.padding != (0, 0):
            text += f", pad {self.padding[0] if self.padding[0] == self.padding[1] else self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation {self.dilation}"
        return text


class AvgPool2d(_Window, _PoolingMap):
    """Average pooling as PyTorch's ``nn.AvgPool2d`` (zero padding; ``count_include_pad`` as there).

    The linear map ``W_ji = 1/k`` for ``i`` in window ``j`` (math.md §3.10), with ``k`` the window
    size, or with ``count_include_pad=False`` the number of non-padding taps.
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        _PoolingMap.__init__(self)
        self._init_window(kernel_size, stride, padding, 1, "AvgPool2d")
        self.count_include_pad = bool(count_include_pad)

    def _build_spatial(self, height, width):
        def divisor(window, real):
            return np.full(real.shape, float(window)) if self.count_include_pad else real

        return _window_matrix(height, width, self.kernel, self.stride, self.padding, self.dilation,
                              lambda window, real: 1.0 / divisor(window, real))

    def spec(self):
        return {"kernel_size": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding),
                "count_include_pad": self.count_include_pad}

    def describe(self):
        extra = "" if self.count_include_pad or self.padding == (0, 0) else ", count_include_pad=False"
        return f"AvgPool2d({self._window_text()}{extra})"


class _WindowSum(_Window, _PoolingMap):
    """The map ``y_j = sum of window j`` of a max-pooling layer: used by the proportional max-pool rule."""

    def __init__(self, pool: "MaxPool2d"):
        _PoolingMap.__init__(self)
        self.kernel, self.stride, self.padding, self.dilation = pool.kernel, pool.stride, pool.padding, pool.dilation

    def _build_spatial(self, height, width):
        return _window_matrix(height, width, self.kernel, self.stride, self.padding, self.dilation,
                              lambda window, real: np.ones(real.shape))

    def describe(self):
        return f"WindowSum({self._window_text()})"


class AdaptiveAvgPool2d(_PoolingMap):
    """PyTorch's ``nn.AdaptiveAvgPool2d``: window ``[floor(i H / h), ceil((i+1) H / h))`` per output row (same for columns)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _pair(output_size, "output_size")
        if min(self.output_size) < 1:
            raise ValueError(f"AdaptiveAvgPool2d: output size must be >= 1, got {self.output_size}")

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ShapeError(f"{self.describe()} expects input (N, C, H, W); got a sample shape {tuple(in_shape)}")
        return (in_shape[0], *self.output_size)

    @staticmethod
    def _averaging(size, out):
        """(out, size) matrix averaging each adaptive window along one axis."""
        A = np.zeros((out, size))
        for i in range(out):
            start, stop = (i * size) // out, -((-(i + 1) * size) // out)
            A[i, start:stop] = 1.0 / (stop - start)
        return A

    def _build_spatial(self, height, width):
        return sp.csr_matrix(np.kron(self._averaging(height, self.output_size[0]), self._averaging(width, self.output_size[1])))

    def spec(self):
        return {"output_size": list(self.output_size)}

    def describe(self):
        return f"AdaptiveAvgPool2d({self.output_size[0]}×{self.output_size[1]})"


class BatchNorm(Affine):
    """Batch normalisation at evaluation time, ``y = (x - mean) / sqrt(var + eps) * gamma + beta``.

    An affine map with per-channel weight ``k = gamma / sqrt(var + eps)`` and bias
    ``beta - mean * k``, for inputs (N, C) or (N, C, H, W). :func:`lrpref.fold_batchnorm`
    merges it into the adjacent Dense/Conv2d layer.
    """

    capabilities = frozenset({"linear", "pass"})

    def __init__(self, mean, var, gamma=None, beta=None, eps=1e-5, *, dtype=None):
        super().__init__()
        self.mean = _parameter(mean, "mean", "BatchNorm", ndim=1, dtype=dtype)
        dtype = self.mean.dtype
        channels = self.mean.shape[0]
        self.var = _parameter(var, "var", "BatchNorm", ndim=1, dtype=dtype)
        self.gamma = _parameter(np.ones(channels) if gamma is None else gamma, "gamma", "BatchNorm", ndim=1, dtype=dtype)
        self.beta = _parameter(np.zeros(channels) if beta is None else beta, "beta", "BatchNorm", ndim=1, dtype=dtype)
        for name, array in (("var", self.var), ("gamma", self.gamma), ("beta", self.beta)):
            if array.shape != (channels,):
                raise ShapeError(f"BatchNorm: mean has {channels} channels but {name} has shape {array.shape}")
        self.eps = _number(eps, "eps", "BatchNorm")
        if np.any(self.var + self.eps <= 0):
            raise ValueError("BatchNorm: var + eps must be positive")
        self.channels = channels
        self.dtype = dtype
        scale = self.gamma / np.sqrt(self.var + dtype.type(self.eps))
        self.scale = _parameter(scale, "scale", "BatchNorm", dtype=dtype)
        self.bias = _parameter(self.beta - self.mean * scale, "shift", "BatchNorm", dtype=dtype)

    def _weight(self, in_shape):
        return self.scale

    def _apply(self, x, weight):
        return x * self._per_channel(weight, x.ndim)

    def _apply_transpose(self, g, weight, in_shape):
        return g * self._per_channel(weight, g.ndim)

    def _matrix(self, in_shape, weight):
        return sp.diags(_per_position(weight, in_shape), format="csr")

    def _matrix_nonzeros(self, in_shape):
        return math.prod(in_shape)

    def output_shape(self, in_shape):
        if len(in_shape) not in (1, 3) or in_shape[0] != self.channels:
            raise ShapeError(f"{self.describe()} expects input (N, {self.channels}) or (N, {self.channels}, H, W); got a sample shape {tuple(in_shape)}")
        return tuple(in_shape)

    def astype(self, dtype):
        return BatchNorm(self.mean, self.var, self.gamma, self.beta, self.eps, dtype=dtype)

    def pass_relevance(self, inputs, R):
        return [R]

    def pass_matrix(self, edge, in_shapes):
        return sp.identity(math.prod(in_shapes[0]), format="csr")

    def spec(self):
        return {"mean": self.mean, "var": self.var, "gamma": self.gamma, "beta": self.beta, "eps": self.eps}

    def describe(self):
        return f"BatchNorm({self.channels})"


# --------------------------------------------------------------------------- max pooling


class MaxPool2d(_Window, Layer):
    """Max pooling as PyTorch's ``nn.MaxPool2d`` (padding never wins).

    Gradient and WTA relevance go to the first maximum of each window in row-major order
    (PyTorch's convention, math.md §1 and §3.9).
    """

    capabilities = frozenset({"winners"})

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        self._init_window(kernel_size, stride, padding, dilation, "MaxPool2d")
        self.window_sum = _WindowSum(self)

    def spec(self):
        return {"kernel_size": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation)}

    def default_rule(self):
        from .rules import WinnerTakesAll

        return WinnerTakesAll()

    def local_linearization(self, inputs, state=None):
        """The arg-max selection at ``x`` (the first maximum of every window)."""
        x = inputs[0]
        return Selections(self, [x], [self.pool(x)[1] if state is None else state], [1.0], "arg-max at x")

    def rescale_linearization(self, inputs, references, y, y_ref, state=None, convention="deeplift"):
        """DeepLIFT: gradient mode, the arg-max at ``x`` (math.md §4 (b4)); captum: :class:`~lrpref.linearize.CrossMax`."""
        if convention == "captum":
            return CrossMax(self, inputs[0], references[0], y, y_ref)
        return self.local_linearization(inputs, state)

    def path_linearization(self, inputs, references, ts, weights):
        """The selections at the points ``x̂ + t_k Δx`` of the layer's own path, weighted (math.md §6.3)."""
        x, x_ref = inputs[0], references[0]
        dx = x - x_ref
        points = [x_ref + x.dtype.type(t) * dx for t in ts]
        return Selections(self, points, [self.pool(point)[1] for point in points], list(weights),
                          f"path average of D ({len(ts)} points)")

    def pool(self, x):
        """``(y, winner)``: window maxima and the flat input index of each first maximum."""
        _, ho, wo = self.output_shape(x.shape[1:])
        return _kernels.maxpool_forward(np.ascontiguousarray(x), *self._geometry(), ho, wo)

    def forward(self, x):
        return self.pool(x)[0]

    def forward_with_state(self, x):
        return self.pool(x)

    def route(self, x, values, ties: str = "first", winners=None):
        """Send each window's value to its maximum: the first one (``ties="first"``) or split among ties.

        ``winners`` (from :meth:`forward_with_state`) saves finding the first maxima again.
        """
        values = np.ascontiguousarray(values)
        if ties == "first":
            return _kernels.scatter_winners(values, self.pool(x)[1] if winners is None else winners, *x.shape[2:])
        if ties == "split":
            x = np.ascontiguousarray(x)
            return _kernels.scatter_ties(x, self.forward(x), values, *self._geometry())
        raise ValueError(f"ties must be 'first' or 'split', got {ties!r}")

    def vjp(self, x, g):
        return self.route(x, g, "first")

    def gather(self, values, winners):
        """``values`` (input-shaped) at each window's winner: the forward-mode product of max-pooling."""
        n_batch, channels = values.shape[:2]
        flat = values.reshape(n_batch, channels, -1)
        picked = np.take_along_axis(flat, winners.reshape(n_batch, channels, -1), axis=2)
        return picked.reshape(winners.shape)

    def jvp(self, x, v):
        return self.gather(v, self.pool(x)[1])

    def selection_matrix(self, x, ties: str = "first"):
        """Explicit selection matrix at one sample ``x`` (C, H, W), built with NumPy alone.

        Row ``j`` has a 1 at the first maximum of window ``j`` (``ties="first"``), or
        ``1/t`` at each of its ``t`` tied maxima (``ties="split"``).
        """
        channels = x.shape[0]
        P = self.window_sum.spatial_matrix(x.shape)
        n_out, n_in = P.shape
        taps_per_row = np.tile(np.diff(P.indptr), channels)
        rows = np.repeat(np.arange(channels * n_out), taps_per_row)
        cols = (np.arange(channels)[:, None] * n_in + P.indices[None, :]).ravel()
        values = x.reshape(-1)[cols]
        starts = np.concatenate([[0], np.cumsum(taps_per_row)[:-1]])
        best = np.maximum.reduceat(values, starts)
        is_max = values == best[rows]
        if ties == "first":
            first = np.zeros_like(is_max)
            order = np.flatnonzero(is_max)
            _, first_of_row = np.unique(rows[order], return_index=True)
            first[order[first_of_row]] = True
            weights = first.astype(x.dtype)
        elif ties == "split":
            counts = np.bincount(rows[is_max], minlength=channels * n_out)
            weights = np.where(is_max, 1.0 / counts[rows], 0.0).astype(x.dtype)
        else:
            raise ValueError(f"ties must be 'first' or 'split', got {ties!r}")
        return sp.csr_matrix((weights, (rows, cols)), shape=(channels * n_out, channels * n_in))

    def jacobian(self, x):
        return self.selection_matrix(x, "first")

    def describe(self):
        return f"MaxPool2d({self._window_text()})"


# --------------------------------------------------------------------------- merging layers


class _Merge(Affine):
    """A parameter-free linear map of several same-dtype inputs, ``y = sum_e W_e x_e``, with one 0/1 block per edge.

    The scalar parameter a rule's ``rho`` modifies is the 1 in every block (``rho(1)``: 1 for the
    identity, ``1 + γ`` for γ, 0 for ``w⁻``), so every LRP rule has its usual meaning on the map.
    """

    n_inputs = None

    def _unit(self, dtype, rho):
        """``rho(1)`` in ``dtype``."""
        one = np.ones(1, dtype=dtype)
        return (one if rho is None else np.asarray(rho(one), dtype=dtype))[0]

    def _check_count(self, in_shapes):
        if len(in_shapes) < 2:
            raise ShapeError(f"{self.describe()} takes two or more inputs, got {len(in_shapes)}")

    def forward(self, *inputs):
        return self._combine(inputs)

    def vjp(self, x, g):
        raise TypeError(f"{self.describe()} has several inputs: use input_gradients(inputs, g)")

    def input_gradients(self, inputs, g):
        shapes = [a.shape[1:] for a in inputs]
        return [self.edge_transpose(e, g, shapes) for e in range(len(inputs))]

    def edge_nonzeros(self, edge, in_shapes):
        return math.prod(in_shapes[edge])


class Add(_Merge):
    """``y = sum_e x_e`` of two or more inputs of the same shape (residual connections).

    As an affine map ``W_e = I`` for every edge, no bias. Its rule is its own unless a composite
    names the node or the type ``Add``: the proportional split ``R_e = x_e / (sum_k x_k + ε sgn0(·)) · R``
    with ``ε = 1e-6`` (:class:`~lrpref.SumSplit`, zennit's ``Sum`` with ``Norm``) — a rule given for
    the weight layers (say the z⁺ rule, defined for non-negative inputs only) does not reach the sums
    of signed pre-activations.
    """

    role = "fixed"

    def output_shape(self, *in_shapes):
        self._check_count(in_shapes)
        first = tuple(in_shapes[0])
        for e, shape in enumerate(in_shapes[1:], start=1):
            if tuple(shape) != first:
                raise ShapeError(f"{self.describe()}: input {e} has a sample shape {tuple(shape)}, input 0 {first}; "
                                 f"the summands must have the same shape")
        return first

    def _combine(self, inputs):
        total = inputs[0].copy()
        for a in inputs[1:]:
            total += a
        return total

    def edge_apply(self, edge, x, in_shapes, rho=None):
        return x if rho is None else x * self._unit(x.dtype, rho)  # W_e = I: no copy (callers never write into it)

    def edge_transpose(self, edge, g, in_shapes, rho=None):
        return g if rho is None else g * self._unit(g.dtype, rho)

    def edge_matrix(self, edge, in_shapes, rho=None):
        return sp.identity(math.prod(in_shapes[edge]), format="csr") * float(self._unit(np.float64, rho))

    def jvp(self, x, v):
        raise TypeError(f"{self.describe()} has several inputs")

    def default_rule(self):
        from .rules import SumSplit

        return SumSplit()


class Concat(_Merge):
    """Inputs joined along ``axis`` (1: channels or features, as ``torch.cat(xs, 1)``; DenseNet, U-Net).

    As an affine map ``W_e`` places input ``e`` in its slice of the output. Its default rule passes
    relevance through: input ``e`` gets the slice of ``R`` it produced.
    """

    role = "fixed"
    capabilities = frozenset({"linear", "pass"})

    def __init__(self, axis: int = 1):
        super().__init__()
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or axis < 1:
            raise ValueError(f"Concat: axis must be an int >= 1 (axis 0 is the batch), got {axis!r}")
        self.axis = int(axis)

    def output_shape(self, *in_shapes):
        self._check_count(in_shapes)
        first = tuple(in_shapes[0])
        if self.axis > len(first):
            raise ShapeError(f"{self.describe()}: inputs have sample shape {first}, which has no axis {self.axis}")
        a = self.axis - 1
        for e, shape in enumerate(in_shapes[1:], start=1):
            shape = tuple(shape)
            if len(shape) != len(first) or shape[:a] + shape[a + 1:] != first[:a] + first[a + 1:]:
                raise ShapeError(f"{self.describe()}: input {e} has a sample shape {shape}, input 0 {first}; "
                                 f"they may differ only along axis {self.axis}")
        return first[:a] + (sum(shape[a] for shape in in_shapes),) + first[a + 1:]

    def _bounds(self, in_shapes, edge):
        sizes = [shape[self.axis - 1] for shape in in_shapes]
        start = sum(sizes[:edge])
        return start, start + sizes[edge]

    def _slice(self, in_shapes, edge, ndim):
        start, stop = self._bounds(in_shapes, edge)
        return (slice(None),) * self.axis + (slice(start, stop),) + (slice(None),) * (ndim - self.axis - 1)

    def _combine(self, inputs):
        return np.concatenate(inputs, axis=self.axis)

    def edge_apply(self, edge, x, in_shapes, rho=None):
        out = np.zeros((x.shape[0],) + self.output_shape(*in_shapes), dtype=x.dtype)
        out[self._slice(in_shapes, edge, x.ndim)] = x * self._unit(x.dtype, rho)
        return out

    def edge_transpose(self, edge, g, in_shapes, rho=None):
        return g[self._slice(in_shapes, edge, g.ndim)] * self._unit(g.dtype, rho)

    def edge_matrix(self, edge, in_shapes, rho=None):
        return self.pass_matrix(edge, in_shapes) * float(self._unit(np.float64, rho))

    def jvp(self, x, v):
        raise TypeError(f"{self.describe()} has several inputs")

    def default_rule(self):
        from .rules import Pass

        return Pass()

    def pass_relevance(self, inputs, R):
        shapes = [a.shape[1:] for a in inputs]
        return [R[self._slice(shapes, e, R.ndim)] for e in range(len(inputs))]

    def pass_matrix(self, edge, in_shapes):
        """The selection of input ``edge``'s entries in the flattened output (rows: outputs, columns: that input)."""
        out_shape = self.output_shape(*in_shapes)
        positions = np.arange(math.prod(out_shape)).reshape(out_shape)
        rows = positions[self._slice(in_shapes, edge, len(out_shape) + 1)[1:]].ravel()
        size = math.prod(in_shapes[edge])
        return sp.csr_matrix((np.ones(size), (rows, np.arange(size))), shape=(positions.size, size))

    def spec(self):
        return {"axis": self.axis}

    def describe(self):
        return f"Concat(axis={self.axis})"
