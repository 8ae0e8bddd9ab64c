"""Class activation maps: Grad-CAM, Layer-CAM, Score-CAM at any spatial layer (math.md §8).

With ``A^k`` channel ``k`` of the output of the chosen layer and ``y^c`` the logit of class ``c``:

* **Grad-CAM** — ``α_k = mean_{p,q} ∂y^c/∂A^k_{pq}``, ``L = ReLU(sum_k α_k A^k)``.
* **Layer-CAM** — ``L = ReLU(sum_k ReLU(∂y^c/∂A^k) ⊙ A^k)`` (paper); ``outer_relu=False`` drops
  the outer ReLU, as the official code does.
* **Score-CAM**, three conventions (math.md §15.22), with ``H^k`` the up-sampled ``A^k`` scaled to
  ``[0, 1]`` (min–max) and ``X ∘ H^k`` the masked input:

  - ``"paper"`` — ``C_k = y^c(X ∘ H^k) − y^c(X_b)`` with ``X_b`` the reference (default 0),
    ``α = softmax_k(C)``, ``L = ReLU(sum_k α_k A^k)``;
  - ``"official"`` (haofanwang/Score-CAM) — ``w_k = softmax(y(X ∘ H^k))_c``,
    ``L = ReLU(sum_k w_k Up(A^k))`` scaled to ``[0, 1]``;
  - ``"pytorch-grad-cam"`` — ``α = softmax_k(y^c(X ∘ H^k))``, ``L = ReLU(sum_k α_k A^k)``.

The map (``extras["cam"]``, at the layer's resolution) is up-sampled bilinearly to the input
size (``align_corners=False``) and returned as ``relevance`` of shape ``(N, 1, H, W)``. A CAM is
not a layer-wise decomposition: the explanation has no layer records and an empty ledger.
"""

from __future__ import annotations

import numpy as np

from . import tops
from .explanation import Explanation
from .heatmaps import upsample
from .reference import resolve_reference

__all__ = ["explain_cam", "CONVENTIONS", "OPTIONS"]

CONVENTIONS = ("paper", "official", "pytorch-grad-cam")
# each CAM's keyword options, with their defaults
OPTIONS = {
    "grad-cam": {"layer": None, "upsample": True},
    "layer-cam": {"layer": None, "upsample": True, "outer_relu": True},
    "score-cam": {"layer": None, "upsample": True, "convention": "paper", "batch_size": 64},
}


def _layer_output_and_gradient(net, x, classes, layer):
    """``A`` = output of node ``layer`` and ``∂y^c/∂A`` for every sample (summed over ``A``'s consumers)."""
    activations = net.record(x)
    A = activations[layer + 1]
    if A.ndim != 4:
        raise ValueError(f"a CAM needs a spatial layer: {net.where(layer)} outputs {A.shape[1:]}, not (C, H, W)")
    g = net.backward(activations, tops.one_hot(classes, activations[-1]), stop=layer + 1)[layer + 1]
    return activations, A, g


def _min_max(maps):
    """Each map scaled to ``[0, 1]`` (all zeros where it is constant)."""
    flat = maps.reshape(len(maps), -1)
    low, high = flat.min(1), flat.max(1)
    span = np.where(high > low, high - low, 1)
    shape = (-1,) + (1,) * (maps.ndim - 1)
    return np.where((high > low).reshape(shape), (maps - low.reshape(shape)) / span.reshape(shape), 0)


def _softmax(scores, axis):
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _score_cam(net, x, classes, A, convention, reference, batch_size):
    n_batch, channels = A.shape[:2]
    masks = _min_max(upsample(A.reshape(n_batch * channels, *A.shape[2:]), x.shape[2:])).reshape(n_batch, channels, *x.shape[2:])
    logits = np.empty((n_batch, channels, net.forward(x[:1]).shape[1]), dtype=x.dtype)
    for n in range(n_batch):
        for start in range(0, channels, batch_size):
            stop = min(start + batch_size, channels)
            logits[n, start:stop] = net.forward(x[n][None] * masks[n, start:stop, None])
    rows = np.arange(n_batch)
    scores = logits[rows, :, classes]  # (N, K): the target logit of every masked input
    if convention == "paper":
        baseline = net.forward(np.broadcast_to(resolve_reference(reference, x), x.shape).copy())[rows, classes]
        alpha = _softmax(scores - baseline[:, None], axis=1)
        return np.maximum(np.einsum("nk,nkhw->nhw", alpha, A), 0)
    if convention == "official":
        weights = _softmax(logits, axis=2)[rows, :, classes]
        up = upsample(A.reshape(n_batch * channels, *A.shape[2:]), x.shape[2:]).reshape(n_batch, channels, *x.shape[2:])
        return _min_max(np.maximum(np.einsum("nk,nkhw->nhw", weights, up), 0))
    alpha = _softmax(scores, axis=1)
    return np.maximum(np.einsum("nk,nkhw->nhw", alpha, A), 0)


def explain_cam(method, call):
    """Grad-CAM, Layer-CAM or Score-CAM at ``options["layer"]`` (see the module docstring)."""
    net, x, target, reference, options = call.net, call.x, call.target, call.reference, call.options
    layer = options["layer"]
    if layer is None:
        raise ValueError(f"{method} needs layer=: the index or name of the (spatial) node whose output it maps")
    if isinstance(layer, str):
        layer = net.index(layer)
    elif isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"{method}: layer must be a node index or name, got {layer!r}")
    elif not -len(net) <= layer < len(net):
        raise IndexError(f"layer {layer} out of range: the network has {len(net)} layers")
    layer = int(layer) % len(net)
    if x.ndim != 4:
        raise ValueError(f"{method} needs images (N, C, H, W); the input is {x.shape}")
    output = net.forward(x)
    classes, explicit = tops.resolve_target(output, target)
    if explicit is not None:
        raise ValueError(f"{method} needs class indices as target")
    activations, A, g = _layer_output_and_gradient(net, x, classes, layer)
    if method == "grad-cam":
        cam = np.maximum(np.einsum("nk,nkhw->nhw", g.mean(axis=(2, 3)), A), 0)
    elif method == "layer-cam":
        cam = np.einsum("nkhw,nkhw->nhw", np.maximum(g, 0), A)
        if options["outer_relu"]:
            cam = np.maximum(cam, 0)
    else:
        if options["convention"] not in CONVENTIONS:
            raise ValueError(f"score-cam convention must be one of {CONVENTIONS}, got {options['convention']!r}")
        batch_size = options["batch_size"]
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"score-cam: batch_size must be an integer >= 1 (masked inputs per forward pass), "
                             f"got {batch_size!r}")
        cam = _score_cam(net, x, classes, A, options["convention"], reference, int(batch_size))
    cam = cam.astype(x.dtype)
    relevance = (upsample(cam, x.shape[2:]) if options["upsample"] and cam.shape[1:] != x.shape[2:] else cam)[:, None]
    return Explanation(relevance, output, classes, tops.one_hot(classes, output) * output, [], method, "fast",
                       f"{method} at {net.where(layer)}", cam=cam, layer=layer)
