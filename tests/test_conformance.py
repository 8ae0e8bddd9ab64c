"""The conformance kit: export, scoring, file formats, coverage, and expected values recomputed independently.

The independent checks at the end read the kit's files with numpy and json only and recompute
the expected relevance from the spec formulas (``neural.md`` §3.1–3.4, §3.9, §4, §5), so the
kit is not only checked against lrpref itself.
"""

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optional import require

import lrpref as lr
from lrpref import conformance as C
from lrpref._integrity import FileFormatError, read_archive, write_archive
from lrpref.cli import main
from lrpref.conformance.schema import validate

DOCS = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"
CAMS = ("grad-cam", "layer-cam", "score-cam")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kit")
    C.export(directory, peers=())  # the peer labels are tested in test_conformance_clients.py
    return directory


@pytest.fixture(scope="module")
def manifest(kit):
    return C.read_manifest(kit)


def own_levels(kit, manifest, path="fast"):
    """lrpref as "another implementation", working from the kit's files only: {case id: {level: array}}."""
    found = {}
    for entry in manifest["cases"]:
        case = C.load_case(kit, entry["id"], manifest)
        kwargs = case.explain_kwargs()
        if path == "explicit" and entry["rules"] is not None:
            kwargs["path"] = "explicit"
        found[entry["id"]] = C.levels(lr.explain(case.network, case.input, **kwargs))
    return found


@pytest.fixture(scope="module")
def own(kit, manifest):
    return own_levels(kit, manifest)


def write_folder(folder, levels_by_case):
    folder.mkdir(parents=True, exist_ok=True)
    for case_id, found in levels_by_case.items():
        np.savez(folder / f"{case_id}.npz", **{f"relevance.{k}": v for k, v in found.items()})
    return folder


def write_single(path, levels_by_case):
    np.savez(path, **{f"{case_id}/relevance.{k}": v for case_id, found in levels_by_case.items() for k, v in found.items()})
    return path


def copy_of(levels_by_case):
    return {case_id: {k: v.copy() for k, v in found.items()} for case_id, found in levels_by_case.items()}


# --------------------------------------------------------------------------- lrpref against its own kit


def test_own_results_pass_every_case_in_both_results_formats(kit, own, tmp_path):
    folder = C.check(kit, write_folder(tmp_path / "results", own))
    single = C.check(kit, write_single(tmp_path / "results.npz", own))
    for report in (folder, single):
        assert report.ok and len(report.passed) == len(C.CASE_IDS) and not report.failed
        assert all(case.max_abs_error == 0 for case in report.cases)


def test_input_relevance_alone_is_enough(kit, own, tmp_path):
    report = C.check(kit, write_folder(tmp_path / "inputs", {i: {0: found[0]} for i, found in own.items()}))
    assert report.ok and all(len(case.levels) == 1 for case in report.cases)


def test_the_explicit_path_passes_with_a_hundredth_of_the_tolerance(kit, manifest, tmp_path):
    """A different summation order (every layer as a matrix) stays far inside the tolerance: the cases are well-conditioned."""
    explicit = own_levels(kit, manifest, path="explicit")
    report = C.check(kit, write_folder(tmp_path / "explicit", explicit), rtol=1e-11, atol=1e-14)
    assert report.ok, str(report)


# --------------------------------------------------------------------------- failures are located


def test_a_perturbed_entry_fails_exactly_its_case_naming_layer_and_neuron(kit, own, tmp_path):
    results = copy_of(own)
    results["lrp.epsilon.cnn"][3][1, 2, 0, 1] += 1e-3
    report = C.check(kit, write_folder(tmp_path / "perturbed", results))
    assert report.failed == ["lrp.epsilon.cnn"] and not report.ok
    case = report["lrp.epsilon.cnn"]
    assert case.diverges_at == 3 and case.worst.level == 3 and case.worst.worst_index == (1, 2, 0, 1)
    assert [s.level for s in case.levels if not s.passed] == [3]
    text = str(report)
    assert "FAIL     lrp.epsilon.cnn" in text and "layer 3 (Conv2d(4→4, 3×3, pad 1, groups 2)) is the first to disagree" in text and "index (2, 0, 1)" in text


def test_a_wrong_rule_on_one_layer_is_located_at_that_layer(kit, manifest, tmp_path):
    """ε = 0.3 instead of 0.25 on layer 2 only: levels 3 to 5 still match, level 2 and below do not."""
    case = C.load_case(kit, "lrp.epsilon.mlp", manifest)
    rules = case.rules
    rules[2] = lr.Epsilon(0.3)
    ex = lr.explain(case.network, case.input, target=case.target, rule=rules)
    report = C.check(kit, write_folder(tmp_path / "wrong", {case.id: C.levels(ex)}), allow_missing=True)
    result = report[case.id]
    assert report.failed == [case.id]
    assert {s.level: s.passed for s in result.levels} == {0: False, 1: False, 2: False, 3: True, 4: True, 5: True}
    assert result.diverges_at == 2
    assert "layer 2 (Dense(5→4)) is the first to disagree" in result.describe()


def test_a_wrong_top_relevance_is_named(kit, own, tmp_path):
    results = {"method.st-lrp-0.mlp": {k: v * 1.01 for k, v in own["method.st-lrp-0.mlp"].items()}}
    report = C.check(kit, write_folder(tmp_path / "top", results), allow_missing=True)
    assert "the top relevance R(Y^L) itself differs" in report["method.st-lrp-0.mlp"].describe()


def test_nan_from_a_zero_denominator_fails(kit, own, tmp_path):
    """What a naive 0/0 gives on the dead-ReLU case: NaN never passes, and the report says so."""
    results = copy_of(own)
    results["edge.dead-relu.lrp0"][1][0] = np.nan
    report = C.check(kit, write_folder(tmp_path / "nan", results))
    assert report.failed == ["edge.dead-relu.lrp0"]
    assert "non-finite values (NaN/inf) in relevance.1" in report["edge.dead-relu.lrp0"].describe()


