"""Writing and reading a conformance kit: ``manifest.json``, ``networks/*.npz``, ``cases/*.npz`` (``docs/conformance.md``).

``export(directory)`` builds every case of :mod:`.catalogue`, runs lrpref on it (float64) and
writes the network (the :mod:`lrpref.serialize` format), the inputs, the target, whatever the
method needs (reference, quadrature, noise) and the expected relevance at every level
``relevance.{k}`` = ``R(Y^k)`` (``Y^0`` the input, ``Y^L`` the output), plus a JSON manifest
that describes each case completely. Everything is read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

from .. import methods, serialize
from ..composites import Composite
from ..explain import explain
from ..paths import quadrature
from .catalogue import CASES, NETWORKS, build_network, explicit_top, inputs
from .describe import composite_to_json, method_to_json, rule_from_json, rule_to_json

__all__ = ["FORMAT", "VERSION", "DEFAULT_TOLERANCE", "MANIFEST_SCHEMA", "ConformanceError", "Case", "export",
           "read_manifest", "load_case", "case_arrays", "levels", "read_npz"]

FORMAT = "lrpref-conformance"
VERSION = 1
DEFAULT_TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
COMPARISON = ("a level passes when |candidate - expected| <= atol + rtol * max|expected| for every entry, the maximum "
              "taken over the entries of the same sample at that level")
CASE_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
LRP_BASED = ("lrp", "clrp") + tuple(methods.LRP_TOPS)
PATH_METHODS = ("lid-ig", "sig-lid-taylor", "sig-lid-ig", "sig-lrp-0", "ig")


class ConformanceError(ValueError):
    """A malformed kit, manifest or results file (the message names the file and what is wrong)."""


# --------------------------------------------------------------------------- relevance levels


def levels(explanation) -> dict[int, np.ndarray]:
    """``{k: R(Y^k)}``: the relevance of every layer's input and, at ``k = L``, of the network output.

    CLRP's map is not a layer-wise relevance: only level 0 (the contrastive map) is given.
    """
    if explanation.method == "clrp":
        return {0: explanation.relevance}
    found = {k: layer.relevance_in for k, layer in enumerate(explanation.layers)}
    found[len(explanation.layers)] = explanation.layers[-1].relevance_out
    return found


# --------------------------------------------------------------------------- export


def _covers(spec, net, rules, composite, quadrature_used) -> list[str]:
    """Tags of what a case exercises: layer types, rules and their options, method, edge cases."""
    tags = {f"layer:{type(layer).__name__}" for layer in net} | {f"method:{spec.method}", f"target:{spec.target}"}
    tags |= set(spec.edges)
    for record in rules or ():
        tags |= _rule_tags(record)
    if composite:
        tags.add(f"composite:{composite['name'].split('(')[0]}")
    if quadrature_used:
        tags.add(f"riemann:{spec.riemann}")
    tags |= {f"option:{key}={value}" for key, value in spec.options.items() if key != "random_state"}
    return sorted(tags)


def _rule_tags(record) -> set:
    name, params = record["name"], record["params"]
    tags = {f"rule:{name}"} | {f"rule:{name}({key}={value})" for key, value in params.items() if isinstance(value, (str, bool))}
    if record["kind"] == "linear" and name != "Epsilon" and record["stabiliser"]["epsilon"] > 0:
        tags.add(f"rule:{name}(epsilon>0)")
    if name == "Proportional":
        tags |= {f"rule:Proportional({tag[5:]})" for tag in _rule_tags(params["rule"])}
    return tags


def _explain_spec(spec, net, x, target):
    kwargs = {"target": target, "method": spec.method, **spec.options}
    if spec.rule is not None:
        kwargs["rule"] = spec.rule
    if spec.reference is not None:
        kwargs["reference"] = spec.reference
    if spec.steps is not None:
        kwargs["steps"] = spec.steps
    if spec.riemann != "right":
        kwargs["riemann"] = spec.riemann
    return explain(net, x, **kwargs)


def _export_case(spec, net, directory) -> dict:
    x = inputs(spec.network, spec.inputs)
    output = net(x)
    target = np.arange(len(x)) % output.shape[1] if spec.target == "class" else explicit_top(spec.network, output.shape)
    ex = _explain_spec(spec, net, x, target)
    arrays = {"input": x, "target": target, "output": output}
    if "reference" in ex.extras:
        arrays["reference"] = ex.extras["reference"]
    path_used = spec.method in PATH_METHODS
    if path_used:
        if spec.steps is None:
            raise ValueError(f"case {spec.id}: {spec.method} integrates along a path; give its steps")
        arrays["quadrature.t"], arrays["quadrature.w"] = quadrature(spec.steps, spec.riemann)
    if spec.method == "smoothgrad":  # the draws methods.smoothgrad makes from random_state, for other frameworks
        rng = np.random.default_rng(spec.options["random_state"])
        arrays["smoothgrad.noise"] = np.stack([rng.standard_normal(size=x.shape) for _ in range(spec.steps)])
    found = levels(ex)
    arrays.update({f"relevance.{k}": value for k, value in found.items()})
    rules = [rule_to_json(record.rule) for record in ex.layers] if spec.method in LRP_BASED else None
    composite = composite_to_json(spec.rule) if isinstance(spec.rule, Composite) else None
    method = method_to_json(spec.method, steps=spec.steps, riemann=spec.riemann, options=spec.options,
                            reference="reference" in arrays, quadrature=path_used, noise="smoothgrad.noise" in arrays,
                            explicit_top=spec.target == "relevance")
    np.savez_compressed(directory / "cases" / f"{spec.id}.npz", **arrays)
    return {"id": spec.id, "file": f"cases/{spec.id}.npz", "network": spec.network, "description": spec.description,
            "covers": _covers(spec, net, rules, composite, path_used), "batch": len(x), "target": spec.target,
            "method": method, "rules": rules, "composite": composite, "levels": sorted(found),
            "tolerance": dict(DEFAULT_TOLERANCE)}


def _prepare(directory: Path) -> None:
    """Create the folders; refuse a non-empty folder that is not a kit; clear the case files of an old kit."""
    if directory.exists() and any(directory.iterdir()):
        manifest = directory / "manifest.json"
        try:
            is_kit = json.loads(manifest.read_text(encoding="utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            is_kit = False
        if not is_kit:
            raise ConformanceError(f"{directory} is not empty and holds no conformance kit; export into an empty folder")
        for old in [*directory.glob("cases/*.npz"), *directory.glob("networks/*.npz")]:
            old.unlink()
    for sub in ("cases", "networks"):
        (directory / sub).mkdir(parents=True, exist_ok=True)


def _selected(cases):
    if cases is None:
        return CASES
    wanted = set(cases)
    unknown = wanted - {spec.id for spec in CASES}
    if unknown:
        raise ValueError(f"unknown case id(s) {sorted(unknown)}; the kit has {len(CASES)} cases (lrpref.conformance.CASE_IDS)")
    return [spec for spec in CASES if spec.id in wanted]


def export(directory, cases=None) -> Path:
    """Write the conformance kit to ``directory`` and return the path of its ``manifest.json``.

    ``cases``: case ids to export (default all). The folder must be empty, new, or an earlier
    kit (whose files are replaced). The same lrpref version on the same platform writes the
    same bytes.
    """
    from .. import __version__

    directory = Path(directory)
    specs = _selected(cases)
    _prepare(directory)
    networks, manifest_networks = {}, {}
    for name in sorted({spec.network for spec in specs}):
        net = networks[name] = build_network(name)
        in_shape = inputs(name, next(spec.inputs for spec in specs if spec.network == name)).shape[1:]
        serialize.save(net, directory / "networks" / f"{name}.npz", meta={"name": name, "description": NETWORKS[name][1]})
        manifest_networks[name] = {"file": f"networks/{name}.npz", "description": NETWORKS[name][1],
                                   "input_shape": list(in_shape), "output_shape": list(net.shapes(in_shape)[-1]),
                                   "layers": [layer.describe() for layer in net]}
    entries = [_export_case(spec, networks[spec.network], directory) for spec in specs]
    manifest = {"format": FORMAT, "version": VERSION, "generator": f"lrpref {__version__}", "dtype": "float64",
                "tolerance": dict(DEFAULT_TOLERANCE), "comparison": COMPARISON, "networks": manifest_networks,
                "cases": entries}
    _write_json(directory / "manifest.schema.json", MANIFEST_SCHEMA)
    return _write_json(directory / "manifest.json", manifest)


def _write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- reading


def read_npz(path, what: str) -> dict:
    """Every array of an ``.npz`` file, loaded with ``allow_pickle=False``; a ConformanceError names what is wrong."""
    if not Path(path).is_file():
        raise ConformanceError(f"{what} {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ConformanceError(f"{what} {path}: not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ConformanceError(f"{what} {path}: holds an object array, which would need unpickling; "
                                   f"store plain numeric arrays") from None
        raise ConformanceError(f"{what} {path}: not a readable .npz file ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ConformanceError(f"{what} {path}: not a readable .npz file ({error})") from None


def _require(condition, where, message):
    if not condition:
        raise ConformanceError(f"{where}: {message}")


def _check_tolerance(tolerance, where):
    _require(isinstance(tolerance, dict) and set(tolerance) == {"rtol", "atol"}, where,
             f"tolerance must be {{\"rtol\": number, \"atol\": number}}, got {tolerance!r}")
    for key, value in tolerance.items():
        _require(isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0, where,
                 f"tolerance {key} must be a number >= 0, got {value!r}")


def _inside(directory, relative, where) -> Path:
    _require(isinstance(relative, str) and relative and not Path(relative).is_absolute()
             and ".." not in Path(relative).parts, where, f"file must be a relative path inside the kit, got {relative!r}")
    return directory / relative


def _check_case(entry, position, networks, seen, where):
    _require(isinstance(entry, dict), where, f"case {position} is a {type(entry).__name__}, not an object")
    case_id = entry.get("id")
    _require(isinstance(case_id, str) and CASE_ID.match(case_id), where,
             f"case {position} has id {case_id!r}; ids are lower-case letters, digits, '.' and '-'")
    where = f"{where}: case {case_id!r}"
    _require(case_id not in seen, where, "the id appears twice")
    seen.add(case_id)
    required = ("file", "network", "description", "covers", "batch", "target", "method", "rules", "composite", "levels",
                "tolerance")
    missing = [key for key in required if key not in entry]
    _require(not missing, where, f"missing field(s) {missing}")
    _require(entry["network"] in networks, where, f"network {entry['network']!r} is not in the manifest's networks")
    depth = len(networks[entry["network"]]["layers"])
    _require(entry["target"] in ("class", "relevance"), where, f"target must be 'class' or 'relevance', got {entry['target']!r}")
    found = entry["levels"]
    _require(isinstance(found, list) and found and all(isinstance(k, int) and 0 <= k <= depth for k in found)
             and 0 in found, where, f"levels must be a list of integers from 0 to {depth} (the network's layers) "
                                    f"that includes 0, got {found!r}")
    method = entry["method"]
    _require(isinstance(method, dict) and method.get("name") in methods.METHODS, where,
             f"method must be an object whose name is one of {methods.METHODS}")
    _require(entry["rules"] is None or isinstance(entry["rules"], list), where, "rules must be null or a list (one per layer)")
    _check_tolerance(entry["tolerance"], where)


def read_manifest(directory) -> dict:
    """The validated manifest of a kit (a ConformanceError says what is wrong and where)."""
    directory = Path(directory)
    path = directory / "manifest.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConformanceError(f"{directory}: no manifest.json; is this a conformance kit (lrpref conformance export)?") from None
    except (OSError, ValueError) as error:
        raise ConformanceError(f"{path}: not valid JSON ({error})") from None
    where = str(path)
    _require(isinstance(document, dict), where, "the manifest must be a JSON object")
    _require(document.get("format") == FORMAT, where, f"format is {document.get('format')!r}, expected {FORMAT!r}")
    _require(document.get("version") == VERSION, where,
             f"version {document.get('version')!r} is not supported (this lrpref reads version {VERSION})")
    _check_tolerance(document.get("tolerance"), where)
    networks = document.get("networks")
    _require(isinstance(networks, dict) and all(isinstance(n, dict) and isinstance(n.get("file"), str)
                                                and isinstance(n.get("layers"), list) for n in networks.values()),
             where, "networks must be an object of {name: {\"file\": ..., \"layers\": [...], ...}}")
    cases = document.get("cases")
    _require(isinstance(cases, list) and cases, where, "cases must be a non-empty list")
    seen = set()
    for position, entry in enumerate(cases):
        _check_case(entry, position, networks, seen, where)
    return document


class Case:
    """One case of a kit, read back: its manifest ``entry``, ``network`` (an lrpref Sequential) and ``arrays``.

    ``input``, ``target`` and ``expected`` (``{k: R(Y^k)}``) come from the case file; ``rules``
    rebuilds the per-layer lrpref rules from their records; ``explain_kwargs()`` are the
    arguments of :func:`lrpref.explain` that reproduce the case.
    """

    def __init__(self, entry: dict, network, arrays: dict):
        self.id = entry["id"]
        self.entry = entry
        self.network = network
        self.arrays = arrays

    @property
    def input(self) -> np.ndarray:
        return self.arrays["input"]

    @property
    def target(self) -> np.ndarray:
        return self.arrays["target"]

    @property
    def expected(self) -> dict[int, np.ndarray]:
        return {k: self.arrays[f"relevance.{k}"] for k in self.entry["levels"]}

    @property
    def rules(self):
        records = self.entry["rules"]
        return None if records is None else [rule_from_json(record) for record in records]

    def explain_kwargs(self) -> dict:
        method = self.entry["method"]
        kwargs = {"target": self.target, "method": method["name"], **method["options"]}
        if self.rules is not None:
            kwargs["rule"] = self.rules
        if method["reference"]:
            kwargs["reference"] = self.arrays[method["reference"]]
        if method["steps"] is not None:
            kwargs["steps"] = method["steps"]
        if method["riemann"]:
            kwargs["riemann"] = method["riemann"]
        return kwargs

    def __repr__(self):
        return f"<conformance Case {self.id}: {self.entry['description']}>"


def load_case(directory, case_id: str, manifest: dict | None = None) -> Case:
    """Case ``case_id`` of the kit in ``directory`` (pass ``manifest`` from :func:`read_manifest` to skip re-reading it)."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    entry = next((case for case in manifest["cases"] if case["id"] == case_id), None)
    if entry is None:
        raise KeyError(f"no case {case_id!r} in {directory}")
    where = f"{directory / 'manifest.json'}: case {case_id!r}"
    network_file = _inside(directory, manifest["networks"][entry["network"]]["file"], where)
    try:
        network, _ = serialize.load(network_file)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConformanceError(f"network file {network_file}: {error}") from None
    return Case(entry, network, case_arrays(directory, entry))


