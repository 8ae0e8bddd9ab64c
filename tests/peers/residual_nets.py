"""Residual networks for the captum cross-checks (test_captum_resnet.py, benchmarks/captum_resnet.py): torchvision's
``resnet18(weights=None)`` seeded, in float64, with its lrpref import; copies of it rewritten the ways captum needs
(a ReLU module per call site, captum's ``Addition_Module`` for the residual sums); a small residual CNN.

Importing this module needs torch, torchvision and captum (``require``: skipped locally, a failure under ``CI=true``).
"""

from __future__ import annotations

import copy

import numpy as np
from optional import require

from lrpref.io import from_torch

torch = require("torch")
torchvision = require("torchvision")
require("captum")
nn = torch.nn

SHAPE = (3, 64, 64)
BASELINES = {"zero": lambda shape: np.zeros(shape), "random": lambda shape: np.random.default_rng(7).uniform(-1, 1, shape)}


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


def resnet18():
    """``(model, net, x, target)``: torchvision's resnet18 as it is (seed 0, BatchNorm randomised, float64, eval),
    its lrpref import, a batch of 2 inputs uniform in [−1, 1] and the arg-max targets."""
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
    projection, ReLU; global average pooling; Linear. Every ReLU call has its own module, except that with
    ``functional_relu`` the ReLU after the first sum is ``torch.relu`` (a function no module hook sees)."""

    def __init__(self, functional_relu=False):
        super().__init__()
        self.functional_relu = functional_relu
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2))
        self.branch1 = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1))
        self.relu1 = nn.ReLU()
        self.branch2 = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.projection = nn.Conv2d(6, 8, 1, stride=2)
        self.relu2 = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x):
        x = self.stem(x)
        x = (torch.relu if self.functional_relu else self.relu1)(self.branch1(x) + x)
        return self.head(self.relu2(self.branch2(x) + self.projection(x)))


def residual_cnn(functional_relu=False):
    """``(model, net, x, target)`` for :class:`ResidualCNN` (seed 3, float64, 3×16×16, a batch of 2)."""
    torch.manual_seed(3)
    model = randomise_batchnorm(ResidualCNN(functional_relu).double().eval(), 3)
    net = from_torch(model, input_shape=(3, 16, 16))
    x = np.random.default_rng(3).uniform(-1, 1, size=(2, 3, 16, 16))
    return model, net, x, net(x).argmax(axis=1)


def summation_error(net, x, reference, target, relevance):
    """Per sample ``|Σ R − (f_c(x) − f_c(x̂))| / |f_c(x) − f_c(x̂)|``, the largest over the batch."""
    rows = np.arange(len(x))
    delta = (net(x) - net(reference))[rows, target]
    return float(np.max(np.abs(relevance.reshape(len(x), -1).sum(axis=1) - delta) / np.abs(delta)))