def test_missing_cases_are_reported(kit, own, tmp_path):
    results = copy_of(own)
    del results["method.ig.mlp"], results["preset.epsilon-plus.cnn"]
    folder = write_folder(tmp_path / "partial", results)
    report = C.check(kit, folder)
    assert report.missing == ["preset.epsilon-plus.cnn", "method.ig.mlp"] and not report.failed and not report.ok
    assert "MISSING  method.ig.mlp" in str(report)
    assert C.check(kit, folder, allow_missing=True).ok


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_scoring_follows_the_documented_tolerance(small_kit, tmp_path_factory, data):
    """Property: an error above ``atol + rtol·max|expected|`` (of its sample, at its level) fails exactly that case at
    that entry; an error below it passes."""
    directory = small_kit
    manifest = C.read_manifest(directory)
    entry = data.draw(st.sampled_from(manifest["cases"]))
    expected = C.load_case(directory, entry["id"], manifest).expected
    level = data.draw(st.sampled_from(entry["levels"]))
    array = expected[level]
    index = data.draw(st.tuples(*(st.integers(0, d - 1) for d in array.shape)))
    factor = data.draw(st.one_of(st.floats(0.0, 0.5), st.floats(2.0, 1e6)))
    tolerance = entry["tolerance"]
    allowance = tolerance["atol"] + tolerance["rtol"] * np.abs(array[index[0]]).max()
    results = {e["id"]: C.load_case(directory, e["id"], manifest).expected for e in manifest["cases"]}
    results[entry["id"]][level] = array.copy()
    results[entry["id"]][level][index] += factor * allowance
    folder = tmp_path_factory.mktemp("scored")
    report = C.check(directory, write_folder(folder, results))
    if factor <= 0.5:
        assert report.ok
    else:
        assert report.failed == [entry["id"]]
        worst = report[entry["id"]].worst
        assert worst.level == level and worst.worst_index == index and worst.ratio == pytest.approx(factor, rel=1e-6)


@pytest.fixture(scope="module")
def small_kit(tmp_path_factory):
    directory = tmp_path_factory.mktemp("small")
    C.export(directory, cases=["lrp.epsilon.cnn", "edge.max-pool-ties.split", "method.deeplift.mlp"], peers=())
    return directory


# --------------------------------------------------------------------------- malformed results and kits


def test_malformed_results_give_clear_errors(kit, own, tmp_path):
    with pytest.raises(C.ConformanceError, match="no such file or folder"):
        C.check(kit, tmp_path / "nowhere")
    np.savez(tmp_path / "pickled.npz", **{"lrp.lrp0.mlp/relevance.0": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(C.ConformanceError, match="object array, which would need unpickling"):
        C.check(kit, tmp_path / "pickled.npz")
    np.savez(tmp_path / "flat-keys.npz", **{"relevance.0": np.zeros(3)})
    with pytest.raises(C.ConformanceError, match="key 'relevance.0' is not '<case id>/relevance.<k>'"):
        C.check(kit, tmp_path / "flat-keys.npz")
    np.savez(tmp_path / "unknown.npz", **{"no.such.case/relevance.0": np.zeros(3)})
    with pytest.raises(C.ConformanceError, match=r"1 case id\(s\) not in the kit \(no.such.case\)"):
        C.check(kit, tmp_path / "unknown.npz")
    (tmp_path / "text.npz").write_text("not a zip file")
    with pytest.raises(C.ConformanceError, match="not a readable .npz"):
        C.check(kit, tmp_path / "text.npz")


def test_results_that_cannot_be_compared_are_invalid(kit, own, tmp_path):
    x = own["lrp.lrp0.mlp"][0]
    cases = {
        "lrp.lrp0.mlp": {"relevance.0": x.T},
        "lrp.epsilon.mlp": {"relevance.0": x, "relevance.9": x},
        "lrp.flat.mlp": {"relevance.2": own["lrp.flat.mlp"][2]},
        "lrp.wsquare.mlp": {"relevance.0": x.astype(str)},
    }
    folder = tmp_path / "invalid"
    folder.mkdir()
    for case_id, arrays in cases.items():
        np.savez(folder / f"{case_id}.npz", **arrays)
    report = C.check(kit, folder, allow_missing=True)
    assert sorted(report.invalid) == sorted(cases) and not report.ok
    assert "relevance.0 has shape (6, 3), expected (3, 6)" in report["lrp.lrp0.mlp"].message
    assert "unexpected key 'relevance.9'" in report["lrp.epsilon.mlp"].message
    assert "relevance.0 (the input relevance) is required" in report["lrp.flat.mlp"].message
    assert "not a real number type" in report["lrp.wsquare.mlp"].message


def _kit_copy(kit, tmp_path, edit, sign=True):
    """A copy of the kit with an edited manifest; ``sign``: write its new SHA-256 too, as a maintainer editing it
    on purpose does (otherwise the copy is a tampered kit)."""
    copy = tmp_path / "kit"
    shutil.copytree(kit, copy)
    document = json.loads((copy / "manifest.json").read_text())
    edited = edit(document)
    text = edited if isinstance(edited, str) else json.dumps(document)
    (copy / "manifest.json").write_text(text, encoding="utf-8")
    if sign:
        (copy / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest())
    return copy


def _first(field, value):
    def edit(document):
        document["cases"][0][field] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda d: "{not json", "not valid JSON"),
    (lambda d: d.update(format="something-else"), "format is 'something-else', expected 'lrpref-conformance'"),
    (lambda d: d.update(version=1), "version 1 is not supported"),
    (lambda d: d.update(cases=[]), "cases must be a non-empty list"),
    (lambda d: d["cases"].append(dict(d["cases"][0])), "the id appears twice"),
    (lambda d: d["cases"][0].pop("levels"), r"missing field\(s\) \['levels'\]"),
    (_first("id", "Bad Id"), "ids are lower-case letters"),
    (_first("levels", [1, 2]), "levels must be a list of integers from 0 to 5 .* that includes 0"),
    (_first("network", "resnet"), "network 'resnet' is not in the manifest's networks"),
    (_first("target", "logit"), "target must be 'class' or 'relevance'"),
    (_first("tolerance", {"rtol": -1, "atol": 0}), "tolerance rtol must be a finite number >= 0"),
    (_first("tolerance", {"rtol": float("nan"), "atol": 0}), "tolerance rtol must be a finite number >= 0, got nan"),
    (lambda d: d.update(tolerance={"rtol": 1e-9, "atol": float("inf")}), "tolerance atol must be a finite number >= 0"),
    (_first("method", {"name": "shap"}), "method must be an object whose name is one of"),
    (_first("file", "../outside.npz"), "file must be a relative path inside the kit"),
    (_first("levels", [0, 1, 2, 3, 4, 5, 6]), "levels must be a list of integers from 0 to 5"),
    (lambda d: d["networks"]["mlp"].pop("layers"), "networks must be an object of"),
])
def test_malformed_manifests_give_clear_errors(kit, own, tmp_path, edit, message):
    broken = _kit_copy(kit, tmp_path, edit)
    with pytest.raises(C.ConformanceError, match=message):
        C.check(broken, write_folder(tmp_path / "results", own))


