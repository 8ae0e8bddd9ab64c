"""zennit 0.5.1 on torchvision's ResNet-18, ResNet-50, VGG-16-BN and DenseNet-121 against lrpref's zennit presets on
the imported graphs (float64, 3×64×64, batch 2, ≤ 1e-10 relative per sample), docs/peers.md "zennit on
torchvision models".

* ResNets with zennit's ``ResNetCanonizer``, VGG-16-BN with ``SequentialMergeBatchNorm``: the composites
  ``EpsilonPlusFlat``, ``EpsilonGammaBox(-1, 1)`` and ``EpsilonAlpha2Beta1`` match
  ``presets.zennit.merge_batchnorm(net, quirks=True)``, which keeps the BatchNorm residue ``x / sqrt(1 + eps)``
  that zennit's merge leaves behind; the exact fold (``quirks=False``) explains the original model, which zennit
  does not, and differs from zennit by about 1e-5.
* DenseNet-121 with BatchNorm passed (no canonizer, the composites' default): zennit does not hook the final
  ``F.relu`` and ``F.adaptive_avg_pool2d`` of ``DenseNet.forward``, which pass relevance as their gradient —
  ``unhooked=("relu", "adaptive_avg_pool2d")``.

zennit starts from the one-hot output, lrpref from the logit of the network it explains: lrpref's relevance is
divided by that logit. Locally skipped without torch/torchvision/zennit; under CI=true a failure.
"""

import numpy as np
import pytest
from optional import require
from torch_models import imported_models

import lrpref as lr
from lrpref.presets import UnsupportedRule, zennit

torch = require("torch")
require("torchvision")
composites = require("zennit.composites")
canonizers = require("zennit.canonizers")
zennit_torchvision = require("zennit.torchvision")
attribution = require("zennit.attribution")

TOLERANCE = 1e-10
SHAPE = (3, 64, 64)
TARGETS = np.array([3, 7])
CANONIZERS = {"resnet18": zennit_torchvision.ResNetCanonizer, "resnet50": zennit_torchvision.ResNetCanonizer,
              "vgg16_bn": canonizers.SequentialMergeBatchNorm, "densenet121": None}
COMPOSITES = {  # name: (zennit's composite class and arguments, lrpref's preset)
    "EpsilonPlusFlat": (composites.EpsilonPlusFlat, {}, zennit.EpsilonPlusFlat),
    "EpsilonGammaBox": (composites.EpsilonGammaBox, {"low": -1.0, "high": 1.0},
                        lambda **kw: zennit.EpsilonGammaBox(-1.0, 1.0, **kw)),
    "EpsilonAlpha2Beta1": (composites.EpsilonAlpha2Beta1, {}, zennit.EpsilonAlpha2Beta1),
}
DENSENET_UNHOOKED = ("relu", "adaptive_avg_pool2d")


@pytest.fixture(scope="module")
def models():
    """Each model once per module, one at a time: (torch model, imported lrpref graph)."""
    return imported_models(SHAPE, keep_one=True)


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).uniform(-1, 1, size=(2, *SHAPE))   # inside zᴮ's box [-1, 1]


def zennit_relevance(model, name, composite, x):
    """zennit's attribution of the one-hot ``TARGETS`` under ``composite`` (with the model's canonizer)."""
    make, kwargs, _ = COMPOSITES[composite]
    canonizer = CANONIZERS[name]
    with attribution.Gradient(model=model, composite=make(canonizers=[canonizer()] if canonizer else [], **kwargs)) as grad:
        output, relevance = grad(torch.from_numpy(x), torch.eye(1000, dtype=torch.float64)[TARGETS])
    return output.detach().numpy(), relevance.numpy()


def lrpref_relevance(net, rule, x):
    """lrpref's relevance of ``TARGETS`` per unit of the explained logit (zennit's one-hot start), and the output."""
    ex = lr.explain(net, x, target=TARGETS, rule=rule)
    logit = ex.output[np.arange(len(x)), TARGETS]
    return ex.relevance / logit[:, None, None, None], ex.output


def relative(mine, theirs):
    """Per sample ``max |Δ| / max |theirs|``."""
    return (np.abs(mine - theirs).reshape(len(theirs), -1).max(1) / np.abs(theirs).reshape(len(theirs), -1).max(1))


@pytest.mark.parametrize("composite", COMPOSITES)
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg16_bn"])
def test_canonized_models_match_zennit_with_its_batchnorm_residue(models, batch, name, composite):
    model, net = models(name)
    theirs_output, theirs = zennit_relevance(model, name, composite, batch)
    preset = COMPOSITES[composite][2]()
    mine, output = lrpref_relevance(zennit.merge_batchnorm(net, quirks=True), preset, batch)
    np.testing.assert_allclose(output, theirs_output, rtol=1e-12, atol=1e-12 * np.abs(theirs_output).max())
    assert relative(mine, theirs).max() <= TOLERANCE, relative(mine, theirs)


