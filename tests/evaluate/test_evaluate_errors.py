"""Bad input to the evaluation metrics is a clear error naming the problem."""

from functools import partial

import numpy as np
import pytest
from evaluate_helpers import Linear

import lrpref as lr
from lrpref import evaluate as ev

X = np.random.default_rng(0).random((2, 4, 4))
R = np.random.default_rng(1).normal(size=(2, 4, 4))
MODEL = Linear(np.ones((4, 4)))
NAN_MAP = R.copy()
NAN_MAP[1, 2, 3] = np.nan


@pytest.mark.parametrize("metric", [partial(ev.region_perturbation, region_size=2), ev.probability_change, ev.minimal_patch,
                                    ev.maximal_patch], ids=["region", "pc", "minimal", "maximal"])
@pytest.mark.parametrize("args, kw, error, match", [
    ((X, R[:, :, :3]), {}, ValueError, r"relevance of shape \(2, 4, 3\) does not fit 2 images of 4×4"),
    ((X, R[:1]), {}, ValueError, "does not fit 2 images"),
    ((X, R[0]), {}, ValueError, r"maps \(N, H, W\) or \(N, C, H, W\), got shape \(4, 4\)"),
    ((X, NAN_MAP), {}, ValueError, r"relevance contains 1 non-finite value\(s\) \(NaN\), the first at index \(1, 2, 3\)"),
    ((X, R.astype(int)), {}, TypeError, "relevance must be a float array"),
    ((X.reshape(2, 16), R), {}, ValueError, r"images \(N, H, W\) or \(N, C, H, W\), got shape \(2, 16\)"),
    ((X.astype(np.float16), R), {}, TypeError, "must be float32 or float64"),
    ((np.where(X > 0.5, np.inf, X), R), {}, ValueError, "images x contains .* non-finite"),
    ((X, R), dict(target=2), ValueError, r"target 2 is out of range: the output has 2 classes \(0..1\)"),
    ((X, R), dict(target=[0, -1]), ValueError, "target -1 is out of range"),
    ((X, R), dict(target=[0, 1, 1]), ValueError, "target has 3 entries for a batch of 2"),
    ((X, R), dict(target=0.5), TypeError, "target must be None, an int or N ints"),
    ((X, R), dict(replacement="noise"), ValueError, "unknown replacement 'noise'"),
    ((X, R), dict(replacement=("uniform", 1.0, 0.0)), ValueError, r"needs finite numbers low < high"),
    ((X, R), dict(replacement=np.zeros((3, 4, 4))), ValueError, "does not broadcast to the input"),
    ((X, R), dict(replacement=("blur", -1.0)), ValueError, "blur sigma must be a positive number"),
    ((X, R), dict(output="logit"), ValueError, "unknown output 'logit'; one of"),
    ((X, R), dict(random_state="seed"), TypeError, "random_state must be None, an int >= 0 or a numpy Generator"),
    ((X, R), dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    ((X, R), dict(first_index=-1), ValueError, "first_index must be an integer >= 0"),
])
def test_common_errors(metric, args, kw, error, match):
    with pytest.raises(error, match=match):
        metric(MODEL, *args, **kw)


@pytest.mark.parametrize("kw, error, match", [
    (dict(region_size=5), ValueError, r"region_size 5 does not fit images of 4×4 pixels \(at most 4\)"),
    (dict(region_size=0), ValueError, "region_size must be an integer >= 1"),
    (dict(region_size=2.5), ValueError, "region_size must be an integer >= 1"),
    (dict(region_size=True), ValueError, "region_size must be an integer >= 1"),
    (dict(region_size=2, steps=5), ValueError, "steps=5 but the images have only 4 grid regions of size 2"),
    (dict(region_size=2, steps=0), ValueError, "steps must be an integer >= 1"),
    (dict(region_size=2, regions="tiles"), ValueError, "unknown regions 'tiles'; one of"),
    (dict(region_size=2, order="mof"), ValueError, r"unknown order 'mof'; one of \('morf', 'lerf', 'random'\)"),
])
def test_region_perturbation_errors(kw, error, match):
    with pytest.raises(error, match=match):
        ev.region_perturbation(MODEL, X, R, **kw)


@pytest.mark.parametrize("kw, error, match", [
    (dict(ratios=(0.5, 1.5)), ValueError, r"ratios must be numbers in \[0, 1\]"),
    (dict(ratios=()), ValueError, "ratios must be numbers"),
    (dict(fraction="left"), ValueError, "unknown fraction 'left'"),
    (dict(change="log"), ValueError, "unknown change 'log'"),
])
def test_probability_change_errors(kw, error, match):
    with pytest.raises(error, match=match):
        ev.probability_change(MODEL, X, R, **kw)


def test_patch_errors():
    with pytest.raises(ValueError, match="a radius must be an integer >= 0"):
        ev.minimal_patch(MODEL, X, R, radii=(1, -2))
    with pytest.raises(ValueError, match="radii must hold at least one radius"):
        ev.maximal_patch(MODEL, X, R, radii=())


def test_model_errors():
    with pytest.raises(ValueError, match=r"the model must return scores \(N, K\) for a batch of N = "):
        ev.probability_change(lambda x: x.sum(axis=(1, 2)), X, R)
    with pytest.raises(ValueError, match="the model's output contains"):
        ev.probability_change(lambda x: np.full((len(x), 2), np.nan), X, R)
    with pytest.raises(TypeError, match="the model returned <U"):
        ev.probability_change(lambda x: np.full((len(x), 2), "a"), X, R)
    with pytest.raises(ValueError, match="output='softmax' needs a model with at least 2 classes"):
        ev.probability_change(lambda x: x.sum(axis=(1, 2))[:, None], X, R)
    with pytest.raises(ValueError, match="relative change is undefined: sample 0 has an original score of 0"):
        ev.probability_change(lambda x: np.zeros((len(x), 2)), X, R, output="raw", change="relative")


def test_a_bad_target_fails_before_the_other_samples_run():
    model = Linear(np.ones((4, 4)))
    with pytest.raises(ValueError, match="target 7 is out of range"):
        ev.region_perturbation(model, X, R, target=7, region_size=2)
    assert len(model.calls) == 1  # only the first sample's inputs were scored


@pytest.mark.parametrize("mask, kw, error, match", [
    (R[:, :2] > 0, {}, ValueError, r"mask has shape \(2, 2, 4\), the relevance maps \(2, 4, 4\)"),
    (np.zeros((2, 4, 4), bool), {}, ValueError, "mask of sample 0 is empty"),
    (np.full((2, 4, 4), 0.5), {}, ValueError, "mask must hold only 0 and 1"),
    (np.full((2, 4, 4), "x"), {}, TypeError, "mask must be boolean or 0/1 numbers"),
    (R > 0, dict(values="negative"), ValueError, "unknown values 'negative'; one of"),
])
def test_localisation_errors(mask, kw, error, match):
    for metric in (ev.relevance_mass_accuracy, ev.relevance_rank_accuracy):
        with pytest.raises(error, match=match):
            metric(R, mask, **kw)
    with pytest.raises(ValueError, match="non-finite"):
        ev.relevance_mass_accuracy(NAN_MAP, R > 0)


NET = lr.Sequential([lr.Dense(np.ones((3, 4)), np.zeros(3)), lr.ReLU(), lr.BatchNorm(np.zeros(3), np.ones(3)),
                     lr.Dense(np.ones((2, 3)), np.zeros(2))])
XN = np.ones((2, 4))


def gradient(net, x, target):
    return net.gradient(x, np.eye(2)[target])


@pytest.mark.parametrize("call, error, match", [
    (lambda: ev.model_randomisation(NET, gradient, XN, layers=[2]), ValueError,
     r"layer 2 \(BatchNorm\(3\)\) has no weights to re-initialise .* fold BatchNorm first"),
    (lambda: ev.model_randomisation(NET, gradient, XN, layers=[9]), ValueError, "layer 9 is not a layer index"),
    (lambda: ev.model_randomisation(NET, gradient, XN, layers=[]), ValueError, "no layer to re-initialise"),
    (lambda: ev.model_randomisation(NET, gradient, XN, mode="cascade"), ValueError, "unknown mode 'cascade'"),
    (lambda: ev.model_randomisation(NET, gradient, XN, measures=("hog",)), ValueError,
     "unknown similarity measure 'hog'"),
    (lambda: ev.model_randomisation(NET, gradient, XN, target=5), ValueError, "target 5 is out of range"),
    (lambda: ev.model_randomisation(lambda x: x, gradient, XN), TypeError, "net must be an lrpref.Sequential"),
    (lambda: ev.model_randomisation(NET, lambda n, x, t: x[0], XN), ValueError, r"the explainer returned shape \(4,\)"),
    (lambda: ev.model_randomisation(NET, gradient, XN, measures=("ssim",)), ValueError,
     r"SSIM compares 2-D maps .*reshape flat maps to images in the explainer"),
    (lambda: ev.similarity(np.ones((2, 3)), np.ones((2, 4)), "spearman"), ValueError, "maps to compare must have one shape"),
    (lambda: ev.similarity(np.ones((1, 2, 2)), np.ones((1, 2, 2)), "ssim"), ValueError, "SSIM needs maps of at least 3×3"),
    (lambda: ev.reinitialise(NET, [1]), ValueError, r"layer 1 \(ReLU\(\)\) has no weights"),
])
def test_randomisation_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
