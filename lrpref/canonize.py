"""Canonizers: rewrite a network into an equivalent one that LRP rules treat better.

:func:`fold_batchnorm` merges every :class:`~lrpref.BatchNorm` (per-channel affine map
``y = k x + t`` with ``k = gamma / sqrt(var + eps)``, ``t = beta - mean k``) into the adjacent
weight layer, exactly:

* after a Dense/Conv2d (``z = W a + b``, then BN):  ``W' = diag(k) W``, ``b' = k b + t``
  (zennit's ``SequentialMergeBatchNorm``, peers.md §1.1);
* before a Dense or an unpadded Conv2d (BN, then ``W y + b``): ``W' = W diag(k)``,
  ``b' = b + W t``. Before a padded convolution this is not exact (the padding would see
  ``t``), so it is refused.
"""

from __future__ import annotations

import numpy as np

from .layers import BatchNorm, Conv2d, Dense
from .network import Sequential

__all__ = ["fold_batchnorm"]


def _with(layer, W, b):
    if isinstance(layer, Dense):
        return Dense(W, b, dtype=layer.dtype)
    return Conv2d(W, b, layer.stride, layer.padding, layer.dilation, layer.groups, dtype=layer.dtype)


def _channels_out(layer):
    return layer.out_features if isinstance(layer, Dense) else layer.out_channels


def _channels_in(layer):
    return layer.in_features if isinstance(layer, Dense) else layer.in_channels


def _fold_after(layer, bn: BatchNorm):
    """``BN(W a + b) = (diag(k) W) a + (k b + t)``."""
    k = bn.scale.reshape((-1,) + (1,) * (layer.W.ndim - 1))
    b = np.zeros(bn.channels, dtype=bn.dtype) if layer.bias is None else layer.bias
    return _with(layer, layer.W * k, bn.scale * b + bn.bias)


def _fold_before(bn: BatchNorm, layer):
    """``W (k y + t) + b = (W diag(k)) y + (W t + b)``, for a Dense or an unpadded Conv2d."""
    b = np.zeros(_channels_out(layer), dtype=bn.dtype) if layer.bias is None else layer.bias
    if isinstance(layer, Dense):
        return _with(layer, layer.W * bn.scale[None, :], b + layer.W @ bn.bias)
    out_per_group = layer.out_channels // layer.groups
    group_of_output = np.arange(layer.out_channels) // out_per_group
    k = bn.scale.reshape(layer.groups, -1)[group_of_output]  # (O, C/groups): scale of each input channel
    t = bn.bias.reshape(layer.groups, -1)[group_of_output]
    return _with(layer, layer.W * k[:, :, None, None], b + np.einsum("ocuv,oc->o", layer.W, t))


def fold_batchnorm(net: Sequential) -> Sequential:
    """An equivalent network without BatchNorm layers (see the module docstring); raises where folding is not exact."""
    layers = list(net)
    folded = []
    k = 0
    while k < len(layers):
        layer = layers[k]
        if not isinstance(layer, BatchNorm):
            folded.append(layer)
            k += 1
            continue
        before = folded[-1] if folded else None
        after = layers[k + 1] if k + 1 < len(layers) else None
        if isinstance(before, (Dense, Conv2d)) and _channels_out(before) == layer.channels:
            folded[-1] = _fold_after(before, layer)
            k += 1
        elif (isinstance(after, Dense) or isinstance(after, Conv2d) and after.padding == (0, 0)) \
                and _channels_in(after) == layer.channels:
            folded.append(_fold_before(layer, after))
            k += 2
        else:
            raise ValueError(f"{net.where(k)} cannot be folded exactly: it must directly follow a Dense/Conv2d, or "
                             f"directly precede a Dense or an unpadded Conv2d, with {layer.channels} channels")
    return Sequential(folded)