def test_the_exact_fold_explains_the_original_model_not_zennits(models, batch):
    name = "resnet18"
    model, net = models(name)
    with torch.no_grad():
        original = model(torch.from_numpy(batch)).numpy()
    theirs_output, theirs = zennit_relevance(model, name, "EpsilonPlusFlat", batch)
    mine, output = lrpref_relevance(zennit.merge_batchnorm(net), zennit.EpsilonPlusFlat(), batch)
    np.testing.assert_allclose(output, original, rtol=1e-12, atol=1e-12 * np.abs(original).max())
    residue = np.abs(theirs_output - original).max() / np.abs(original).max()
    assert 1e-6 < residue < 1e-3                        # zennit's canonized model is not the original one
    assert 1e-8 < relative(mine, theirs).min() < 1e-3   # nor is its explanation


def test_densenet_matches_zennit_with_batchnorm_passed(models, batch):
    model, net = models("densenet121")
    _, theirs = zennit_relevance(model, "densenet121", "EpsilonPlusFlat", batch)
    mine, _ = lrpref_relevance(net, zennit.EpsilonPlusFlat(unhooked=DENSENET_UNHOOKED), batch)
    assert relative(mine, theirs).max() <= TOLERANCE, relative(mine, theirs)
    hooked, _ = lrpref_relevance(net, zennit.EpsilonPlusFlat(), batch)   # as if zennit hooked them: far off
    assert relative(hooked, theirs).min() > 0.1


def test_unhooked_names_what_lrpref_cannot_reproduce():
    x = lr.Input()
    h = lr.ReLU()(lr.Dense(np.eye(3))(x))
    net = lr.Graph(x, lr.Dense(np.ones((1, 3)))(lr.Add()(h, x)))
    names = [node.name for node in net.nodes]
    with pytest.raises(UnsupportedRule, match="each summand gets the whole relevance"):
        zennit.EpsilonPlus(unhooked=[names[2]]).rules_for(net)
    with pytest.raises(UnsupportedRule, match=r"unhooked names \['nowhere'\]"):
        zennit.EpsilonPlus(unhooked=["nowhere"]).rules_for(net)
    with pytest.raises(UnsupportedRule, match="ReLU, average pooling"):
        zennit.EpsilonPlus(unhooked=[names[0]]).rules_for(net)


def test_an_unhooked_relu_masks_the_relevance_as_its_gradient():
    # y = relu(x) feeds a flat-rule Dense: flat relevance reaches the inactive input too, and the gradient masks it
    x = np.array([[1.0, -2.0, 3.0]])
    net = lr.Sequential([lr.Dense(np.eye(3)), lr.ReLU(), lr.Dense(np.ones((1, 3)))])
    relu = net.nodes[1].name
    flat_top = lambda unhooked: zennit.LayerMap(zennit.Epsilon(0.0), unhooked=unhooked, first_types=(lr.Dense,))  # noqa: E731
    composite = flat_top([relu])
    composite.layers[net.nodes[2].name] = lr.Flat()
    passed = flat_top([])
    passed.layers[net.nodes[2].name] = lr.Flat()
    f = 4.0   # relu(x) summed
    np.testing.assert_allclose(lr.explain(net, x, rule=passed).layers[1].relevance_in, [[f / 3, f / 3, f / 3]])
    np.testing.assert_allclose(lr.explain(net, x, rule=composite).layers[1].relevance_in, [[f / 3, 0.0, f / 3]])


def test_verify_names_the_convention_of_zennits_resnet_explanation(models, batch):
    model, net = models("resnet18")
    _, theirs = zennit_relevance(model, "resnet18", "EpsilonPlusFlat", batch)
    report = lr.verify(theirs, net, batch, target=TARGETS, rule="EpsilonPlusFlat", convention="zennit")
    assert not report.agrees            # asked: zennit without a canonizer, from the logit
    best = report.best_match
    assert (best.convention, best.quirks, best.top) == ("zennit", True, "one-hot")
    assert "x/√(1+eps) left" in best.label and best.max_rel_error <= TOLERANCE
    exact = next(m for m in report.matches if "merged exactly" in m.label and m.top == "one-hot")
    assert exact.max_rel_error > 1e-6   # the exact merge is not what zennit computed
    assert "best match: EpsilonPlusFlat: zennit" in str(report)
    assert "x/√(1+eps) left in its place, with its quirks, from a one-hot top" in str(report)
