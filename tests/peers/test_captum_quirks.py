"""captum's quirks: without ``quirks=True`` the captum presets give the correct rules, which differ from captum
beyond round-off (the agreement itself is in test_agreement.py).

Locally these tests skip without torch/captum; under CI=true a missing peer fails them.
"""

import numpy as np
from optional import require
from peer_nets import cnn, relative_error, to_torch

import lrpref as lr
from lrpref.presets import captum as captum_preset

torch = require("torch")
require("captum")


def test_quirks_are_what_separates_captum():
    """Without ``quirks=True`` the presets give the correct rules, which differ from captum well beyond round-off."""
    from captum.attr import LRP, DeepLift, IntegratedGradients
    from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule

    net, x = cnn(1)
    model, target = to_torch(net), net(x).argmax(axis=1)
    inputs, zeros = torch.tensor(x), torch.zeros(x.shape, dtype=torch.float64)
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            module.rule = Alpha1_Beta0_Rule()
    theirs = LRP(model).attribute(inputs, target=torch.tensor(target)).detach().numpy()
    ours = lr.explain(net, x, target=target, rule=captum_preset.LRP(captum_preset.Alpha1_Beta0_Rule())).relevance
    assert relative_error(ours, theirs) > 1e-3
    theirs = DeepLift(model).attribute(inputs, baselines=zeros, target=torch.tensor(target)).detach().numpy()
    ours = lr.explain(net, x, target=target, **captum_preset.deeplift(0.0)).relevance
    assert relative_error(ours, theirs) > 1e-3
    theirs = IntegratedGradients(model).attribute(inputs, baselines=zeros, target=torch.tensor(target)).detach().numpy()
    ours = lr.explain(net, x, target=target, **captum_preset.integrated_gradients(0.0)).relevance
    assert 1e-10 < relative_error(ours, theirs) < 1e-6   # float32 quadrature weights: about 1e-8


def test_captum_deeplift_rule_conserves_and_differs_from_the_hooked_result():
    """The cross-maximum (quirks=False) sums to f(x) - f(x̂) and is not what captum's hooks compute (quirks=True)."""
    net, x = cnn(1)
    target = net(x).argmax(axis=1)
    delta = (net(x) - net(np.zeros_like(x)))[np.arange(len(x)), target]
    right = lr.explain(net, x, target=target, **captum_preset.deeplift(0.0)).relevance
    quirky = lr.explain(net, x, target=target, **captum_preset.deeplift(0.0, quirks=True)).relevance
    assert np.allclose(right.reshape(len(x), -1).sum(1), delta, rtol=1e-12, atol=1e-12)
    assert relative_error(quirky, right) > 1e-3


def test_verify_names_captum_on_captum_output():
    """captum's own GammaRule output, checked as zennit's γ, is named as captum's convention."""
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import GammaRule

    net, x = cnn(2)
    model, target = to_torch(net), net(x).argmax(axis=1)
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            module.rule = GammaRule()
    candidate = LRP(model).attribute(torch.tensor(x), target=torch.tensor(target)).detach().numpy()
    report = lr.verify(candidate, net, x, target, "gamma:0.25", "zennit")
    assert not report.agrees
    assert report.best_match.convention == "captum" and report.best_match.max_rel_error <= 1e-10
