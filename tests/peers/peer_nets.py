"""The cross-checks against zennit and captum: the same random float64 networks in lrpref and in PyTorch, and
one case per rule, composite or method — how lrpref computes it (with the matching preset) and how the peer does.

``require`` (tests/optional.py) imports a peer: missing peers skip the tests locally and fail them under ``CI=true``.
``CASES`` maps a case name to ``(peer, lrpref_fn, peer_fn)``; both functions take ``(net, model, x, target)``
and return the input relevance as a NumPy array. ``relative_error`` is the per-sample
``max |a - b| / max |b|``, maximised over the batch.
"""

from __future__ import annotations

import numpy as np
from optional import require

import lrpref as lr
from lrpref.presets import captum as captum_preset
from lrpref.presets import zennit as zennit_preset

LOW, HIGH = -1.0, 1.0   # the input box: inputs are drawn uniformly from it
SEEDS = range(4)


# --------------------------------------------------------------------------- networks


def mlp(seed: int):
    """``(net, x)``: Dense-ReLU-Dense-ReLU-Dense, 6 → 8 → 5 → 3, a batch of 3."""
    rng = np.random.default_rng(seed)
    sizes = (6, 8, 5, 3)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [lr.Dense(rng.normal(size=(n_out, n_in)), rng.normal(size=n_out) * 0.3), lr.ReLU()]
    return lr.Sequential(layers[:-1]), rng.uniform(LOW, HIGH, size=(3, sizes[0]))


def cnn(seed: int):
    """``(net, x)``: Conv-BatchNorm-ReLU-MaxPool-Conv-ReLU-AvgPool-Flatten-Dense-ReLU-Dense on (2, 8, 8), a batch of 2."""
    rng = np.random.default_rng(1000 + seed)
    net = lr.Sequential([
        lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4) * 0.3, padding=1),
        lr.BatchNorm(rng.normal(size=4) * 0.2, rng.uniform(0.5, 2, 4), rng.uniform(0.5, 1.5, 4), rng.normal(size=4) * 0.2),
        lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(rng.normal(size=(6, 4, 3, 3)) * 0.5, rng.normal(size=6) * 0.3, padding=1), lr.ReLU(), lr.AvgPool2d(2),
        lr.Flatten(), lr.Dense(rng.normal(size=(7, 24)) * 0.5, rng.normal(size=7) * 0.3), lr.ReLU(),
        lr.Dense(rng.normal(size=(3, 7)), rng.normal(size=3) * 0.3),
    ])
    return net, rng.uniform(LOW, HIGH, size=(2, 2, 8, 8))


NETWORKS = {"mlp": mlp, "cnn": cnn}


def to_torch(net):
    """The lrpref network as a float64 PyTorch model: ``features`` (up to Flatten), ``torch.flatten``, ``classifier``
    (captum has no rule for ``nn.Flatten``, so the flattening happens in ``forward``)."""
    torch = require("torch")
    nn = torch.nn

    def module(layer):
        if isinstance(layer, lr.Dense):
            m = nn.Linear(layer.W.shape[1], layer.W.shape[0])
            m.weight.data = torch.tensor(layer.W)
            m.bias.data = torch.tensor(layer.bias)
        elif isinstance(layer, lr.Conv2d):
            m = nn.Conv2d(layer.W.shape[1] * layer.groups, layer.W.shape[0], layer.W.shape[2:], layer.stride, layer.padding,
                          layer.dilation, layer.groups)
            m.weight.data = torch.tensor(layer.W)
            m.bias.data = torch.tensor(layer.bias)
        elif isinstance(layer, lr.BatchNorm):
            m = nn.BatchNorm2d(layer.channels, eps=layer.eps)
            m.running_mean.data, m.running_var.data = torch.tensor(layer.mean), torch.tensor(layer.var)
            m.weight.data, m.bias.data = torch.tensor(layer.gamma), torch.tensor(layer.beta)
        elif isinstance(layer, lr.MaxPool2d):
            m = nn.MaxPool2d(layer.kernel, layer.stride, layer.padding, layer.dilation)
        elif isinstance(layer, lr.AvgPool2d):
            m = nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, count_include_pad=layer.count_include_pad)
        elif isinstance(layer, lr.ReLU):
            m = nn.ReLU()
        else:
            raise TypeError(f"no PyTorch module for {layer.describe()}")
        return m.double()

    class Model(nn.Module):
        def __init__(self, features, classifier):
            super().__init__()
            self.features, self.classifier = features, classifier

        def forward(self, x):
            if self.features is not None:
                x = torch.flatten(self.features(x), 1)
            return self.classifier(x)

    layers = list(net)
    cut = next((k for k, layer in enumerate(layers) if isinstance(layer, lr.Flatten)), None)
    features = None if cut is None else nn.Sequential(*[module(layer) for layer in layers[:cut]])
    classifier = nn.Sequential(*[module(layer) for layer in layers[0 if cut is None else cut + 1:]])
    return Model(features, classifier).double().eval()