def case_arrays(directory, entry: dict) -> dict:
    """The arrays of a case file, checked for ``input``, ``target`` and every expected level."""
    directory = Path(directory)
    path = _inside(directory, entry["file"], f"{directory / 'manifest.json'}: case {entry['id']!r}")
    arrays = read_npz(path, f"case {entry['id']!r}:")
    needed = ["input", "target"] + [f"relevance.{k}" for k in entry["levels"]]
    missing = [key for key in needed if key not in arrays]
    _require(not missing, str(path), f"missing array(s) {missing}")
    return arrays


# --------------------------------------------------------------------------- the manifest schema (JSON Schema 2020-12)


def _object(required, properties, **extra):
    return {"type": "object", "required": list(required), "properties": properties, **extra}


_NUMBER_OR_ARRAY = {"anyOf": [{"type": "number"}, {"type": "array"}]}
_MODIFIER = _object(["kind"], {"kind": {"enum": ["identity", "positive", "negative", "gamma_up", "gamma_down", "square", "ones"]},
                               "gamma": {"type": "number", "minimum": 0}}, additionalProperties=False)
_INPUT = _object(["kind"], {"kind": {"enum": ["identity", "positive", "negative", "ones", "constant"]},
                            "value": _NUMBER_OR_ARRAY}, additionalProperties=False)
