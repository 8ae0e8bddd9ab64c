"""The teaching trace (ex.steps()): spec Example B's numbers appear where a student redoes them by hand."""

import io
import re

import numpy as np
import pytest

import lrpref as lr
from lrpref.methods import LRP_TOPS, METHODS


def example_B():
    net = lr.Sequential([lr.Dense([[1, -1], [2, 1], [-1, 1]], [0.55, -1, 0.5]), lr.ReLU(),
                         lr.Dense([[1, 2, -1], [-1, 1, 2], [0.5, -1, 1]], [0.1, -0.2, 0.3])])
    return net, np.array([[1.0, 2.0]])


def text_of(ex, **kw):
    out = io.StringIO()
    ex.steps(file=out, **kw)
    return out.getvalue()


def line(text, start):
    """The line that starts with ``start``, with the continuation lines of a wrapped array."""
    rows = text.splitlines()
    k = next(k for k, row in enumerate(rows) if row.strip().startswith(start))
    end = k + 1
    while end < len(rows) and re.match(r"^\s*[-\d.]", rows[end]):
        end += 1
    return " ".join(rows[k:end])


def numbers(row):
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", row.split("=", 1)[1])]


def test_lrp_epsilon_four_steps_by_hand():
    """Spec §12.3, LRP-ε with ε = 0.1: z1 = (−0.45, 3, 1.5), S = z + 0.1·sgn0(z), R(a1) = (0, 2.949153, 2.949153),
    R(x) = (0.059459, 5.589120)."""
    net, x = example_B()
    text = text_of(lr.explain(net, x, target=1, rule=lr.Epsilon(0.1), keep_messages=True))
    first = text[text.index("== layer 0"):]
    assert numbers(line(first, "output z")) == [-0.45, 3, 1.5]
    assert numbers(line(first, "S = stabilised D")) == [-0.55, 3.1, 1.6]
    assert numbers(line(first, "stabiliser S − D")) == [-0.1, 0.1, 0.1]
    s = numbers(line(first, "step 2"))
    np.testing.assert_allclose(s, [0, 2.949153 / 3.1, 2.949153 / 1.6], atol=1e-6)
    np.testing.assert_allclose(numbers(line(first, "step 4")), [0.059459, 5.589120], atol=1e-5)
    top = text[text.index("== layer 2"):text.index("== layer 1")]
    np.testing.assert_allclose(numbers(line(top, "step 4")), [0, 2.949153, 2.949153], atol=1e-6)
    np.testing.assert_allclose(numbers(line(top, "step 3")), np.array([-1, 1, 2]) * 5.8 / 5.9, atol=1e-6)  # c = W_cᵀ s_c
    assert "messages M[j, i]" in top
    assert re.search(r"conservation: received 5\.8 = passed 5\.89831 \+ bias -0\.19661 \+ stabiliser 0\.0983051", top)


def test_alpha_beta_shows_both_groups():
    net, x = example_B()
    text = text_of(lr.explain(net, x, target=1, rule=lr.AlphaBeta(2, 1), keep_messages=True))
    bottom = text[text.index("== layer 0"):]
    assert "group 1" in bottom and "group 2" in bottom
    np.testing.assert_allclose(numbers(line(bottom, "step 4")), [0, 15.08])


def test_lid_ig_shows_the_path_averaged_derivative():
    net, x = example_B()
    text = text_of(lr.explain(net, x, target=1, method="lid-ig", steps=10))
    relu = text[text.index("== layer 1"):text.index("== layer 0")]
    assert numbers(line(relu, "diag(D)")) == [0.5, 0.8, 1.0]
    assert numbers(line(relu, "R_in")) == [0.5, 3.2, 2.0]
    assert "remainder -0.15" in relu


def test_large_layers_are_summarised_and_lrp_needs_the_inputs():
    rng = np.random.default_rng(0)
    net = lr.Sequential([lr.Conv2d(rng.normal(size=(4, 1, 3, 3)), np.zeros(4), padding=1), lr.ReLU(), lr.Flatten(),
                         lr.Dense(rng.normal(size=(3, 256)), np.zeros(3))])
    x = rng.normal(size=(2, 1, 8, 8))
    text = text_of(lr.explain(net, x, rule=lr.Epsilon(), keep_messages=True), n=1)
    assert "(256 values: sum" in text and "sample 1" in text
    assert "messages" not in text[text.index("== layer 0"):]  # 256 × 64: not printed
    with pytest.raises(RuntimeError, match="keep_messages=True"):
        lr.explain(net, x, rule=lr.Epsilon()).steps()
    with pytest.raises(IndexError, match="sample 2 out of range"):
        lr.explain(net, x, rule=lr.Epsilon(), keep_messages=True).steps(n=2)


LRP_BASED = ("lrp", "clrp") + tuple(LRP_TOPS)


@pytest.mark.parametrize("method", [m for m in METHODS if not m.endswith("cam")])  # CAMs have no layers to trace
def test_every_method_has_a_trace(method):
    net, x = example_B()
    ex = lr.explain(net, x, target=1, method=method, keep_messages=method in LRP_BASED)
    text = text_of(ex)
    assert text.count("== layer") == 3 and "input relevance R(x)" in text


def _pool_and_batchnorm():
    rng = np.random.default_rng(0)
    net = lr.Sequential([lr.Conv2d(rng.normal(size=(2, 1, 3, 3)), np.zeros(2), padding=1),
                         lr.BatchNorm(rng.normal(size=2), rng.uniform(0.5, 2, 2), 1 + rng.normal(size=2) * 0.2,
                                      rng.normal(size=2) * 0.2),
                         lr.ReLU(), lr.MaxPool2d(2), lr.Flatten(), lr.Dense(rng.normal(size=(3, 8)), np.zeros(3))])
    return net, rng.normal(size=(1, 1, 4, 4))


@pytest.mark.parametrize("rule", [
    lr.Composite(default=lr.Epsilon(0.1), types={lr.MaxPool2d: lr.Proportional(lr.Epsilon(0.1))}),
    lr.Composite(default=lr.Epsilon(0.1), types={lr.MaxPool2d: lr.WinnerTakesAll("first", epsilon=0.1)}),
    lr.Composite(default=lr.Epsilon(0.1), types={lr.BatchNorm: lr.presets.innvestigate.fused_batchnorm(lr.Epsilon(0.1),
                                                                                                        quirks=True)}),
], ids=["proportional", "max-pool-epsilon", "surrogate-batchnorm"])
def test_step_three_uses_the_map_the_rule_propagates_through(rule):
    """For max-pooling under a window-sum or ε selection, and for a BatchNorm stand-in, x ⊙ c is R_in."""
    net, x = _pool_and_batchnorm()
    ex = lr.explain(net, x, rule=rule, keep_messages=True)
    text = text_of(ex, max_size=64)
    for k in (1, 3):
        block = text[text.index(f"== layer {k} "):text.index(f"== layer {k - 1} ")]
        if "step 3" in block:
            np.testing.assert_allclose(numbers(line(block, "x ⊙ c")), ex.layers[k].relevance_in[0].ravel(), atol=5e-6)
