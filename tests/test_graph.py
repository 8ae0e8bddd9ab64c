"""Graph networks: building, hand-computed relevance through residual sums and concatenations, the three ways a sum
splits, per-edge message matrices, fan-in rows and trace lines, composites by name, BatchNorm folding in a branch,
every method on a residual and a DenseNet-style network, and clear errors."""

import io

import numpy as np
import pytest

import lrpref as lr
from lrpref.layers import ShapeError


def residual_mlp():
    """x (2) -> Dense -> ReLU -> (+ x) -> Dense(1): h = [1, -1.5], relu [1, 0], sum [2, 2], y = 4 at x = [1, 2]."""
    x = lr.Input()
    h = lr.ReLU()(lr.Dense([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.5])(x, name="inner"), name="relu")
    s = lr.Add()(h, x, name="sum")
    y = lr.Dense([[1.0, 1.0]], [0.0])(s, name="out")
    return lr.Graph(x, y), np.array([[1.0, 2.0]])


def test_a_residual_block_by_hand_under_lrp0():
    net, x = residual_mlp()
    ex = lr.explain(net, x, rule=lr.Composite(default=lr.LRP0(), types={lr.Add: lr.LRP0()}), keep_messages=True)
    assert ex.output[0, 0] == 4
    add = ex.layers[net.index("sum")]
    np.testing.assert_allclose(add.relevance_out, [[2, 2]])
    np.testing.assert_allclose(add.relevance_in[0], [[1, 0]])      # x_e / (x_0 + x_1) * R: relu branch [1, 0] / [2, 2]
    np.testing.assert_allclose(add.relevance_in[1], [[1, 2]])      # skip branch [1, 2] / [2, 2]
    np.testing.assert_allclose(ex.layers[net.index("inner")].relevance_in, [[1, 0]])
    np.testing.assert_allclose(ex.relevance, [[2, 2]])              # fan-in at x: [1, 0] + [1, 2]
    assert ex.relevance.sum() == pytest.approx(4)
    M0, M1 = add.messages(0)
    np.testing.assert_allclose(M0.toarray(), [[1, 0], [0, 0]])
    np.testing.assert_allclose(M1.toarray(), [[1, 0], [0, 2]])
    fan_in = [row for row in ex.conservation if "fan-in" in row.name]
    assert len(fan_in) == 1 and "fan-in at input <- inner + sum" in fan_in[0].name
    assert fan_in[0].received[0] == pytest.approx(4) and fan_in[0].passed[0] == pytest.approx(4)
    assert ex.conservation.max_residual() < 1e-14


def test_the_equal_split_of_a_sum_by_hand():
    net, x = residual_mlp()
    ex = lr.explain(net, x, rule=lr.Composite(default=lr.LRP0(), types={lr.Add: lr.SumSplit("equal")}))
    add = ex.layers[net.index("sum")]
    np.testing.assert_allclose(add.relevance_in[0], [[1, 1]])
    np.testing.assert_allclose(add.relevance_in[1], [[1, 1]])
    inner = ex.layers[net.index("inner")]
    np.testing.assert_allclose(inner.relevance_in, [[1, 4 / 3]])   # s = [1, 1/-1.5], c = W^T s = [1, 2/3], x ⊙ c
    np.testing.assert_allclose(inner.absorbed.bias, [[0, -1 / 3]])  # s_j b_j
    np.testing.assert_allclose(ex.relevance, [[2, 7 / 3]])
    assert ex.relevance.sum() + inner.absorbed.total.sum() == pytest.approx(4)


def signed_sum():
    """x (4) -> a = (x0, x1), b = (x2, x3) -> a + b -> identity logits; at x = [3, -1, -1, 2]: a = [3, -1], b = [-1, 2]."""
    x = lr.Input()
    a = lr.Dense(np.eye(4)[:2])(x, name="a")
    b = lr.Dense(np.eye(4)[2:])(x, name="b")
    y = lr.Dense(np.eye(2))(lr.Add()(a, b, name="sum"), name="out")
    return lr.Graph(x, y), np.array([[3.0, -1.0, -1.0, 2.0]])


@pytest.mark.parametrize("split, expected_a, expected_b", [
    (lr.SumSplit("proportional", 0.0), 3.0, -1.0),   # x_e / (3 - 1) * 2
    (lr.SumSplit("absolute", 0.0), 1.5, 0.5),        # |x_e| / (3 + 1) * 2
    (lr.SumSplit("equal"), 1.0, 1.0),                 # 2 / 2
])
def test_the_three_splits_of_a_signed_sum_by_hand(split, expected_a, expected_b):
    net, x = signed_sum()
    ex = lr.explain(net, x, target=0, rule=lr.Composite(default=lr.LRP0(), types={lr.Add: split}))
    add = ex.layers[net.index("sum")]
    np.testing.assert_allclose(add.relevance_out, [[2, 0]])
    np.testing.assert_allclose(add.relevance_in[0], [[expected_a, 0]])
    np.testing.assert_allclose(add.relevance_in[1], [[expected_b, 0]])
    np.testing.assert_allclose(ex.relevance, [[expected_a, 0, expected_b, 0]])


