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
from peer_nets import relative_error, run_captum
from residual_nets import BASELINES, nn, residual_cnn, resnet18, rewritten, summation_error, torch

import lrpref as lr
from lrpref.io import from_torch
from lrpref.presets import captum as captum_preset

TOLERANCE = 1e-10


@pytest.fixture(scope="module")
def resnet():
    return resnet18()


# --------------------------------------------------------------------------- where captum computes the method


@pytest.mark.parametrize("method, n_steps", [("gausslegendre", 8), ("riemann_trapezoid", 6)])
def test_integrated_gradients_on_resnet18(resnet, method, n_steps):
    model, net, x, target = resnet
    theirs = run_captum("IntegratedGradients", model, x, target, n_steps=n_steps, method=method)
    ours = lr.explain(net, x, target=target, **captum_preset.integrated_gradients(0.0, n_steps, method, quirks=True))
    assert relative_error(ours.relevance, theirs) <= TOLERANCE


@pytest.mark.parametrize("baseline", BASELINES)
def test_deeplift_on_a_residual_cnn_with_a_relu_per_call(baseline):
    model, net, x, target = residual_cnn()
    reference = BASELINES[baseline](x.shape)
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


def test_captum_deeplift_does_not_see_a_functional_relu():
    """A ReLU applied as a function (``torch.relu``) has no module to hook: captum's DeepLift silently takes its
    gradient there (captum#1082) and loses summation-to-delta; lrpref imports the call as a ReLU node."""
    model, net, x, target = residual_cnn(functional_relu=True)
    assert np.array_equal(net(x), residual_cnn()[1](x))
    theirs = run_captum("DeepLift", model, x, target)
    ours = lr.explain(net, x, target=target, **captum_preset.deeplift(0.0, quirks=True)).relevance
    zero = np.zeros_like(x)
    assert relative_error(ours, theirs) > 1e-2 and summation_error(net, x, zero, target, theirs) > 1e-2
    assert summation_error(net, x, zero, target, ours) <= TOLERANCE


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
