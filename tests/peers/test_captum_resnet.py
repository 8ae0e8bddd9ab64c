"""captum 0.9.0 on residual networks: torchvision's ``resnet18(weights=None)`` (seeded, float64, 3×64×64, a batch
of 2) imported with ``lrpref.io.from_torch``, and a small hand-written residual CNN.

* Where captum computes the method, lrpref with ``lrpref.presets.captum`` agrees to ≤ 1e-10 relative (per sample,
  ``max |Δ| / max |captum|``): IntegratedGradients on resnet18; DeepLift on models whose every ReLU call has its
  own module; LRP on resnet18 with captum's ``Addition_Module`` for the residual sums.
* What captum does on an unmodified torchvision ResNet (one ``ReLU`` module per block, called twice; the residual
  sum a plain ``+``), stated so that a change in captum is noticed: DeepLift raises, LRP returns a silently wrong
  result (docs/peers.md, "captum on torchvision ResNets").

Locally these tests skip without torch/torchvision/captum; under CI=true a missing peer fails them.
"""

import copy
import warnings

import numpy as np
import pytest
from optional import require
from peer_nets import relative_error, run_captum

import lrpref as lr
from lrpref.io import from_torch
from lrpref.presets import captum as captum_preset

torch = require("torch")
torchvision = require("torchvision")
require("captum")
nn = torch.nn

TOLERANCE = 1e-10
SHAPE = (3, 64, 64)


def randomise_batchnorm(model, seed):
    """Running statistics and affine parameters drawn at random (``weights=None`` leaves them 0, 1, 1, 0)."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.data = torch.tensor(rng.normal(size=n) * 0.1)
            module.running_var.data = torch.tensor(rng.uniform(0.5, 1.5, n))
            module.weight.data = torch.tensor(rng.uniform(0.5, 1.5, n))
            module.bias.data = torch.tensor(rng.normal(size=n) * 0.1)
    return model


@pytest.fixture(scope="module")
def resnet():
    """``(model, net, x, target)``: torchvision's resnet18 as it is (float64, eval) and its lrpref import."""
    torch.manual_seed(0)
    model = randomise_batchnorm(torchvision.models.resnet18(weights=None).double().eval(), 0)
    net = from_torch(model, input_shape=SHAPE)
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, *SHAPE))
    return model, net, x, net(x).argmax(axis=1)


class Block(nn.Module):
    """torchvision's ``BasicBlock`` (same parameters) with a ReLU module for each call site when
    ``relu_per_call``, and captum's ``Addition_Module`` for the residual sum when ``addition_module``."""

    def __init__(self, block, relu_per_call, addition_module):
        from captum.attr._utils.custom_modules import Addition_Module

        super().__init__()
        self.conv1, self.bn1, self.conv2, self.bn2 = block.conv1, block.bn1, block.conv2, block.bn2
        self.downsample = block.downsample
        self.relu = nn.ReLU()
        self.relu_out = nn.ReLU() if relu_per_call else self.relu
        self.add = Addition_Module() if addition_module else None

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu_out(out + shortcut if self.add is None else self.add(out, shortcut))


def rewritten(model, relu_per_call=True, addition_module=False):
    """A copy of a torchvision ResNet with every ``BasicBlock`` replaced by :class:`Block` (the stem's ReLU is used once)."""
    model = copy.deepcopy(model)
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for k, block in enumerate(stage):
            stage[k] = Block(block, relu_per_call, addition_module)
    return model.eval()


