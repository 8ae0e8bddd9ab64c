"""Hypothesis strategies: random small networks (random depth, widths, conv geometry, pooling) and inputs.

``networks()`` draws a :class:`lrpref.Sequential` in float64 whose layers always fit their
input shapes: optional conv blocks (Conv2d with random kernel, stride, padding, dilation and
groups, an activation, optional max- or average-pooling), then Flatten and dense layers.
Weights come from a drawn seed, so examples shrink by structure.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import lrpref as lr


@st.composite
def conv_layer(draw, channels, size, rng, bias=True):
    out = draw(st.sampled_from([2, 8, 4, 8, 1, 3]))  # 8 channels: the next stride-1 conv takes the shifted-view GEMM path
    groups = draw(st.sampled_from([g for g in (2, 1) if channels % g == 0 and out % g == 0]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = draw(st.sampled_from([(1, 1), (2, 1), (1, 1), (1, 2), (2, 2)]))
    padding = []
    for k, d, s in zip(kernel, dilation, size):
        minimum = max(0, math.ceil((d * (k - 1) + 1 - s) / 2))
        padding.append(draw(st.integers(minimum, minimum + 1)))
    W = rng.normal(size=(out, channels // groups, *kernel))
    b = rng.normal(size=out) * 0.3 if bias else None
    return lr.Conv2d(W, b, stride, tuple(padding), dilation, groups)


@st.composite
def pool_layer(draw, size, kinds=("max", "avg")):
    kernel = min(draw(st.integers(2, 3)), *size)
    if kernel < 2:
        return None
    stride = draw(st.integers(1, 2))
    padding = draw(st.integers(0, kernel // 2))
    if draw(st.sampled_from(kinds)) == "max":
        return lr.MaxPool2d(kernel, stride, padding)
    return lr.AvgPool2d(kernel, stride, padding)


@st.composite
def networks(draw, activations=("relu",), bias=True, pooling=("max", "avg"), min_classes=2):
    """``(net, x)``: a random network and a batch of 1-3 inputs for it (``pooling``: the kinds drawn, () for none)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    make_activation = {"relu": lr.ReLU, "tanh": lr.Tanh, "leaky": lambda: lr.LeakyReLU(0.1), "sigmoid": lr.Sigmoid}
    layers = []
    image = draw(st.sampled_from([True, True, False]))
    if image:
        shape = input_shape = (draw(st.sampled_from([2, 8, 1, 3, 4])), draw(st.integers(4, 9)), draw(st.integers(4, 9)))
        for _ in range(draw(st.integers(1, 2))):
            conv = draw(conv_layer(shape[0], shape[1:], rng, bias))
            layers.append(conv)
            shape = conv.output_shape(shape)
            layers.append(make_activation[draw(st.sampled_from(activations))]())
            if pooling and draw(st.sampled_from([True, True, False])):
                pool = draw(pool_layer(shape[1:], pooling))
                if pool is not None:
                    layers.append(pool)
                    shape = pool.output_shape(shape)
        layers.append(lr.Flatten())
        width = int(np.prod(shape))
    else:
        input_shape = (draw(st.integers(2, 8)),)
        width = input_shape[0]
    for _ in range(draw(st.integers(0, 2))):
        out = draw(st.integers(2, 6))
        layers.append(lr.Dense(rng.normal(size=(out, width)), rng.normal(size=out) * 0.3 if bias else None))
        layers.append(make_activation[draw(st.sampled_from(activations))]())
        width = out
    classes = draw(st.integers(min_classes, 4))
    layers.append(lr.Dense(rng.normal(size=(classes, width)), rng.normal(size=classes) * 0.3 if bias else None))
    net = lr.Sequential(layers)
    x = rng.normal(size=(draw(st.integers(1, 3)), *input_shape))
    return net, x
