"""Linearisations: the operator ``D`` a multiplier method uses at each layer (math.md §4, §6).

DeepLIFT, the LID family, LRP-Taylor and the gradient baselines all propagate a multiplier
``g`` (a modified gradient) down the network with ``g_in = g_out · D`` and assign
``R = g ⊙ factor`` (usually the increment ``ΔY``); they differ only in ``D``:

* :func:`local` — the Jacobian at one point (LID-Taylor, LRP-Taylor, gradients; math.md §6.1):
  ``W`` for affine layers, ``diag(f'(x))`` element-wise (``ReLU'(0) = 0``), the first-index
  arg-max selection for max-pooling.
* :func:`rescale` — DeepLIFT's Rescale rule (math.md §4 (b2)): ``diag(Δy/Δx)`` for element-wise
  layers, the gradient at the reference where ``|Δx| < 1e-7``; max-pooling in gradient mode.
  ``convention="captum"`` is captum's ``DeepLift``: the gradient at the input where
  ``|Δx| < 1e-10``, and max-pooling by the cross-maximum of input and reference (:class:`CrossMax`).
* :func:`path_average` — LID-IG (math.md §6.3): the Jacobian averaged over points
  ``Ŷ + t_k ΔY`` of the layer's own straight path, with quadrature weights ``w_k``; affine
  layers exactly ``W``.
* :class:`RevealCancel` — DeepLIFT's RevealCancel rule for an element-wise layer together with
  the affine layer before it (math.md §4 (b3)).

Each gives ``vjp(g)`` (``g D``, batched), ``jvp(v)`` (``D v``, batched, for the row sums of the
messages ``diag(g) D diag(factor)``) and ``matrix(n)`` (``D`` of sample ``n``, explicit). A layer with
several inputs (``Add``, ``Concat``) has one block ``D_e`` per input edge: ``vjp_edges(g)`` gives every
``g D_e``, ``jvp_edges(vs)`` the sum ``sum_e D_e v_e`` and ``matrix(n, edge)`` one block.

Which operator a layer uses for which method is the layer's own business: its
``local_linearization``, ``rescale_linearization`` and ``path_linearization`` methods
(:mod:`lrpref.layers`) build these operators; :func:`local`, :func:`rescale` and
:func:`path_average` call them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .modifiers import NEGATIVE, POSITIVE

__all__ = ["Linearization", "Diagonal", "Linear", "Reshape", "Selections", "local", "rescale", "path_average",
           "RevealCancel", "CrossMax", "captum_hooks", "NEAR_ZERO", "CAPTUM_NEAR_ZERO"]

NEAR_ZERO = 1e-7  # DeepLIFT's NEAR_ZERO_THRESHOLD (math.md §4, §10)
CAPTUM_NEAR_ZERO = 1e-10  # captum DeepLift's eps (math.md §P1.2)


class Linearization:
    """``D`` of one layer (or of a fused pair of layers, ``span = 2``) for a batch; one input edge unless overridden."""

    span = 1

    def vjp(self, g):
        raise NotImplementedError

    def jvp(self, v):
        raise NotImplementedError

    def matrix(self, n, edge: int = 0):
        raise NotImplementedError

    def vjp_edges(self, g) -> list:
        """``g D_e`` for every input edge ``e``."""
        return [self.vjp(g)]

    def jvp_edges(self, vs):
        """``sum_e D_e v_e`` for one input-shaped batch ``v_e`` per edge."""
        return self.jvp(vs[0])

    def describe(self) -> str:
        raise NotImplementedError


class Diagonal(Linearization):
    """``D = diag(d)`` with ``d`` batched (element-wise layers)."""

    def __init__(self, d, text):
        self.d, self.text = d, text

    def vjp(self, g):
        return g * self.d

    def jvp(self, v):
        return v * self.d

    def matrix(self, n, edge=0):
        return sp.diags(self.d[n].ravel(), format="csr")

    def describe(self):
        return self.text


class Linear(Linearization):
    """``D_e = W_e``: affine layers (one block per input edge), exactly, in every method."""

    def __init__(self, layer, in_shapes):
        self.layer, self.in_shapes = layer, [tuple(shape) for shape in in_shapes]

    def vjp(self, g):
        return self.layer.edge_transpose(0, g, self.in_shapes)

    def vjp_edges(self, g):
        return [self.layer.edge_transpose(e, g, self.in_shapes) for e in range(len(self.in_shapes))]

    def jvp(self, v):
        return self.layer.edge_apply(0, v, self.in_shapes)

    def jvp_edges(self, vs):
        total = None
        for e, v in enumerate(vs):
            part = self.layer.edge_apply(e, v, self.in_shapes)
            total = part if total is None else total + part
        return total

    def matrix(self, n, edge=0):
        return self.layer.edge_matrix(edge, self.in_shapes)

    def describe(self):
        return "W"


class Reshape(Linearization):
    """Flatten: the identity between shapes."""

    def __init__(self, in_shape, out_shape):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)

    def vjp(self, g):
        return g.reshape(g.shape[0], *self.in_shape)

    def jvp(self, v):
        return v.reshape(v.shape[0], *self.out_shape)

    def matrix(self, n, edge=0):
        return sp.identity(int(np.prod(self.in_shape)), format="csr")

    def describe(self):
        return "reshape"


class Selections(Linearization):
    """Max-pooling: a weighted average of arg-max selections (one selection for a single point)."""

    def __init__(self, layer, points, winners, weights, text):
        self.layer, self.points, self.winners, self.weights, self.text = layer, points, winners, weights, text

    def vjp(self, g):
        total = None
        for winners, w in zip(self.winners, self.weights):
            part = self.layer.route(self.points[0], g * g.dtype.type(w), "first", winners=winners)
            total = part if total is None else total + part
        return total

    def jvp(self, v):
        total = None
        for winners, w in zip(self.winners, self.weights):
            part = self.layer.gather(v, winners) * v.dtype.type(w)
            total = part if total is None else total + part
        return total

    def matrix(self, n, edge=0):
        total = None
        for point, w in zip(self.points, self.weights):
            part = self.layer.selection_matrix(point[n], "first") * w
            total = part if total is None else total + part
        return total.tocsr()

    def describe(self):
        return self.text


def local(layer, x, state=None) -> Linearization:
    """The Jacobian of a single-input ``layer`` at its input ``x`` (``state``: what its forward pass kept)."""
    return layer.local_linearization([x], state)


def rescale(layer, x, x_ref, y, y_ref, state=None, convention: str = "deeplift") -> Linearization:
    """DeepLIFT Rescale (math.md §4 (b2)) of a single-input ``layer``: see the layer's ``rescale_linearization``."""
    if convention not in ("deeplift", "captum"):
        raise ValueError(f"the DeepLIFT convention must be 'deeplift' or 'captum', got {convention!r}")
    return layer.rescale_linearization([x], [x_ref], y, y_ref, state, convention)


