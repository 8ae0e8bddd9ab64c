"""Numba kernels for the fast path: im2col / col2im for Conv2d and max-pooling windows.

Geometry (spec ``neural.md`` §11, the PyTorch convention): input ``(C, H, W)``, kernel
``(kh, kw)``, stride ``(sh, sw)``, zero padding ``(ph, pw)``, dilation ``(dh, dw)``;
output position ``(p, q)`` reads the input at ``(p*sh + u*dh - ph, q*sw + v*dw - pw)`` for
tap ``(u, v)``; taps that fall into the padding read 0 (convolution) or are skipped
(pooling). The explicit path (``layers.py``) builds the same geometry with NumPy index
arithmetic; the tests assert both agree.

All kernels are compiled once per dtype and cached on disk (``cache=True``).
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """``x (N, C, H, W)`` -> ``cols (N, C*kh*kw, ho*wo)``, rows ordered (c, u, v)."""
    n_batch, channels, height, width = x.shape
    rows = channels * kh * kw
    cols = np.zeros((n_batch, rows, ho * wo), dtype=x.dtype)
    for job in prange(n_batch * rows):
        n = job // rows
        r = job % rows
        c = r // (kh * kw)
        u = (r // kw) % kh
        v = r % kw
        for p in range(ho):
            i = p * sh + u * dh - ph
            if i < 0 or i >= height:
                continue
            for q in range(wo):
                j = q * sw + v * dw - pw
                if 0 <= j < width:
                    cols[n, r, p * wo + q] = x[n, c, i, j]
    return cols


@njit(cache=True, parallel=True)
def col2im(cols, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """Adjoint of :func:`im2col`: scatter-add ``cols (N, C*kh*kw, ho*wo)`` into ``(N, C, H, W)``."""
    n_batch = cols.shape[0]
    x = np.zeros((n_batch, channels, height, width), dtype=cols.dtype)
    for job in prange(n_batch * channels):
        n = job // channels
        c = job % channels
        for u in range(kh):
            for v in range(kw):
                r = (c * kh + u) * kw + v
                for p in range(ho):
                    i = p * sh + u * dh - ph
                    if i < 0 or i >= height:
                        continue
                    for q in range(wo):
                        j = q * sw + v * dw - pw
                        if 0 <= j < width:
                            x[n, c, i, j] += cols[n, r, p * wo + q]
    return x


@njit(cache=True, parallel=True)
def maxpool_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """Window maxima and the flat input index (``i*W + j``) of the first maximum in row-major window order."""
    n_batch, channels, height, width = x.shape
    y = np.empty((n_batch, channels, ho, wo), dtype=x.dtype)
    winner = np.empty((n_batch, channels, ho, wo), dtype=np.int64)
    for job in prange(n_batch * channels):
        n = job // channels
        c = job % channels
        for p in range(ho):
            for q in range(wo):
                best = -np.inf
                best_index = -1
                for u in range(kh):
                    i = p * sh + u * dh - ph
                    if i < 0 or i >= height:
                        continue
                    for v in range(kw):
                        j = q * sw + v * dw - pw
                        if j < 0 or j >= width:
                            continue
                        value = x[n, c, i, j]
                        if best_index < 0 or value > best:
                            best = value
                            best_index = i * width + j
                y[n, c, p, q] = best
                winner[n, c, p, q] = best_index
    return y, winner


@njit(cache=True, parallel=True)
def scatter_winners(values, winner, height, width):
    """Send ``values (N, C, ho, wo)`` to the winning inputs: ``out[n, c, winner] += values``."""
    n_batch, channels, ho, wo = values.shape
    out = np.zeros((n_batch, channels, height * width), dtype=values.dtype)
    for job in prange(n_batch * channels):
        n = job // channels
        c = job % channels
        for p in range(ho):
            for q in range(wo):
                out[n, c, winner[n, c, p, q]] += values[n, c, p, q]
    return out.reshape((n_batch, channels, height, width))


@njit(cache=True, parallel=True)
def scatter_ties(x, y, values, kh, kw, sh, sw, ph, pw, dh, dw):
    """Split ``values[j]`` equally among the inputs of window ``j`` that equal its maximum ``y[j]``."""
    n_batch, channels, height, width = x.shape
    ho, wo = y.shape[2], y.shape[3]
    out = np.zeros_like(x)
    for job in prange(n_batch * channels):
        n = job // channels
        c = job % channels
        for p in range(ho):
            for q in range(wo):
                ties = 0
                for u in range(kh):
                    i = p * sh + u * dh - ph
                    if 0 <= i < height:
                        for v in range(kw):
                            j = q * sw + v * dw - pw
                            if 0 <= j < width and x[n, c, i, j] == y[n, c, p, q]:
                                ties += 1
                share = values[n, c, p, q] / ties
                for u in range(kh):
                    i = p * sh + u * dh - ph
                    if 0 <= i < height:
                        for v in range(kw):
                            j = q * sw + v * dw - pw
                            if 0 <= j < width and x[n, c, i, j] == y[n, c, p, q]:
                                out[n, c, i, j] += share
    return out