_TOLERANCE = _object(["rtol", "atol"], {"rtol": {"type": "number", "minimum": 0}, "atol": {"type": "number", "minimum": 0}},
                     additionalProperties=False)
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 1}}

MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "lrpref conformance kit manifest, version 1",
    "$defs": {
        "tolerance": _TOLERANCE,
        "modifier": _MODIFIER,
        "input": _INPUT,
        "group": _object(["coefficient", "where", "terms", "bias"], {
            "coefficient": {"type": "number"},
            "where": {"enum": [None, "positive", "negative"]},
            "terms": {"type": "array", "minItems": 1, "items": _object(["input", "weight"], {
                "input": {"$ref": "#/$defs/input"}, "weight": {"$ref": "#/$defs/modifier"}})},
            "bias": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/modifier"}]}}),
        "rule": _object(["name", "kind", "lrpref", "params", "peers"], {
            "name": {"enum": ["LRP0", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "WSquare", "Flat", "Pass",
                              "WinnerTakesAll", "Proportional"]},
            "kind": {"enum": ["linear", "pass", "max-pool-winner", "max-pool-proportional"]},
            "lrpref": {"type": "string"},
            "params": {"type": "object"},
            "groups": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/group"}},
            "stabiliser": _object(["epsilon", "sign", "scale"], {
                "epsilon": {"type": "number", "minimum": 0}, "sign": {"enum": ["signed", "unsigned", "zeros"]},
                "scale": {"enum": ["fixed", "rms"]}}),
            "formula": {"type": "string"},
            "peers": {"type": "object", "additionalProperties": {"type": "string"}}},
            allOf=[{"if": {"properties": {"kind": {"const": "linear"}}},
                    "then": {"required": ["groups", "stabiliser", "formula"]}}]),
        "method": _object(["name", "spec", "top", "propagation", "steps", "riemann", "options", "reference", "quadrature",
                           "noise"], {
            "name": {"type": "string"}, "spec": {"type": "string"}, "top": {"type": "string"},
            "propagation": {"type": "string"}, "steps": {"type": ["integer", "null"], "minimum": 1},
            "riemann": {"enum": [None, "right", "left", "midpoint", "trapezoid", "gauss-legendre"]},
            "options": {"type": "object"}, "reference": {"enum": [None, "reference"]},
            "quadrature": {"anyOf": [{"type": "null"}, {"const": ["quadrature.t", "quadrature.w"]}]},
            "noise": {"enum": [None, "smoothgrad.noise"]}}),
        "network": _object(["file", "description", "input_shape", "output_shape", "layers"], {
            "file": {"type": "string", "pattern": "^networks/[a-z0-9][a-z0-9.-]*\\.npz$"},
            "description": {"type": "string"}, "input_shape": _SHAPE, "output_shape": _SHAPE,
            "layers": {"type": "array", "items": {"type": "string"}}}),
        "case": _object(["id", "file", "network", "description", "covers", "batch", "target", "method", "rules",
                         "composite", "levels", "tolerance"], {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]*$"},
            "file": {"type": "string", "pattern": "^cases/[a-z0-9][a-z0-9.-]*\\.npz$"},
            "network": {"type": "string"}, "description": {"type": "string"},
            "covers": {"type": "array", "items": {"type": "string"}},
            "batch": {"type": "integer", "minimum": 1}, "target": {"enum": ["class", "relevance"]},
            "method": {"$ref": "#/$defs/method"},
            "rules": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/rule"}}]},
            "composite": {"anyOf": [{"type": "null"}, _object(["name", "peers"], {
                "name": {"type": "string"}, "peers": {"type": "object", "additionalProperties": {"type": "string"}}})]},
            "levels": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}, "contains": {"const": 0}},
            "tolerance": {"$ref": "#/$defs/tolerance"}}),
    },
    **_object(["format", "version", "generator", "dtype", "tolerance", "comparison", "networks", "cases"], {
        "format": {"const": FORMAT}, "version": {"const": VERSION}, "generator": {"type": "string"},
        "dtype": {"const": "float64"}, "tolerance": {"$ref": "#/$defs/tolerance"}, "comparison": {"type": "string"},
        "networks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/network"}},
        "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}}}),
}