def test_the_default_rule_of_a_sum_is_the_proportional_split_with_a_small_stabiliser():
    net, x = signed_sum()
    ex = lr.explain(net, x, target=0, rule=lr.LRP0())
    add = ex.layers[net.index("sum")]
    assert add.rule.describe() == "SumSplit('proportional')"
    np.testing.assert_allclose(add.relevance_in[0], [[3 * 2 / (2 + 1e-6), 0]])
    assert ex.conservation.max_residual() < 1e-14


def concat_net():
    """x = [1, 2] -> a = x0 + x1 = 3 -> concat(x, a) = [1, 2, 3] -> y = 6."""
    x = lr.Input()
    a = lr.Dense([[1.0, 1.0]], [0.0])(x, name="a")
    c = lr.Concat(1)(x, a, name="cat")
    return lr.Graph(x, lr.Dense([[1.0, 1.0, 1.0]], [0.0])(c, name="out")), np.array([[1.0, 2.0]])


def test_concatenation_passes_each_input_its_slice():
    net, x = concat_net()
    ex = lr.explain(net, x, rule=lr.LRP0(), keep_messages=True)
    cat = ex.layers[net.index("cat")]
    np.testing.assert_allclose(cat.relevance_out, [[1, 2, 3]])
    np.testing.assert_allclose(cat.relevance_in[0], [[1, 2]])
    np.testing.assert_allclose(cat.relevance_in[1], [[3]])
    np.testing.assert_allclose(ex.relevance, [[2, 4]])  # [1, 2] direct + [1, 2] through a
    M0, M1 = cat.messages(0)
    np.testing.assert_allclose(M0.toarray(), [[1, 0], [0, 2], [0, 0]])
    np.testing.assert_allclose(M1.toarray(), [[0], [0], [3]])


def test_the_trace_prints_the_fan_in_at_a_branch_point():
    net, x = concat_net()
    ex = lr.explain(net, x, rule=lr.LRP0(), keep_messages=True)
    out = io.StringIO()
    ex.steps(file=out)
    text = out.getvalue()
    assert "== fan-in at input: its relevance is the sum of what its 2 consumers sent" in text
    assert "from a            = [1. 2.]  (sum 3)" in text
    assert "from cat          = [1. 2.]  (sum 3)" in text
    assert "R(input) = Σ  = [2. 4.]  (sum 6)" in text
    assert "R_in (input 1)" in text and "messages M[j, i] = R(i ← j) (input 0)" in text
    assert text.index("node 2 'out'") < text.index("node 1 'cat'") < text.index("node 0 'a'")  # reverse topological


def conv_residual(seed=0, dtype=np.float64, max_pool=True):
    """A small ResNet-style network: conv stem, two residual blocks (one with a projection), pooling, classifier."""
    rng = np.random.default_rng(seed)
    conv = lambda i, o, k=3: lr.Conv2d(rng.normal(size=(o, i, k, k)) * 0.4, rng.normal(size=o) * 0.1, padding=k // 2,  # noqa: E731
                                       dtype=dtype)
    x = lr.Input()
    h = lr.ReLU()(conv(2, 4)(x, name="stem"))
    r = lr.ReLU()(conv(4, 4)(h, name="b1.conv1"))
    h = lr.ReLU()(lr.Add()(conv(4, 4)(r, name="b1.conv2"), h, name="b1.add"), name="b1.relu")
    r = lr.ReLU()(conv(4, 6)(h, name="b2.conv1"))
    h = lr.ReLU()(lr.Add()(conv(6, 6)(r), conv(4, 6, 1)(h, name="b2.proj"), name="b2.add"))
    h = lr.Flatten()(lr.AdaptiveAvgPool2d(1)(lr.MaxPool2d(2)(h) if max_pool else h))
    y = lr.Dense(rng.normal(size=(3, 6)), rng.normal(size=3) * 0.1, dtype=dtype)(h, name="fc")
    return lr.Graph(x, y), rng.normal(size=(2, 2, 6, 6)).astype(dtype)


