"""The fast path of :class:`lrpref.Conv2d`: its map and transpose as BLAS GEMMs (math.md §11).

For stride 1 with at least ``SHIFTED_MIN_CHANNELS`` input channels per group, one accumulating
GEMM per kernel tap on shifted views of the zero-padded input (no im2col copy, see
:mod:`lrpref._fast.blas`); otherwise im2col (numba, :mod:`lrpref._fast.kernels`) and one GEMM per
group, and for the transpose GEMM + col2im. Large batches go in chunks of at most
``COLUMN_BUFFER_BYTES`` of columns. The layer itself (:mod:`lrpref.layers`) holds the parameters,
the geometry and the explicit matrix; this module only computes.
"""

from __future__ import annotations

import numpy as np

from . import blas as _blas
from . import kernels as _kernels
from .scratch import BoundedCache, scratch

__all__ = ["ConvKernels", "COLUMN_BUFFER_BYTES", "SHIFTED_MIN_CHANNELS"]

# Upper bound on the im2col buffer of one Conv2d call; larger batches are processed in chunks.
COLUMN_BUFFER_BYTES = 256 * 2**20
# Stride-1 convolutions with at least this many input channels per group use shifted-view GEMMs instead of im2col.
SHIFTED_MIN_CHANNELS = 8


def _padded_channels_first(x, padding, hp, wp, name):
    """``x (N, C, H, W)`` placed at ``padding`` in a zero ``(C, N*hp*wp)`` scratch array (only the border is zeroed)."""
    n_batch, channels, height, width = x.shape
    (ph, pw) = padding
    out = scratch(name, (channels, n_batch, hp, wp), x.dtype)
    out[:, :, :ph] = 0
    out[:, :, ph + height:] = 0
    out[:, :, ph:ph + height, :pw] = 0
    out[:, :, ph:ph + height, pw + width:] = 0
    out[:, :, ph:ph + height, pw:pw + width] = x.transpose(1, 0, 2, 3)
    return out.reshape(channels, -1)


