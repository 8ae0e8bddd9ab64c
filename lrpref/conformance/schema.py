"""The JSON Schema (draft 2020-12) of a kit's ``manifest.json``, and :func:`validate`, the subset of JSON Schema it uses.

:data:`MANIFEST_SCHEMA` is written to every kit as ``manifest.schema.json`` and documented in
``docs/conformance.md``; :func:`lrpref.conformance.read_manifest` validates every manifest
against it with :func:`validate` (no jsonschema needed at run time), after its own checks with
friendlier messages.
"""

from __future__ import annotations

import re

__all__ = ["MANIFEST_SCHEMA", "validate", "FORMAT", "VERSION"]

FORMAT = "lrpref-conformance"
VERSION = 2


def _object(required, properties, **extra):
    return {"type": "object", "required": list(required), "properties": properties, **extra}


_NUMBER_OR_ARRAY = {"anyOf": [{"type": "number"}, {"type": "array"}]}
_MODIFIER = _object(["kind"], {"kind": {"enum": ["identity", "positive", "negative", "gamma_up", "gamma_down", "square", "ones", "negated"]},
                               "gamma": {"type": "number", "minimum": 0}}, additionalProperties=False)
_INPUT = _object(["kind"], {"kind": {"enum": ["identity", "positive", "negative", "ones", "constant"]},
                            "value": _NUMBER_OR_ARRAY}, additionalProperties=False)
