"""from_onnx: forward passes equal onnxruntime's (float32 ≤ 1e-5, float64 ≤ 1e-12 relative) for every
supported operator and attribute, opset variants, models exported from torch, clear errors for
unsupported graphs, and a fuzzed loader that raises nothing but ModelImportError."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import assert_same_forward
from optional import require

import lrpref as lr
from lrpref.io import ModelImportError, from_onnx

onnx = require("onnx")
ort = require("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402  (after the optional-import check)

ELEM_TYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


class Graph:
    """A chain under construction: nodes, initializers with generated names, one input and output."""

    def __init__(self, input_shape, dtype=np.float32, seed=0):
        self.dtype, self.input_shape = dtype, input_shape
        self.rng = np.random.default_rng(seed)
        self.nodes, self.initializers = [], []
        self.current = "x"

    def constant(self, array, dtype=None):
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(array, dtype=dtype or self.dtype), name))
        return name

    def weights(self, *shape):
        return self.constant(self.rng.normal(size=shape) / np.sqrt(np.prod(shape[1:]) or 1))

    def node(self, op, *constants, outputs=1, **attributes):
        name = f"v{len(self.nodes)}"
        extra = [f"{name}_extra{k}" for k in range(1, outputs)]
        self.nodes.append(helper.make_node(op, [self.current, *constants], [name, *extra], name=f"n{len(self.nodes)}",
                                           **attributes))
        self.current = name
        return self

    def model(self, opset=17, batch=None):
        elem = ELEM_TYPE[self.dtype]
        graph = helper.make_graph(self.nodes, "chain", [helper.make_tensor_value_info("x", elem, [batch, *self.input_shape])],
                                  [helper.make_tensor_value_info(self.current, elem, None)], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        return model


def run_onnxruntime(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def compare(model, input_shape, dtype=np.float32, softmax=False, batch=4, **kwargs):
    net = from_onnx(model, **kwargs)
    x = np.random.default_rng(1).normal(size=(batch, *input_shape)).astype(dtype)
    ours = net(x)
    assert ours.dtype == dtype
    if softmax:  # the trailing Softmax is dropped: softmax(our logits) is the graph's output
        ours = np.exp(ours - ours.max(axis=1, keepdims=True))
        ours /= ours.sum(axis=1, keepdims=True)
    assert_same_forward(ours, run_onnxruntime(model, x), dtype)
    return net


# --------------------------------------------------------------------------- models of every operator


def gemm_model(dtype=np.float32):
    g = Graph((2, 3, 3), dtype)
    g.node("Flatten")
    g.node("Gemm", g.weights(8, 18), g.weights(8), transB=1, alpha=0.5, beta=2.0).node("Relu")
    g.node("Gemm", g.weights(8, 6), g.weights(1, 6), alpha=1.5).node("Tanh")
    g.node("Gemm", g.weights(5, 6), g.constant(0.25), transB=1).node("Sigmoid")
    g.node("Gemm", g.weights(5, 4)).node("Softmax")
    return g.model(), (2, 3, 3), True


def matmul_add_model(dtype=np.float32):
    g = Graph((6,), dtype)
    g.node("MatMul", g.weights(6, 5)).node("Add", g.weights(5)).node("LeakyRelu", alpha=0.2)
    g.node("MatMul", g.weights(5, 4))
    g.nodes.append(helper.make_node("Constant", [], ["bias"], value=numpy_helper.from_array(
        np.array([[0.5, -1, 0.25, 2]], dtype=dtype))))
    g.node("Add", "bias").node("Identity")
    g.node("Dropout", g.constant(0.3)).node("Gemm", g.weights(3, 4), transB=1)
    return g.model(), (6,), False


def conv_model(dtype=np.float32):
    g = Graph((4, 11, 11), dtype)
    g.node("Conv", g.weights(6, 2, 3, 3), g.weights(6), pads=[1, 1, 1, 1], strides=[2, 2], group=2, kernel_shape=[3, 3])
    g.node("Relu").node("Conv", g.weights(4, 6, 3, 3), dilations=[2, 1]).node("Add", g.weights(1, 4, 1, 1))
    g.node("LeakyRelu")
    g.node("MaxPool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], storage_order=1)
    g.node("AveragePool", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    g.node("Flatten").node("Gemm", g.weights(3, 4 * 2 * 3), g.weights(3), transB=1)
    return g.model(), (4, 11, 11), False


def auto_pad_model(dtype=np.float32):
    g = Graph((3, 9, 9), dtype)
    g.node("Conv", g.weights(4, 3, 3, 3), g.weights(4), auto_pad="SAME_UPPER")
    g.node("Conv", g.weights(4, 4, 3, 3), auto_pad="SAME_LOWER", strides=[2, 2])
    g.node("Conv", g.weights(4, 4, 2, 2), auto_pad="VALID").node("Sigmoid")
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, auto_pad="VALID")
    g.node("AveragePool", kernel_shape=[1, 1], auto_pad="SAME_UPPER")
    g.node("Conv", g.weights(5, 4, 1, 1), g.weights(5))
    g.node("GlobalAveragePool").node("Reshape", g.constant([0, -1], np.int64))
    g.node("Gemm", g.weights(5, 2), g.weights(2))
    return g.model(), (3, 9, 9), False


def pooling_model(dtype=np.float32):
    g = Graph((2, 8, 8), dtype)
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1])
    g.node("AveragePool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])  # count_include_pad=0
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)  # 4 -> 2 either way
    g.node("Flatten", axis=-3).node("Gemm", g.weights(3, 8), transB=1)
    return g.model(), (2, 8, 8), False


def batchnorm_model(dtype=np.float32):
    g = Graph((3, 6, 6), dtype)
    g.node("Conv", g.weights(4, 3, 3, 3), g.weights(4))
    g.node("BatchNormalization", g.weights(4), g.weights(4), g.weights(4), g.constant(g.rng.uniform(0.5, 2, 4)),
           epsilon=1e-3)
    g.node("Relu").node("GlobalAveragePool").node("Flatten").node("Gemm", g.weights(5, 4), g.weights(5), transB=1)
    g.node("BatchNormalization", g.weights(5), g.weights(5), g.weights(5), g.constant(g.rng.uniform(0.5, 2, 5)))
    return g.model(), (3, 6, 6), False


def double_model(dtype=np.float64):
    """What onnxruntime runs in float64 (its Conv and AveragePool kernels are float32 only)."""
    g = Graph((2, 6, 6), dtype)
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2]).node("Flatten")
    g.node("Gemm", g.weights(7, 18), g.weights(7), transB=1)
    g.node("BatchNormalization", g.weights(7), g.weights(7), g.weights(7), g.constant(g.rng.uniform(0.5, 2, 7)))
    g.node("LeakyRelu", alpha=0.3).node("MatMul", g.weights(7, 5)).node("Add", g.weights(5)).node("Tanh")
    g.node("Dropout", g.constant(0.1)).node("Gemm", g.weights(5, 3), g.weights(3)).node("Softmax", axis=-1)
    return g.model(), (2, 6, 6), True


def old_opset_model(dtype=np.float32):
    """Opset 10: Dropout's ratio is an attribute, Softmax's axis defaults to 1 (2-D coercion)."""
    g = Graph((2, 4, 4), dtype)
    g.node("Reshape", g.constant([-1, 32], np.int64)).node("Dropout", ratio=0.4, outputs=2)
    g.node("Gemm", g.weights(32, 3), g.weights(3)).node("Softmax")
    return g.model(opset=10), (2, 4, 4), True


MODELS = {f.__name__: f for f in (gemm_model, matmul_add_model, conv_model, auto_pad_model, pooling_model,
                                  batchnorm_model, old_opset_model)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_matches_onnxruntime(name):
    model, input_shape, softmax = MODELS[name]()
    net = compare(model, input_shape, np.float32, softmax)
    assert net.dtype == np.float32


def test_forward_matches_onnxruntime_in_float64():
    model, input_shape, softmax = double_model()
    assert compare(model, input_shape, np.float64, softmax).dtype == np.float64


@pytest.mark.parametrize("name", sorted(MODELS))
def test_float64_import_of_float64_graph_matches_float32_run(name):
    """The same graphs in float64 (onnxruntime cannot run some of them): our float64 forward
    equals our float32 forward to float32 precision, and `dtype=` gives the same network."""
    model64, input_shape, _ = MODELS[name](np.float64)
    model32, _, _ = MODELS[name](np.float32)
    net64, net32 = from_onnx(model64), from_onnx(model32)
    converted = from_onnx(model32, dtype=np.float64)
    assert net64.dtype == converted.dtype == np.float64
    x = np.random.default_rng(2).normal(size=(3, *input_shape))
    np.testing.assert_allclose(converted(x), net64(x), rtol=1e-6, atol=1e-6)  # float32-rounded weights
    assert_same_forward(net32(x.astype(np.float32)), net64(x), np.float32)


def test_imported_layers_and_opset_1_reshape():
    net = from_onnx(conv_model()[0])
    assert [type(layer).__name__ for layer in net] == ["Conv2d", "ReLU", "Conv2d", "LeakyReLU", "MaxPool2d",
                                                       "AvgPool2d", "Flatten", "Dense"]
    assert net[2].bias is not None and net[2].dilation == (2, 1) and net[0].groups == 2
    g = Graph((3, 2))
    g.node("Reshape", shape=[0, -1]).node("Gemm", g.weights(6, 2))
    net = from_onnx(g.model(opset=4))
    assert [type(layer).__name__ for layer in net] == ["Flatten", "Dense"]


def test_path_bytes_and_modelproto(tmp_path):
    model, input_shape, _ = conv_model()
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype(np.float32)
    outputs = [from_onnx(source)(x) for source in (model, path, str(path), model.SerializeToString())]
    for output in outputs[1:]:
        np.testing.assert_array_equal(output, outputs[0])
    with pytest.raises(FileNotFoundError):
        from_onnx(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="path, bytes or an onnx.ModelProto"):
        from_onnx(12)


def test_symbolic_input_dims_need_input_shape():
    g = Graph(("h", "w"))
    g.input_shape = (3, "h", "w")
    g.node("Conv", g.weights(2, 3, 3, 3)).node("GlobalAveragePool").node("Flatten")
    model = g.model(batch="n")
    with pytest.raises(ModelImportError, match=r"shape \(\?, 3, \?, \?\); pass input_shape="):
        from_onnx(model)
    net = from_onnx(model, input_shape=(3, 7, 5))
    assert net.shapes((3, 7, 5))[-1] == (2,)
    with pytest.raises(ModelImportError, match="rank 4"):
        from_onnx(model, input_shape=(3, 7))


# --------------------------------------------------------------------------- models exported from torch


def test_models_exported_from_torch():
    torch = require("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, stride=2, padding=1, groups=2), nn.LeakyReLU(0.125), nn.AvgPool2d(2),  # ONNX float attributes are float32: 0.125 is exact
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 10), nn.Tanh(), nn.Linear(10, 4))
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    for dtype in (torch.float32, torch.float64):
        model = model.to(dtype).eval()
        x = torch.randn(3, 3, 12, 12, dtype=dtype)
        data = _export(torch, model, x)
        net = from_onnx(data)
        with torch.no_grad():
            expected = model(x).numpy()
        assert_same_forward(net(x.numpy()), expected, x.numpy().dtype)
        if dtype == torch.float32:
            assert_same_forward(net(x.numpy()), run_onnxruntime(onnx.load_model_from_string(data), x.numpy()), np.float32)


def _export(torch, model, x, **kwargs):
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated in favour of dynamo
        torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["x"], **kwargs)
    return buffer.getvalue()


def test_view_with_dynamic_batch_exports_shape_arithmetic():
    torch = require("torch")

    class ViewFlatten(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(12, 2)

        def forward(self, x):
            return self.fc(x.view(x.size(0), -1))

    data = _export(torch, ViewFlatten().eval(), torch.zeros(2, 3, 4), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ModelImportError, match=r"'Shape'|read 2 times"):
        from_onnx(data)
    static = _export(torch, ViewFlatten().eval(), torch.zeros(2, 3, 4))  # constant-folded to Reshape(x, [2, 12])
    assert [type(layer).__name__ for layer in from_onnx(static)] == ["Flatten", "Dense"]


# --------------------------------------------------------------------------- LRP on the imported network


def test_lrp_on_imported_network_equals_hand_built():
    g = Graph((2, 6, 6), np.float64, seed=4)
    W1, b1, W2, b2 = (g.rng.normal(size=s) for s in [(4, 2, 3, 3), (4,), (3, 36), (3,)])
    g.node("Conv", g.constant(W1), g.constant(b1), pads=[1, 1, 1, 1]).node("Relu")
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2]).node("Flatten")
    g.node("Gemm", g.constant(W2), g.constant(b2), transB=1).node("Softmax")
    imported = from_onnx(g.model())
    hand_built = lr.Sequential([lr.Conv2d(W1, b1, padding=1), lr.ReLU(), lr.MaxPool2d(2), lr.Flatten(), lr.Dense(W2, b2)])
    x = np.random.default_rng(4).uniform(-1, 1, size=(3, 2, 6, 6))
    rule = lr.presets.EpsilonPlus()
    ours, reference = lr.explain(imported, x, rule=rule), lr.explain(hand_built, x, rule=rule)
    np.testing.assert_allclose(ours.relevance, reference.relevance, rtol=1e-12, atol=1e-14)
    assert np.abs(reference.relevance).max() > 0


# --------------------------------------------------------------------------- errors


def graph_with(*steps, input_shape=(2, 4, 4), opset=17):
    g = Graph(input_shape)
    for op, constants, attributes in steps:
        g.node(op, *[c if isinstance(c, str) else g.constant(c, np.asarray(c).dtype) for c in constants], **attributes)
    return g.model(opset=opset)


def two_inputs():
    model = graph_with(("Relu", [], {}))
    model.graph.input.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2]))
    return model


def two_outputs():
    model = graph_with(("Relu", [], {}), ("Tanh", [], {}))
    model.graph.output.append(helper.make_tensor_value_info("v0", TensorProto.FLOAT, None))
    return model


def external_data():
    model = graph_with(("Flatten", [], {}), ("MatMul", [np.ones((32, 2))], {}))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../../etc/passwd")
    return model


def without_opset():
    model = graph_with(("Relu", [], {}))
    del model.opset_import[:]
    return model


def custom_domain():
    model = graph_with(("Relu", [], {}))
    model.graph.node[0].domain = "com.example"
    return model


def _constant_matmul():
    g = Graph((4,))
    g.nodes.append(helper.make_node("MatMul", [g.constant(np.ones((4, 4))), "x"], ["y"]))
    g.current = "y"
    return g.model()


def _with_mask_output():
    g = Graph((4,))
    g.node("Dropout", outputs=2)
    g.nodes.append(helper.make_node("Add", ["v0", "v0_extra1"], ["y"]))
    g.current = "y"
    return g.model()


def _output_elsewhere():
    model = graph_with(("Relu", [], {}))
    model.graph.output[0].name = "x"
    return model


ERRORS = {
    "unsupported operator": (lambda: graph_with(("Transpose", [], {"perm": [0, 2, 1, 3]})),
                             r"ONNX node 0 'n0' \(Transpose\): unsupported operator 'Transpose'"),
    "asymmetric pads": (lambda: graph_with(("Conv", [np.ones((1, 2, 3, 3))], {"pads": [1, 1, 0, 0]})),
                        r"\(Conv\): asymmetric pads \[1, 1, 0, 0\]"),
    "SAME with even kernel": (lambda: graph_with(("MaxPool", [], {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER"})),
                              r"auto_pad=SAME_UPPER pads 1 in total"),
    "ceil mode": (lambda: graph_with(("MaxPool", [], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1})),
                  r"\(MaxPool\): ceil_mode adds a partial window"),
    "AveragePool dilations": (lambda: graph_with(("AveragePool", [], {"kernel_shape": [2, 2], "dilations": [2, 2]})),
                              r"AvgPool2d has no dilation"),
    "two inputs": (two_inputs, r"2 inputs \('x', 'y'\)"),
    "two outputs": (two_outputs, r"2 outputs"),
    "Softmax in the middle": (lambda: graph_with(("Flatten", [], {}), ("Softmax", [], {}), ("Relu", [], {})),
                              r"\(Softmax\): only a trailing Softmax"),
    "Softmax over channels": (lambda: graph_with(("Softmax", [], {"axis": 1})), r"only a trailing Softmax"),
    "Gemm transA": (lambda: graph_with(("Flatten", [], {}), ("Gemm", [np.ones((2, 32))], {"transA": 1})), r"transA=1"),
    "Gemm per-sample C": (lambda: graph_with(("Flatten", [], {}), ("Gemm", [np.ones((32, 2)), np.ones((4, 2))], {})),
                          r"constant of shape \(4, 2\) is not a bias of 2 outputs"),
    "Reshape not a flatten": (lambda: graph_with(("Reshape", [np.array([0, 2, -1], np.int64)], {})),
                              r"Reshape of \(N, 2, 4, 4\) to \[0, 2, -1\]; only a flatten to \(N, 32\)"),
    "Reshape computed shape": (lambda: graph_with(("Reshape", ["x"], {})), r"reads the values \['x', 'x'\]"),
    "BatchNorm training": (lambda: graph_with(("BatchNormalization", [np.ones(2)] * 4, {"training_mode": 1})),
                           r"training_mode=1"),
    "unknown attribute": (lambda: graph_with(("Relu", [], {"slope": 0.5})), r"\(Relu\): unsupported attribute 'slope'"),
    "custom domain": (custom_domain, r"domain 'com.example'"),
    "constant @ data": (_constant_matmul, r"only data @ constant-matrix"),
    "Add after Relu": (lambda: graph_with(("Relu", [], {}), ("Add", [np.ones((1,))], {})),
                       r"Add of a constant is supported only as the bias"),
    "Dropout training": (lambda: graph_with(("Dropout", [np.array(0.5, np.float32), np.array(True)], {})),
                         r"training_mode is true"),
    "Dropout mask used": (_with_mask_output, r"extra outputs \['v0_extra1'\] are used"),
    "no opset": (without_opset, r"no opset version"),
    "external data": (external_data, r"external data"),
    "1-D convolution": (lambda: graph_with(("Conv", [np.ones((1, 2, 3))], {}), input_shape=(2, 8)),
                        r"only 2-D convolutions"),
    "integer weights": (lambda: graph_with(("Flatten", [], {}), ("MatMul", [np.ones((32, 2), np.int64)], {})),
                        r"parameters are int64; .*dtype="),
    "Flatten axis 2": (lambda: graph_with(("Flatten", [], {"axis": 2})), r"Flatten\(axis=2\)"),
    "non-finite weights": (lambda: graph_with(("Flatten", [], {}), ("MatMul", [np.full((32, 2), np.nan)], {})),
                           r"\(MatMul\): Dense W contains 64 non-finite"),
    "shape mismatch": (lambda: graph_with(("Flatten", [], {}), ("MatMul", [np.ones((30, 2))], {})),
                       r"Dense\(30→2, no bias\) expects input \(N, 30\)"),
    "output is the input": (_output_elsewhere, r"ONNX graph: the output 'x' is the graph input; no node computes it"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_unsupported_graphs_name_the_node(name):
    make, message = ERRORS[name]
    with pytest.raises(ModelImportError, match=message):
        from_onnx(make())


def test_not_a_model():
    with pytest.raises(ModelImportError, match="not a valid ONNX model file"):
        from_onnx(b"\xff\xff\xff not protobuf")
    with pytest.raises(ModelImportError, match=r"not an ONNX model \(it has no graph\)"):
        from_onnx(b"")
    with pytest.raises(ModelImportError, match=r"from_onnx\(ModelProto\): not an ONNX model"):
        from_onnx(onnx.ModelProto())


# --------------------------------------------------------------------------- fuzzing the loader


def graph_model(dtype=np.float32):
    """A residual sum, a three-way Sum and a concatenation: what the fuzzers corrupt besides a chain."""
    g = Graph((2, 6, 6), dtype, seed=5)
    g.node("Conv", g.weights(4, 2, 3, 3), g.weights(4), pads=[1, 1, 1, 1]).node("Relu")
    stem = g.current
    g.node("Conv", g.weights(4, 4, 3, 3), pads=[1, 1, 1, 1]).node("Add", g.weights(1, 4, 1, 1))
    g.nodes.append(helper.make_node("Add", [g.current, stem], ["sum"], name="residual"))
    g.nodes.append(helper.make_node("Sum", ["sum", stem, "v3"], ["sum3"], name="sum3"))
    g.nodes.append(helper.make_node("Concat", ["sum3", stem], ["cat"], name="cat", axis=-3))
    g.current = "cat"
    g.node("GlobalAveragePool").node("Flatten").node("Gemm", g.weights(3, 8), g.weights(3), transB=1)
    return g.model()


VALID = {"chain": conv_model()[0].SerializeToString(), "graph": graph_model().SerializeToString()}


def import_or_refuse(data):
    """from_onnx either imports the bytes or raises ModelImportError; anything else fails the test."""
    try:
        net = from_onnx(data)
    except ModelImportError:
        return None
    assert isinstance(net, lr.Graph)
    return net


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.data())
def test_truncated_files_are_refused_cleanly(kind, data):
    valid = VALID[kind]
    import_or_refuse(valid[:data.draw(st.integers(0, len(valid) - 1))])


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.data())
def test_bit_flipped_files_are_refused_cleanly(kind, data):
    valid = bytearray(VALID[kind])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 7)), min_size=1, max_size=6))
    for position, bit in flips:
        valid[position] ^= 1 << bit
    import_or_refuse(bytes(valid))


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.data(), junk=st.binary(min_size=1, max_size=16), insert=st.booleans())
def test_overwritten_or_inserted_bytes_are_refused_cleanly(kind, data, junk, insert):
    valid = VALID[kind]
    position = data.draw(st.integers(0, len(valid) - 1))
    import_or_refuse(valid[:position] + junk + valid[position + (0 if insert else len(junk)):])
