"""from_onnx on graphs: Add of two tensors, Sum, Concat, bias folding only where nothing else reads the product, and
the ONNX exports (opset 17, TorchScript exporter) of torchvision's resnet18, resnet50, densenet121 (3×64×64) and
vgg16, vgg16_bn (3×224×224: the exporter needs AdaptiveAvgPool2d's 7×7 to divide the feature map), equal to
onnxruntime ≤ 1e-5 relative in float32."""

import io
import warnings

import numpy as np
import pytest
from io_helpers import assert_same_forward
from optional import require
from test_io_onnx import Graph, compare, graph_model, graph_with, run_onnxruntime

import lrpref as lr
from lrpref.io import ModelImportError, from_onnx

onnx = require("onnx")
from onnx import helper

EXPORTS = {"resnet18": 64, "resnet50": 64, "densenet121": 64, "vgg16": 224, "vgg16_bn": 224}


def export(torch, model, size, batch):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated in favour of dynamo (which needs network)
        torch.onnx.export(model, (torch.zeros(batch, 3, size, size),), buffer, dynamo=False, opset_version=17,
                          input_names=["x"])
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_torchvision_exports_equal_onnxruntime(name):
    torch = require("torch")
    torchvision = require("torchvision")
    from torch_models import randomise_batchnorm

    torch.manual_seed(0)
    model = randomise_batchnorm(getattr(torchvision.models, name)(weights=None)).eval()
    size = EXPORTS[name]
    batch = 2 if size == 64 else 1
    data = export(torch, model, size, batch)
    net = from_onnx(data)
    x = np.random.default_rng(0).normal(size=(batch, 3, size, size)).astype(np.float32)
    assert_same_forward(net(x), run_onnxruntime(onnx.load_model_from_string(data), x), np.float32)
    assert isinstance(net, lr.Sequential) == name.startswith("vgg")
    ops = {node.op_type for node in onnx.load_model_from_string(data).graph.node}
    assert {"Add": name.startswith("resnet"), "Concat": name == "densenet121"} == {op: op in ops for op in ("Add", "Concat")}


def test_graph_operators_match_onnxruntime():
    net = compare(graph_model(), (2, 6, 6), np.float32)
    assert [node.name for node in net.nodes] == ["n0", "n1", "n2", "residual", "sum3", "cat", "n7", "n8", "n9"]
    assert net[2].bias is not None  # the Add of a constant after n2 is its bias
    assert [net.tensor_name(t) for t in net.nodes[net.index("sum3")].inputs] == ["residual", "n1", "n2"]  # v3 = v2 + bias is n2
    assert isinstance(net["cat"], lr.Concat) and net["cat"].axis == 1


def test_graph_equals_the_hand_built_graph():
    g = Graph((4,), np.float64, seed=6)
    W1, W2, b2, W3 = (g.rng.normal(size=s) for s in [(4, 4), (4, 4), (4,), (2, 8)])
    g.node("MatMul", g.constant(W1.T)).node("Relu")
    relu = g.current
    g.node("Gemm", g.constant(W2), g.constant(b2), transB=1)
    g.nodes += [helper.make_node("Add", [g.current, "x"], ["skip"], name="skip"),
                helper.make_node("Concat", ["skip", relu], ["cat"], name="cat", axis=1),
                helper.make_node("Identity", [g.constant(W3.T)], ["W3"]),  # exporters copy parameters like this
                helper.make_node("MatMul", ["cat", "W3"], ["logits"], name="fc"),
                helper.make_node("Softmax", ["logits"], ["p"], name="softmax", axis=-1)]
    g.current = "p"
    net = from_onnx(g.model())
    x = lr.Input()
    h = lr.ReLU()(lr.Dense(W1)(x))
    skip = lr.Add()(lr.Dense(W2, b2)(h), x)
    hand_built = lr.Graph(x, lr.Dense(W3)(lr.Concat(1)(skip, h)))
    xs = np.random.default_rng(6).normal(size=(3, 4))
    np.testing.assert_allclose(net(xs), hand_built(xs), rtol=1e-13, atol=1e-14)
    assert [node.name for node in net.nodes] == ["n0", "n1", "n2", "skip", "cat", "fc"]  # the Softmax is dropped


def single_input_merges():
    g = Graph((2, 3, 3))
    g.node("Relu")
    g.nodes += [helper.make_node("Sum", ["v0"], ["s"]), helper.make_node("Concat", ["s"], ["c"], axis=1)]
    g.current = "c"
    return g.node("Tanh").model()


def test_sum_and_concat_of_one_tensor_are_that_tensor():
    net = compare(single_input_merges(), (2, 3, 3), np.float32)
    assert type(net) is lr.Sequential and [type(layer).__name__ for layer in net] == ["ReLU", "Tanh"]


def bias_read_twice():
    g = Graph((4,))
    g.node("MatMul", g.weights(4, 4))
    g.nodes += [helper.make_node("Add", ["v0", g.weights(4)], ["b"], name="bias"),
                helper.make_node("Add", ["b", "v0"], ["y"], name="sum")]
    g.current = "y"
    return g.model()


def reads_unknown():
    g = Graph((4,))
    g.nodes.append(helper.make_node("Add", ["x", "later"], ["y"], name="early"))
    g.current = "y"
    g.node("Relu")
    return g.model()


def merge(op, inputs, **attributes):
    g = Graph((2, 3, 3))
    g.node("Relu")
    g.nodes.append(helper.make_node(op, [name if name in ("x", "v0") else g.constant(np.ones((1, 2, 3, 3))) for name in inputs],
                                    ["y"], name="merge", **attributes))
    g.current = "y"
    return g.model()


ERRORS = {
    "bias of a shared product": (bias_read_twice, (r"ONNX node 1 'bias' \(Add\): Add of a constant is supported only "
                                                   r"as the bias of a MatMul, Gemm or Conv whose output nothing else reads")),
    "value from a later node": (reads_unknown, r"ONNX node 0 'early' \(Add\): reads 'later', which is not the graph input"),
    "Concat along the batch": (lambda: merge("Concat", ["x", "v0"], axis=0),
                               r"ONNX node 1 'merge' \(Concat\): Concat along axis=0 of \(N, 2, 3, 3\); only a non-batch"),
    "Concat without axis": (lambda: merge("Concat", ["x", "v0"]), r"\(Concat\): Concat along axis=None"),
    "Concat of a constant": (lambda: merge("Concat", ["x", "c"], axis=1), r"\(Concat\): Concat of constants or empty"),
    "Sum with a constant": (lambda: merge("Sum", ["x", "v0", "c"]), r"\(Sum\): Sum of constants or empty inputs"),
    "Add of constants": (lambda: merge("Add", ["c", "c"]), r"\(Add\): Add needs two inputs, at least one of them computed"),
    "Add broadcasting": (lambda: graph_with(("Flatten", [], {}), ("Add", ["x"], {})),
                         r"ONNX node 1 'n1' \(Add\): Add\(\): input 1 has a sample shape \(2, 4, 4\), input 0 \(32,\)"),
    "Softmax before the output": (lambda: graph_with(("Flatten", [], {}), ("Softmax", [], {}), ("Tanh", [], {})),
                                  r"\(Softmax\): only a trailing Softmax"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_unsupported_graphs_name_the_node(name):
    make, message = ERRORS[name]
    with pytest.raises(ModelImportError, match=message):
        from_onnx(make())
