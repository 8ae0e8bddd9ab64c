"""Canonizers: rewrite a network (a chain or a graph) into an equivalent one that LRP rules treat better.

:func:`fold_batchnorm` merges every :class:`~lrpref.BatchNorm` (per-channel affine map
``y = k x + t`` with ``k = gamma / sqrt(var + eps)``, ``t = beta - mean k``) into the adjacent
weight layer, exactly:

* after a Dense/Conv2d (``z = W a + b``, then BN):  ``W' = diag(k) W``, ``b' = k b + t``
  (zennit's ``SequentialMergeBatchNorm``, math.md §P1.1);
* before a Dense or an unpadded Conv2d (BN, then ``W y + b``): ``W' = W diag(k)``,
  ``b' = b + W t``. Before a padded convolution this is not exact (the padding would see
  ``t``), so it is refused.
"""

from __future__ import annotations

import numpy as np

from .layers import BatchNorm, Conv2d, Dense
from .network import Graph, Sequential

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


def _fold_target(net, k):
    """How BatchNorm node ``k`` folds: ``("after", p)`` into the Dense/Conv2d node ``p`` that feeds only it,
    ``("before", c)`` into the Dense / unpadded Conv2d node ``c`` that only it feeds, or None."""
    bn = net[k]
    (t,) = net.nodes[k].inputs
    if t > 0 and isinstance(net[t - 1], (Dense, Conv2d)) and len(net.consumers[t]) == 1 \
            and _channels_out(net[t - 1]) == bn.channels:
        return "after", t - 1
    consumers = net.consumers[k + 1]
    if len(consumers) == 1:
        c, _ = consumers[0]
        after = net[c]
        if (isinstance(after, Dense) or isinstance(after, Conv2d) and after.padding == (0, 0)) \
                and net.nodes[c].inputs == (k + 1,) and _channels_in(after) == bn.channels:
            return "before", c
    return None


RESIDUES = (None, "identity", "zennit")


def fold_batchnorm(net, keep_unfoldable: bool = False, *, into: str = "either", residue: str | None = None):
    """An equivalent network without BatchNorm layers (see the module docstring), of the same kind (a Sequential
    stays a Sequential).

    In a graph a BatchNorm folds into the Dense/Conv2d that feeds only it, or (``into="either"``, the default;
    not with ``into="preceding"``) into the Dense / unpadded Conv2d that only it feeds. One that cannot be
    folded exactly raises ``ValueError`` — or, with ``keep_unfoldable=True``, stays in the network as a layer
    (an affine map the rules treat as such).

    ``residue`` says what stays where a BatchNorm was folded: nothing (None, the default); ``"identity"``, a
    BatchNorm with mean 0, variance 1, no affine part and ``eps = 0`` (the identity map: the node indices stay);
    or ``"zennit"``, what zennit's ``SequentialMergeBatchNorm`` leaves (docs/peers.md): the same with the
    BatchNorm's own ``eps``, i.e. the map ``x ↦ x / sqrt(1 + eps)``, so the network is no longer equivalent
    (≈ eps/2 relative per BatchNorm).
    """
    if into not in ("either", "preceding"):
        raise ValueError(f"fold_batchnorm: into must be 'either' or 'preceding', not {into!r}")
    if residue not in RESIDUES:
        raise ValueError(f"fold_batchnorm: residue must be one of {RESIDUES}, not {residue!r}")
    if not isinstance(net, Graph):
        net = Sequential(net)  # a list of layers; anything else is refused there, naming the item
    replaced, removed, reads_from = {}, set(), {}
    for k, layer in enumerate(net):
        if not isinstance(layer, BatchNorm):
            continue
        target = _fold_target(net, k)
        if target is not None and into == "preceding" and target[0] != "after":
            target = None
        if target is None:
            if keep_unfoldable:
                continue
            raise ValueError(f"{net.where(k)} cannot be folded exactly: it must directly follow a Dense/Conv2d (that "
                             f"feeds nothing else), or directly precede a Dense or an unpadded Conv2d (that reads nothing "
                             f"else), with {layer.channels} channels; or pass keep_unfoldable=True to keep it as a layer")
        side, j = target
        base = replaced.get(j, net[j])
        replaced[j] = _fold_after(base, layer) if side == "after" else _fold_before(layer, base)
        if residue is not None:
            eps = layer.eps if residue == "zennit" else 0.0
            replaced[k] = BatchNorm(np.zeros(layer.channels), np.ones(layer.channels), eps=eps, dtype=layer.dtype)
            continue
        removed.add(k)
        (t,) = net.nodes[k].inputs
        reads_from[k + 1] = t  # whoever read the BatchNorm's output reads its input (before) or the folded layer (after)
    def source(t):
        while t in reads_from:
            t = reads_from[t]
        return t

    kept = [k for k in range(len(net)) if k not in removed]
    if isinstance(net, Sequential):
        return Sequential([replaced.get(k, net[k]) for k in kept])
    return Graph.from_nodes([(net.nodes[k].name, replaced.get(k, net[k]),
                              [net.tensor_name(source(t)) for t in net.nodes[k].inputs]) for k in kept])
