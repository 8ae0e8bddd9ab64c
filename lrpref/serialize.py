"""Networks as files that prove their integrity: one checksummed ``.npz`` (no pickles).

``save(net, path, meta=None)`` writes the parameter arrays (``layer{k}.{name}``) and a JSON
document describing every layer through :func:`lrpref._integrity.write_archive`, which adds the
SHA-256 of every array and of the document; ``load(path)`` reads it back through
:func:`~lrpref._integrity.read_archive` (every checksum verified, ``allow_pickle=False``) and
validates the document against the layer table. Anything malformed — not a zip, truncated,
tampered, a JSON list where an object belongs, a missing key, an unknown layer type, an array of
the wrong dtype or shape, a setting of the wrong type — is a :class:`FileFormatError` naming the
file and the entry.

Files written before the checksums (format version 1, a ``network.json`` entry) are refused
with a message saying to re-save them with this version.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import layers as L
from ._integrity import FileFormatError, read_archive, write_archive
from .network import Sequential

__all__ = ["save", "load", "FORMAT", "VERSION", "FileFormatError"]

FORMAT = "lrpref-network"
VERSION = 2
WHAT = "lrpref network file"
_LEGACY = {"network.json": "it was written by an older lrpref (format version 1, without checksums); "
                           "load it with that version and re-save with this version"}

# ---------------------------------------------------------------------------- the layer table
# type name: (constructor, arrays [(attribute, argument, required)], settings [(attribute, argument, kind)]).
# The only place that knows how a layer becomes JSON + arrays and back (_entry / _layer below).

_LAYERS = {
    "Dense": (L.Dense, [("W", "W", True), ("bias", "b", False)], []),
    "Conv2d": (L.Conv2d, [("W", "W", True), ("bias", "b", False)],
               [("stride", "stride", "pair"), ("padding", "padding", "pair"), ("dilation", "dilation", "pair"),
                ("groups", "groups", "int")]),
    "MaxPool2d": (L.MaxPool2d, [], [("kernel", "kernel_size", "pair"), ("stride", "stride", "pair"),
                                    ("padding", "padding", "pair"), ("dilation", "dilation", "pair")]),
    "AvgPool2d": (L.AvgPool2d, [], [("kernel", "kernel_size", "pair"), ("stride", "stride", "pair"),
                                    ("padding", "padding", "pair"), ("count_include_pad", "count_include_pad", "bool")]),
    "AdaptiveAvgPool2d": (L.AdaptiveAvgPool2d, [], [("output_size", "output_size", "pair")]),
    "BatchNorm": (L.BatchNorm, [("mean", "mean", True), ("var", "var", True), ("gamma", "gamma", True),
                                ("beta", "beta", True)], [("eps", "eps", "number")]),
    "LeakyReLU": (L.LeakyReLU, [], [("negative_slope", "negative_slope", "number")]),
    "Dropout": (L.Dropout, [], [("p", "p", "number")]),
    "ReLU": (L.ReLU, [], []), "Tanh": (L.Tanh, [], []), "Sigmoid": (L.Sigmoid, [], []),
    "Identity": (L.Identity, [], []), "Flatten": (L.Flatten, [], []),
}

_KINDS = {
    "int": ("an integer", lambda v: type(v) is int),
    "pair": ("an integer or a list of two integers",
             lambda v: type(v) is int or (isinstance(v, list) and len(v) == 2 and all(type(i) is int for i in v))),
    "bool": ("true or false", lambda v: type(v) is bool),
    "number": ("a finite number", lambda v: type(v) in (int, float) and math.isfinite(v)),
}


def _plain(value):
    return [int(v) for v in value] if isinstance(value, tuple) else value


def _entry(layer, k) -> tuple[dict, dict]:
    """``(JSON entry, arrays)`` of layer ``k``."""
    name = type(layer).__name__
    if name not in _LAYERS:
        raise TypeError(f"layer {k}: {name} cannot be saved; savable layers: {', '.join(_LAYERS)}")
    _, array_fields, settings = _LAYERS[name]
    entry = {"type": name, "arrays": {}, "settings": {arg: _plain(getattr(layer, attr)) for attr, arg, _ in settings}}
    arrays = {}
    for attr, arg, _ in array_fields:
        value = getattr(layer, attr)
        if value is not None:
            arrays[f"layer{k}.{arg}"] = value
            entry["arrays"][arg] = f"layer{k}.{arg}"
    return entry, arrays


def _layer(entry, arrays: dict, dtype: np.dtype, where: str):
    """The layer of one JSON entry; ``where`` names the file and the entry in errors."""
    if not isinstance(entry, dict) or set(entry) != {"type", "arrays", "settings"}:
        raise FileFormatError(f"{where} must be an object with exactly the keys 'type', 'arrays', 'settings'")
    kind = entry["type"]
    if not isinstance(kind, str) or kind not in _LAYERS:
        raise FileFormatError(f"{where} has unknown type {kind!r}; known types: {', '.join(_LAYERS)}")
    constructor, array_fields, settings = _LAYERS[kind]
    references, values = entry["arrays"], entry["settings"]
    if not isinstance(references, dict) or not isinstance(values, dict):
        raise FileFormatError(f"{where} ({kind}): 'arrays' and 'settings' must be JSON objects")
    allowed, required = {arg for _, arg, _ in array_fields}, {arg for _, arg, needed in array_fields if needed}
    if not required <= set(references) <= allowed:
        raise FileFormatError(f"{where} ({kind}): arrays {sorted(references)}; expected {sorted(required)}"
                              + (f" and optionally {sorted(allowed - required)}" if allowed - required else ""))
    kwargs = {}
    for arg, key in references.items():
        if not isinstance(key, str) or key not in arrays:
            raise FileFormatError(f"{where} ({kind}): array {arg!r} refers to {key!r}, which is not in the file")
        array = arrays[key]
        if array.dtype != dtype:
            raise FileFormatError(f"{where} ({kind}): the entry {key!r} is {array.dtype}; the network is {dtype}")
        if not np.all(np.isfinite(array)):
            raise FileFormatError(f"{where} ({kind}): the entry {key!r} holds non-finite values (NaN or inf)")
        kwargs[arg] = array
    expected = {arg: kind_ for _, arg, kind_ in settings}
    if set(values) != set(expected):
        raise FileFormatError(f"{where} ({kind}): settings {sorted(values)}; expected exactly {sorted(expected)}")
    for arg, value in values.items():
        text, valid = _KINDS[expected[arg]]
        if not valid(value):
            raise FileFormatError(f"{where} ({kind}): setting {arg!r} must be {text}, got {value!r}")
    try:
        return constructor(**kwargs, **values)
    except (ValueError, TypeError) as error:
        raise FileFormatError(f"{where} ({kind}): {error}") from None


# ---------------------------------------------------------------------------- files


def save(net: Sequential, path, meta: dict | None = None) -> Path:
    """Write ``net`` (and a JSON-serialisable ``meta`` dict) to ``path`` (``.npz``, checksummed); returns the path written."""
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be an lrpref.Sequential, got {type(net).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict (JSON-serialisable), got {type(meta).__name__}")
    arrays, description = {}, []
    for k, layer in enumerate(net):
        entry, layer_arrays = _entry(layer, k)
        description.append(entry)
        arrays.update(layer_arrays)
    dtype = None if net.dtype is None else str(net.dtype)
    document = {"format": FORMAT, "version": VERSION, "dtype": dtype, "layers": description, "meta": meta or {}}
    return write_archive(path, arrays, document)


def load(path) -> tuple[Sequential, dict]:
    """``(net, meta)`` from a file written by :func:`save`; never unpickles. Raises :class:`FileFormatError`."""
    arrays, document = read_archive(path, WHAT, legacy=_LEGACY)
    where = f"{path}: the entry 'document.json'"
    if document.get("format") != FORMAT:
        raise FileFormatError(f"{path}: not an {WHAT} (format {document.get('format')!r}, expected {FORMAT!r})")
    if document.get("version") != VERSION:
        raise FileFormatError(f"{path}: {WHAT} version {document.get('version')!r}; this lrpref reads version {VERSION} "
                              f"(re-save the network with this version)")
    missing = {"dtype", "layers", "meta"} - set(document)
    if missing:
        raise FileFormatError(f"{where} lacks the key(s) {sorted(missing)}")
    if document["dtype"] not in ("float32", "float64", None):
        raise FileFormatError(f"{where}: 'dtype' must be 'float32', 'float64' or null, got {document['dtype']!r}")
    if not isinstance(document["layers"], list) or not document["layers"]:
        raise FileFormatError(f"{where}: 'layers' must be a non-empty JSON list")
    if not isinstance(document["meta"], dict):
        raise FileFormatError(f"{where}: 'meta' must be a JSON object")
    dtype = None if document["dtype"] is None else np.dtype(document["dtype"])
    built = [_layer(entry, arrays, dtype, f"{path}: layer {k}") for k, entry in enumerate(document["layers"])]
    used = {key for entry in document["layers"] for key in entry["arrays"].values()}
    if set(arrays) != used:
        raise FileFormatError(f"{path}: the entries {sorted(set(arrays) - used)} belong to no layer")
    try:
        net = Sequential(built)
    except (ValueError, TypeError) as error:
        raise FileFormatError(f"{path}: the layers do not form a network: {error}") from None
    return net, document["meta"]