def test_a_kit_without_manifest_case_file_or_array_is_refused(kit, tmp_path):
    with pytest.raises(C.ConformanceError, match="no manifest.json; is this a conformance kit"):
        C.read_manifest(tmp_path)
    broken = _kit_copy(kit, tmp_path, lambda d: None)
    (broken / "cases" / "lrp.lrp0.mlp.npz").unlink()
    with pytest.raises(C.ConformanceError, match="lrp.lrp0.mlp.npz: no such file"):
        C.load_case(broken, "lrp.lrp0.mlp")
    case_file = broken / "cases" / "lrp.flat.mlp.npz"
    arrays, document = read_archive(case_file)
    write_archive(case_file, {key: value for key, value in arrays.items() if key != "relevance.3"}, document)
    with pytest.raises(C.ConformanceError, match=r"lrp.flat.mlp.npz: missing array\(s\) \['relevance.3'\]"):
        C.load_case(broken, "lrp.flat.mlp")


# --------------------------------------------------------------------------- the files


def _documented_schema():
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Manifest schema"):]
    return json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))


def test_the_manifest_validates_against_the_documented_schema(kit, manifest):
    jsonschema = pytest.importorskip("jsonschema")
    assert _documented_schema() == C.MANIFEST_SCHEMA
    assert json.loads((kit / "manifest.schema.json").read_text()) == C.MANIFEST_SCHEMA
    jsonschema.Draft202012Validator.check_schema(C.MANIFEST_SCHEMA)
    validator = jsonschema.Draft202012Validator(C.MANIFEST_SCHEMA)
    validator.validate(manifest)
    broken = json.loads(json.dumps(manifest))
    broken["cases"][5]["rules"][0]["groups"][0]["terms"][0]["weight"]["kind"] = "cubed"
    del broken["cases"][7]["levels"]
    assert len(list(validator.iter_errors(broken))) == 2