class ResidualCNN(nn.Module):
    """Conv-BatchNorm-ReLU-MaxPool stem; conv-ReLU-conv + identity, ReLU; stride-2 conv-ReLU-conv + a 1×1
    projection, ReLU; global average pooling; Linear. Every ReLU call has its own module."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2))
        self.branch1 = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1))
        self.relu1 = nn.ReLU()
        self.branch2 = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.projection = nn.Conv2d(6, 8, 1, stride=2)
        self.relu2 = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x):
        x = self.stem(x)
        x = self.relu1(self.branch1(x) + x)
        return self.head(self.relu2(self.branch2(x) + self.projection(x)))


BASELINES = {"zero": lambda shape: np.zeros(shape), "random": lambda shape: np.random.default_rng(7).uniform(-1, 1, shape)}


def summation_error(net, x, reference, target, relevance):
    """Per sample ``|Σ R − (f_c(x) − f_c(x̂))| / |f_c(x) − f_c(x̂)|``, the largest over the batch."""
    rows = np.arange(len(x))
    delta = (net(x) - net(reference))[rows, target]
    return float(np.max(np.abs(relevance.reshape(len(x), -1).sum(axis=1) - delta) / np.abs(delta)))


# --------------------------------------------------------------------------- where captum computes the method


@pytest.mark.parametrize("method, n_steps", [("gausslegendre", 8), ("riemann_trapezoid", 6)])
def test_integrated_gradients_on_resnet18(resnet, method, n_steps):
    model, net, x, target = resnet
    theirs = run_captum("IntegratedGradients", model, x, target, n_steps=n_steps, method=method)
    ours = lr.explain(net, x, target=target, **captum_preset.integrated_gradients(0.0, n_steps, method, quirks=True))
    assert relative_error(ours.relevance, theirs) <= TOLERANCE


@pytest.mark.parametrize("baseline", BASELINES)
def test_deeplift_on_a_residual_cnn_with_a_relu_per_call(baseline):
    torch.manual_seed(3)
    model = randomise_batchnorm(ResidualCNN().double().eval(), 3)
    net = from_torch(model, input_shape=(3, 16, 16))
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 3, 16, 16))
    reference, target = BASELINES[baseline](x.shape), net(x).argmax(axis=1)
    theirs = run_captum("DeepLift", model, x, target, baselines=reference)
    ours = lr.explain(net, x, target=target, **captum_preset.deeplift(reference, quirks=True)).relevance
    assert relative_error(ours, theirs) <= TOLERANCE
    correct = lr.explain(net, x, target=target, **captum_preset.deeplift(reference)).relevance
    assert summation_error(net, x, reference, target, correct) <= TOLERANCE


@pytest.mark.parametrize("baseline", BASELINES)
def test_deeplift_on_resnet18_with_a_relu_per_call(resnet, baseline):
    """captum on resnet18 rewritten with one ReLU module per call site; lrpref on the import of the model as it is."""
    model, net, x, target = resnet
    reference = BASELINES[baseline](x.shape)
    theirs = run_captum("DeepLift", rewritten(model), x, target, baselines=reference)
    ours = lr.explain(net, x, target=target, **captum_preset.deeplift(reference, quirks=True)).relevance
    assert relative_error(ours, theirs) <= TOLERANCE
    correct = lr.explain(net, x, target=target, **captum_preset.deeplift(reference)).relevance
    assert summation_error(net, x, reference, target, correct) <= TOLERANCE


def test_lrp_on_resnet18_with_addition_modules(resnet):
    """With captum's ``Addition_Module`` for each residual sum, captum's LRP is LRP-ε (ε = 1e-9) with the sum split
    in proportion — ``captum.LRP()`` on the unmodified import; the reused ReLU module changes nothing."""
    from captum.attr import LRP

    model, net, x, target = resnet
    inputs, targets = torch.tensor(x), torch.tensor(target)
    reused = LRP(rewritten(model, relu_per_call=False, addition_module=True)).attribute(inputs, target=targets)
    separate = LRP(rewritten(model, relu_per_call=True, addition_module=True)).attribute(inputs, target=targets)
    assert torch.equal(reused, separate)
    ours = lr.explain(net, x, target=target, rule=captum_preset.LRP()).relevance
    assert relative_error(ours, reused.detach().numpy()) <= TOLERANCE


# --------------------------------------------------------------------------- captum on the unmodified ResNet


def test_captum_deeplift_refuses_a_reused_relu(resnet):
    """torchvision's blocks call one ReLU module twice: captum's DeepLift keeps one input/output per module and
    raises at the second call's backward hook (captum#578) — no silent result."""
    from captum.attr import DeepLift

    model, _, x, target = resnet
    inputs = torch.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="used more than once"):
        DeepLift(copy.deepcopy(model)).attribute(inputs, baselines=torch.zeros_like(inputs), target=torch.tensor(target))


def test_captum_lrp_on_a_plain_residual_sum_by_hand():
    """``s = l2(relu(l1(a))) + a`` with ``a = relu(x)``: captum hands the sum's whole relevance to the branch, which
    divides it by its own output, and adds it to the shortcut's normalised gradient before multiplying by ``a``.

    x = (1, 3), l1 = I, l2 = diag(2, 1), no biases, output = s1 + s2 = 9. LRP: R_s = s = (3, 6); the branch
    b = (2, 3) gets b/s·R_s = (2, 3), the shortcut a = (1, 3) gets (1, 3); R(a) = (3, 6) = R(x), sum 9.
    captum: the branch returns R_s/b·W2 = (3, 2) per unit of ``a`` (through l1 = I), the shortcut adds R_s = (3, 6):
    R(a) = a·(6, 8) = (6, 24), passed to x unchanged: sum 30.
    """
    from captum.attr import LRP

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.relu0, self.l1, self.relu1 = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU()
            self.l2, self.relu2, self.head = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)

        def forward(self, x):
            a = self.relu0(self.stem(x))
            return self.head(self.relu2(self.l2(self.relu1(self.l1(a))) + a))

    model = Tiny().double().eval()
    weights = {"stem": np.eye(2), "l1": np.eye(2), "l2": np.diag([2.0, 1.0]), "head": np.ones((1, 2))}
    for name, w in weights.items():
        getattr(model, name).weight.data = torch.tensor(w)
        getattr(model, name).bias.data.zero_()
    x = np.array([[1.0, 3.0]])
    theirs = LRP(model).attribute(torch.tensor(x, requires_grad=True), target=0).detach().numpy()
    assert np.allclose(theirs, [[6.0, 24.0]], rtol=1e-8, atol=0)   # ε = 1e-9 in the denominators
    ours = lr.explain(from_torch(model, input_shape=(2,)), x, target=0, rule=captum_preset.LRP()).relevance
    assert np.allclose(ours, [[3.0, 6.0]], rtol=1e-8, atol=0)


def test_captum_lrp_on_torchvision_resnet18_is_silently_wrong(resnet):
    """On the unmodified resnet18 captum's LRP neither raises nor warns, and returns relevance whose sum is orders of
    magnitude away from f_c(x): each residual sum multiplies the error (docs/peers.md)."""
    from captum.attr import LRP

    model, net, x, target = resnet
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theirs = LRP(model).attribute(torch.tensor(x, requires_grad=True), target=torch.tensor(target)).detach().numpy()
    ours = lr.explain(net, x, target=target, rule=captum_preset.LRP()).relevance
    logit = net(x)[np.arange(len(x)), target]
    assert np.all(np.abs(theirs.reshape(len(x), -1).sum(axis=1)) > 1e3 * np.abs(logit))
    assert relative_error(ours, theirs) > 0.99 and relative_error(theirs, ours) > 1e6
