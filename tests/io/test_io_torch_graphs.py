"""from_torch on graphs: residual sums, concatenations, reused modules and in-place operations; the required
torchvision models (resnet18, resnet50, densenet121, vgg16, vgg16_bn, weights=None, seeded) equal torch's forward
pass ≤ 1e-12 relative in float64 on 3×64×64 inputs, and their gradients equal autograd's."""

import numpy as np
import pytest
from io_helpers import assert_same_forward
from optional import require
from test_io_torch import compare
from torch_models import imported_models, randomise_batchnorm

import lrpref as lr
from lrpref.io import ModelImportError, from_torch

torch = require("torch")
torchvision = require("torchvision")
nn = torch.nn
F = torch.nn.functional

SHAPE = (3, 64, 64)
REQUIRED = ["resnet18", "resnet50", "densenet121", "vgg16", "vgg16_bn"]


@pytest.fixture(scope="module")
def torchvision_models():
    """Each required model once per module: seeded init, BatchNorm statistics randomised, float64, eval."""
    return imported_models(SHAPE)


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).normal(size=(2, *SHAPE))


@pytest.mark.parametrize("name", REQUIRED)
def test_torchvision_forward_equals_torch_in_float64(torchvision_models, batch, name):
    model, net = torchvision_models(name)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    assert_same_forward(net(batch), expected, np.float64)  # ≤ 1e-12 relative
    assert net.dtype == np.float64
    assert isinstance(net, lr.Sequential) == name.startswith("vgg")  # VGGs are chains, the others graphs


def test_resnet_nodes_are_the_fx_nodes_and_reused_modules_are_separate_nodes(torchvision_models):
    model, net = torchvision_models("resnet18")
    traced = torch.fx.symbolic_trace(model)
    calls = [node.name for node in traced.graph.nodes if node.op not in ("placeholder", "output")]
    assert [node.name for node in net.nodes] == calls
    relus = [node for node in net.nodes if isinstance(node.layer, lr.ReLU)]
    assert len(relus) == 17  # 9 ReLU modules (the stem's and one per block) called at 17 places
    assert {"layer1_0_relu", "layer1_0_relu_1"} <= {node.name for node in relus}
    block = net.index("add")  # layer1.0: bn2(conv2(...)) + the block input (the max-pooled stem)
    assert isinstance(net[block], lr.Add)
    assert [net.tensor_name(t) for t in net.nodes[block].inputs] == ["layer1_0_bn2", "maxpool"]
    downsample = net.nodes[net.index("add_2")]  # layer2.0 adds its downsample branch: conv1x1 then BatchNorm
    assert [net.tensor_name(t) for t in downsample.inputs] == ["layer2_0_bn2", "layer2_0_downsample_1"]
    assert isinstance(net["layer2_0_downsample_1"], lr.BatchNorm)


def test_densenet_concatenations(torchvision_models):
    _, net = torchvision_models("densenet121")
    concats = [node for node in net.nodes if isinstance(node.layer, lr.Concat)]
    # torch.cat in each dense layer but the first of a block (a cat of one tensor is that tensor), and one per block
    assert len(concats) == (6 + 12 + 24 + 16) - 4 + 4
    assert max(len(node.inputs) for node in concats) == 24 + 1  # the end of the third block
    assert net.shapes(SHAPE)[-1] == (1000,)


@pytest.mark.parametrize("name", ["resnet50", "densenet121"])
def test_gradients_equal_autograd(torchvision_models, batch, name):
    """The graph's backward pass (fan-out gradients summed) equals torch's autograd."""
    model, net = torchvision_models(name)
    xt = torch.from_numpy(batch).requires_grad_(True)
    model(xt)[:, 7].sum().backward()
    ours = net.gradient(batch, np.eye(1000)[[7, 7]])
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-9, atol=1e-12 * np.abs(xt.grad.numpy()).max())


def test_explain_an_imported_resnet(torchvision_models, batch):
    _, net = torchvision_models("resnet18")
    ex = lr.explain(net, batch, rule=lr.presets.EpsilonPlusFlat())
    absorbed = sum(r.absorbed.total.reshape(2, -1).sum(1) for r in ex.layers)
    np.testing.assert_allclose(ex.top.sum(1), ex.relevance.reshape(2, -1).sum(1) + absorbed, rtol=1e-9)
    assert ex.relevance.shape == batch.shape and np.abs(ex.relevance).max() > 0


def test_resnet18_in_float32():
    torch.manual_seed(1)
    compare(randomise_batchnorm(torchvision.models.resnet18(weights=None)), SHAPE, np.float32, batch=2)


# --------------------------------------------------------------------------- small graphs, checked by hand


