"""The shipped zennit and captum clients against the labels of a fresh kit; the diagnosis of planted bugs; the
networks as PyTorch modules and ONNX.

The labels are made by running the clients when the kit is exported; here the clients run again, from the kit's
files, through ``check`` and its diagnosis, and every label must hold: a case labelled ``matches`` passes, a case
labelled otherwise fails for the labelled reason (one of the known differences, found again by the diagnosis), a
case a peer cannot express stays unexpressed. The facts the issue measured by hand are pinned separately.
"""

import numpy as np
import pytest
from optional import require

import lrpref as lr
from lrpref import conformance as C
from lrpref.conformance import clients, labels
from lrpref.conformance.diagnose import diagnose
from lrpref.conformance.graph import is_chain, torch_module

torch = require("torch")
require("zennit")
require("captum")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    directory = tmp_path_factory.mktemp("labelled")
    C.export(directory, peers=("zennit", "captum"))
    return directory


@pytest.fixture(scope="module")
def manifest(kit):
    return C.read_manifest(kit)


@pytest.fixture(scope="module")
def reports(kit, tmp_path_factory):
    """Each client run again on the kit and scored by ``check``: {peer: (runs by case id, report)}."""
    found = {}
    for peer in labels.GENERATED:
        runs = clients.run_client(clients.client(peer), kit)
        path = clients.write_results(runs, tmp_path_factory.mktemp(peer) / "results.npz")
        found[peer] = ({run.case: run for run in runs}, C.check(kit, path, allow_missing=True))
    return found


@pytest.mark.parametrize("peer", labels.GENERATED)
def test_the_clients_agree_with_every_label(kit, manifest, reports, peer):
    runs, report = reports[peer]
    ran = 0
    for entry in manifest["cases"]:
        label, run, result = entry["peers"][peer], runs[entry["id"]], report[entry["id"]]
        assert label["source"].startswith(f"generated: {peer} ")
        if label["matches"] is None:
            assert run.levels is None and result.status == "missing" and label["why"] == run.unsupported, entry["id"]
            continue
        ran += 1
        assert label["call"] == run.call and label["kwargs"] == run.kwargs, entry["id"]
        if label["matches"]:
            assert result.status == "pass", (entry["id"], result.describe())
            continue
        assert result.status == "fail", entry["id"]
        code = labels.reason(peer, result.diagnosis, C.load_case(kit, entry["id"], manifest))
        assert code is not None and code == label["reason"], (entry["id"], result.describe())
        assert result.diagnosis.layer == label["layer"], entry["id"]
        assert label["why"].startswith(labels.REASONS[(peer, code)]), entry["id"]
        assert f"{peer}: {labels.REASONS[(peer, code)]}" in result.diagnosis.known  # the report calls it a convention
    assert ran > {"zennit": 70, "captum": 35}[peer]


LABELLED = {  # what the issue measured with adapters written by hand: (peer, case) -> matches, or the reason and layer
    ("zennit", "lrp.epsilon-no-bias.mlp"): True,
    ("zennit", "lrp.zbox-per-channel.cnn"): True,
    ("zennit", "edge.dense.lrp0"): True,
    ("zennit", "lrp.gamma.cnn"): ("gamma-generalised", 7),
    ("zennit", "lrp.alpha2-beta1.cnn"): ("lrp0", 5),
    ("zennit", "lrp.wsquare.cnn-options"): ("batchnorm-parameters", 9),
    ("captum", "lrp.gamma-plain-bias.mlp"): True,
    ("captum", "lrp.zplus.mlp"): True,
    ("captum", "lrp.zplus-plain-bias.mlp"): True,
    ("captum", "lrp.gamma.mlp"): ("bias-plain", None),
    ("captum", "lrp.zplus-products.mlp"): ("captum-alpha1-beta0", None),
    ("captum", "method.ig-trapezoid.mlp"): ("captum-quadrature", None),
    ("captum", "method.ig-midpoint.mlp"): ("captum-quadrature", None),
    ("captum", "method.deeplift.pool-ties"): ("deeplift-max-pool-reference", None),
    ("captum", "lrp.epsilon-no-bias.mlp"): None,
}


def test_the_labels_say_what_was_measured_by_hand(manifest):
    entries = {entry["id"]: entry for entry in manifest["cases"]}
    for (peer, case_id), want in LABELLED.items():
        label = entries[case_id]["peers"][peer]
        if want is None or want is True:
            assert label["matches"] is want, (peer, case_id, label)
        else:
            assert (label["matches"], label["reason"], label["layer"]) == (False, *want), (peer, case_id, label)
    full_bias = entries["lrp.alpha2-beta1-full-bias.mlp"]["peers"]["innvestigate"]
    assert full_bias == {"source": "hand-derived", "call": full_bias["call"], "matches": True, "why": None}
    assert "zero_params='bias'" in entries["lrp.epsilon-no-bias.mlp"]["rules"][0]["peers"]["zennit"]
    assert "captum" not in entries["lrp.epsilon-no-bias.mlp"]["rules"][0]["peers"]