def relative_error(candidate, reference) -> float:
    """Per sample ``max |candidate - reference| / max |reference|``, the largest over the batch."""
    a = np.asarray(candidate).reshape(len(candidate), -1)
    b = np.asarray(reference).reshape(len(reference), -1)
    return float(np.max(np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)))


# --------------------------------------------------------------------------- zennit


def _zennit(make_composite):
    """A peer function running zennit's ``Gradient`` attributor from ``R = e_c ⊙ f(x)`` (lrpref's logit top)."""
    def run(net, model, x, target):
        torch = require("torch")
        from zennit.attribution import Gradient

        inputs = torch.tensor(x, requires_grad=True)
        onehot = torch.nn.functional.one_hot(torch.tensor(target), 3).double()
        with Gradient(model=model, composite=make_composite()) as attributor:
            _, relevance = attributor(inputs, lambda output: output * onehot)
        return relevance.detach().numpy()
    return run


def _zennit_layer_map(rule, first=None):
    """zennit's ``LayerMapComposite`` (or ``SpecialFirstLayerMapComposite``) with its base map and ``rule`` on
    every Linear/Conv (``first`` on the first)."""
    def make():
        from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite, layer_map_base
        from zennit.types import Linear

        layer_map = layer_map_base() + [(Linear, rule())]
        if first is None:
            return LayerMapComposite(layer_map)
        return SpecialFirstLayerMapComposite(layer_map, [(Linear, first())])
    return _zennit(make)


def _zennit_composite(name, *args):
    def make():
        from zennit import composites
        return getattr(composites, name)(*args)
    return _zennit(make)


def _lrpref(composite):
    def run(net, model, x, target):
        return lr.explain(net, x, target=target, rule=composite).relevance
    return run


def _zennit_rules():
    from zennit import rules
    return rules


ZENNIT_CASES = {
    "epsilon 0.25": (zennit_preset.LayerMap(zennit_preset.Epsilon(0.25)),
                     _zennit_layer_map(lambda: _zennit_rules().Epsilon(0.25))),
    "gamma 0.25": (zennit_preset.LayerMap(zennit_preset.Gamma(0.25)), _zennit_layer_map(lambda: _zennit_rules().Gamma(0.25))),
    "alpha2beta1": (zennit_preset.LayerMap(zennit_preset.AlphaBeta(2, 1)),
                    _zennit_layer_map(lambda: _zennit_rules().AlphaBeta(2, 1))),
    "alpha1beta0": (zennit_preset.LayerMap(zennit_preset.AlphaBeta(1, 0)),
                    _zennit_layer_map(lambda: _zennit_rules().AlphaBeta(1, 0))),
    "zplus": (zennit_preset.LayerMap(zennit_preset.ZPlus()), _zennit_layer_map(lambda: _zennit_rules().ZPlus())),
    "zbox first, epsilon": (zennit_preset.LayerMap(zennit_preset.Epsilon(0.1), zennit_preset.ZBox(LOW, HIGH)),
                            _zennit_layer_map(lambda: _zennit_rules().Epsilon(0.1), lambda: _zennit_rules().ZBox(LOW, HIGH))),
    "w2 first, epsilon": (zennit_preset.LayerMap(zennit_preset.Epsilon(0.1), zennit_preset.WSquare()),
                          _zennit_layer_map(lambda: _zennit_rules().Epsilon(0.1), lambda: _zennit_rules().WSquare())),
    "w2 everywhere": (zennit_preset.LayerMap(zennit_preset.WSquare()), _zennit_layer_map(lambda: _zennit_rules().WSquare())),
    "flat first, epsilon": (zennit_preset.LayerMap(zennit_preset.Epsilon(0.1), zennit_preset.Flat()),
                            _zennit_layer_map(lambda: _zennit_rules().Epsilon(0.1), lambda: _zennit_rules().Flat())),
    "EpsilonGammaBox": (zennit_preset.EpsilonGammaBox(LOW, HIGH), _zennit_composite("EpsilonGammaBox", LOW, HIGH)),
    "EpsilonPlus": (zennit_preset.EpsilonPlus(), _zennit_composite("EpsilonPlus")),
    "EpsilonPlusFlat": (zennit_preset.EpsilonPlusFlat(), _zennit_composite("EpsilonPlusFlat")),
    "EpsilonAlpha2Beta1": (zennit_preset.EpsilonAlpha2Beta1(), _zennit_composite("EpsilonAlpha2Beta1")),
    "EpsilonAlpha2Beta1Flat": (zennit_preset.EpsilonAlpha2Beta1Flat(), _zennit_composite("EpsilonAlpha2Beta1Flat")),
}

