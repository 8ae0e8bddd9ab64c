"""from_torch: forward passes equal PyTorch's (float32 ≤ 1e-5, float64 ≤ 1e-12 relative), every
supported module/function/method, errors naming the fx node, LRP on an imported VGG-like model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_helpers import assert_same_forward
from optional import require
from torch_models import randomise_batchnorm

import lrpref as lr
from lrpref.io import ModelImportError, from_torch

torch = require("torch")
nn = torch.nn
F = torch.nn.functional


def compare(model, input_shape, dtype=np.float64, batch=3, seed=0, **kwargs):
    """Import ``model`` (cast to ``dtype``), run both on the same batch, return (net, relative error)."""
    model = model.to(torch.float64 if dtype == np.float64 else torch.float32).eval()
    net = from_torch(model, input_shape, **kwargs)
    x = np.random.default_rng(seed).normal(size=(batch, *input_shape)).astype(dtype)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    ours = net(x)
    assert ours.dtype == dtype
    return net, assert_same_forward(ours, expected, dtype)


class VGGLike(nn.Module):
    """torchvision's VGG layout (features → avgpool → flatten → classifier), small."""

    def __init__(self, classes=5, batch_norm=False):
        super().__init__()
        norm = (lambda c: [nn.BatchNorm2d(c)]) if batch_norm else (lambda c: [])
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), *norm(8), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, padding=1), *norm(16), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 3 * 3, 32), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(32, classes))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class LeNetFunctional(nn.Module):
    """A forward pass written with functional calls, methods and a view-as-flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 5)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc1 = nn.Linear(6 * 2 * 2, 10)
        self.fc2 = nn.Linear(10, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = torch.sigmoid(self.conv2(x)).contiguous()
        x = F.avg_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        x = F.leaky_relu(self.fc1(x), 0.2)
        x = F.dropout(x, 0.3, training=self.training)
        return self.fc2(torch.tanh(x))


class ShapeQueries(nn.Module):
    """Every flatten spelling: .reshape(x.shape[0], -1), .view(-1, n), .flatten(1), .reshape((N, -1))."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        x = self.conv(x).relu()
        x = x.reshape(x.shape[0], -1)
        x = x.view(-1, 48)
        x = x.flatten(1)
        x = torch.reshape(x, (x.size()[0], -1))
        x = x.tanh().sigmoid()
        return self.fc(x)


