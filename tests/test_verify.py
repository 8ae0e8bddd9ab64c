"""lrpref.verify and `lrpref verify`: errors, their location, conservation, and naming the convention a candidate follows."""

import numpy as np
import pytest

import lrpref as lr
from lrpref import presets, serialize
from lrpref.cli import main

rng = np.random.default_rng(11)


def relu_mlp(bias=True):
    def b(n):
        return rng.normal(size=n) * 0.3 if bias else None
    return lr.Sequential([lr.Dense(rng.normal(size=(6, 4)), b(6)), lr.ReLU(), lr.Dense(rng.normal(size=(5, 6)), b(5)), lr.ReLU(),
                          lr.Dense(rng.normal(size=(3, 5)), b(3))])


def small_cnn():
    return lr.Sequential([lr.Conv2d(rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3) * 0.3, padding=1), lr.ReLU(),
                          lr.MaxPool2d(2), lr.Flatten(), lr.Dense(rng.normal(size=(4, 12)), rng.normal(size=4) * 0.3)])


def test_the_reference_itself_agrees():
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(3, 4))
    candidate = lr.explain(net, x, rule=lr.Epsilon(0.25)).relevance
    report = lr.verify(candidate, net, x, rule="epsilon:0.25")
    assert report.agrees and report.max_abs_error == 0 and report.max_rel_error == 0 and report.best_match is None
    assert "AGREES" in str(report)


def test_a_captum_style_candidate_is_named():
    """γ computed captum's way (γ on the weights only), checked as zennit's γ: verify names captum."""
    net, x = small_cnn(), rng.uniform(-1, 1, size=(2, 2, 4, 4))
    candidate = lr.explain(net, x, rule=presets.captum.LRP(presets.captum.GammaRule(0.25))).relevance
    report = lr.verify(candidate, net, x, rule="gamma:0.25", convention="zennit")
    assert not report.agrees and report.max_rel_error > 1e-3
    assert report.best_match.convention == "captum" and report.best_match.max_rel_error <= 1e-12
    assert "follows captum's convention, not zennit's" in str(report)


def test_a_one_hot_top_is_recognised():
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    target = net(x).argmax(1)
    candidate = lr.explain(net, x, target=np.eye(3)[target], rule=presets.zennit.LayerMap(presets.zennit.Epsilon(0.1))).relevance
    report = lr.verify(candidate, net, x, rule="epsilon:0.1", convention="zennit")
    assert report.best_match.top == "one-hot" and report.best_match.convention == "zennit"
    assert "one-hot top" in str(report)


def test_quirks_are_matched():
    """iNNvestigate's whole-bias α1β0 (issue #273) is found among the quirky variants."""
    net, x = relu_mlp(), rng.uniform(0, 1, size=(2, 4))
    candidate = lr.explain(net, x, rule=presets.composite("alpha1beta0", "innvestigate", quirks=True)).relevance
    report = lr.verify(candidate, net, x, rule="alpha1beta0", convention="innvestigate")
    assert report.best_match.convention == "innvestigate" and report.best_match.quirks
    assert lr.verify(candidate, net, x, rule="alpha1beta0", convention="innvestigate", quirks=True).agrees


def test_worst_layer_and_neuron():
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    ex = lr.explain(net, x, rule=lr.LRP0())
    layers = {k: ex.layers[k].relevance_in.copy() for k in (0, 2, 4)}
    layers[2][1, 3] += 0.5
    report = lr.verify(layers, net, x, rule="lrp0", compare=False)
    assert (report.worst_layer, report.worst_sample, report.worst_neuron) == (2, 1, (3,))
    assert np.isclose(report.max_abs_error, 0.5) and report.per_layer[0] == (0.0, 0.0)
    assert np.isclose(report.candidate_value - report.reference_value, 0.5)
    assert report.matches == []


