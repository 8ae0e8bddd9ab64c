"""Spec neural.md §9 identities 1, 2, 4 and 9 as hypothesis properties over random networks.

The "ci" profile (CI=true) runs 200 examples per property.
"""

import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from random_networks import conv_layer, networks

import lrpref as lr
from lrpref.rules import Modifier

SIGNED_SAFE_RULES = [
    lr.LRP0(), lr.Epsilon(0.1), lr.Epsilon(0.05, scale="rms"), lr.Gamma(0.25, mode="generalised"),
    lr.AlphaBeta(2, 1), lr.AlphaBeta(1, 0, bias="ignore"), lr.ZPlus("products"), lr.WSquare(), lr.WSquare(bias=True), lr.Flat(),
    # the peers' variants (lrpref.presets)
    lr.Epsilon(1e-7, sign="zeros"), lr.Epsilon(0.1, bias=False), lr.Gamma(0.25, bias="plain", check_inputs=False),
    lr.ZPlus("dtd", bias="plain", epsilon=0.1, check_inputs=False), lr.AlphaBeta(2, 1, bias="full", epsilon=0.1),
]
POOL_RULES = [lr.WinnerTakesAll(), lr.WinnerTakesAll("split"), lr.Proportional(), lr.WinnerTakesAll(epsilon=0.1),
              lr.WinnerTakesAll("split", epsilon=1e-9)]


def dense(matrix):
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def weight_layers(net):
    return [k for k, layer in enumerate(net) if isinstance(layer, (lr.Dense, lr.Conv2d))]


@st.composite
def random_composite(draw, net, x):
    """A random rule per weight layer (zᴮ possible on the first), a random max-pool rule."""
    layers = {k: draw(st.sampled_from(SIGNED_SAFE_RULES)) for k in weight_layers(net)}
    if draw(st.booleans()):
        layers[weight_layers(net)[0]] = lr.ZBox(float(x.min()) - 0.5, float(x.max()) + 0.5)
    return lr.Composite(default=draw(st.sampled_from(SIGNED_SAFE_RULES)), layers=layers,
                        types={lr.MaxPool2d: draw(st.sampled_from(POOL_RULES))})


def gradients_at_every_layer(net, x, target):
    """``G^{k+1} = dZ_c / dY^k`` for every layer input ``Y^k`` (spec §1)."""
    activations = net.record(x)
    g = lr.tops.one_hot(target, activations[-1])
    grads = [None] * len(net)
    for k in reversed(range(len(net))):
        g = net[k].vjp(activations[k], g)
        grads[k] = g
    return activations, grads


@given(data=st.data())
def test_identity_1_message_sums(data):
    """Column sums of M = R(Y^{l-1}); row sums + absorbed = R(Y^l), for every layer and rule."""
    net, x = data.draw(networks(activations=("relu", "tanh", "leaky")))
    composite = data.draw(random_composite(net, x))
    ex = lr.explain(net, x, rule=composite, keep_messages=True)
    # round-off in a sum scales with the sum of the absolute terms (near-zero denominators make huge, cancelling messages)
    books_scale = np.zeros(len(x))
    for record in ex.layers:
        for n in range(x.shape[0]):
            M = dense(record.messages(n))
            scale = max(np.abs(M).max(), np.abs(record.relevance_out[n]).max(), 1e-300)
            np.testing.assert_allclose(M.sum(axis=0), record.relevance_in[n].ravel(), rtol=0, atol=1e-10 * scale)
            np.testing.assert_allclose(M.sum(axis=1) + record.absorbed.total[n].ravel(), record.relevance_out[n].ravel(),
                                       rtol=0, atol=1e-10 * scale)
            terms = np.abs(M).sum() + np.abs(record.relevance_out[n]).sum() + sum(
                np.abs(record.absorbed[kind][n]).sum() for kind in ("bias", "stabiliser", "dropped"))
            row = ex.conservation[len(ex.layers) - 1 - record.index]
            assert abs(row.residual[n]) <= 1e-12 * terms  # the ledger balances at every layer
            books_scale[n] += terms
    # and in total: input relevance = top relevance - everything absorbed on the way down
    top = ex.top.reshape(len(x), -1).sum(1)
    absorbed = sum(row.absorbed_total for row in ex.conservation)
    assert np.all(np.abs(ex.relevance.reshape(len(x), -1).sum(1) - (top - absorbed)) <= 1e-12 * books_scale)


