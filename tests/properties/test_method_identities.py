"""Spec neural.md §9 identities 3, 5, 6, 7 and 8 as hypothesis properties over random networks,
and IG's completeness error shrinking with the number of steps."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from random_networks import networks

import lrpref as lr
from lrpref.rules import NEGATIVE, POSITIVE


def close(a, b, scale, rtol=1e-10):
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(scale, 1e-300))


def sums(relevance):
    return relevance.reshape(len(relevance), -1).sum(1)


@given(data=st.data())
def test_identity_3_lrp0_is_lrp_taylor_and_lid_taylor_at_the_input(data):
    """LRP-0 ≡ LRP-Taylor at every layer; with X̂ = 0 LID-Taylor = LRP-0 and ST-LID-Taylor = ST-LRP-0 at the input."""
    net, x = data.draw(networks(activations=("relu",)))
    lrp0 = lr.explain(net, x, rule=lr.LRP0())
    taylor = lr.explain(net, x, method="lrp-taylor")
    for a, b in zip(lrp0.layers, taylor.layers):
        close(a.relevance_in, b.relevance_in, np.abs(b.relevance_in).max() + np.abs(lrp0.top).max())
    lid = lr.explain(net, x, method="lid-taylor", reference=0)
    close(lid.relevance, lrp0.relevance, np.abs(lrp0.relevance).max() + np.abs(lrp0.top).max())
    assume(np.all(np.abs(lrp0.output) > 1e-6))  # ST-LRP-0 divides the top relevance P'_c ⊙ Z by Z
    st_lrp = lr.explain(net, x, method="st-lrp-0", rule=lr.LRP0())
    st_lid = lr.explain(net, x, method="st-lid-taylor")
    close(st_lrp.relevance, st_lid.relevance, np.abs(st_lid.relevance).max() + np.abs(st_lid.top).max(), rtol=1e-8)


@given(data=st.data(), method=st.sampled_from(["deeplift", "deeplift-revealcancel"]))
def test_identity_5_deeplift_sums_to_delta(data, method):
    """DeepLIFT with Linear, Rescale and RevealCancel: sum R(X) = ΔZ_c (no max-pooling: its gradient mode is not)."""
    net, x = data.draw(networks(activations=("relu", "tanh", "leaky", "sigmoid"), pooling=("avg",)))
    reference = data.draw(st.sampled_from([None, 0.5, "random"]))
    if reference == "random":
        reference = np.random.default_rng(0).normal(size=x.shape[1:])
    ex = lr.explain(net, x, method=method, reference=reference)
    delta = (ex.output - ex.reference_output)[np.arange(len(x)), ex.target]
    terms = max(np.abs(ex.relevance).sum(), np.abs(delta).max(), 1.0)
    close(sums(ex.relevance), delta, terms)
    assert ex.conservation.max_residual() <= 1e-10 * terms
    for row in ex.conservation:  # exactly conservative layer by layer
        close(row.absorbed["remainder"], 0, terms)


def _absolute_chain(net, x, reference_acts, classes):
    """``B`` such that ``|sum R_LID-IG(n) − sum R_DeepLIFT| ≤ B / n`` on Dense/Conv/ReLU/AvgPool networks.

    The two differ only in the ReLU factors (|D̄ − Δy/Δx| ≤ 1/n per neuron); telescoping the products
    and bounding every other factor by its absolute value (|W| for affine layers, 1 for ReLU) gives
    ``B = sum_ReLU layers  U_r · V_r`` with ``U_r = |e_c|ᵀ Π_above |D|`` and ``V_r = Π_below |D| |Δx|``.
    """
    activations = net.record(x)
    bound = np.zeros(len(x))
    for r, layer in enumerate(net):
        if not isinstance(layer, lr.ReLU):
            continue
        u = lr.tops.one_hot(classes, activations[-1])
        for k in range(len(net) - 1, r, -1):
            u = _abs_transpose(net[k], activations[k], u)
        v = np.abs(x - reference_acts[0])
        for k in range(r):
            v = _abs_apply(net[k], activations[k], v)
        bound += (u * v).reshape(len(x), -1).sum(1)
    return bound


def _abs_apply(layer, a, v):
    if isinstance(layer, lr.layers.Affine):
        return layer.apply(v, POSITIVE) - layer.apply(v, NEGATIVE)
    return layer.jvp(a, v) if isinstance(layer, lr.Flatten) else v


def _abs_transpose(layer, a, u):
    if isinstance(layer, lr.layers.Affine):
        return layer.apply_transpose(u, a.shape[1:], POSITIVE) - layer.apply_transpose(u, a.shape[1:], NEGATIVE)
    return layer.vjp(a, u) if isinstance(layer, lr.Flatten) else u


@given(data=st.data())
def test_identity_6_lid_ig_tends_to_deeplift_like_one_over_n(data):
    """LID-IG(n) → DeepLIFT-Rescale with |error| ≤ B/n (Dense/Conv/ReLU/AvgPool networks); per neuron |D̄ − Δy/Δx| ≤ 1/n."""
    net, x = data.draw(networks(activations=("relu",), pooling=("avg",)))
    reference = np.random.default_rng(1).normal(size=x.shape[1:])
    deeplift = lr.explain(net, x, method="deeplift", reference=reference)
    reference_acts = net.record(np.broadcast_to(reference, x.shape).copy())
    B = _absolute_chain(net, x, reference_acts, deeplift.target)
    for n in (10, 100, 1000):
        lid_ig = lr.explain(net, x, method="lid-ig", reference=reference, steps=n)
        error = np.abs(sums(lid_ig.relevance) - sums(deeplift.relevance))
        assert np.all(error <= B / n + 1e-9 * (1 + B)), (n, error, B / n)
        for a, b in zip(lid_ig.layers, deeplift.layers):  # the ReLU factors, neuron by neuron
            if isinstance(a.layer, lr.ReLU):
                assert np.all(np.abs(a.linearization.d - b.linearization.d) <= 1 / n + 1e-12)
    # and LID-IG on affine layers is LID-Taylor's (exactly W)
    assert all(isinstance(r, type(lid_ig.rules[k])) for k, r in enumerate(lr.explain(net, x, method="lid-taylor").rules)
               if isinstance(net[k], lr.layers.Affine))


@given(data=st.data())
def test_identity_7_zero_reference_degeneracy(data):
    """With every ReLU/max-pool input's reference at 0 (bias-free network, X̂ = 0), LID-IG = LID-Taylor at every layer."""
    net, x = data.draw(networks(activations=("relu",), bias=False))
    steps = data.draw(st.integers(1, 12))
    lid_ig = lr.explain(net, x, method="lid-ig", steps=steps)
    lid_taylor = lr.explain(net, x, method="lid-taylor")
    for a, b in zip(lid_ig.layers, lid_taylor.layers):
        close(a.relevance_in, b.relevance_in, np.abs(b.relevance_in).max() + np.abs(lid_taylor.top).max())