class Block(nn.Module):
    """A residual block written as torchvision writes it: one ReLU module used twice, ``out += identity``."""

    def __init__(self, channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.conv2(out)
        out += x
        return self.relu(out)


def test_residual_block_equals_the_hand_built_graph():
    torch.manual_seed(2)
    block = Block().double().eval()
    p = {name: value.detach().numpy() for name, value in block.state_dict().items()}
    x = lr.Input()
    h = lr.ReLU()(lr.Conv2d(p["conv1.weight"], p["conv1.bias"], padding=1)(x))
    y = lr.ReLU()(lr.Add()(lr.Conv2d(p["conv2.weight"], p["conv2.bias"], padding=1)(h), x))
    hand_built = lr.Graph(x, y)
    net = from_torch(block, (3, 5, 5))
    assert [node.name for node in net.nodes] == ["conv1", "relu", "conv2", "add", "relu_1"]  # fx traces `+=` as +
    assert [net.tensor_name(t) for t in net.nodes[3].inputs] == ["conv2", "input"]
    xs = np.random.default_rng(2).normal(size=(2, 3, 5, 5))
    np.testing.assert_allclose(net(xs), hand_built(xs), rtol=1e-13, atol=1e-14)
    rule, top = lr.presets.EpsilonPlusFlat(), hand_built(xs)  # explain the whole output map
    ours, theirs = lr.explain(net, xs, target=top, rule=rule), lr.explain(hand_built, xs, target=top, rule=rule)
    np.testing.assert_allclose(ours.relevance, theirs.relevance, rtol=1e-12, atol=1e-14)


class Dense(nn.Module):
    """DenseNet's pattern: features concatenated in a loop (the first cat has one tensor), functional ReLU/pooling."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(2 + 2 * k, 2, 3, padding=1) for k in range(3))
        self.norm = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        features = [x]
        for conv in self.convs:
            features.append(F.relu(conv(torch.cat(features, 1)), inplace=True))
        out = F.relu(self.norm(torch.cat(features, dim=1)), inplace=True)
        out = F.adaptive_avg_pool2d(F.avg_pool2d(out, 2), (1, 1))
        return self.fc(F.dropout(torch.flatten(out, 1), 0.2, training=self.training))


class Spellings(nn.Module):
    """Every spelling of a sum, in-place operations whose input is read afterwards, and an unused branch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        y = self.conv(x)
        unused = torch.tanh(y)  # noqa: F841  (computed, never read: not a node of the network)
        z = F.relu(y, inplace=True)  # y is now relu(y) as well
        s = torch.add(y, z).add(x)
        s.add_(z)
        t = s + z
        return self.pool(torch.concat([t, y.relu_()], dim=-3))


@pytest.mark.parametrize("model, input_shape", [(Dense, (2, 6, 6)), (Spellings, (2, 4, 4))],
                         ids=["densenet pattern", "spellings"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_graph_patterns_match_torch(model, input_shape, dtype):
    torch.manual_seed(3)
    net, _ = compare(randomise_batchnorm(model()), input_shape, dtype, batch=2)
    assert isinstance(net, lr.Graph) and not net.is_chain


def test_in_place_operations_follow_torch():
    net = from_torch(Spellings(), (2, 4, 4))
    assert "tanh" not in [node.name for node in net.nodes]  # computed but never read
    names = [node.name for node in net.nodes]
    assert names[:2] == ["conv", "relu"] and names[-2:] == ["concat", "pool"]
    concat = net.nodes[net.index("concat")]
    assert [net.tensor_name(t) for t in concat.inputs] == ["add_2", "relu_"]
    # torch.add(y, z) reads y after F.relu(y, inplace=True): both operands are the ReLU's output
    assert [net.tensor_name(t) for t in net.nodes[net.index("add")].inputs] == ["relu", "relu"]


def test_chain_stays_sequential():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Flatten(), nn.Dropout(inplace=True),
                          nn.Linear(8, 2))  # an in-place Dropout of a view changes nothing in evaluation
    net, _ = compare(model, (1, 4, 4), np.float64)
    assert type(net) is lr.Sequential and len(net) == 5


def test_errors_in_a_graph_name_the_node():
    class Mul(nn.Module):
        def forward(self, x):
            return torch.relu(x) * x

    with pytest.raises(ModelImportError, match=r"fx node 2 'mul' \(function mul\): unsupported function"):
        from_torch(Mul(), (3,))


class SpatialMean(nn.Module):
    """MNASNet's and many others' global pooling: ``x.mean([2, 3])``, and with ``keepdim``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(torch.cat([y.mean([2, 3]), torch.mean(y, dim=(-1, -2), keepdim=True).flatten(1)], 1))


def test_spatial_mean_is_global_average_pooling():
    torch.manual_seed(4)
    net, _ = compare(SpatialMean(), (2, 5, 4), np.float64, batch=2)
    assert [node.name for node in net.nodes][:4] == ["conv", "mean_pool", "mean", "mean_1"]
    assert isinstance(net["mean_pool"], lr.AdaptiveAvgPool2d) and isinstance(net["mean"], lr.Flatten)
    with pytest.raises(ModelImportError, match=r"fx node 2 'mean' \(method \.mean\(\)\): mean over dim=1 of \(N, 3, 3, 2\)"):
        from_torch(_MeanOver(1), (2, 5, 4))


class _MeanOver(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        return self.conv(x).mean(self.dim)