def conv_dense_block(seed=1):
    """A DenseNet-style block: each conv reads the concatenation of all earlier feature maps."""
    rng = np.random.default_rng(seed)
    x = lr.Input()
    features = [lr.ReLU()(lr.Conv2d(rng.normal(size=(3, 1, 3, 3)), rng.normal(size=3) * 0.1, padding=1)(x))]
    for i in range(3):
        joined = features[0] if len(features) == 1 else lr.Concat(1)(*features, name=f"cat{i}")
        channels = 3 + 2 * (len(features) - 1)
        features.append(lr.ReLU()(lr.Conv2d(rng.normal(size=(2, channels, 3, 3)) * 0.3, rng.normal(size=2) * 0.1,
                                            padding=1)(joined)))
    h = lr.Flatten()(lr.AvgPool2d(2)(lr.Concat(1)(*features, name="final")))
    y = lr.Dense(rng.normal(size=(4, 9 * 4)), rng.normal(size=4) * 0.1)(h)
    return lr.Graph(x, y), rng.normal(size=(2, 1, 4, 4))


CONSERVING = ["deeplift", "deeplift-revealcancel", "lid-ig", "lid-taylor", "lrp-taylor", "gradient-x-input",
              "st-lid-taylor", "sig-lid-taylor", "sig-lid-ig", "ig"]


@pytest.mark.parametrize("build", [conv_residual, conv_dense_block])
@pytest.mark.parametrize("rule", [lr.Epsilon(0.1), lr.presets.EpsilonGammaBox(low=-4, high=4), lr.AlphaBeta(2, 1),
                                  lr.presets.EpsilonPlusFlat()])
def test_rules_and_composites_on_residual_and_dense_networks(build, rule):
    net, x = build()
    fast = lr.explain(net, x, rule=rule)
    explicit = lr.explain(net, x, rule=rule, path="explicit")
    scale = max(np.abs(fast.top).sum(), 1)
    np.testing.assert_allclose(fast.relevance, explicit.relevance, rtol=0, atol=1e-12 * scale)
    assert fast.conservation.max_residual() <= 1e-12 * scale


@pytest.mark.parametrize("build", [conv_residual, conv_dense_block])
@pytest.mark.parametrize("method", lr.methods.METHODS)
def test_every_method_runs_on_graphs_and_conserves_where_it_should(build, method):
    net, x = build()
    options = {}
    if method in ("grad-cam", "layer-cam", "score-cam"):
        options["layer"] = "b1.relu" if build is conv_residual else "final"
    if method == "smoothgrad":
        options["random_state"] = 0
    if method in ("sg-lrp-zp", "clrp"):  # their default, the z⁺ rule (DTD), is defined for non-negative inputs
        x = np.abs(x)
    ex = lr.explain(net, x, method=method, **options)
    assert ex.relevance.shape[0] == len(x) and np.all(np.isfinite(ex.relevance))
    if method in CONSERVING:
        scale = max(np.abs(ex.top).sum(), 1)
        assert ex.conservation.max_residual() <= 1e-10 * scale
    if method in ("deeplift", "deeplift-revealcancel", "lid-taylor", "lid-ig", "sig-lid-ig"):
        for record in ex.layers:  # per-edge messages: column sums are each edge's relevance
            matrices = record.messages(0)
            for M, r in zip(matrices if isinstance(matrices, tuple) else (matrices,), record.relevance_edges):
                np.testing.assert_allclose(np.asarray(M.sum(axis=0)).ravel(), r[0].ravel(), rtol=0, atol=1e-10)


def test_deeplift_on_a_residual_network_sums_to_the_output_difference():
    """Summation-to-delta through residual sums (no max-pooling: DeepLIFT's gradient mode there is not conservative)."""
    net, x = conv_residual(max_pool=False)
    ex = lr.explain(net, x, method="deeplift", reference=0.0)
    delta = (ex.output - ex.reference_output)[np.arange(len(x)), ex.target]
    np.testing.assert_allclose(ex.relevance.reshape(len(x), -1).sum(1), delta, rtol=1e-10)


def test_grad_cam_at_a_named_node_uses_the_gradient_summed_over_its_consumers():
    net, x = conv_residual()
    k = net.index("b1.relu")
    activations = net.record(x)
    ex = lr.explain(net, x, method="grad-cam", layer="b1.relu", upsample=False)
    g = net.backward(activations, lr.tops.one_hot(ex.target, activations[-1]), stop=k + 1)[k + 1]
    A = activations[k + 1]
    expected = np.maximum(np.einsum("nk,nkhw->nhw", g.mean(axis=(2, 3)), A), 0)
    np.testing.assert_allclose(ex.cam, expected)
    assert len(net.consumers[k + 1]) == 2  # b1.relu feeds b2.conv1 and b2.proj


def test_float32_graph_follows_float64():
    net64, x64 = conv_residual()
    net32, x32 = conv_residual(dtype=np.float32)
    a = lr.explain(net64, x64, rule=lr.Epsilon(0.1))
    b = lr.explain(net32, x32, rule=lr.Epsilon(0.1))
    assert b.relevance.dtype == np.float32
    np.testing.assert_allclose(b.relevance, a.relevance, rtol=1e-3, atol=1e-4 * np.abs(a.relevance).max())