MODELS = {
    "nested Sequential": (lambda: nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.1)),
        nn.Sequential(nn.Sequential(nn.Conv2d(4, 4, 3, dilation=2, groups=2, bias=False), nn.Tanh())),
        nn.Flatten(), nn.Identity(), nn.Linear(4 * 2 * 2, 3)), (3, 11, 11)),
    "VGG-like": (lambda: VGGLike(), (3, 12, 12)),
    "VGG-like with BatchNorm2d": (lambda: randomise_batchnorm(VGGLike(batch_norm=True)), (3, 12, 12)),
    "LeNet, functional": (lambda: LeNetFunctional(), (1, 16, 16)),
    "flatten spellings": (lambda: ShapeQueries(), (2, 6, 6)),
    "MLP with BatchNorm1d": (lambda: randomise_batchnorm(nn.Sequential(
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(8, 5),
        nn.BatchNorm1d(5, affine=False), nn.ReLU(), nn.Linear(5, 2))), (6,)),
    "pooling variants": (lambda: nn.Sequential(
        nn.Conv2d(2, 3, 3, padding="same"), nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        nn.MaxPool2d(3, stride=1, padding=1, dilation=1), nn.AvgPool2d(2, ceil_mode=True),
        nn.AdaptiveAvgPool2d((None, 3)), nn.Conv2d(3, 2, (2, 1), padding="valid", stride=(1, 2)),
        nn.Dropout2d(0.1), nn.Flatten(1, -1), nn.Linear(2 * 1 * 2, 2)), (2, 8, 8)),
    "adaptive pooling, uneven windows": (lambda: nn.Sequential(
        nn.AdaptiveAvgPool2d((4, 3)), nn.MaxPool2d((2, 1), dilation=(1, 2), padding=(1, 0)), nn.Flatten(),
        nn.Linear(3 * 3 * 3, 2)), (3, 7, 5)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_matches_torch(name, dtype):
    make, input_shape = MODELS[name]
    torch.manual_seed(0)
    net, _ = compare(make(), input_shape, dtype)
    assert net.dtype == dtype


def test_vgg_like_imports_layer_by_layer():
    net = from_torch(VGGLike().eval(), (3, 12, 12))
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "AdaptiveAvgPool2d", "Flatten",
                     "Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    assert net.dtype == np.float32
    assert net.shapes((3, 12, 12))[-1] == (5,)


def test_single_module_and_dtype_conversion():
    torch.manual_seed(1)
    linear = nn.Linear(4, 3)  # float32 parameters
    net = from_torch(linear, (4,), dtype=np.float64)
    assert net.dtype == np.float64 and len(net) == 1
    np.testing.assert_array_equal(net[0].W, linear.weight.detach().numpy().astype(np.float64))
    compare(nn.Sequential(linear), (4,), np.float64)
    half = nn.Sequential(nn.Linear(4, 3)).half()
    with pytest.raises(ModelImportError, match="torch.float16.*dtype="):
        from_torch(half, (4,))
    assert from_torch(half, (4,), dtype=np.float32).dtype == np.float32


def test_parameter_free_model_keeps_no_dtype():
    net = from_torch(nn.Sequential(nn.ReLU(), nn.Flatten()), (2, 3))
    assert net.dtype is None
    x = np.random.default_rng(0).normal(size=(2, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(net(x), np.maximum(x, 0).reshape(2, 6))


# --------------------------------------------------------------------------- random geometry


@settings(max_examples=30, deadline=None)
@given(kernel=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 2), padding=st.integers(0, 2),
       groups=st.sampled_from([1, 2]), size=st.integers(6, 10), pool=st.sampled_from(["max", "avg", "avg-nopad"]),
       pool_kernel=st.integers(1, 3), pool_stride=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_random_conv_and_pool_geometry_matches_torch(kernel, stride, dilation, padding, groups, size, pool,
                                                     pool_kernel, pool_stride, seed):
    torch.manual_seed(seed)
    conv = nn.Conv2d(4, 4, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
    pool_padding = pool_kernel // 2
    if pool == "max":
        pooling = nn.MaxPool2d(pool_kernel, pool_stride, pool_padding)
    else:
        pooling = nn.AvgPool2d(pool_kernel, pool_stride, pool_padding, count_include_pad=pool == "avg")
    model = nn.Sequential(conv, nn.LeakyReLU(0.125), pooling)  # never all zero, unlike ReLU
    with torch.no_grad():
        try:
            out_shape = model(torch.zeros(1, 4, size, size)).shape[1:]
        except RuntimeError:  # the window does not fit: nothing to compare
            return
    if min(out_shape) < 1:
        return
    compare(model, (4, size, size), np.float64, batch=2, seed=seed)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(3, 12), kernel=st.integers(1, 4), stride=st.integers(1, 4), dilation=st.integers(1, 2),
       data=st.data(), average=st.booleans())
def test_ceil_mode_is_accepted_exactly_where_torch_gives_the_floor_size(size, kernel, stride, dilation, data, average):
    padding = data.draw(st.integers(0, kernel // 2))
    if average:
        pools = [nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil) for ceil in (True, False)]
    else:
        pools = [nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil) for ceil in (True, False)]
    x = torch.zeros(1, 1, size, size)
    try:
        ceil_shape, floor_shape = (pool(x).shape for pool in pools)
    except RuntimeError:  # the window does not fit
        return
    if ceil_shape == floor_shape:
        compare(nn.Sequential(pools[0]), (1, size, size), np.float64, batch=1)
    else:
        with pytest.raises(ModelImportError, match="ceil_mode adds a partial window"):
            from_torch(nn.Sequential(pools[0]), (1, size, size))


# --------------------------------------------------------------------------- LRP on the imported network


def hand_built_vgg(model):
    """The VGG-like model rebuilt from its state_dict with lrpref layers, without the importer."""
    p = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    return lr.Sequential([
        lr.Conv2d(p["features.0.weight"], p["features.0.bias"], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(p["features.3.weight"], p["features.3.bias"], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.AdaptiveAvgPool2d(3), lr.Flatten(),
        lr.Dense(p["classifier.0.weight"], p["classifier.0.bias"]), lr.ReLU(), lr.Dropout(0.5),
        lr.Dense(p["classifier.3.weight"], p["classifier.3.bias"]), lr.ReLU(), lr.Dropout(0.5),
        lr.Dense(p["classifier.6.weight"], p["classifier.6.bias"]),
    ])


def test_lrp_on_imported_vgg_equals_hand_built():
    torch.manual_seed(3)
    model = VGGLike().double().eval()
    imported, hand_built = from_torch(model, (3, 12, 12)), hand_built_vgg(model)
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 3, 12, 12))
    rule = lr.presets.EpsilonGammaBox(low=-1, high=1)
    ours, reference = lr.explain(imported, x, target=[1, 4], rule=rule), lr.explain(hand_built, x, target=[1, 4], rule=rule)
    np.testing.assert_allclose(ours.relevance, reference.relevance, rtol=1e-12, atol=1e-14)
    assert np.abs(reference.relevance).max() > 0
    # gradient of the imported network = torch's autograd gradient
    xt = torch.from_numpy(x).requires_grad_(True)
    model(xt)[:, 2].sum().backward()
    np.testing.assert_allclose(imported.gradient(x, np.eye(5)[[2, 2]]), xt.grad.numpy(), rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- errors


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + x


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x


class TupleOutput(nn.Module):
    def forward(self, x):
        return (x.relu(),)


class UsesWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return F.linear(x, self.fc.weight)


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class Functional(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


ERRORS = [
    (nn.Sequential(nn.Linear(3, 3), nn.ELU()), (3,), r"fx node 2 '_1' \(module '1': ELU\): unsupported module torch\.nn\.modules\.activation\.ELU"),
    (nn.Sequential(nn.Flatten(), nn.Linear(3, 3), nn.Softmax(dim=1)), (3,), r"module '2': Softmax"),
    (Functional(lambda x: torch.cat([x, x], 0)), (3,), r"fx node 1 'cat' \(function torch\.cat\): cat along dim=0 of \(N, 3\); only a non-batch axis"),
    (Functional(lambda x: torch.cat([x, x.view(x.size(0), -1)], 1)), (3, 2), r"fx node 3 'cat' \(function torch\.cat\): Concat\(axis=1\): input 1 has a sample shape \(6,\)"),
    (Functional(lambda x: x + 1), (3,), r"fx node 1 'add' \(function \+\): adds the constant 1; only the sum of two tensors"),
    (Functional(lambda x: torch.add(x, x, alpha=2)), (3,), r"fx node 1 'add' \(function torch\.add\): alpha=2"),
    (Functional(lambda x: x + x.flatten(1)), (2, 3), r"fx node 2 'add' \(function \+\): .*Add\(\): input 1 has a sample shape \(6,\), input 0 \(2, 3\)"),
    (Functional(lambda x: x + torch.flatten(x, 1).relu_().view(x.size(0), 2, 3)), (2, 3), r"fx node 2 'relu_' \(method \.relu_\(\)\): modifies 'flatten' in place, which is a view"),
    (Functional(lambda x: F.dropout(x, 0.5)), (3,), r"F\.dropout.*training=True is random"),
    (Functional(lambda x: torch.flatten(x)), (3,), r"flatten\(start_dim=0, end_dim=-1\)"),
    (Functional(lambda x: x.view(x.size(0), 2, -1)), (2, 3, 3), r"reshape of \(N, 2, 3, 3\) to \('N', 2, -1\)"),
    (Functional(lambda x: x.permute(0, 2, 1)), (2, 3), r"unsupported tensor method \.permute\(\)"),
    (Functional(lambda x: x * 2), (3,), r"function mul"),
    (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), (1, 5, 5), r"module '0': MaxPool2d\): ceil_mode adds a partial window"),
    (nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")), (1, 5, 5), r"padding_mode='reflect'"),
    (nn.Sequential(nn.Conv2d(1, 1, 2, padding="same")), (1, 5, 5), r"padding='same'.*asymmetrically"),
    (nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)), (3,), r"track_running_stats=False"),
    (nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), (1, 4, 4), r"divisor_override"),
    (nn.Sequential(nn.Linear(4, 3)), (3,), r"fx node 1 '_0' \(module '0': Linear\): .*Dense\(4→3\) expects input \(N, 4\)"),
    (UsesWeight(), (3,), r"uses the parameter or buffer 'fc.weight' directly"),
    (TwoInputs(), (3,), r"a second input"),
    (TupleOutput(), (3,), r"returns \(relu,\)"),
    (DataDependent(), (3,), r"torch.fx cannot trace DataDependent"),
]


@pytest.mark.parametrize("model, input_shape, message", ERRORS, ids=[m for _, _, m in ERRORS])
def test_unsupported_models_name_the_node(model, input_shape, message):
    with pytest.raises(ModelImportError, match=message):
        from_torch(model.eval(), input_shape)


def test_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        from_torch(lambda x: x, (3,))
    with pytest.raises(ModelImportError, match="input_shape"):
        from_torch(nn.ReLU(), (0, 3))
    with pytest.raises(ModelImportError, match="input_shape"):
        from_torch(nn.ReLU(), "abc")
    with pytest.raises(TypeError, match="dtype"):
        from_torch(nn.ReLU(), (3,), dtype=np.int32)
    assert issubclass(ModelImportError, ValueError)
