"""Every number of spec neural.md §12.3 (DeepLIFT, LID-Taylor, LID-IG, IG, the top layers, the end-to-end
table, CLRP1), §12.4 (max-pooling under LID) and §12.5 (RevealCancel), typed from the spec."""

import numpy as np
import pytest

import lrpref as lr
from lrpref.linearize import path_average
from lrpref.paths import quadrature

TOL = dict(rtol=0, atol=5e-7)


def example_B():
    net = lr.Sequential([lr.Dense([[1, -1], [2, 1], [-1, 1]], [0.55, -1, 0.5]), lr.ReLU(),
                         lr.Dense([[1, 2, -1], [-1, 1, 2], [0.5, -1, 1]], [0.1, -0.2, 0.3])])
    return net, np.array([[1.0, 2.0]])


def test_reference_forward_pass():
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="deeplift")
    np.testing.assert_allclose(ex.reference_output[0], [0.15, 0.25, 1.075])
    np.testing.assert_allclose(lr.tops.softmax(ex.reference_output)[0], [0.216121, 0.238851, 0.545029], **TOL)


def test_deeplift_rescale():
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="deeplift")
    np.testing.assert_allclose(ex.top[0], [0, 5.55, 0])
    assert isinstance(ex.layers[2].messages(0), np.ndarray)  # Dense: a NumPy matrix, as under LRP
    np.testing.assert_allclose(ex.layers[2].messages(0), [[0, 0, 0], [0.55, 3, 2], [0, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(ex.layers[2].relevance_in[0], [0.55, 3, 2], atol=1e-12)
    np.testing.assert_allclose(ex.layers[1].linearization.d[0], [0.55, 0.75, 1.0], atol=1e-12)  # Δa1/Δz1
    np.testing.assert_allclose(ex.layers[1].relevance_in[0], [0.55, 3, 2], atol=1e-12)
    np.testing.assert_allclose(ex.relevance[0], [-1.05, 6.6], atol=1e-12)
    assert ex.relevance.sum() == pytest.approx(5.55)  # ΔZ_c


def test_lid_taylor():
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="lid-taylor")
    np.testing.assert_allclose(ex.layers[2].relevance_in[0], [0.55, 3, 2], atol=1e-12)
    np.testing.assert_allclose(ex.layers[1].messages(0).toarray(), np.diag([0, 4, 2]), atol=1e-12)
    np.testing.assert_allclose(ex.layers[1].relevance_in[0], [0, 4, 2], atol=1e-12)
    assert ex.layers[1].relevance_in.sum() == pytest.approx(6.0)  # not conservative through the ReLU
    assert ex.conservation[1].absorbed["remainder"][0] == pytest.approx(5.55 - 6.0)
    np.testing.assert_allclose(ex.relevance[0], [0, 6], atol=1e-12)


@pytest.mark.parametrize("riemann, dbar", [("right", [0.5, 0.8, 1]), ("midpoint", [0.5, 0.7, 1]), ("left", [0.6, 0.7, 1])])
def test_lid_ig_n10(riemann, dbar):
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="lid-ig", steps=10, riemann=riemann)
    np.testing.assert_allclose(ex.layers[1].linearization.d[0], dbar, atol=1e-12)
    if riemann == "right":
        np.testing.assert_allclose(ex.layers[2].relevance_in[0], [0.55, 3, 2], atol=1e-12)
        np.testing.assert_allclose(ex.layers[1].relevance_in[0], [0.5, 3.2, 2], atol=1e-12)
        np.testing.assert_allclose(ex.relevance[0], [-0.9, 6.6], atol=1e-12)
        assert ex.relevance.sum() == pytest.approx(5.7)


@pytest.mark.parametrize("n, expected", [(100, [-1.04, 6.58]), (1000, [-1.049, 6.598])])
def test_lid_ig_converges_to_deeplift(n, expected):
    net, x = example_B()
    np.testing.assert_allclose(lr.explain(net, x, target=1, method="lid-ig", steps=n).relevance[0], expected, atol=1e-9)


def test_ig_input_space():
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="ig", steps=10)
    np.testing.assert_allclose(ex.relevance[0], [-0.9, 6.6], atol=1e-12)  # identical to LID-IG here (§6.3)
    assert ex.completeness_error[0] == pytest.approx(5.7 - 5.55)
    np.testing.assert_allclose(lr.explain(net, x, target=1, method="ig", steps=1000).relevance[0], [-1.049, 6.598], atol=1e-9)