def rescale_multiplier(derivative, x, x_ref, y, y_ref, convention) -> Diagonal:
    """DeepLIFT Rescale for an element-wise map (math.md §4 (b2)): ``diag(Δy/Δx)``, and where ``|Δx| < 1e-7`` the
    derivative at the reference; ``convention="captum"``: the derivative at ``x`` where ``|Δx| < 1e-10``."""
    captum = convention == "captum"
    dx, dy = x - x_ref, y - y_ref
    near = np.abs(dx) < (CAPTUM_NEAR_ZERO if captum else NEAR_ZERO)
    multiplier = np.where(near, derivative(x if captum else x_ref), dy / np.where(near, 1, dx))
    return Diagonal(multiplier.astype(x.dtype, copy=False), "Δy/Δx")


def path_average(layer, x, x_ref, ts, weights) -> Linearization:
    """LID-IG (math.md §6.3): ``sum_k w_k D(x̂ + t_k Δx)`` on the layer's own straight path; affine layers ``W``."""
    return layer.path_linearization([x], [x_ref], ts, weights)


def captum_hooks(layer) -> bool:
    """captum's DeepLift hooks the layer (its ``SUPPORTED_NON_LINEAR``).

    A quirk of those hooks (PyTorch's full backward hooks, captum 0.9): when a hooked layer's input comes
    straight from another hooked layer (ReLU → MaxPool2d), the lower layer's hook receives the upper
    layer's *plain* gradient as its output gradient, so the upper layer's DeepLIFT rule is lost.
    """
    return type(layer).__name__ in ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "MaxPool2d")


class CrossMax(Linearization):
    """captum's DeepLIFT rule for max-pooling: with ``m_j = max(y_j, ŷ_j)``, window ``j`` sends ``m_j − ŷ_j`` to its
    arg-max at ``x`` and ``y_j − m_j`` to its arg-max at the reference, each divided by that input's ``Δx_i``
    (``D_ji = ([i = argmax_x] (m_j − ŷ_j) + [i = argmax_x̂] (y_j − m_j)) / Δx_i``); inputs with
    ``|Δx_i| < 1e-10`` take the gradient (``D_ji = [i = argmax_x]``). So ``D Δx = Δy`` where no input is near.
    """

    def __init__(self, layer, x, x_ref, y, y_ref):
        x_ref = np.ascontiguousarray(np.broadcast_to(x_ref, x.shape))  # a shared reference has a batch of one
        self.layer, self.x, self.x_ref = layer, x, x_ref
        self.winners, self.reference_winners = layer.pool(x)[1], layer.pool(x_ref)[1]
        top = np.maximum(y, y_ref)
        self.up, self.down = top - y_ref, y - top
        dx = x - x_ref
        self.near = np.abs(dx) < CAPTUM_NEAR_ZERO
        self.inverse = np.where(self.near, 0, 1 / np.where(self.near, 1, dx))

    def vjp(self, g):
        routed = (self.layer.route(self.x, g * self.up, "first", self.winners)
                  + self.layer.route(self.x_ref, g * self.down, "first", self.reference_winners))
        return np.where(self.near, self.layer.route(self.x, g, "first", self.winners), routed * self.inverse)

    def jvp(self, v):
        scaled = v * self.inverse
        return (self.up * self.layer.gather(scaled, self.winners) + self.down * self.layer.gather(scaled, self.reference_winners)
                + self.layer.gather(np.where(self.near, v, 0), self.winners))

    def matrix(self, n, edge=0):
        at_x = self.layer.selection_matrix(self.x[n], "first")
        at_ref = self.layer.selection_matrix(self.x_ref[n], "first")
        D = (sp.diags(self.up[n].ravel()) @ at_x + sp.diags(self.down[n].ravel()) @ at_ref) @ sp.diags(self.inverse[n].ravel())
        return (D + at_x @ sp.diags(self.near[n].ravel().astype(self.x.dtype))).tocsr()

    def describe(self):
        return "cross-max (captum)"


