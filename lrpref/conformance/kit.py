"""Writing and reading a conformance kit: ``manifest.json``, ``networks/*.npz``, ``cases/*.npz`` (``docs/conformance.md``).

``export(directory)`` builds every case of :mod:`.catalogue`, runs lrpref on it (float64) and
writes the network (the :mod:`lrpref.serialize` format), the inputs, the target, whatever the
method needs (reference, quadrature, noise) and the expected relevance at every level
``relevance.{k}`` = ``R(Y^k)`` (``Y^0`` the input, ``Y^L`` the output), plus a JSON manifest
that describes each case completely. Everything is read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from .. import methods, serialize
from .._progress import progress
from .._integrity import FileFormatError, array_digest, read_archive, write_archive
from ..composites import Composite
from ..explain import explain
from ..paths import quadrature
from .catalogue import CASES, CHANGELOG, NETWORKS, REVISION, build_network, explicit_top, inputs
from .describe import composite_to_json, method_to_json, rule_from_json, rule_to_json
from .graph import graph, onnx_model, state_dict
from .schema import FORMAT, MANIFEST_SCHEMA, VERSION, validate

__all__ = ["FORMAT", "VERSION", "DEFAULT_TOLERANCE", "MANIFEST_SCHEMA", "ConformanceError", "Case", "export",
           "read_manifest", "load_case", "case_arrays", "levels", "read_npz"]

CASE_FORMAT = "lrpref-conformance-case"
MANIFEST_DIGEST = "manifest.sha256"
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
    """``{k: R(Y^k)}``: the relevance of every tensor — the input (``k = 0``), the output of node ``k - 1``, and at
    ``k = L`` the network output. In a chain, level ``k`` is layer ``k``'s input; in a graph a tensor read by several
    nodes has the sum of what they sent.

    CLRP's map is not a layer-wise relevance: only level 0 (the contrastive map) is given.
    """
    if explanation.method == "clrp":
        return {0: explanation.relevance}
    return {k: explanation.tensor_relevance(k) for k in range(len(explanation.layers) + 1)}


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


def _export_network(directory, name, net, in_shape) -> dict:
    """Write the network three ways (lrpref file, PyTorch state_dict, ONNX) and return its manifest entry."""
    description = NETWORKS[name][1]
    files = {"file": f"networks/{name}.npz", "state_dict": f"networks/{name}.state_dict.npz",
             "onnx": f"networks/{name}.onnx"}
    serialize.save(net, directory / files["file"], meta={"name": name, "description": description})
    nodes = graph(net, in_shape)
    write_archive(directory / files["state_dict"], state_dict(net),
                  {"format": "lrpref-conformance-state-dict", "network": name})
    try:
        (directory / files["onnx"]).write_bytes(onnx_model(nodes, state_dict(net), name).SerializeToString())
    except ImportError:  # onnx is an optional extra; without it the kit has no ONNX files
        files["onnx"] = None
    digests = {key: _file_digest(directory / relative) for key, relative in files.items() if relative is not None}
    return {**files, "sha256": digests, "description": description, "input_shape": list(in_shape),
            "output_shape": list(net.shapes(in_shape)[-1]), "layers": [layer.describe() for layer in net], "graph": nodes}


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
    write_archive(directory / "cases" / f"{spec.id}.npz", arrays, {"format": CASE_FORMAT, "case": spec.id})
    return {"id": spec.id, "file": f"cases/{spec.id}.npz", "network": spec.network, "description": spec.description,
            "covers": _covers(spec, net, rules, composite, path_used), "batch": len(x), "target": spec.target,
            "method": method, "rules": rules, "composite": composite, "levels": sorted(found),
            "tolerance": dict(DEFAULT_TOLERANCE), "sha256": {key: array_digest(value) for key, value in arrays.items()}}


def _content_hash(entry: dict, nodes: dict, parameters: dict) -> str:
    """SHA-256 of what a case is: its manifest entry (without labels and hashes), its arrays, its network's graph and
    parameters (their values, not the bytes of the files, which depend on the zip and ONNX writers)."""
    core = {key: value for key, value in entry.items() if key not in ("peers", "sha256", "content")}
    document = {"entry": core, "arrays": entry["sha256"], "graph": nodes,
                "parameters": {key: array_digest(value) for key, value in parameters.items()}}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_file(path: Path, digest: str, what: str) -> None:
    """Refuse a kit file whose SHA-256 is not the manifest's (a :class:`FileFormatError` naming file and entry)."""
    if not Path(path).is_file():
        raise ConformanceError(f"{what} {path}: no such file")
    if _file_digest(Path(path)) != digest:
        raise FileFormatError(f"{path}: {what} does not match the manifest's SHA-256 (the file was changed or damaged)")


