"""What every importer shares: the error type, optional imports, parameter conversion and
:class:`ChainBuilder`, which appends layers while tracking the sample shape so that every
problem is reported with the position of the source operation that caused it.
"""

from __future__ import annotations

import importlib
import math

import numpy as np

from ..layers import Layer
from ..network import Sequential

__all__ = ["ModelImportError", "require", "target_dtype", "as_float", "check_ceil_mode", "ChainBuilder"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ModelImportError(ValueError):
    """A model cannot be imported: an unsupported layer or operator, a graph that is not a chain,
    a malformed file or parameters the lrpref layers cannot represent. The message names the
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


class ChainBuilder:
    """Layers appended in order while the sample shape is tracked; errors name the source position."""

    def __init__(self, in_shape, source: str):
        self.source = source
        try:
            self.shape = tuple(int(d) for d in in_shape)
        except (TypeError, ValueError):
            raise ModelImportError(f"{source}: input_shape must be a tuple of ints (one sample, no batch axis), "
                                   f"got {in_shape!r}") from None
        if not self.shape or min(self.shape) < 1:
            raise ModelImportError(f"{source}: input_shape must be a non-empty tuple of positive ints "
                                   f"(one sample, no batch axis), got {self.shape}")
        self.in_shape = self.shape
        self.layers: list[Layer] = []
        self.positions: list[str] = []

    def add(self, make_layer, where: str) -> Layer:
        """Append ``make_layer()``; its construction errors and shape errors name ``where``."""
        try:
            layer = make_layer()
            shape = tuple(layer.output_shape(self.shape))
        except ModelImportError:
            raise
        except (ValueError, TypeError) as error:  # lrpref's layer checks: shapes, finiteness, dtypes
            raise ModelImportError(f"{where}: {error}") from None
        self.layers.append(layer)
        self.positions.append(where)
        self.shape = shape
        return layer

    def replace_last(self, make_layer, where: str) -> Layer:
        """Rebuild the last layer (e.g. to attach a bias that follows it as a separate operation)."""
        self.layers.pop()
        self.positions.pop()
        self.shape = self.previous_shape()
        return self.add(make_layer, where)

    def previous_shape(self):
        """The sample shape at the input of the last layer."""
        shape = self.in_shape
        for layer in self.layers[:-1]:
            shape = tuple(layer.output_shape(shape))
        return shape

    @property
    def last(self) -> Layer | None:
        return self.layers[-1] if self.layers else None

    def flat_size(self) -> int:
        return math.prod(self.shape)

    def network(self) -> Sequential:
        if not self.layers:
            raise ModelImportError(f"{self.source}: the model has no layers")
        dtypes = {layer.dtype for layer in self.layers if layer.dtype is not None}
        if len(dtypes) > 1:
            listing = ", ".join(f"{where}: {layer.dtype}" for layer, where in zip(self.layers, self.positions)
                                if layer.dtype is not None)
            raise ModelImportError(f"{self.source}: parameters of mixed dtypes ({listing}); pass dtype= to convert")
        return Sequential(self.layers)