class RevealCancel(Linearization):
    """DeepLIFT RevealCancel (math.md §4 (b3)) for an affine layer followed by an element-wise one.

    With ``Δz⁺_j = sum_i (w_ji Δa_i)⁺`` and ``Δz⁻_j = sum_i (w_ji Δa_i)⁻`` (the bias has no
    increment) and ``f`` the activation at reference pre-activation ``ẑ``:
    ``Δy⁺ = ½(f(ẑ+Δz⁺) − f(ẑ)) + ½(f(ẑ+Δz⁻+Δz⁺) − f(ẑ+Δz⁻))``, ``Δy⁻`` symmetrically, so
    ``Δy⁺ + Δy⁻ = Δy``; multipliers ``m± = Δy±/Δz±`` (the denominator moved ±1e-7 away from 0
    where ``|Δz±| < 5e-8``, DeepLIFT's pseudocount). The pair's operator is
    ``D_ji = m⁺_j w_ji [w_ji Δa_i > 0] + m⁻_j w_ji [w_ji Δa_i < 0]`` (and ``½(m⁺+m⁻) w_ji``
    where ``Δa_i = 0``, DeepLIFT's convention, which only shows in the multipliers).
    """

    span = 2

    def __init__(self, affine, activation, a, a_ref, z_ref):
        self.affine, self.activation = affine, activation
        self.in_shape = a.shape[1:]
        da = a - a_ref
        self.positive, self.negative = np.maximum(da, 0), np.minimum(da, 0)
        up = affine.apply(self.positive, POSITIVE) + affine.apply(self.negative, NEGATIVE)      # Δz⁺
        down = affine.apply(self.positive, NEGATIVE) + affine.apply(self.negative, POSITIVE)    # Δz⁻
        f = activation.function
        y_up = 0.5 * (f(z_ref + up) - f(z_ref)) + 0.5 * (f(z_ref + down + up) - f(z_ref + down))
        y_down = 0.5 * (f(z_ref + down) - f(z_ref)) + 0.5 * (f(z_ref + up + down) - f(z_ref + up))
        self.m_up, self.m_down = y_up / _pseudocount(up), y_down / _pseudocount(down)
        self.dz_up, self.dz_down = up, down
        self.sign = np.sign(da)

    def vjp(self, g):
        T = lambda s, rho: self.affine.apply_transpose(s, self.in_shape, rho)  # noqa: E731
        gu, gd = g * self.m_up, g * self.m_down
        if_positive = T(gu, POSITIVE) + T(gd, NEGATIVE)
        if_negative = T(gu, NEGATIVE) + T(gd, POSITIVE)
        return np.where(self.sign > 0, if_positive, np.where(self.sign < 0, if_negative, 0.5 * (if_positive + if_negative)))

    def jvp(self, v):
        """Row sums of the pair's messages per unit multiplier: ``m⁺ Δz⁺ + m⁻ Δz⁻`` (``v`` is ``Δa``)."""
        return self.m_up * self.dz_up + self.m_down * self.dz_down

    def matrix(self, n, edge=0):
        W_pos, W_neg = self.affine.matrix(self.in_shape, POSITIVE), self.affine.matrix(self.in_shape, NEGATIVE)
        W = self.affine.matrix(self.in_shape)
        sign = self.sign[n].ravel()
        cols = lambda mask: sp.diags(mask.astype(float))  # noqa: E731
        rows = lambda m: sp.diags(m[n].ravel())  # noqa: E731
        if not sp.issparse(W):
            W_pos, W_neg, W = sp.csr_matrix(W_pos), sp.csr_matrix(W_neg), sp.csr_matrix(W)
        D = (rows(self.m_up) @ (W_pos @ cols(sign > 0) + W_neg @ cols(sign < 0))
             + rows(self.m_down) @ (W_neg @ cols(sign > 0) + W_pos @ cols(sign < 0))
             + 0.5 * rows(self.m_up + self.m_down) @ W @ cols(sign == 0))
        return D.tocsr()

    def describe(self):
        return "RevealCancel (with the affine layer)"


def _pseudocount(t):
    """DeepLIFT's ``pseudocount_near_zero``: ``t ± 1e-7`` (sign of ``t``, ``+`` at 0) where ``|t| < 5e-8``."""
    near = np.abs(t) < 0.5 * NEAR_ZERO
    return np.where(near, t + np.where(t >= 0, NEAR_ZERO, -NEAR_ZERO).astype(t.dtype), t)