def test_conservation_where_the_rule_conserves():
    """z⁺ without bias on a ReLU net conserves down to the input; a candidate that leaks is flagged, ε's bias is not."""
    net, x = relu_mlp(), rng.uniform(0, 1, size=(2, 4))
    candidate = lr.explain(net, x, rule=lr.ZPlus()).relevance
    assert lr.verify(candidate, net, x, rule="zplus").conserves == {0: True}
    leaky = candidate * 0.9
    report = lr.verify(leaky, net, x, rule="zplus")
    assert report.conserves == {0: False} and "does NOT conserve" in str(report)
    report = lr.verify(lr.explain(net, x, rule=lr.Epsilon(0.1)).relevance * 0.9, net, x, rule="epsilon:0.1")
    assert report.conserves == {0: True} and not report.conservation[0].rule_conserves.any()


def test_methods_and_their_conventions():
    net, x = small_cnn(), rng.uniform(-1, 1, size=(2, 2, 4, 4))
    candidate = lr.explain(net, x, **presets.captum.deeplift(0.0)).relevance
    assert lr.verify(candidate, net, x, rule="deeplift", convention="captum").agrees
    report = lr.verify(lr.explain(net, x, **presets.captum.integrated_gradients(0.0, 20)).relevance, net, x, rule="ig:20")
    assert report.best_match.convention == "captum"


def test_rule_objects_and_first_rest():
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    composite = presets.composite("zbox:-1,1/epsilon:0.25", "zennit")
    candidate = lr.explain(net, x, rule=composite).relevance
    assert lr.verify(candidate, net, x, rule="zbox:-1,1/epsilon:0.25", convention="zennit").agrees
    report = lr.verify(candidate, net, x, rule=composite)
    assert report.agrees and len(report.matches) == 2   # logit and one-hot tops of that composite only


@pytest.mark.parametrize("candidate, error, message", [
    (np.zeros((2, 5)), ValueError, r"must have shape \(2, 4\)"),
    ({"layer1": np.zeros((2, 6))}, TypeError, "layer indices"),
    ({7: np.zeros((2, 6))}, IndexError, "layers 0..4"),
    ({}, ValueError, "empty dict"),
    (np.full((2, 4), np.nan), ValueError, "non-finite"),
    (np.zeros((2, 4), dtype=np.int64), TypeError, "float32 or float64"),
])
def test_candidate_errors(candidate, error, message):
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    with pytest.raises(error, match=message):
        lr.verify(candidate, net, x, rule="lrp0")


def test_rule_errors():
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    with pytest.raises(ValueError, match="unknown rule"):
        lr.verify(np.zeros((2, 4)), net, x, rule="sigma")
    with pytest.raises(presets.UnsupportedRule, match="captum has no w2"):
        lr.verify(np.zeros((2, 4)), net, x, rule="w2", convention="captum")
    with pytest.raises(ValueError, match="defined for non-negative inputs"):   # the classic γ on signed inputs
        lr.verify(np.zeros((2, 4)), net, x, rule="gamma")


def test_command_line(tmp_path, capsys):
    net, x = small_cnn(), rng.uniform(-1, 1, size=(2, 2, 4, 4))
    serialize.save(net, tmp_path / "model.npz")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "captum.npy", lr.explain(net, x, rule=presets.composite("gamma:0.25", "captum")).relevance)
    args = ["verify", "--model", str(tmp_path / "model.npz"), "--input", str(tmp_path / "x.npy"), "--candidate",
            str(tmp_path / "captum.npy"), "--rule", "gamma:0.25"]
    assert main(args + ["--convention", "captum"]) == 0
    assert "AGREES" in capsys.readouterr().out
    assert main(args + ["--convention", "zennit"]) == 1
    assert "follows captum's convention, not zennit's" in capsys.readouterr().out
    ex = lr.explain(net, x, target=[1, 2], rule=lr.Epsilon(0.1))
    np.savez(tmp_path / "layers.npz", layer0=ex.layers[0].relevance_in, **{"4": ex.layers[4].relevance_in})
    assert main(["verify", "--model", str(tmp_path / "model.npz"), "--input", str(tmp_path / "x.npy"), "--candidate",
                 str(tmp_path / "layers.npz"), "--rule", "epsilon:0.1", "--target", "1,2"]) == 0
    assert main(args[:-2] + ["--rule", "w2", "--convention", "captum"]) == 2
    assert "captum has no w2" in capsys.readouterr().err
    assert main(["verify", "--model", str(tmp_path / "missing.npz")] + args[3:]) == 2
    assert "missing.npz" in capsys.readouterr().err