def _changes(old: dict | None, entries: list) -> dict | None:
    """What changed since the kit that was in the folder: case ids added, removed, and changed in content."""
    if old is None:
        return None
    before = {case.get("id"): case.get("content") for case in old.get("cases", []) if isinstance(case, dict)}
    after = {entry["id"]: entry["content"] for entry in entries}
    return {"since": old.get("generator"), "revision": old.get("revision"),
            "added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(k for k in set(after) & set(before) if before[k] != after[k])}


def _prepare(directory: Path) -> dict | None:
    """Create the folders; refuse a non-empty folder that is not a kit; clear the case files of an old kit
    and return its manifest (for the record of what changed)."""
    old = None
    if directory.exists() and any(directory.iterdir()):
        manifest = directory / "manifest.json"
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
            is_kit = old.get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            is_kit = False
        if not is_kit:
            raise ConformanceError(f"{directory} is not empty and holds no conformance kit; export into an empty folder")
        for old_file in [*directory.glob("cases/*.npz"), *directory.glob("networks/*.npz"), *directory.glob("networks/*.onnx")]:
            old_file.unlink()
    for sub in ("cases", "networks"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return old


def _selected(cases):
    if cases is None:
        return CASES
    wanted = set(cases)
    unknown = wanted - {spec.id for spec in CASES}
    if unknown:
        raise ValueError(f"unknown case id(s) {sorted(unknown)}; the kit has {len(CASES)} cases (lrpref.conformance.CASE_IDS)")
    return [spec for spec in CASES if spec.id in wanted]


def export(directory, cases=None, peers="auto") -> Path:
    """Write the conformance kit to ``directory`` and return the path of its ``manifest.json``.

    ``cases``: case ids to export (default all). ``peers``: the peers whose labels are generated by
    running them on every case (:mod:`lrpref.conformance.labels`): ``"auto"`` (zennit and captum when
    they and torch are installed), a tuple of names, or ``()`` for none. The folder must be empty,
    new, or an earlier kit (whose files are replaced; the manifest's ``changes`` then lists the case
    ids added, removed and changed since). The same lrpref version on the same platform writes the
    same bytes.
    """
    from .. import __version__
    from .labels import GENERATED, generate

    directory = Path(directory)
    specs = _selected(cases)
    old = _prepare(directory)
    networks, manifest_networks = {}, {}
    for name in sorted({spec.network for spec in specs}):
        net = networks[name] = build_network(name)
        in_shape = inputs(name, next(spec.inputs for spec in specs if spec.network == name)).shape[1:]
        manifest_networks[name] = _export_network(directory, name, net, in_shape)
    entries = [_export_case(spec, networks[spec.network], directory) for spec in progress(specs, "conformance cases")]
    for entry in entries:
        entry["content"] = _content_hash(entry, manifest_networks[entry["network"]]["graph"],
                                         state_dict(networks[entry["network"]]))
    manifest = {"format": FORMAT, "version": VERSION, "generator": f"lrpref {__version__}", "revision": REVISION,
                "changelog": CHANGELOG, "changes": _changes(old, entries), "dtype": "float64",
                "tolerance": dict(DEFAULT_TOLERANCE), "comparison": COMPARISON, "networks": manifest_networks,
                "cases": entries}
    if peers == "auto":
        peers = tuple(peer for peer in GENERATED if _installed(peer))
    labels = generate(directory, manifest, peers)
    for entry in entries:
        entry["peers"] = labels[entry["id"]]
    _write_json(directory / "manifest.schema.json", MANIFEST_SCHEMA)
    path = _write_json(directory / "manifest.json", manifest)
    (directory / MANIFEST_DIGEST).write_text(_file_digest(path) + "\n", encoding="utf-8")
    return path


def _installed(package: str) -> bool:
    from importlib.util import find_spec

    return find_spec(package) is not None and find_spec("torch") is not None


def _write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
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


def check_tolerance(tolerance, where):
    """Refuse a tolerance that is not ``{"rtol": r, "atol": a}`` with finite numbers ``>= 0`` (NaN and inf included)."""
    _require(isinstance(tolerance, dict) and set(tolerance) == {"rtol", "atol"}, where,
             f"tolerance must be {{\"rtol\": number, \"atol\": number}}, got {tolerance!r}")
    for key, value in tolerance.items():
        _require(isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))
                 and np.isfinite(value) and value >= 0, where,
                 f"tolerance {key} must be a finite number >= 0, got {value!r}")


def _inside(directory, relative, where) -> Path:
    _require(isinstance(relative, str) and relative and not Path(relative).is_absolute()
             and ".." not in Path(relative).parts, where, f"file must be a relative path inside the kit, got {relative!r}")
    return directory / relative


def _check_case(entry, position, networks, seen, where, directory):
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
    _require(isinstance(entry["network"], str) and entry["network"] in networks, where,
             f"network {entry['network']!r} is not in the manifest's networks")
    _inside(directory, entry["file"], where)
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
    check_tolerance(entry["tolerance"], where)