_TOLERANCE = _object(["rtol", "atol"], {"rtol": {"type": "number", "minimum": 0}, "atol": {"type": "number", "minimum": 0}},
                     additionalProperties=False)
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 1}}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_IDS = {"type": "array", "items": {"type": "string"}}
_RULE_OR_NULL = {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/rule"}]}

MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": f"lrpref conformance kit manifest, version {VERSION}",
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
            "name": {"enum": ["LRP0", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "WSquare", "Flat", "SumSplit", "Pass",
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
        "node": _object(["name", "op", "inputs", "params", "settings", "input_shape", "output_shape"], {
            "name": {"type": "string"}, "op": {"type": "string"},
            "inputs": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "params": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}},
            "settings": {"type": "object"}, "output_shape": _SHAPE,
            "input_shape": {"anyOf": [_SHAPE, {"type": "array", "minItems": 2, "items": _SHAPE}]}}),
        "network": _object(["file", "state_dict", "onnx", "sha256", "description", "input_shape", "output_shape", "layers",
                            "graph"], {
            "file": {"type": "string", "pattern": "^networks/[a-z0-9][a-z0-9.-]*\\.npz$"},
            "state_dict": {"type": "string", "pattern": "^networks/[a-z0-9][a-z0-9.-]*\\.state_dict\\.npz$"},
            "onnx": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^networks/[a-z0-9][a-z0-9.-]*\\.onnx$"}]},
            "sha256": {"type": "object", "required": ["file", "state_dict"], "additionalProperties": _SHA256},
            "description": {"type": "string"}, "input_shape": _SHAPE, "output_shape": _SHAPE,
            "layers": {"type": "array", "items": {"type": "string"}},
            "graph": _object(["input", "output", "nodes"], {
                "input": {"type": "string"}, "output": {"type": "string"},
                "nodes": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/node"}}})}),
        "label": _object(["source", "matches", "why"], {
            "source": {"type": "string"}, "call": {}, "kwargs": {"type": "object"},
            "matches": {"type": ["boolean", "null"]}, "reason": {"type": ["string", "null"]},
            "layer": {"type": ["integer", "null"]}, "why": {"type": ["string", "null"]},
            "max_rel_error": {"type": ["number", "null"]}}),
        "composite": _object(["name", "preset", "default", "first", "middle", "last", "types", "layers", "first_types",
                              "peers"], {
            "name": {"type": "string"}, "preset": {"type": ["string", "null"]}, "default": _RULE_OR_NULL,
            "first": _RULE_OR_NULL, "middle": _RULE_OR_NULL, "last": _RULE_OR_NULL,
            "types": {"type": "object", "additionalProperties": {"$ref": "#/$defs/rule"}},
            "layers": {"type": "object", "additionalProperties": {"$ref": "#/$defs/rule"}},
            "first_types": {"type": "array", "items": {"type": "string"}},
            "peers": {"type": "object", "additionalProperties": {"type": "string"}}}),
        "revision": _object(["revision", "note", "added", "removed", "renamed", "changed"], {
            "revision": {"type": "integer", "minimum": 1}, "note": {"type": "string"}, "added": _IDS, "removed": _IDS,
            "renamed": {"type": "object", "additionalProperties": {"type": "string"}}, "changed": _IDS}),
        "case": _object(["id", "file", "network", "description", "covers", "batch", "target", "method", "rules",
                         "composite", "levels", "tolerance", "sha256", "content", "peers"], {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]*$"},
            "file": {"type": "string", "pattern": "^cases/[a-z0-9][a-z0-9.-]*\\.npz$"},
            "network": {"type": "string"}, "description": {"type": "string"},
            "covers": {"type": "array", "items": {"type": "string"}},
            "batch": {"type": "integer", "minimum": 1}, "target": {"enum": ["class", "relevance"]},
            "method": {"$ref": "#/$defs/method"},
            "rules": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/rule"}}]},
            "composite": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/composite"}]},
            "levels": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}, "contains": {"const": 0}},
            "tolerance": {"$ref": "#/$defs/tolerance"},
            "sha256": {"type": "object", "additionalProperties": _SHA256}, "content": _SHA256,
            "peers": {"type": "object", "additionalProperties": {"$ref": "#/$defs/label"}}}),
    },
    **_object(["format", "version", "generator", "revision", "changelog", "changes", "dtype", "tolerance", "comparison",
               "networks", "cases"], {
        "format": {"const": FORMAT}, "version": {"const": VERSION}, "generator": {"type": "string"},
        "revision": {"type": "integer", "minimum": 1}, "changelog": {"type": "array", "items": {"$ref": "#/$defs/revision"}},
        "changes": {"anyOf": [{"type": "null"}, _object(["since", "revision", "added", "removed", "changed"], {
            "since": {}, "revision": {}, "added": _IDS, "removed": _IDS, "changed": _IDS})]},
        "dtype": {"const": "float64"}, "tolerance": {"$ref": "#/$defs/tolerance"}, "comparison": {"type": "string"},
        "networks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/network"}},
        "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}}}),
}


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value, kind) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def validate(document, schema=MANIFEST_SCHEMA, root=None, path="$") -> str | None:
    """The first place where ``document`` breaks ``schema`` (``"$.cases[3].levels: ..."``), or None when it conforms.

    Supports what :data:`MANIFEST_SCHEMA` uses: ``$ref`` (local), ``type``, ``enum``, ``const``, ``required``,
    ``properties``, ``additionalProperties``, ``items``, ``minItems``, ``minimum``, ``pattern``, ``contains``,
    ``anyOf``, ``allOf`` and ``if``/``then``.
    """
    root = schema if root is None else root
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    kinds = schema.get("type")
    if kinds is not None and not any(_is(document, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds)):
        return f"{path}: expected {kinds}, got {type(document).__name__}"
    if "const" in schema and document != schema["const"]:
        return f"{path}: must be {schema['const']!r}"
    if "enum" in schema and not any(document == option and type(document) is type(option) for option in schema["enum"]):
        return f"{path}: must be one of {schema['enum']}, got {document!r}"
    if "minimum" in schema and _is(document, "number") and not document >= schema["minimum"]:
        return f"{path}: must be >= {schema['minimum']}, got {document!r}"
    if "pattern" in schema and isinstance(document, str) and not re.search(schema["pattern"], document):
        return f"{path}: {document!r} does not match {schema['pattern']}"
    for option in schema.get("allOf", ()):
        problem = validate(document, option, root, path)
        if problem:
            return problem
    if "anyOf" in schema and all(validate(document, option, root, path) for option in schema["anyOf"]):
        return f"{path}: matches none of the allowed forms ({validate(document, schema['anyOf'][-1], root, path)})"
    if "if" in schema and validate(document, schema["if"], root, path) is None and "then" in schema:
        problem = validate(document, schema["then"], root, path)
        if problem:
            return problem
    if isinstance(document, dict):
        missing = [key for key in schema.get("required", ()) if key not in document]
        if missing:
            return f"{path}: missing field(s) {missing}"
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, value in document.items():
            if key in properties:
                problem = validate(value, properties[key], root, f"{path}.{key}")
            elif extra is False:
                problem = f"{path}: unexpected field {key!r}"
            else:
                problem = None if extra is True else validate(value, extra, root, f"{path}.{key}")
            if problem:
                return problem
    if isinstance(document, list):
        if len(document) < schema.get("minItems", 0):
            return f"{path}: needs at least {schema['minItems']} item(s)"
        if "contains" in schema and all(validate(item, schema["contains"], root, path) for item in document):
            return f"{path}: contains no item that is {schema['contains']}"
        for position, item in enumerate(document):
            problem = validate(item, schema["items"], root, f"{path}[{position}]") if "items" in schema else None
            if problem:
                return problem
    return None