# --------------------------------------------------------------------------- captum


def _captum_lrp(make_rule=None):
    """captum's ``LRP`` with ``make_rule()`` set on every Linear/Conv2d (captum deletes the rules after each call)."""
    def run(net, model, x, target):
        torch = require("torch")
        from captum.attr import LRP

        if make_rule is not None:
            for module in model.modules():
                if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                    module.rule = make_rule()
        attribution = LRP(model).attribute(torch.tensor(x), target=torch.tensor(target))
        return attribution.detach().numpy()
    return run


def _captum_rules():
    from captum.attr._utils import lrp_rules
    return lrp_rules


def run_captum(name, model, x, target, baselines=None, **kwargs):
    """captum's attribution method ``name`` (``"DeepLift"``, ``"IntegratedGradients"``) on a float64 model from
    ``baselines`` (default zero), as a NumPy array; torch's default dtype is float64 while it runs (captum
    computes its Riemann points in the default dtype)."""
    torch = require("torch")
    from captum import attr

    inputs = torch.tensor(x)
    reference = torch.zeros_like(inputs) if baselines is None else torch.tensor(baselines)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        attribution = getattr(attr, name)(model).attribute(inputs, baselines=reference, target=torch.tensor(target),
                                                           **kwargs)
    finally:
        torch.set_default_dtype(default)
    return attribution.detach().numpy()


def _captum_method(name, **kwargs):
    """A captum attribution method from a zero baseline (:func:`run_captum`)."""
    def run(net, model, x, target):
        return run_captum(name, model, x, target, **kwargs)
    return run


def _lrpref_method(**settings):
    def run(net, model, x, target):
        return lr.explain(net, x, target=target, **settings).relevance
    return run


CAPTUM_CASES = {
    "default (epsilon 1e-9)": (captum_preset.LRP(), _captum_lrp()),
    "epsilon 0.25": (captum_preset.LRP(captum_preset.EpsilonRule(0.25)), _captum_lrp(lambda: _captum_rules().EpsilonRule(0.25))),
    "gamma 0.25": (captum_preset.LRP(captum_preset.GammaRule(0.25)), _captum_lrp(lambda: _captum_rules().GammaRule(0.25))),
    "alpha1beta0 (quirks)": (captum_preset.LRP(captum_preset.Alpha1_Beta0_Rule(quirks=True)),
                             _captum_lrp(lambda: _captum_rules().Alpha1_Beta0_Rule())),
    "deeplift (rescale; quirks)": (captum_preset.deeplift(0.0, quirks=True), _captum_method("DeepLift")),
    "ig (gauss-legendre, 50; quirks)": (captum_preset.integrated_gradients(0.0, quirks=True),
                                        _captum_method("IntegratedGradients")),
    "ig (riemann_right, 20; quirks)": (captum_preset.integrated_gradients(0.0, 20, "riemann_right", quirks=True),
                                       _captum_method("IntegratedGradients", n_steps=20, method="riemann_right")),
    "ig (riemann_trapezoid, 20; quirks)": (captum_preset.integrated_gradients(0.0, 20, "riemann_trapezoid", quirks=True),
                                           _captum_method("IntegratedGradients", n_steps=20, method="riemann_trapezoid")),
}


def case(peer: str, name: str):
    """``(lrpref_fn, peer_fn)`` of a case."""
    ours, theirs = (ZENNIT_CASES if peer == "zennit" else CAPTUM_CASES)[name]
    return (_lrpref_method(**ours) if isinstance(ours, dict) else _lrpref(ours)), theirs


def measure(peer: str, name: str, network: str, seed: int) -> float:
    """The relative error of lrpref against the peer for one case, network and seed (targets: the arg-max)."""
    net, x = NETWORKS[network](seed)
    model = to_torch(net)
    target = net(x).argmax(axis=1)
    ours, theirs = case(peer, name)
    return relative_error(ours(net, model, x, target), theirs(net, model, x, target))