class ConvKernels:
    """The GEMM plans of one convolution: its operand caches (bounded) and the two products."""

    def __init__(self, conv):
        self.conv = conv
        self._operands = BoundedCache()  # per weight array: a sweep over rule parameters stays bounded

    def _columns(self, x, ho, wo):
        if self.conv._is_pointwise():
            return x.reshape(x.shape[0], x.shape[1], -1)
        cols = scratch("conv.columns", (x.shape[0], x.shape[1] * self.conv.kernel[0] * self.conv.kernel[1], ho * wo), x.dtype)
        _kernels.im2col(np.ascontiguousarray(x), cols, *self.conv._geometry(), ho, wo)
        return cols

    def _chunks(self, n_batch, in_shape, ho, wo, itemsize):
        per_sample = in_shape[0] * self.conv.kernel[0] * self.conv.kernel[1] * ho * wo * itemsize
        step = max(1, COLUMN_BUFFER_BYTES // max(per_sample, 1))
        return [slice(start, min(start + step, n_batch)) for start in range(0, n_batch, step)]

    def _gemm_operands(self, weight):
        """Per group: the kernel as a (O/g, C/g*kh*kw) matrix and its contiguous transpose (cached per weight array)."""
        def make():
            o_g = self.conv.out_channels // self.conv.groups
            rows = [np.ascontiguousarray(weight[g * o_g:(g + 1) * o_g].reshape(o_g, -1)) for g in range(self.conv.groups)]
            return weight, rows, [np.ascontiguousarray(r.T) for r in rows]  # the weight keeps its id() alive

        return self._operands.get_or_make(id(weight), make)[1:]

    def _uses_shifted_views(self):
        """Stride 1 with enough channels per group for GEMMs with K = C/groups to pay off."""
        return self.conv.stride == (1, 1) and self.conv.in_channels // self.conv.groups >= SHIFTED_MIN_CHANNELS

    def _tap_matrices(self, weight):
        """Per group and tap (u, v): ``W[o, c, u, v]`` as contiguous (O/g, C/g) matrices and their transposes (cached)."""
        def make():
            o_g = self.conv.out_channels // self.conv.groups
            taps = [[np.ascontiguousarray(weight[g * o_g:(g + 1) * o_g, :, u, v]) for u in range(self.conv.kernel[0])
                     for v in range(self.conv.kernel[1])] for g in range(self.conv.groups)]
            return weight, taps, [[np.ascontiguousarray(t.T) for t in group] for group in taps]

        return self._operands.get_or_make(("taps", id(weight)), make)[1:]

    def _shifted_layout(self, in_shape, n_batch):
        """Padded size, the column offset of every tap in the flattened ``(C, N*Hp*Wp)`` layout, and the GEMM width."""
        _, height, width = in_shape
        (kh, kw), (ph, pw), (dh, dw) = self.conv.kernel, self.conv.padding, self.conv.dilation
        hp, wp = height + 2 * ph, width + 2 * pw
        offsets = [u * dh * wp + v * dw for u in range(kh) for v in range(kw)]
        return hp, wp, offsets, n_batch * hp * wp - offsets[-1]

    def _apply_shifted(self, x, weight):
        """``y = sum over taps of W[:, :, u, v] @ (padded x shifted by the tap)``, math.md §11, as accumulating GEMMs."""
        n_batch, channels, height, width = x.shape
        _, ho, wo = self.conv.output_shape(x.shape[1:])
        hp, wp, offsets, span = self._shifted_layout(x.shape[1:], n_batch)
        o_g, c_g = self.conv.out_channels // self.conv.groups, self.conv.in_channels // self.conv.groups
        source = _padded_channels_first(x, self.conv.padding, hp, wp, "conv.source")
        y = scratch("conv.target", (self.conv.out_channels, n_batch * hp * wp), x.dtype)
        y[:, span:] = 0
        taps, _ = self._tap_matrices(weight)
        for g in range(self.conv.groups):
            for k, (tap, offset) in enumerate(zip(taps[g], offsets)):  # the first tap overwrites, the others add
                _blas.gemm(tap, source[g * c_g:(g + 1) * c_g, offset:offset + span], y[g * o_g:(g + 1) * o_g, :span],
                           accumulate=k > 0)
        y = y.reshape(self.conv.out_channels, n_batch, hp, wp)[:, :, :ho, :wo]
        return y.transpose(1, 0, 2, 3).copy()  # a copy: y lives in scratch memory

    def _apply_transpose_shifted(self, g, weight, in_shape):
        """The adjoint of :meth:`_apply_shifted`: GEMMs with the transposed taps, accumulated into shifted views."""
        n_batch = g.shape[0]
        channels, height, width = in_shape
        hp, wp, offsets, span = self._shifted_layout(in_shape, n_batch)
        (ph, pw), (o_g, c_g) = self.conv.padding, (self.conv.out_channels // self.conv.groups, self.conv.in_channels // self.conv.groups)
        source = _padded_channels_first(g, (0, 0), hp, wp, "conv.source")
        grad = scratch("conv.target", (channels, n_batch * hp * wp), g.dtype)
        grad.fill(0)
        _, taps_t = self._tap_matrices(weight)
        for grp in range(self.conv.groups):
            for tap, offset in zip(taps_t[grp], offsets):
                _blas.gemm(tap, source[grp * o_g:(grp + 1) * o_g, :span], grad[grp * c_g:(grp + 1) * c_g, offset:offset + span],
                           accumulate=True)
        grad = grad.reshape(channels, n_batch, hp, wp)[:, :, ph:ph + height, pw:pw + width]
        return grad.transpose(1, 0, 2, 3).copy()  # a copy: grad lives in scratch memory

    def apply(self, x, weight):
        """``W x`` for a batch (no bias): shifted-view GEMMs or im2col + GEMM."""
        if self._uses_shifted_views():
            return self._apply_shifted(x, weight)
        n_batch = x.shape[0]
        _, ho, wo = self.conv.output_shape(x.shape[1:])
        out = np.empty((n_batch, self.conv.out_channels, ho * wo), dtype=np.result_type(x, weight))
        rows, _ = self._gemm_operands(weight)
        o_g, c_g = rows[0].shape
        for chunk in self._chunks(n_batch, x.shape[1:], ho, wo, x.itemsize):
            cols = self._columns(x[chunk], ho, wo)
            for n, sample in enumerate(range(n_batch)[chunk]):
                for g in range(self.conv.groups):
                    _blas.gemm(rows[g], cols[n, g * c_g:(g + 1) * c_g], out[sample, g * o_g:(g + 1) * o_g])
        return out.reshape(n_batch, self.conv.out_channels, ho, wo)

    def apply_transpose(self, g, weight, in_shape):
        """``Wᵀ g`` for a batch: the adjoint of :meth:`apply` (GEMM + col2im, or shifted-view GEMMs)."""
        if self._uses_shifted_views():
            return self._apply_transpose_shifted(g, weight, in_shape)
        n_batch = g.shape[0]
        channels, height, width = in_shape
        _, ho, wo = g.shape[1:]
        _, rows_t = self._gemm_operands(weight)
        c_g, o_g = rows_t[0].shape
        flat = g.reshape(n_batch, self.conv.out_channels, ho * wo)
        out = np.empty((n_batch, *in_shape), dtype=np.result_type(g, weight))
        for chunk in self._chunks(n_batch, in_shape, ho, wo, g.itemsize):
            cols = scratch("conv.columns", (flat[chunk].shape[0], c_g * self.conv.groups, ho * wo), out.dtype)
            for n, sample in enumerate(range(n_batch)[chunk]):
                for grp in range(self.conv.groups):
                    _blas.gemm(rows_t[grp], flat[sample, grp * o_g:(grp + 1) * o_g], cols[n, grp * c_g:(grp + 1) * c_g])
            if self.conv._is_pointwise():
                out[chunk] = cols.reshape(-1, *in_shape)
            else:
                out[chunk] = _kernels.col2im(cols, channels, height, width, *self.conv._geometry(), ho, wo)
        return out