def test_degeneracy_zero_reference_path():
    """The path 0 → z1 of the ReLU samples D̄ = (0, 1, 1) = D(z1) (spec §6.4)."""
    z1 = np.array([[-0.45, 3.0, 1.5]])
    t, w = quadrature(10)
    np.testing.assert_allclose(path_average(lr.ReLU(), z1, np.zeros_like(z1), t, w).d, [[0, 1, 1]])


def test_top_layers():
    net, x = example_B()
    Z, classes = net(x), np.array([1])
    P_grad = lr.tops.softmax_gradient(Z, classes)
    np.testing.assert_allclose(P_grad[0], [-0.177645, 0.178183, -0.000538], **TOL)
    assert abs(P_grad.sum()) < 1e-16
    Z_ref = np.array([[0.15, 0.25, 1.075]])
    st = lr.tops.multiplier("st", Z, Z_ref, classes) * (Z - Z_ref)
    np.testing.assert_allclose(st[0], [-0.790522, 0.988917, 0.001224], **TOL)
    assert st.sum() == pytest.approx(0.199618, abs=5e-7)
    np.testing.assert_allclose(lr.tops.top_relevance("st-lrp-0", Z, classes)[0], [-0.817169, 1.033463, 0.000645], **TOL)
    t, w = quadrature(10)
    sig_multiplier = lr.tops.multiplier("sig", Z, Z_ref, classes, t, w)
    np.testing.assert_allclose(sig_multiplier[0], [-0.183261, 0.219331, -0.036069], **TOL)
    np.testing.assert_allclose((sig_multiplier * (Z - Z_ref))[0], [-0.815512, 1.217285, 0.082058], **TOL)
    assert (sig_multiplier * (Z - Z_ref)).sum() == pytest.approx(0.483831, abs=5e-7)
    t1000, w1000 = quadrature(1000)
    assert (lr.tops.multiplier("sig", Z, Z_ref, classes, t1000, w1000) * (Z - Z_ref)).sum() == pytest.approx(0.528698, abs=5e-7)
    sig_lrp0 = lr.tops.top_relevance("sig-lrp-0", Z, classes, t, w)
    np.testing.assert_allclose(sig_lrp0[0], [-0.913673, 1.286245, 0.027770], **TOL)
    assert sig_lrp0.sum() == pytest.approx(0.400342, abs=5e-7)


END_TO_END = [
    # method, R(a1), R(z1), R(x)
    ("st-lid-taylor", [0.195854, -0.529709, 0.533474], [0, -0.706279, 0.533474], [-0.886613, 0.713808]),
    ("sig-lid-taylor", [0.231345, -0.333367, 0.585853], [0, -0.444489, 0.585853], [-0.808097, 0.949461]),
    ("lid-ig", [0.55, 3, 2], [0.5, 3.2, 2], [-0.9, 6.6]),
    ("sig-lid-ig", [0.231345, -0.333367, 0.585853], [0.210313, -0.355591, 0.585853], [-0.973962, 1.414537]),
    ("st-lrp-0", [0, -0.529709, 0.800211], [0, -0.529709, 0.800211], [-0.886613, 0.713808]),
    ("sig-lrp-0", [0, -0.457023, 0.928523], [0, -0.457023, 0.928523], [-0.923697, 0.933349]),
    ("sg-lrp-0", [0, -0.140892, 0.150764], [0, -0.140892, 0.150764], [-0.194437, 0.107090]),
    ("sg-lrp-zp", [0, -0.088554, 0.088554], [0, -0.088554, 0.088554], [-0.044277, 0.044277]),
]


