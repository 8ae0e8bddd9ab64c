"""Numba kernels for the fast path: im2col / col2im for Conv2d and max-pooling windows.

Geometry (math.md §11, the PyTorch convention): input ``(C, H, W)``, kernel
``(kh, kw)``, stride ``(sh, sw)``, zero padding ``(ph, pw)``, dilation ``(dh, dw)``;
output position ``(p, q)`` reads the input at ``(p*sh + u*dh - ph, q*sw + v*dw - pw)`` for
tap ``(u, v)``; taps that fall into the padding read 0 (convolution) or are skipped
(pooling). The explicit path (``layers.py``) builds the same geometry with NumPy index
arithmetic; the tests assert both agree.

All kernels are compiled once per dtype and cached on disk (``cache=True``).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _valid_range(size, stride, offset, extent):
    """Output positions ``q`` in ``[0, extent)`` whose input ``q*stride + offset`` lies in ``[0, size)``."""
    first = 0 if offset >= 0 else (-offset + stride - 1) // stride
    last = (size - 1 - offset) // stride + 1 if size - 1 - offset >= 0 else 0
    return min(first, extent), max(min(last, extent), min(first, extent))


@njit(cache=True)
def im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """``x (N, C, H, W)`` -> ``cols (N, C*kh*kw, ho*wo)`` (given, overwritten), rows ordered (c, u, v); padding reads 0."""
    n_batch, channels, height, width = x.shape
    rows = channels * kh * kw
    for job in range(n_batch * rows):
        n = job // rows
        r = job % rows
        c = r // (kh * kw)
        u = (r // kw) % kh
        v = r % kw
        q0, q1 = _valid_range(width, sw, v * dw - pw, wo)
        for p in range(ho):
            i = p * sh + u * dh - ph
            out = cols[n, r, p * wo:(p + 1) * wo]
            if i < 0 or i >= height:
                out[:] = 0
                continue
            out[:q0] = 0
            out[q1:] = 0
            j = q0 * sw + v * dw - pw
            for q in range(q0, q1):
                out[q] = x[n, c, i, j]
                j += sw


@njit(cache=True)
def col2im(cols, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """Adjoint of :func:`im2col`: scatter-add ``cols (N, C*kh*kw, ho*wo)`` into ``(N, C, H, W)``."""
    n_batch = cols.shape[0]
    x = np.zeros((n_batch, channels, height, width), dtype=cols.dtype)
    for job in range(n_batch * channels):
        n = job // channels
        c = job % channels
        for u in range(kh):
            for v in range(kw):
                r = (c * kh + u) * kw + v
                q0, q1 = _valid_range(width, sw, v * dw - pw, wo)
                for p in range(ho):
                    i = p * sh + u * dh - ph
                    if i < 0 or i >= height:
                        continue
                    row = cols[n, r, p * wo:(p + 1) * wo]
                    target = x[n, c, i]
                    j = q0 * sw + v * dw - pw
                    for q in range(q0, q1):
                        target[j] += row[q]
                        j += sw
    return x


@njit(cache=True)
def _window_ranges(size, kernel, stride, padding, dilation, extent):
    """For every output position: its first input position and the range ``[t0, t1)`` of taps inside the input."""
    start = np.empty(extent, dtype=np.int64)
    first = np.empty(extent, dtype=np.int64)
    stop = np.empty(extent, dtype=np.int64)
    for p in range(extent):
        origin = p * stride - padding
        t0 = 0 if origin >= 0 else (-origin + dilation - 1) // dilation
        t1 = min(kernel, (size - 1 - origin) // dilation + 1)
        start[p], first[p], stop[p] = origin, t0, max(t1, t0)
    return start, first, stop


@njit(cache=True)
def maxpool_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo):
    """Window maxima and the flat input index (``i*W + j``) of the first maximum in row-major window order."""
    n_batch, channels, height, width = x.shape
    y = np.empty((n_batch, channels, ho, wo), dtype=x.dtype)
    winner = np.empty((n_batch, channels, ho, wo), dtype=np.int64)
    if kh == kw == sh == sw == 2 and ph == pw == 0 and dh == dw == 1:  # the common 2×2 / stride 2 window
        for n in range(n_batch):
            for c in range(channels):
                image = x[n, c]
                for p in range(ho):
                    top, bottom = image[2 * p], image[2 * p + 1]
                    for q in range(wo):
                        j = 2 * q
                        best, index = top[j], 2 * p * width + j
                        if top[j + 1] > best:
                            best, index = top[j + 1], 2 * p * width + j + 1
                        if bottom[j] > best:
                            best, index = bottom[j], (2 * p + 1) * width + j
                        if bottom[j + 1] > best:
                            best, index = bottom[j + 1], (2 * p + 1) * width + j + 1
                        y[n, c, p, q] = best
                        winner[n, c, p, q] = index
        return y, winner
    rows, row_first, row_stop = _window_ranges(height, kh, sh, ph, dh, ho)
    cols, col_first, col_stop = _window_ranges(width, kw, sw, pw, dw, wo)
    for n in range(n_batch):
        for c in range(channels):
            image = x[n, c]
            for p in range(ho):
                for q in range(wo):
                    i = rows[p] + row_first[p] * dh
                    j = cols[q] + col_first[q] * dw
                    best, best_index = image[i, j], i * width + j
                    for u in range(row_first[p], row_stop[p]):
                        i = rows[p] + u * dh
                        for v in range(col_first[q], col_stop[q]):
                            j = cols[q] + v * dw
                            if image[i, j] > best:
                                best, best_index = image[i, j], i * width + j
                    y[n, c, p, q] = best
                    winner[n, c, p, q] = best_index
    return y, winner


@njit(cache=True)
def scatter_winners(values, winner, height, width):
    """Send ``values (N, C, ho, wo)`` to the winning inputs: ``out[n, c, winner] += values``."""
    n_batch, channels, ho, wo = values.shape
    out = np.zeros((n_batch, channels, height * width), dtype=values.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for p in range(ho):
                for q in range(wo):
                    out[n, c, winner[n, c, p, q]] += values[n, c, p, q]
    return out.reshape((n_batch, channels, height, width))


@njit(cache=True)
def scatter_ties(x, y, values, kh, kw, sh, sw, ph, pw, dh, dw):
    """Split ``values[j]`` equally among the inputs of window ``j`` that equal its maximum ``y[j]``."""
    n_batch, channels, height, width = x.shape
    ho, wo = y.shape[2], y.shape[3]
    out = np.zeros_like(x)
    rows, row_first, row_stop = _window_ranges(height, kh, sh, ph, dh, ho)
    cols, col_first, col_stop = _window_ranges(width, kw, sw, pw, dw, wo)
    for n in range(n_batch):
        for c in range(channels):
            for p in range(ho):
                for q in range(wo):
                    best = y[n, c, p, q]
                    ties = 0
                    for u in range(row_first[p], row_stop[p]):
                        for v in range(col_first[q], col_stop[q]):
                            if x[n, c, rows[p] + u * dh, cols[q] + v * dw] == best:
                                ties += 1
                    share = values[n, c, p, q] / ties
                    for u in range(row_first[p], row_stop[p]):
                        for v in range(col_first[q], col_stop[q]):
                            if x[n, c, rows[p] + u * dh, cols[q] + v * dw] == best:
                                out[n, c, rows[p] + u * dh, cols[q] + v * dw] += share
    return out


# --------------------------------------------------------------------------- the division step of LRP rules


# stabiliser forms (``Stabiliser.sign``): the kernels take the number
SIGNED, UNSIGNED, ZEROS = 0, 1, 2


@njit(cache=True)
def stabilised(d, eps, form):
    """One denominator: ``d + eps·sgn0(d)`` (SIGNED, sgn0(0) = +1); ``d + eps`` falling back to the signed
    form where that is exactly 0 (UNSIGNED, math.md §3.2, §10); ``d + eps·[d = 0]`` (ZEROS, iNNvestigate's
    ``safe_divide``). ``eps = 0`` leaves ``d`` as it is."""
    if eps == 0:
        return d
    if form == ZEROS:
        return eps if d == 0 else d
    if form == UNSIGNED:
        shifted = d + eps
        if shifted != 0:
            return shifted
    return d + eps if d >= 0 else d - eps


@njit(cache=True)
def stabilise(D, eps, form):
    """:func:`stabilised` for every entry of ``D (N, M)``, with ``eps (N,)`` per sample."""
    S = np.empty_like(D)
    for n in range(D.shape[0]):
        for m in range(D.shape[1]):
            S[n, m] = stabilised(D[n, m], eps[n], form)
    return S


@njit(cache=True)
def relevance_scale(R, D, z, eps, form, where, coefficient):
    """``s = c R / S`` with ``S`` the stabiliser applied to ``D``, and 0 where ``S = 0`` or the selector excludes the neuron.

    ``where`` is 0 (every neuron), 1 (``z > 0``) or -1 (``z < 0``); all arrays (N, M), ``eps (N,)``.
    """
    s = np.empty_like(R)
    for n in range(R.shape[0]):
        e = eps[n]
        if where == 0 and form == SIGNED and e > 0:  # S = D + e·sgn0(D) is never 0: a branch-free loop
            for m in range(R.shape[1]):
                d = D[n, m]
                s[n, m] = coefficient * R[n, m] / (d + (e if d >= 0 else -e))
            continue
        for m in range(R.shape[1]):
            S = stabilised(D[n, m], e, form)
            admitted = where == 0 or (where > 0 and z[n, m] > 0) or (where < 0 and z[n, m] < 0)
            s[n, m] = coefficient * R[n, m] / S if admitted and S != 0 else 0.0
    return s


@njit(cache=True)
def path_positive_weight(x_ref, dx, ts, ws, out):
    """``out[i] = sum_k ws[k] [x_ref[i] + ts[k] dx[i] > 0]`` (1-D arrays of one dtype): a ReLU's derivative averaged
    over the path's points, in one pass, with the same arithmetic and summation order as point by point."""
    for i in range(dx.size):
        out[i] = 0  # accumulated in out's own dtype, as the point-by-point sum of arrays
        for k in range(ts.size):
            if x_ref[i] + ts[k] * dx[i] > 0:
                out[i] += ws[k]