@pytest.mark.parametrize("tolerance, error, message", [
    (-1.0, ValueError, "tolerance must be a finite number >= 0, got -1.0"),
    (-1e-300, ValueError, "tolerance must be a finite number >= 0"),
    (float("nan"), ValueError, "tolerance must be a finite number >= 0, got nan"),
    (float("inf"), ValueError, "tolerance must be a finite number >= 0, got inf"),
    ("1e-10", TypeError, "tolerance must be a number, got str"),
    (True, TypeError, "tolerance must be a number, got bool"),
])
def test_a_tolerance_that_would_pass_anything_is_refused(tolerance, error, message):
    """Issue 12: a negative, NaN or infinite tolerance made every wrong candidate (or none) agree."""
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    wrong = lr.explain(net, x, rule=lr.Epsilon(0.25)).relevance + 1.0
    with pytest.raises(error, match=message):
        lr.verify(wrong, net, x, rule="epsilon:0.25", tolerance=tolerance)
    assert not lr.verify(wrong, net, x, rule="epsilon:0.25", tolerance=0).agrees


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf"])
def test_the_command_line_refuses_such_a_tolerance(tmp_path, capsys, value):
    """`lrpref verify --tolerance -1` used to exit 0 on a wrong candidate; now exit 2 and one line naming the tolerance."""
    net, x = relu_mlp(), rng.uniform(-1, 1, size=(2, 4))
    serialize.save(net, tmp_path / "model.npz")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "wrong.npy", lr.explain(net, x, rule=lr.Epsilon(0.25)).relevance + 1.0)
    code = main(["verify", "--model", str(tmp_path / "model.npz"), "--input", str(tmp_path / "x.npy"),
                 "--candidate", str(tmp_path / "wrong.npy"), "--rule", "epsilon:0.25", f"--tolerance={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "tolerance must be a finite number >= 0" in err and len(err.strip().splitlines()) == 1


def test_verify_takes_a_graph_and_names_zennits_batchnorm_merge():
    rng = np.random.default_rng(3)
    x_in = lr.Input()
    bn = lr.BatchNorm(rng.uniform(-.2, .2, 2), rng.uniform(.5, 2, 2), rng.uniform(.5, 1.5, 2), rng.uniform(-.2, .2, 2), eps=1e-3)
    h = lr.ReLU()(bn(lr.Conv2d(rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2), padding=1)(x_in)))
    h = lr.Flatten()(lr.Add()(h, x_in))
    net = lr.Graph(x_in, lr.Dense(rng.normal(size=(3, 32)), rng.normal(size=3))(h))
    x = rng.uniform(-1, 1, size=(2, 2, 4, 4))
    target = np.array([0, 2])
    zennit = lr.presets.zennit
    merged = zennit.merge_batchnorm(net, quirks=True)
    assert len(merged) == len(net) and not np.allclose(merged(x), net(x), rtol=1e-6, atol=0)
    one_hot = np.eye(3)[target]
    candidate = lr.explain(merged, x, target=one_hot, rule=zennit.EpsilonPlusFlat()).relevance
    report = lr.verify(candidate, net, x, target=target, rule="EpsilonPlusFlat", convention="zennit")
    best = report.best_match
    assert (best.convention, best.quirks, best.top) == ("zennit", True, "one-hot") and best.max_rel_error < 1e-13
    assert report.layer_names == {0: "the input"}
    with pytest.raises(ValueError, match="on a graph give the input relevance"):
        lr.verify({3: candidate}, net, x, target=target, rule="EpsilonPlusFlat")
    with pytest.raises(ValueError, match="EpsilonGammaBox takes zᴮ's bounds"):
        lr.verify(candidate, net, x, target=target, rule="EpsilonGammaBox", convention="zennit")