@given(data=st.data())
def test_identity_8_softmax_gradient_tops_sum_to_zero(data):
    """sum_i (P'_c)_i = 0, so SG tops sum to 0, and SG-LRP-ZP passes it down: sum R(X) + dropped = 0."""
    net, x = data.draw(networks(activations=("relu",)))
    x = np.abs(x)  # the z⁺ rule (DTD) needs non-negative inputs
    ex = lr.explain(net, x, method="sg-lrp-zp")
    top = sums(ex.top)
    scale = np.abs(ex.top).sum()
    rounding = 10 * np.finfo(float).eps * ex.top.shape[1]  # P_c (1 − sum P) rounds at a few ε
    assert np.all(np.abs(top) <= rounding)
    dropped = sum(row.absorbed["dropped"] for row in ex.conservation)
    np.testing.assert_allclose(sums(ex.relevance) + dropped, 0, rtol=0, atol=rounding + 1e-10 * scale)
    for row in ex.conservation:  # z⁺ has neither bias nor stabiliser
        assert not row.absorbed["bias"].any() and not row.absorbed["stabiliser"].any()


@settings(max_examples=50)  # each example runs 1110 path gradients plus a 2001-point reference curve
@given(data=st.data())
def test_ig_completeness_error_vanishes_like_one_over_n(data):
    """|sum IG − (F(x) − F(x̂))| ≤ TV(h)/n for the right Riemann sum of h(t) = ∇F(x̂ + tΔx)·Δx."""
    net, x = data.draw(networks(activations=("relu", "tanh")))
    x = x[:1]
    c = int(net(x).argmax())
    fine = np.linspace(0, 1, 2001)
    path = fine.reshape(-1, *[1] * (x.ndim - 1)) * x
    seed = np.zeros((len(fine), net(x).shape[1]))
    seed[:, c] = 1
    h = (net.gradient(path, seed) * x).reshape(len(fine), -1).sum(1)
    total_variation = 2 * np.abs(np.diff(h)).sum()  # sampled TV, with margin for jumps the grid merges
    for n in (10, 100, 1000):
        error = lr.explain(net, x, target=c, method="ig", steps=n).completeness_error
        assert np.all(np.abs(error) <= total_variation / n + 1e-9 * (1 + np.abs(h).max())), (n, error, total_variation)