@given(data=st.data())
def test_identity_2_lrp0_is_gradient_times_input(data):
    """LRP-0 with ReLU pass, WTA-first max-pooling and LRP-0 average pooling: R(Y^l) = G^{l+1} ⊙ Y^l at every layer."""
    net, x = data.draw(networks(activations=("relu",)))
    ex = lr.explain(net, x, rule=lr.LRP0())
    activations, grads = gradients_at_every_layer(net, x, ex.target)
    for k, record in enumerate(ex.layers):
        expected = grads[k] * activations[k]
        scale = max(np.abs(expected).max(), np.abs(ex.top).max(), 1e-300)
        np.testing.assert_allclose(record.relevance_in, expected, rtol=0, atol=1e-10 * scale)


@given(data=st.data(), rule=st.sampled_from([lr.WSquare(), lr.Flat(), lr.ZPlus("products"), lr.ZPlus(), "zbox"]))
def test_identity_4_conservative_rules(data, rule):
    """w², flat, zᴮ and z⁺ pass down all relevance except where their denominator is exactly 0 (reported as dropped)."""
    net, x = data.draw(networks(activations=("relu",)))
    first = weight_layers(net)[0]
    layers = {}
    if rule == "zbox":  # the box bounds the network input: zᴮ on the first weight layer, flat above
        rule, layers = lr.Flat(), {first: lr.ZBox(float(x.min()) - 0.5, float(x.max()) + 0.5)}
    elif isinstance(rule, lr.ZPlus) and rule.mode == "dtd":  # defined for a >= 0: the signed form on the input layer
        layers = {first: lr.ZPlus("products")}
    ex = lr.explain(net, x, rule=lr.Composite(default=rule, layers=layers, types={lr.AvgPool2d: lr.Flat()}))
    for record, row in zip(reversed(ex.layers), ex.conservation):
        assert not record.absorbed.bias.any() and not record.absorbed.stabiliser.any()
        scale = max(np.abs(record.relevance_out).max(), 1e-300)
        np.testing.assert_allclose(row.received - row.absorbed["dropped"], row.passed, rtol=0, atol=1e-10 * scale * record.relevance_out[0].size)
        if record.denominators:
            zero = np.any([D == 0 for D in record.denominators], axis=0)
            assert not record.absorbed.dropped[~zero].any()


@given(data=st.data())
def test_identity_4_epsilon_without_bias_tends_to_conservation(data):
    """LRP-ε on a bias-free network: what is not passed down is exactly the stabiliser's share, and it vanishes with ε."""
    net, x = data.draw(networks(activations=("relu",), bias=False))
    losses = []
    for eps in (1e-2, 1e-5, 1e-8):
        ex = lr.explain(net, x, rule=lr.Epsilon(eps))
        total_loss = 0.0
        for row in ex.conservation:
            assert not row.absorbed["bias"].any()
            np.testing.assert_allclose(row.received - row.passed - row.absorbed["dropped"], row.absorbed["stabiliser"],
                                       rtol=0, atol=1e-9 * max(1.0, np.abs(row.received).max()))
            total_loss += np.abs(row.absorbed["stabiliser"]).sum()
        losses.append(total_loss)
    assert losses[2] <= losses[0] + 1e-12
    assert losses[2] <= 1e-4 * max(1.0, np.abs(ex.top).sum())


@given(data=st.data(), rule=st.sampled_from(SIGNED_SAFE_RULES))
def test_identity_9_conv_unrolled_equals_direct(data, rule):
    """The unrolled matrix reproduces the direct convolution, its transpose, and every message of a rule."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    channels = data.draw(st.integers(1, 4))
    size = (data.draw(st.integers(3, 9)), data.draw(st.integers(3, 9)))
    conv = data.draw(conv_layer(channels, size, rng, bias=data.draw(st.booleans())))
    x = rng.normal(size=(2, channels, *size))
    y = conv.forward(x)
    W_u = conv.matrix(x.shape[1:])
    b_u = 0 if conv.bias is None else conv.bias_vector(y.shape[1:], conv.bias)
    g = rng.normal(size=y.shape)
    for n in range(2):
        np.testing.assert_allclose(W_u @ x[n].ravel() + b_u, y[n].ravel(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(W_u.T @ g[n].ravel(), conv.apply_transpose(g, x.shape[1:])[n].ravel(), rtol=1e-12, atol=1e-12)
    ex = lr.explain(lr.Sequential([conv]), x, target=g, rule=rule, keep_messages=True)
    for n in range(2):
        M = ex.layers[0].messages(n)
        taps = conv.matrix(x.shape[1:], Modifier("ones"))  # 1 at every tap of W_u
        sent = (abs(M) > 0).astype(float)
        assert (sent - sent.multiply(taps)).count_nonzero() == 0  # messages only along taps of W_u
        scale = max(abs(M).max(), 1e-300)
        np.testing.assert_allclose(np.asarray(M.sum(axis=0)).ravel(), ex.relevance[n].ravel(), rtol=0, atol=1e-11 * scale)