def read_manifest(directory) -> dict:
    """The validated manifest of a kit (a ConformanceError says what is wrong and where)."""
    directory = Path(directory)
    path = directory / "manifest.json"
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except FileNotFoundError:
        raise ConformanceError(f"{directory}: no manifest.json; is this a conformance kit (lrpref conformance export)?") from None
    except (OSError, ValueError) as error:
        raise ConformanceError(f"{path}: not valid JSON ({error})") from None
    where = str(path)
    _require(isinstance(document, dict), where, "the manifest must be a JSON object")
    _require(document.get("format") == FORMAT, where, f"format is {document.get('format')!r}, expected {FORMAT!r}")
    _require(document.get("version") == VERSION, where,
             f"version {document.get('version')!r} is not supported (this lrpref reads version {VERSION}; "
             f"export the kit again)")
    digest_file = directory / MANIFEST_DIGEST
    if not digest_file.is_file():
        raise FileFormatError(f"{digest_file}: missing; the kit's manifest.json cannot be verified")
    if hashlib.sha256(text.encode("utf-8")).hexdigest().encode() != digest_file.read_bytes().strip():
        raise FileFormatError(f"{path}: does not match its SHA-256 in {MANIFEST_DIGEST} (the manifest was changed or "
                              f"damaged; a maintainer who edits it on purpose writes the new SHA-256 there)")
    check_tolerance(document.get("tolerance"), where)
    networks = document.get("networks")
    _require(isinstance(networks, dict) and all(isinstance(n, dict) and isinstance(n.get("file"), str)
                                                and isinstance(n.get("layers"), list) for n in networks.values()),
             where, "networks must be an object of {name: {\"file\": ..., \"layers\": [...], ...}}")
    cases = document.get("cases")
    _require(isinstance(cases, list) and cases, where, "cases must be a non-empty list")
    seen = set()
    for position, entry in enumerate(cases):
        _check_case(entry, position, networks, seen, where, directory)
    problem = validate(document)
    _require(problem is None, where, f"does not follow the manifest schema (manifest.schema.json): {problem}")
    for name, network in networks.items():
        for key in ("file", "state_dict") + (("onnx",) if network["onnx"] else ()):
            _inside(directory, network[key], f"{where}: network {name!r}")
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
        """The arguments of :func:`lrpref.explain` that reproduce the case, ``target`` included:
        ``lr.explain(case.network, case.input, **case.explain_kwargs())``."""
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

    def explain(self, **overrides):
        """:func:`lrpref.explain` on the case, with ``overrides`` replacing its arguments (e.g. ``rule=[...]``)."""
        return explain(self.network, self.input, **{**self.explain_kwargs(), **overrides})

    def __repr__(self):
        return f"<conformance Case {self.id}: {self.entry['description']}>"


def load_case(directory, case_id: str, manifest: dict | None = None) -> Case:
    """Case ``case_id`` of the kit in ``directory`` (pass ``manifest`` from :func:`read_manifest` to skip re-reading it)."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    entry = next((case for case in manifest["cases"] if case["id"] == case_id), None)
    if entry is None:
        raise KeyError(f"no case {case_id!r} in {directory}")
    return Case(entry, load_network(directory, manifest, entry), case_arrays(directory, entry))


def load_network(directory, manifest: dict, entry: dict):
    """The lrpref network of a case, from the kit's network file (its SHA-256 checked against the manifest)."""
    directory = Path(directory)
    where = f"{directory / 'manifest.json'}: case {entry['id']!r}"
    network = manifest["networks"][entry["network"]]
    network_file = _inside(directory, network["file"], where)
    verify_file(network_file, network["sha256"]["file"], f"network {entry['network']!r}")
    try:
        net, _ = serialize.load(network_file)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConformanceError(f"network file {network_file}: {error}") from None
    return net


def case_arrays(directory, entry: dict) -> dict:
    """The arrays of a case file, checked for ``input``, ``target`` and every expected level."""
    directory = Path(directory)
    path = _inside(directory, entry["file"], f"{directory / 'manifest.json'}: case {entry['id']!r}")
    if not path.is_file():
        raise ConformanceError(f"case {entry['id']!r}: {path}: no such file")
    arrays, document = read_archive(path, "conformance kit case file")
    if document.get("case") != entry["id"] or document.get("format") != CASE_FORMAT:
        raise FileFormatError(f"{path}: holds case {document.get('case')!r}, not {entry['id']!r}")
    for key, digest in entry.get("sha256", {}).items():
        if key in arrays and array_digest(arrays[key]) != digest:
            raise FileFormatError(f"{path}: the entry {key!r} does not match the manifest's SHA-256 (the file was "
                                  f"replaced or damaged)")
    needed = ["input", "target"] + [f"relevance.{k}" for k in entry["levels"]]
    missing = [key for key in needed if key not in arrays]
    _require(not missing, str(path), f"missing array(s) {missing}")
    return arrays