def test_loading_never_unpickles(kit, own, tmp_path, monkeypatch):
    calls = []
    original = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return original(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    C.check(kit, write_single(tmp_path / "results.npz", own))
    C.load_case(kit, "lrp.lrp0.cnn")
    assert len(calls) > len(C.CASE_IDS) and set(calls) == {False}


def test_reexport_is_byte_identical_and_replaces_an_old_kit(kit, tmp_path):
    again = tmp_path / "again"
    C.export(again, peers=())
    files = sorted(p.relative_to(kit) for p in kit.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((kit / f).read_bytes() == (again / f).read_bytes() for f in files)
    C.export(again, cases=["lrp.lrp0.mlp"], peers=())  # over an old kit: its other cases go
    assert [p.name for p in (again / "cases").iterdir()] == ["lrp.lrp0.mlp.npz"]
    assert sorted(p.name for p in (again / "networks").iterdir()) == ["mlp.npz", "mlp.onnx", "mlp.state_dict.npz"]


def test_export_refuses_a_folder_that_is_not_a_kit_and_unknown_cases(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(C.ConformanceError, match="is not empty and holds no conformance kit"):
        C.export(tmp_path, cases=["lrp.lrp0.mlp"], peers=())
    with pytest.raises(ValueError, match=r"unknown case id\(s\) \['lrp.magic.mlp'\]"):
        C.export(tmp_path / "new", cases=["lrp.magic.mlp"], peers=())


def test_the_kit_is_small(kit):
    assert sum(p.stat().st_size for p in kit.rglob("*") if p.is_file()) < 3 * 2**20


def test_rule_records_rebuild_the_same_rule(manifest):
    records = [record for entry in manifest["cases"] for record in entry["rules"] or ()]
    assert len(records) > 400
    for record in records:
        assert C.rule_to_json(C.rule_from_json(record)) == record
    with pytest.raises(ValueError, match="not a rule record: name 'Magic'"):
        C.rule_from_json({"name": "Magic"})
    with pytest.raises(ValueError, match="bad params"):
        C.rule_from_json({"name": "Epsilon", "params": {"eps": 1}})


# --------------------------------------------------------------------------- coverage


def _covers(manifest):
    return {tag for entry in manifest["cases"] for tag in entry["covers"]}


def test_every_rule_option_layer_method_and_preset_is_covered(manifest):
    covers = _covers(manifest)
    rules = {f"rule:{name}" for name in C.RULE_CLASSES}
    options = {"rule:Epsilon(sign=unsigned)", "rule:Epsilon(scale=rms)", "rule:Gamma(mode=generalised)",
               "rule:Gamma(mode=classic)", "rule:Gamma(bias=False)", "rule:AlphaBeta(convention=toolbox)",
               "rule:AlphaBeta(bias=ignore)", "rule:ZPlus(mode=products)", "rule:ZPlus(mode=dtd)", "rule:ZPlus(bias=True)",
               "rule:WSquare(bias=True)", "rule:WSquare(bias=False)", "rule:WinnerTakesAll(ties=first)",
               "rule:WinnerTakesAll(ties=split)", "rule:Proportional(LRP0)", "rule:Proportional(Epsilon)",
               "rule:Gamma(epsilon>0)", "rule:AlphaBeta(epsilon>0)", "rule:ZBox(epsilon>0)",
               "rule:Epsilon(bias=False)", "rule:Epsilon(sign=zeros)", "rule:Gamma(bias=plain)",
               "rule:Gamma(check_inputs=False)", "rule:ZPlus(bias=plain)", "rule:AlphaBeta(bias=full)",
               "option:convention=captum"}
    layers = {f"layer:{name}" for name in lr.layers.__all__} - {"layer:Layer", "layer:Affine", "layer:ElementWise",
                                                                  "layer:ShapeError"}
    methods = {f"method:{name}" for name in lr.methods.METHODS if name not in CAMS}
    presets = {f"composite:{name}" for name in ("EpsilonGammaBox", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
                                                "EpsilonAlpha2Beta1Flat", "Montavon2019", "Composite")}
    edges = {f"edge:{name}" for name in ("zero-denominator", "zero-input", "dead-relu", "relu-kink", "max-pool-tie",
                                         "signed-input", "explicit-top")}
    riemann = {f"riemann:{name}" for name in lr.paths.RULES}
    for wanted in (rules, options, layers, methods, presets, edges, riemann):
        assert wanted <= covers, sorted(wanted - covers)
    assert not {f"method:{name}" for name in CAMS} & covers  # no layer-wise relevance: not in the kit


def test_layer_options_are_covered(kit, manifest):
    settings_seen = []
    for name, network in manifest["networks"].items():
        with np.load(kit / network["file"], allow_pickle=False) as archive:
            settings_seen += [(layer["type"], layer["settings"]) for layer in json.loads(str(archive["document.json"]))["layers"]]
    conv = [s for t, s in settings_seen if t == "Conv2d"]
    assert any(s["stride"] != [1, 1] for s in conv) and any(s["padding"] != [0, 0] for s in conv)
    assert any(s["dilation"] != [1, 1] for s in conv) and any(s["groups"] > 1 for s in conv)
    pools = [s for t, s in settings_seen if t == "MaxPool2d"]
    assert any(s["padding"] != [0, 0] for s in pools) and any(s["dilation"] != [1, 1] for s in pools)
    assert any(s["stride"] != s["kernel_size"] for s in pools)
    averages = [s for t, s in settings_seen if t == "AvgPool2d"]
    assert {s["count_include_pad"] for s in averages if s["padding"] != [0, 0]} == {True, False}
    net = lr.serialize.load(kit / manifest["networks"]["cnn-options"]["file"])[0]
    shapes = net.shapes(manifest["networks"]["cnn-options"]["input_shape"])
    assert {len(shapes[k]) for k, layer in enumerate(net) if isinstance(layer, lr.BatchNorm)} == {1, 3}


def _edge_cases(manifest, tag):
    ids = [entry["id"] for entry in manifest["cases"] if tag in entry["covers"]]
    assert ids, f"no case tagged {tag}"
    return ids


def test_the_edge_cases_really_happen(kit, manifest):
    for case_id in _edge_cases(manifest, "edge:zero-denominator"):
        case = C.load_case(kit, case_id, manifest)
        ex = lr.explain(case.network, case.input, **case.explain_kwargs())
        assert any(np.any(D == 0) for layer in ex.layers for D in getattr(layer, "denominators", ())), case_id
    for case_id in _edge_cases(manifest, "edge:max-pool-tie"):
        case = C.load_case(kit, case_id, manifest)
        acts = case.network.record(case.input)
        pools = [(layer, acts[k]) for k, layer in enumerate(case.network) if isinstance(layer, lr.MaxPool2d)]
        assert any((layer.selection_matrix(a[n], "first") != layer.selection_matrix(a[n], "split")).nnz
                   for layer, a in pools for n in range(len(a))), case_id
    for tag, condition in [("edge:dead-relu", lambda z: np.any(np.all(z <= 0, axis=1))),
                           ("edge:relu-kink", lambda z: np.any(z == 0))]:
        for case_id in _edge_cases(manifest, tag):
            case = C.load_case(kit, case_id, manifest)
            acts = case.network.record(case.input)
            relu_inputs = [acts[k] for k, layer in enumerate(case.network) if isinstance(layer, lr.ReLU)]
            assert any(condition(z) for z in relu_inputs), (tag, case_id)
    for case_id in _edge_cases(manifest, "edge:zero-input"):
        x = C.load_case(kit, case_id, manifest).input
        assert np.any(np.all(x.reshape(len(x), -1) == 0, axis=1)), case_id
    for case_id in _edge_cases(manifest, "edge:explicit-top"):
        case = C.load_case(kit, case_id, manifest)
        assert case.target.dtype.kind == "f" and np.array_equal(case.expected[max(case.expected)], case.target)
    # unsigned ε meets z = −ε exactly (the signed form is used there)
    case = C.load_case(kit, "edge.dense.epsilon-unsigned", manifest)
    assert np.any(case.network(case.input) == -0.25)


# --------------------------------------------------------------------------- command line


def test_command_line_export_and_check(tmp_path, capsys):
    kit_dir = tmp_path / "kit"
    assert main(["conformance", "export", str(kit_dir), "--case", "lrp.lrp0.mlp", "--case", "method.ig.mlp"]) == 0
    assert "wrote 2 conformance cases" in capsys.readouterr().out
    own = {case_id: C.load_case(kit_dir, case_id).expected for case_id in ("lrp.lrp0.mlp", "method.ig.mlp")}
    results = write_folder(tmp_path / "results", own)
    assert main(["conformance", "check", str(kit_dir), "--results", str(results)]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    own["method.ig.mlp"][0] = own["method.ig.mlp"][0] + 1e-6
    write_folder(results, own)
    assert main(["conformance", "check", str(kit_dir), "--results", str(results)]) == 1
    assert "FAIL     method.ig.mlp" in capsys.readouterr().out
    assert main(["conformance", "check", str(kit_dir), "--results", str(results), "--rtol", "1e-4"]) == 0
    capsys.readouterr()
    assert main(["conformance", "check", str(kit_dir), "--results", str(tmp_path / "none")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize("rtol, atol", [(-1, None), (None, -1e-12), (float("nan"), None), (None, float("inf")),
                                        (-1, -1)])
def test_negative_nan_and_infinite_tolerances_are_refused(small_kit, tmp_path, capsys, rtol, atol):
    """``--rtol -1 --atol -1`` used to pass every wrong result: refused by ``check``, so the command line too."""
    results = write_folder(tmp_path / "wrong", {"lrp.epsilon.cnn": {0: np.zeros((2, 2, 8, 8))}})
    with pytest.raises(C.ConformanceError, match="tolerance (rtol|atol) must be a finite number >= 0"):
        C.check(small_kit, results, rtol=rtol, atol=atol, allow_missing=True)
    args = [f"--{name}={value}" for name, value in (("rtol", rtol), ("atol", atol)) if value is not None]
    assert main(["conformance", "check", str(small_kit), "--results", str(results), "--allow-missing", *args]) == 2
    assert "must be a finite number >= 0" in capsys.readouterr().err


# --------------------------------------------------------------------------- integrity, versions, changelog


def _resign(kit):
    text = (kit / "manifest.json").read_text(encoding="utf-8")
    (kit / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest())


@pytest.mark.parametrize("tamper, message", [
    ("manifest", r"manifest.json: does not match its SHA-256 in manifest.sha256"),
    ("no-digest", r"manifest.sha256: missing"),
    ("case-array", r"lrp.epsilon.cnn.npz: the entry 'relevance.0' does not match its SHA-256"),
    ("case-replaced", r"lrp.epsilon.cnn.npz: the entry 'relevance.0' does not match the manifest's SHA-256"),
    ("case-swapped", r"lrp.epsilon.cnn.npz: holds case 'method.deeplift.mlp', not 'lrp.epsilon.cnn'"),
    ("network", r"cnn.npz: network 'cnn' does not match the manifest's SHA-256"),
])
def test_a_tampered_kit_is_a_file_format_error_naming_file_and_entry(small_kit, tmp_path, tamper, message):
    kit = tmp_path / "kit"
    shutil.copytree(small_kit, kit)
    case_file = kit / "cases" / "lrp.epsilon.cnn.npz"
    if tamper == "manifest":  # a tolerance loosened by hand, without the new SHA-256
        text = (kit / "manifest.json").read_text().replace('"rtol": 1e-09', '"rtol": 0.5', 1)
        (kit / "manifest.json").write_text(text)
    elif tamper == "no-digest":
        (kit / "manifest.sha256").unlink()
    elif tamper in ("case-array", "case-replaced"):
        if tamper == "case-array":  # the numbers of one entry changed, the file's checksum table not
            with np.load(case_file, allow_pickle=False) as archive:
                entries = {key: archive[key] for key in archive.files}
            entries["relevance.0"] = entries["relevance.0"] * 1.001
            np.savez_compressed(case_file, **entries)
        else:  # a consistent file with other numbers: only the manifest's table notices
            arrays, document = read_archive(case_file)
            write_archive(case_file, dict(arrays, **{"relevance.0": arrays["relevance.0"] * 1.001}), document)
    elif tamper == "case-swapped":
        shutil.copy(kit / "cases" / "method.deeplift.mlp.npz", case_file)
    else:
        raw = bytearray((kit / "networks" / "cnn.npz").read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        (kit / "networks" / "cnn.npz").write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=message):
        C.load_case(kit, "lrp.epsilon.cnn")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_kit_loader_is_fuzzed(small_kit, tmp_path_factory, data):
    """Any damage to a kit file — flipped, cut or random bytes in the manifest, a case or a network file — is a
    ConformanceError or a FileFormatError (both ValueErrors), never another exception; damage that leaves every
    checked byte intact (a zip header's timestamp) loads exactly the original case."""
    kit = tmp_path_factory.mktemp("fuzz") / "kit"
    shutil.copytree(small_kit, kit)
    target = kit / data.draw(st.sampled_from(["manifest.json", "manifest.sha256", "cases/lrp.epsilon.cnn.npz",
                                              "networks/cnn.npz"]))
    raw = bytearray(target.read_bytes())
    how = data.draw(st.sampled_from(["flip", "cut", "random"]))
    if how == "flip":
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = bytearray(data.draw(st.binary(max_size=300)))
    target.write_bytes(bytes(raw))
    try:
        case = C.load_case(kit, "lrp.epsilon.cnn")
    except (C.ConformanceError, FileFormatError):
        return
    original = C.load_case(small_kit, "lrp.epsilon.cnn")
    assert case.entry == original.entry and case.arrays.keys() == original.arrays.keys()
    assert all(np.array_equal(case.arrays[key], original.arrays[key]) for key in case.arrays)
    assert all(np.array_equal(a.W, b.W) for a, b in zip(case.network, original.network) if hasattr(a, "W"))


def test_a_tampered_state_dict_is_refused(small_kit, tmp_path):
    from lrpref.conformance.clients import network_parameters

    kit = tmp_path / "kit"
    shutil.copytree(small_kit, kit)
    manifest = C.read_manifest(kit)
    assert set(network_parameters(kit, manifest, "cnn")) == {"0.weight", "0.bias", "3.weight", "3.bias", "7.weight",
                                                             "7.bias"}
    arrays, document = read_archive(kit / "networks" / "cnn.state_dict.npz")
    write_archive(kit / "networks" / "cnn.state_dict.npz", dict(arrays, **{"0.bias": arrays["0.bias"] + 1}), document)
    with pytest.raises(FileFormatError, match="cnn.state_dict.npz: the state_dict of network 'cnn' does not match"):
        network_parameters(kit, manifest, "cnn")


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 10) | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_the_manifest_structure_is_fuzzed(small_kit, tmp_path_factory, data):
    """A manifest edited on purpose (and re-signed) with any JSON value in any field of a case or network is either
    still a valid kit or a ConformanceError / FileFormatError — never a KeyError, TypeError or AttributeError."""
    kit = tmp_path_factory.mktemp("json-fuzz") / "kit"
    shutil.copytree(small_kit, kit)
    document = json.loads((kit / "manifest.json").read_text())
    where = data.draw(st.sampled_from(["case", "network", "top"]))
    if where == "case":
        target = document["cases"][0]
    elif where == "network":
        target = document["networks"][document["cases"][0]["network"]]
    else:
        target = document
    for _ in range(data.draw(st.integers(0, 3))):  # down into rules, methods, graphs, labels ...
        inner = [key for key, value in (target.items() if isinstance(target, dict) else enumerate(target))
                 if isinstance(value, (dict, list)) and value]
        if not inner:
            break
        target = target[data.draw(st.sampled_from(inner))]
    key = data.draw(st.sampled_from(sorted(target) if isinstance(target, dict) else range(len(target))))
    target[key] = data.draw(JSON)
    text = json.dumps(document)
    jsonschema = require("jsonschema")  # the built-in validator gives jsonschema's verdict
    assert (validate(json.loads(text)) is None) == jsonschema.Draft202012Validator(C.MANIFEST_SCHEMA).is_valid(
        json.loads(text))
    (kit / "manifest.json").write_text(text)
    (kit / "manifest.sha256").write_text(hashlib.sha256(text.encode()).hexdigest())
    try:
        manifest = C.read_manifest(kit)
        for entry in manifest["cases"]:
            C.load_case(kit, entry["id"], manifest)
    except (C.ConformanceError, FileFormatError, KeyError) as error:
        assert not isinstance(error, KeyError) or "no case" in str(error), repr(error)


def test_every_case_has_a_content_hash_and_a_reexport_lists_what_changed(small_kit, tmp_path):
    manifest = C.read_manifest(small_kit)
    assert manifest["revision"] == 3 and manifest["changelog"][-1]["added"] == sorted(i for i in C.CASE_IDS if ".residual-" in i
                                                                                     or ".dense-cnn" in i)
    assert sorted(i for revision in manifest["changelog"] for i in revision["added"]) == sorted(C.CASE_IDS)
    assert manifest["changes"] is None
    hashes = {entry["id"]: entry["content"] for entry in manifest["cases"]}
    assert len(set(hashes.values())) == len(hashes) and all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes.values())
    kit = tmp_path / "kit"
    shutil.copytree(small_kit, kit)
    document = json.loads((kit / "manifest.json").read_text())
    document["cases"][0]["content"] = "0" * 64  # as if this case had been different in the earlier kit
    document["cases"].append(dict(document["cases"][1], id="lrp.retired.mlp"))
    (kit / "manifest.json").write_text(json.dumps(document))
    C.export(kit, cases=["lrp.epsilon.cnn", "method.deeplift.mlp", "lrp.lrp0.mlp"], peers=())
    changes = C.read_manifest(kit)["changes"]
    assert changes["added"] == ["lrp.lrp0.mlp"] and changes["removed"] == ["edge.max-pool-ties.split", "lrp.retired.mlp"]
    assert changes["changed"] == [document["cases"][0]["id"]]
    again = {entry["id"]: entry["content"] for entry in C.read_manifest(kit)["cases"]}
    assert all(again[case_id] == content for case_id, content in hashes.items() if case_id in again)


def test_composites_are_structured_json_that_rebuilds_the_rules(kit, manifest):
    composites = [entry for entry in manifest["cases"] if entry["composite"] is not None]
    assert len(composites) > 10
    plain = [entry for entry in composites if entry["composite"]["preset"] is None]
    assert len(plain) >= 10
    for entry in plain:
        case = C.load_case(kit, entry["id"], manifest)
        rebuilt = C.composite_from_json(entry["composite"]).rules_for(case.network)
        assert [C.rule_to_json(rule) for rule in rebuilt] == entry["rules"], entry["id"]
    presets = {entry["composite"]["preset"] for entry in composites} - {None}
    assert presets == {"EpsilonGammaBox", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1", "EpsilonAlpha2Beta1Flat",
                       "Montavon2019"}
    with pytest.raises(ValueError, match="is the preset 'Montavon2019'"):
        C.composite_from_json(next(e for e in composites if e["composite"]["preset"] == "Montavon2019")["composite"])
    custom = next(entry for entry in composites if entry["id"] == "composite.custom.cnn")["composite"]
    assert custom["first"]["name"] == "ZBox" and custom["types"]["MaxPool2d"]["params"] == {"ties": "split", "epsilon": 0.0}
    assert next(e for e in composites if e["id"] == "preset.epsilon-plus.cnn")["composite"]["preset"] == "EpsilonPlus"


def test_the_documented_explain_call_reproduces_every_case(kit, manifest):
    for entry in manifest["cases"][::7]:
        case = C.load_case(kit, entry["id"], manifest)
        found = C.levels(lr.explain(case.network, case.input, **case.explain_kwargs()))
        assert all(np.array_equal(found[k], case.expected[k]) for k in case.expected), entry["id"]
        assert all(np.array_equal(C.levels(case.explain())[k], case.expected[k]) for k in case.expected)


# --------------------------------------------------------------------------- independent recomputation (numpy only)


def read_network(path):
    """``[(type, arrays, settings)]`` from a network file, with numpy, json and hashlib only (docs/conformance.md)."""
    with np.load(path, allow_pickle=False) as archive:
        text = str(archive["document.json"])
        assert hashlib.sha256(text.encode()).hexdigest() == str(archive["document.sha256"])
        document = json.loads(text)
        return [(layer["type"], {name: archive[key] for name, key in layer["arrays"].items()}, layer["settings"])
                for layer in document["layers"]]


def read_case(kit, case_id):
    manifest = json.loads((kit / "manifest.json").read_text())
    entry = next(e for e in manifest["cases"] if e["id"] == case_id)
    with np.load(kit / entry["file"], allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return entry, read_network(kit / manifest["networks"][entry["network"]]["file"]), arrays


def mlp_forward(layers, x):
    """Activations ``[Y^0, ..., Y^L]`` of a Dense/ReLU chain."""
    acts = [x]
    for kind, arrays, _ in layers:
        acts.append(acts[-1] @ arrays["W"].T + arrays["b"] if kind == "Dense" else np.maximum(acts[-1], 0))
    return acts


def mlp_gradients(layers, acts, g):
    """``[∂/∂Y^0, ..., ∂/∂Y^L]`` of ``g · Y^L`` (ReLU'(0) = 0)."""
    grads = [g]
    for (kind, arrays, _), a in zip(reversed(layers), reversed(acts[:-1])):
        grads.insert(0, grads[0] @ arrays["W"] if kind == "Dense" else grads[0] * (a > 0))
    return grads


def one_hot(target, k):
    return np.eye(k)[target]


def sgn0(z):
    return np.where(z >= 0, 1.0, -1.0)


def safe_divide(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def lrp_levels(layers, acts, top, dense_rule):
    """``{k: R(Y^k)}`` with ``dense_rule(a, W, b, R) -> R_in`` on Dense layers and pass-through on ReLU."""
    R, found = top, {len(layers): top}
    for k in reversed(range(len(layers))):
        kind, arrays, _ = layers[k]
        R = dense_rule(acts[k], arrays["W"], arrays["b"], R) if kind == "Dense" else R
        found[k] = R
    return found


def assert_levels(found, arrays, rtol=1e-12):
    for k, R in found.items():
        expected = arrays[f"relevance.{k}"]
        np.testing.assert_allclose(R, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_lrp_epsilon_recomputed_from_the_spec(kit):
    """LRP-ε (spec §3.2): R_i = a_i sum_j w_ji R_j / (z_j + ε sgn0(z_j)), top e_c ⊙ Z."""
    entry, layers, arrays = read_case(kit, "lrp.epsilon.mlp")
    eps = entry["rules"][0]["params"]["epsilon"]
    acts = mlp_forward(layers, arrays["input"])
    np.testing.assert_allclose(acts[-1], arrays["output"], rtol=1e-13)
    top = one_hot(arrays["target"], acts[-1].shape[1]) * acts[-1]

    def epsilon(a, W, b, R):
        z = a @ W.T + b
        return a * ((R / (z + eps * sgn0(z))) @ W)

    assert_levels(lrp_levels(layers, acts, top, epsilon), arrays)


def test_lrp_alpha2_beta1_recomputed_from_the_spec(kit):
    """LRP-αβ (spec §3.4): R_i = sum_j (α z⁺_ji / z⁺_j − β z⁻_ji / z⁻_j) R_j with z±_j = sum_i z±_ji + b±_j."""
    _, layers, arrays = read_case(kit, "lrp.alpha2-beta1.mlp")
    acts = mlp_forward(layers, arrays["input"])
    top = one_hot(arrays["target"], acts[-1].shape[1]) * acts[-1]

    def alpha_beta(a, W, b, R, alpha=2.0, beta=1.0):
        z = a[:, None, :] * W[None]  # (N, out, in): z_ji = a_i w_ji
        zp = np.maximum(z, 0).sum(2) + np.maximum(b, 0)
        zn = np.minimum(z, 0).sum(2) + np.minimum(b, 0)
        return (alpha * np.maximum(z, 0) * safe_divide(R, zp)[:, :, None]
                - beta * np.minimum(z, 0) * safe_divide(R, zn)[:, :, None]).sum(1)

    assert_levels(lrp_levels(layers, acts, top, alpha_beta), arrays)


def test_zero_denominators_and_the_unsigned_fallback_recomputed(kit):
    """Spec §3.1 (d) safe division and §3.2 (d): S = z + ε, the signed form where that is exactly 0."""
    _, layers, arrays = read_case(kit, "edge.dense.lrp0")
    (_, p, _), = layers
    x, top = arrays["input"], arrays["target"]
    z = x @ p["W"].T + p["b"]
    assert_levels({0: x * (safe_divide(top, z) @ p["W"]), 1: top}, arrays)
    _, _, arrays = read_case(kit, "edge.dense.epsilon-unsigned")
    S = np.where(z + 0.25 != 0, z + 0.25, z + 0.25 * sgn0(z))
    assert_levels({0: x * ((top / S) @ p["W"]), 1: top}, arrays)


def test_max_pool_ties_recomputed(kit):
    """Spec §3.9 on exact ties: all of R_j to the first maximum, or split equally; padding never wins."""
    def pool(x, k, s, p):
        padded = np.pad(x, ((0, 0), (p, p), (p, p)), constant_values=-np.inf)
        out = (x.shape[1] + 2 * p - k) // s + 1, (x.shape[2] + 2 * p - k) // s + 1
        windows = [[padded[:, i * s:i * s + k, j * s:j * s + k] for j in range(out[1])] for i in range(out[0])]
        return padded, windows

    def route(x, R, k, s, p, ties):
        padded, windows = pool(x, k, s, p)
        R_in = np.zeros_like(padded)
        for i, row in enumerate(windows):
            for j, w in enumerate(row):
                for c in range(x.shape[0]):
                    winners = np.argwhere(w[c] == w[c].max())
                    share = winners[:1] if ties == "first" else winners
                    for u, v in share:
                        R_in[c, i * s + u, j * s + v] += R[c, i, j] / len(share)
        return R_in[:, p:p + x.shape[1], p:p + x.shape[2]]

    for ties in ("first", "split"):
        _, layers, arrays = read_case(kit, f"edge.max-pool-ties.{ties}")
        dense = layers[3][1]
        for n, x in enumerate(arrays["input"]):
            _, first_windows = pool(x, 3, 1, 1)
            y1 = np.array([[w.max(axis=(1, 2)) for w in row] for row in first_windows]).transpose(2, 0, 1)
            _, second_windows = pool(y1, 2, 2, 0)
            y2 = np.array([[w.max(axis=(1, 2)) for w in row] for row in second_windows]).transpose(2, 0, 1)
            z = dense["W"] @ y2.ravel() + dense["b"]
            top = np.eye(len(z))[arrays["target"][n]] * z
            R2 = (y2.ravel() * (safe_divide(top, z) @ dense["W"])).reshape(y2.shape)
            R1 = route(y1, R2, 2, 2, 0, ties)
            R0 = route(x, R1, 3, 1, 1, ties)
            for k, R in ((0, R0), (1, R1), (2, R2)):
                np.testing.assert_allclose(R, arrays[f"relevance.{k}"][n], rtol=1e-13, atol=1e-13)


def test_deeplift_rescale_recomputed(kit):
    """Spec §4 (b1, b2): multipliers W (Dense) and Δy/Δx (ReLU; the derivative at the reference where |Δx| < 1e-7)."""
    entry, layers, arrays = read_case(kit, "method.deeplift-reference.mlp")
    acts = mlp_forward(layers, arrays["input"])
    refs = mlp_forward(layers, np.broadcast_to(arrays[entry["method"]["reference"]], arrays["input"].shape))
    g = one_hot(arrays["target"], acts[-1].shape[1])
    found = {len(layers): g * (acts[-1] - refs[-1])}
    for k in reversed(range(len(layers))):
        kind, p, _ = layers[k]
        if kind == "Dense":
            g = g @ p["W"]
        else:
            dx, dy = acts[k] - refs[k], acts[k + 1] - refs[k + 1]
            near = np.abs(dx) < 1e-7
            g = g * np.where(near, refs[k] > 0, dy / np.where(near, 1, dx))
        found[k] = g * (acts[k] - refs[k])
    assert_levels(found, arrays)


def test_integrated_gradients_recomputed(kit):
    """Spec §5: R(Y^l) = (sum_k w_k ∂Z_c/∂Y^l at x̂ + t_k (x − x̂)) ⊙ ΔY^l, with the kit's quadrature."""
    entry, layers, arrays = read_case(kit, "method.ig-midpoint.mlp")
    x, ref = arrays["input"], np.broadcast_to(arrays["reference"], arrays["input"].shape)
    acts, refs = mlp_forward(layers, x), mlp_forward(layers, ref)
    e = one_hot(arrays["target"], acts[-1].shape[1])
    average = [0.0] * (len(layers) + 1)
    for t, w in zip(arrays["quadrature.t"], arrays["quadrature.w"]):
        point = ref + t * (x - ref)
        average = [s + w * g for s, g in zip(average, mlp_gradients(layers, mlp_forward(layers, point), e))]
    assert entry["method"]["riemann"] == "midpoint"
    np.testing.assert_allclose(arrays["quadrature.t"], (np.arange(7) + 0.5) / 7)
    assert_levels({k: average[k] * (acts[k] - refs[k]) for k in range(len(layers) + 1)}, arrays)


def test_smoothgrad_recomputed_from_the_stored_noise(kit):
    """R(Y^l) = mean_k ∂Z_c/∂Y^l at x + σ ε_k, σ = noise · (max x − min x) per sample, ε_k the stored draws."""
    entry, layers, arrays = read_case(kit, "method.smoothgrad.mlp")
    x = arrays["input"]
    sigma = entry["method"]["options"]["noise"] * (x.max(1) - x.min(1))[:, None]
    e = one_hot(arrays["target"], arrays["output"].shape[1])
    grads = [mlp_gradients(layers, mlp_forward(layers, x + sigma * eps), e) for eps in arrays["smoothgrad.noise"]]
    assert_levels({k: np.mean([g[k] for g in grads], axis=0) for k in range(len(layers) + 1)}, arrays)