# --------------------------------------------------------------------------- planted bugs


def _without_bias_on(node_name):
    """The zennit client's rule function with a maintainer's bug: layer ``node_name``'s ε leaves the bias out."""
    original = clients.client("zennit").rule

    def buggy(record, node):
        if node["name"] == node_name and record["name"] == "Epsilon":
            record = {**record, "params": {**record["params"], "bias": False}}
        return original(record, node)
    return buggy


def test_a_planted_bug_is_reported_with_layer_rule_and_variant(kit, manifest, monkeypatch, tmp_path):
    zennit = clients.client("zennit")
    monkeypatch.setattr(zennit, "rule", _without_bias_on("2"))
    runs = clients.run_client(zennit, kit, manifest, cases={"lrp.epsilon.mlp"})
    report = C.check(kit, clients.write_results(runs, tmp_path / "bug.npz"), allow_missing=True)
    result = report["lrp.epsilon.mlp"]
    assert result.status == "fail" and result.diverges_at == 2
    diagnosis = result.diagnosis
    assert (diagnosis.layer, diagnosis.rule["lrpref"], diagnosis.variant) == (2, "Epsilon(0.25)", "bias-dropped")
    assert diagnosis.known == []  # no peer's convention: a bug
    text = str(report)
    for expected in ("first disagreement at layer 2 (Dense(5→4))", "rule: Epsilon(0.25)", "formula: 1 × [(w)·a + b]",
                     "the candidate matches: the bias left out of z", "bias-dropped, layer 2"):
        assert expected in text, text
    # with the input relevance alone the layer cannot be located, but the variant still names it
    only_input = C.diagnose(C.load_case(kit, "lrp.epsilon.mlp", manifest), {0: runs[0].levels[0]})
    assert only_input.layer is None and only_input.variant == "bias-dropped"
    assert only_input.variants[0].where == "layer 2"


def test_levels_are_inferred_through_pass_through_layers(kit, manifest):
    """A bug on the top Dense (layer 4) with levels 0 and 3 given: level 4 is inferred through the ReLU (layer 3)."""
    case = C.load_case(kit, "lrp.epsilon.mlp", manifest)
    rules = case.rules
    rules[4] = lr.Epsilon(0.25, bias=False)
    found = C.levels(case.explain(rule=rules))
    diagnosis = diagnose(case, {0: found[0], 3: found[3]})
    assert diagnosis.inferred == [4] and diagnosis.layer == 4 and diagnosis.variant == "bias-dropped"
    assert diagnose(case, {0: found[0]}).layer is None
    assert diagnose(case, {0: case.expected[0]}).agrees


def test_a_constant_factor_is_recognised(kit, manifest):
    case = C.load_case(kit, "method.ig.mlp", manifest)
    diagnosis = diagnose(case, {0: case.expected[0] * 8 / 9})
    assert diagnosis.variant == "factor" and diagnosis.factor == pytest.approx(8 / 9, rel=1e-12)
    assert "(≈ 8/9)" in str(diagnosis)


def test_float32_results_are_recognised(kit, manifest):
    case = C.load_case(kit, "lrp.epsilon.cnn", manifest)
    found = lr.explain(case.network.astype(np.float32), case.input.astype(np.float32),
                       **{**case.explain_kwargs(), "rule": case.rules}).relevance
    diagnosis = diagnose(case, {0: found})
    assert diagnosis.variant == "float32"


# --------------------------------------------------------------------------- the networks in PyTorch and ONNX


def test_state_dict_builder_and_onnx_compute_the_networks_outputs(kit, manifest):
    onnx = require("onnx")
    from onnx.reference import ReferenceEvaluator

    from lrpref.io import from_onnx

    for entry in {entry["network"]: entry for entry in manifest["cases"]}.values():
        case = C.load_case(kit, entry["id"], manifest)
        network = manifest["networks"][entry["network"]]
        output = case.arrays["output"]
        parameters = clients.network_parameters(kit, manifest, entry["network"])
        model = torch_module(network["graph"], parameters)  # chains and graphs (residual sums, concatenations)
        assert np.allclose(model(torch.tensor(case.input)).detach().numpy(), output, rtol=1e-12, atol=1e-13)
        assert len(model.levels) == len(network["graph"]["nodes"]) + 1  # every tensor, the output last
        proto = onnx.load(kit / network["onnx"])
        (evaluated,) = ReferenceEvaluator(proto).run(None, {"input": case.input})
        assert np.abs(evaluated - output).max() <= 1e-12 * np.abs(output).max(), entry["network"]
        if not is_chain(network["graph"]):  # what the reference clients do not build yet
            with pytest.raises(clients.Unsupported, match="a graph network"):
                clients.CaseView(kit, manifest, entry, parameters).module()
        # cnn-options: its AdaptiveAvgPool2d is an averaging MatMul, not an lrpref layer
        if entry["network"] != "cnn-options":
            assert np.allclose(from_onnx(proto)(case.input), output, rtol=1e-12, atol=1e-13)