@pytest.mark.parametrize("method, a1, z1, x_relevance", END_TO_END, ids=[row[0] for row in END_TO_END])
def test_end_to_end_table(method, a1, z1, x_relevance):
    net, x = example_B()
    rule = lr.LRP0() if method in ("st-lrp-0", "sig-lrp-0") else None  # the table's "ε = 0"
    ex = lr.explain(net, x, target=1, method=method, rule=rule)
    np.testing.assert_allclose(ex.layers[2].relevance_in[0], a1, **TOL)
    np.testing.assert_allclose(ex.layers[1].relevance_in[0], z1, **TOL)
    np.testing.assert_allclose(ex.relevance[0], x_relevance, **TOL)


def test_end_to_end_sums():
    net, x = example_B()
    sums = {m: lr.explain(net, x, target=1, method=m).relevance.sum() for m in ("st-lid-taylor", "sig-lid-taylor", "sig-lid-ig")}
    assert sums["st-lid-taylor"] == pytest.approx(-0.172805, abs=5e-7)
    assert sums["sig-lid-taylor"] == pytest.approx(0.141364, abs=5e-7)
    assert sums["sig-lid-ig"] == pytest.approx(0.440575, abs=5e-7)
    assert abs(lr.explain(net, x, target=1, method="sg-lrp-zp").relevance.sum()) < 1e-15


def test_clrp1():
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method="clrp")
    np.testing.assert_allclose(ex.target_relevance[0], [1.45, 4.35], atol=1e-12)
    np.testing.assert_allclose(ex.dual.relevance[0], [2.3, 3.5], atol=1e-12)
    np.testing.assert_allclose(ex.relevance[0], [0, 0.146552], **TOL)
    paper = lr.explain(net, x, target=1, method="clrp", clrp_normalise=False)
    np.testing.assert_allclose(paper.relevance[0], [0, 4.35 - 3.5], atol=1e-12)


# ------------------------------------------------------------------ §12.4 Example M: max-pooling under LID


def example_M():
    return lr.Sequential([lr.MaxPool2d((1, 2)), lr.Flatten()]), np.array([1.0, 3.0]).reshape(1, 1, 1, 2), \
        np.array([2.0, 0.2]).reshape(1, 1, 1, 2)


@pytest.mark.parametrize("method", ["lid-taylor", "deeplift"])
def test_maxpool_local_gradient(method):
    net, x, ref = example_M()
    ex = lr.explain(net, x, target=0, method=method, reference=ref)
    np.testing.assert_allclose(ex.relevance.ravel(), [0, 2.8], atol=1e-12)  # DeepLIFT gradient mode = LID-Taylor
    assert ex.conservation.as_dict()["remainder"].sum() == pytest.approx(1 - 2.8)


def test_maxpool_lid_ig():
    net, x, ref = example_M()
    ex = lr.explain(net, x, target=0, method="lid-ig", reference=ref, steps=10)
    np.testing.assert_allclose(ex.layers[0].messages(0).toarray().ravel() / np.array([-1, 2.8]), [0.4, 0.6], atol=1e-12)
    np.testing.assert_allclose(ex.relevance.ravel(), [-0.4, 1.68], atol=1e-12)
    assert ex.relevance.sum() == pytest.approx(1.28)
    exact = lr.explain(net, x, target=0, method="lid-ig", reference=ref, steps=100000)
    np.testing.assert_allclose(exact.relevance.ravel(), [-0.47368, 1.473696], atol=1e-9)


# ------------------------------------------------------------------ §12.5 RevealCancel


def test_reveal_cancel():
    net = lr.Sequential([lr.Dense([[1, -1]], [0]), lr.ReLU()])
    x = np.array([[3.0, 1.0]])
    ex = lr.explain(net, x, target=0, method="deeplift-revealcancel")
    pair = ex.layers[0].linearization
    np.testing.assert_allclose([pair.dz_up[0, 0], pair.dz_down[0, 0]], [3, -1])
    np.testing.assert_allclose([pair.m_up[0, 0] * 3, pair.m_down[0, 0] * -1], [2.5, -0.5])  # Δy⁺, Δy⁻
    np.testing.assert_allclose(ex.relevance[0], [2.5, -0.5], atol=1e-12)
    np.testing.assert_allclose(lr.explain(net, x, target=0, method="deeplift").relevance[0], [3, -1], atol=1e-12)