def test_composites_address_nodes_by_name_position_and_type():
    net, x = conv_residual()
    composite = lr.Composite(default=lr.Epsilon(0.1), first=lr.ZBox(-4, 4), last=lr.LRP0(),
                             layers={"b2.proj": lr.Gamma(0.5, mode="generalised"), -1: lr.Epsilon(0.2)},
                             types={lr.Add: lr.SumSplit("equal")})
    rules = composite.rules_for(net)
    by_name = {node.name: rule.describe() for node, rule in zip(net.nodes, rules)}
    assert by_name["stem"] == "ZBox(-4, 4)"
    assert by_name["b2.proj"] == "Gamma(0.5, mode='generalised')"
    assert by_name["fc"] == "Epsilon(0.2)"          # by position beats 'last'
    assert by_name["b1.add"] == by_name["b2.add"] == "SumSplit('equal')"
    assert by_name["b1.conv2"] == "Epsilon(0.1)"
    with pytest.raises(KeyError, match="no node of that name"):
        lr.Composite(default=lr.LRP0(), layers={"nope": lr.LRP0()}).rules_for(net)


def test_batchnorm_in_a_branch_folds_into_its_convolution():
    rng = np.random.default_rng(3)
    bn = lambda c: lr.BatchNorm(rng.normal(size=c) * 0.1, rng.uniform(0.5, 2, c), rng.uniform(0.5, 1.5, c),  # noqa: E731
                                rng.normal(size=c) * 0.1)
    x = lr.Input()
    h = lr.Conv2d(rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), padding=1)(x, name="conv")
    h = lr.ReLU()(bn(2)(h, name="bn"))
    y = lr.Add()(h, bn(2)(x, name="bn_skip"), name="sum")   # a BatchNorm on the skip path cannot be folded
    net = lr.Graph(x, lr.Dense(rng.normal(size=(2, 2 * 16)))(lr.Flatten()(y)))
    inputs = rng.normal(size=(2, 2, 4, 4))
    with pytest.raises(ValueError, match="node 3 'bn_skip'.*cannot be folded exactly"):
        lr.fold_batchnorm(net)
    folded = lr.fold_batchnorm(net, keep_unfoldable=True)
    assert [node.name for node in folded.nodes if isinstance(node.layer, lr.BatchNorm)] == ["bn_skip"]
    assert "bn" not in [node.name for node in folded.nodes]
    np.testing.assert_allclose(folded.forward(inputs), net.forward(inputs), rtol=1e-12, atol=1e-12)


def test_building_errors_name_the_problem():
    x = lr.Input()
    with pytest.raises(TypeError, match="to compute with arrays use layer.forward"):
        lr.ReLU()(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="takes two or more inputs, got 1"):
        lr.Add()(x)
    with pytest.raises(TypeError, match="takes 1 input"):
        lr.ReLU()(x, x)
    a = lr.Dense(np.ones((3, 2)))(x)
    with pytest.raises(ShapeError, match=r"node 1 'sum'.*input 1 has a sample shape \(2,\), input 0 \(3,\)"):
        lr.Graph(x, lr.Add()(a, x, name="sum")).shapes((2,))
    with pytest.raises(ShapeError, match="may differ only along axis 1"):
        lr.Concat(1).output_shape((2, 3, 3), (2, 4, 3))
    with pytest.raises(ValueError, match="do not reach the output"):
        lr.Graph.from_nodes([("a", lr.ReLU(), ["input"]), ("b", lr.Tanh(), ["input"])])
    with pytest.raises(ValueError, match="the name 'a' is taken"):
        lr.Graph.from_nodes([("a", lr.ReLU(), ["input"]), ("a", lr.Tanh(), ["a"])])
    with pytest.raises(ValueError, match="reads 'z', which is not the input or an earlier node"):
        lr.Graph.from_nodes([("a", lr.ReLU(), ["z"])])
    with pytest.raises(ValueError, match="depends on another input"):
        lr.Graph(x, lr.Add()(lr.ReLU()(x), lr.Input("other")))
    with pytest.raises(ValueError, match="axis must be an int >= 1"):
        lr.Concat(0)
    net, inputs = residual_mlp()
    with pytest.raises(TypeError, match=r"node 2 'sum' \(Add\(\)\): the rule Pass\(\) applies to layers that pass"):
        lr.explain(net, inputs, rule=lr.Composite(default=lr.LRP0(), layers={"sum": lr.Pass()}))
    with pytest.raises(KeyError, match="no node named 'nope'"):
        net["nope"]
