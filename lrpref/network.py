"""``Sequential``: a chain of layers with a forward record (spec ``neural.md`` §1).

Layers are indexed ``0 .. L-1``; ``record(x)`` returns the activations ``[Y^0 = x, Y^1, ...,
Y^L]`` (``Y^{k+1}`` is the output of layer ``k``). A network is float32 or float64 — the
dtype of its parameters — and refuses inputs of the other dtype.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._validate import as_batch
from .layers import Layer, ShapeError

__all__ = ["Sequential"]


class Sequential:
    """A chain of :mod:`lrpref.layers` layers; nested ``Sequential`` objects are flattened."""

    def __init__(self, layers):
        flat = []
        for position, layer in enumerate(layers):
            if isinstance(layer, Sequential):
                flat.extend(layer.layers)
            elif isinstance(layer, Layer):
                flat.append(layer)
            else:
                raise TypeError(f"Sequential: item {position} is {type(layer).__name__}, not an lrpref layer")
        if not flat:
            raise ValueError("Sequential needs at least one layer")
        dtypes = {layer.dtype for layer in flat if layer.dtype is not None}
        if len(dtypes) > 1:
            listing = ", ".join(f"layer {k} {layer.describe()}: {layer.dtype}" for k, layer in enumerate(flat) if layer.dtype is not None)
            raise TypeError(f"Sequential: parameters of mixed dtypes ({listing}); cast with .astype()")
        self.layers = tuple(flat)  # with read-only parameters, a network cannot change after construction
        self.dtype = dtypes.pop() if dtypes else None
        self._last_reference = (None, None)

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return Sequential(self.layers[k])
        return self.layers[k]

    def where(self, k: int) -> str:
        """``"layer k (Description)"``, the way errors name a layer."""
        return f"layer {k} ({self.layers[k].describe()})"

    def shapes(self, in_shape) -> list[tuple]:
        """Sample shapes ``[in_shape, out of layer 0, ..., out of layer L-1]``; a ShapeError names the layer."""
        shapes = [tuple(int(d) for d in in_shape)]
        for k, layer in enumerate(self.layers):
            try:
                shapes.append(tuple(layer.output_shape(shapes[-1])))
            except ShapeError as error:
                raise ShapeError(f"layer {k}: {error}") from None
        return shapes

    def check_input(self, x, what: str = "input x") -> np.ndarray:
        """Validate a batch (dtype, finiteness, batch axis, shapes through every layer)."""
        x = as_batch(x, self.dtype, what)
        self.shapes(x.shape[1:])
        return x

    def record(self, x, states: bool = False):
        """The forward record ``[x, Y^1, ..., Y^L]`` of a validated batch.

        With ``states=True`` also each layer's reusable state (max-pooling: its winners), as
        ``(activations, states)``.
        """
        x = self.check_input(x)
        activations, kept = [x], []
        for layer in self.layers:
            y, state = layer.forward_with_state(activations[-1]) if states else (layer.forward(activations[-1]), None)
            activations.append(y)
            kept.append(state)
        return (activations, kept) if states else activations

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
        """The network output (logits) for a batch."""
        return self.record(x)[-1]

    __call__ = forward

    def gradient(self, x, output_gradient) -> np.ndarray:
        """``output_gradient @ dY^L/dx`` for every sample (the vector-Jacobian product of the whole chain)."""
        activations = self.record(x)
        g = np.asarray(output_gradient, dtype=activations[-1].dtype)
        if g.shape != activations[-1].shape:
            raise ShapeError(f"output gradient has shape {g.shape}, the output {activations[-1].shape}")
        for layer, a in zip(reversed(self.layers), reversed(activations[:-1])):
            g = layer.vjp(a, g)
        return g

    def astype(self, dtype) -> "Sequential":
        """The same network with parameters cast to ``dtype`` (float32 or float64)."""
        return Sequential([layer.astype(np.dtype(dtype)) for layer in self.layers])

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

    def __repr__(self):
        return self.summary()
