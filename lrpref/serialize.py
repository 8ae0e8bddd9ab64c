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

import inspect
from pathlib import Path

import numpy as np

from . import layers as L
from ._integrity import FileFormatError, read_archive, write_archive
from .network import Graph, Sequential

__all__ = ["save", "load", "FORMAT", "VERSION", "FileFormatError"]

FORMAT = "lrpref-network"
VERSION = 2
WHAT = "lrpref network file"
_LEGACY = {"network.json": "it was written by an older lrpref (format version 1, without checksums); "
                           "load it with that version and re-save with this version"}

# ---------------------------------------------------------------------------- layers as JSON + arrays
# A layer is stored as its type name and its constructor arguments (``layer.spec()``): arrays by
# key, everything else as JSON settings. Reading rebuilds it with ``type(**arguments)`` and checks
# that its ``spec()`` gives back exactly what the file says, so a setting the constructor would
# read differently (a stride of 1.5, a flag "yes") is refused instead of silently changed.


def _jsonable(value):
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def _entry(layer, k) -> tuple[dict, dict]:
    """``(JSON entry, arrays)`` of layer ``k``."""
    name = type(layer).__name__
    if L.LAYER_TYPES.get(name) is not type(layer):
        raise TypeError(f"layer {k}: {name} cannot be saved; savable layers: {', '.join(sorted(L.LAYER_TYPES))}")
    entry, arrays = {"type": name, "arrays": {}, "settings": {}}, {}
    for arg, value in layer.spec().items():
        if isinstance(value, np.ndarray):
            arrays[f"layer{k}.{arg}"] = value
            entry["arrays"][arg] = f"layer{k}.{arg}"
        elif value is not None:
            entry["settings"][arg] = _jsonable(value)
    return entry, arrays


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _layer(entry, arrays: dict, dtype: np.dtype, where: str):
    """The layer of one JSON entry; ``where`` names the file and the entry in errors."""
    if not isinstance(entry, dict) or not {"type", "arrays", "settings"} <= set(entry) <= _ENTRY_KEYS:
        raise FileFormatError(f"{where} must be an object with exactly the keys 'type', 'arrays', 'settings' "
                              f"(and, for a graph's node, 'name' and 'inputs')")
    kind = entry["type"]
    if not isinstance(kind, str) or kind not in L.LAYER_TYPES:
        raise FileFormatError(f"{where} has unknown type {kind!r}; known types: {', '.join(sorted(L.LAYER_TYPES))}")
    references, values = entry["arrays"], entry["settings"]
    if not isinstance(references, dict) or not isinstance(values, dict):
        raise FileFormatError(f"{where} ({kind}): 'arrays' and 'settings' must be JSON objects")
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
    if set(kwargs) & set(values):
        raise FileFormatError(f"{where} ({kind}): {sorted(set(kwargs) & set(values))} given both as array and setting")
    parameters = inspect.signature(L.LAYER_TYPES[kind]).parameters.values()
    missing = sorted(p.name for p in parameters if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD
                     and p.name not in kwargs and p.name not in values)
    if missing:
        raise FileFormatError(f"{where} ({kind}): arguments {sorted({**kwargs, **values})}; the required {missing} are missing")
    try:
        layer = L.LAYER_TYPES[kind](**kwargs, **values)
    except (ValueError, TypeError) as error:
        raise FileFormatError(f"{where} ({kind}): {error}") from None
    written, _ = _entry(layer, 0)
    expected = {arg: value for arg, value in layer.spec().items() if value is not None}
    given = {**kwargs, **values}
    if set(expected) != set(given):
        raise FileFormatError(f"{where} ({kind}): arguments {sorted(given)}; expected exactly {sorted(expected)}")
    for arg, value in given.items():
        if not _same(_jsonable(expected[arg]) if arg in written["settings"] else expected[arg], value):
            raise FileFormatError(f"{where} ({kind}): setting {arg!r} = {value!r} is not what the layer takes "
                                  f"(it would read it as {_jsonable(expected[arg])!r})")
    return layer


_ENTRY_KEYS = {"type", "arrays", "settings", "name", "inputs"}


# ---------------------------------------------------------------------------- files


def save(net: Graph, path, meta: dict | None = None) -> Path:
    """Write ``net`` (and a JSON-serialisable ``meta`` dict) to ``path`` (``.npz``, checksummed); returns the path written.

    A :class:`~lrpref.Sequential` is stored as its list of layers; any other graph also stores each
    node's name and the names of the tensors it reads (``"input"`` for the network input).
    """
    if not isinstance(net, Graph):
        raise TypeError(f"net must be an lrpref.Sequential or Graph, got {type(net).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict (JSON-serialisable), got {type(meta).__name__}")
    arrays, description = {}, []
    for k, layer in enumerate(net):
        entry, layer_arrays = _entry(layer, k)
        if not isinstance(net, Sequential):
            node = net.nodes[k]
            entry.update(name=node.name, inputs=[net.tensor_name(t) for t in node.inputs])
        description.append(entry)
        arrays.update(layer_arrays)
    dtype = None if net.dtype is None else str(net.dtype)
    document = {"format": FORMAT, "version": VERSION, "dtype": dtype, "layers": description, "meta": meta or {}}
    return write_archive(path, arrays, document)


def load(path) -> tuple[Graph, dict]:
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
    graph = [("name" in entry, "inputs" in entry) for entry in document["layers"]]
    if len(set(graph)) > 1 or graph[0][0] != graph[0][1]:
        raise FileFormatError(f"{where}: either every layer has 'name' and 'inputs' (a graph) or none does (a chain)")
    try:
        if graph[0][0]:
            net = Graph.from_nodes([(entry["name"], layer, entry["inputs"]) for entry, layer in zip(document["layers"], built)])
        else:
            net = Sequential(built)
    except (ValueError, TypeError, KeyError) as error:
        raise FileFormatError(f"{path}: the layers do not form a network: {error}") from None
    return net, document["meta"]
