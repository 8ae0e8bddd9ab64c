"""Networks as files: one ``.npz`` holding the parameter arrays and a JSON description (no pickles).

``save(net, path, meta=None)`` writes ``layer{k}.{name}`` arrays and a ``network.json`` entry
(a plain unicode array) describing every layer; ``load(path)`` reads it back with
``allow_pickle=False`` and validates everything it reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import layers as L
from .network import Sequential

__all__ = ["save", "load", "FORMAT"]

FORMAT = "lrpref-network"
VERSION = 1

# type name: (constructor, [(attribute, constructor argument)] for arrays, [...] for settings)
_LAYERS = {
    "Dense": (L.Dense, [("W", "W"), ("bias", "b")], []),
    "Conv2d": (L.Conv2d, [("W", "W"), ("bias", "b")], [("stride", "stride"), ("padding", "padding"),
                                                        ("dilation", "dilation"), ("groups", "groups")]),
    "MaxPool2d": (L.MaxPool2d, [], [("kernel", "kernel_size"), ("stride", "stride"), ("padding", "padding"),
                                    ("dilation", "dilation")]),
    "AvgPool2d": (L.AvgPool2d, [], [("kernel", "kernel_size"), ("stride", "stride"), ("padding", "padding"),
                                    ("count_include_pad", "count_include_pad")]),
    "AdaptiveAvgPool2d": (L.AdaptiveAvgPool2d, [], [("output_size", "output_size")]),
    "BatchNorm": (L.BatchNorm, [("mean", "mean"), ("var", "var"), ("gamma", "gamma"), ("beta", "beta")], [("eps", "eps")]),
    "LeakyReLU": (L.LeakyReLU, [], [("negative_slope", "negative_slope")]),
    "Dropout": (L.Dropout, [], [("p", "p")]),
    "ReLU": (L.ReLU, [], []), "Tanh": (L.Tanh, [], []), "Sigmoid": (L.Sigmoid, [], []),
    "Identity": (L.Identity, [], []), "Flatten": (L.Flatten, [], []),
}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def save(net: Sequential, path, meta: dict | None = None) -> Path:
    """Write ``net`` (and a JSON-serialisable ``meta`` dict) to ``path`` (``.npz``)."""
    arrays, description = {}, []
    for k, layer in enumerate(net):
        name = type(layer).__name__
        if name not in _LAYERS:
            raise TypeError(f"layer {k}: {name} cannot be saved")
        _, array_fields, settings = _LAYERS[name]
        entry = {"type": name, "arrays": {}, "settings": {arg: _plain(getattr(layer, attr)) for attr, arg in settings}}
        for attr, arg in array_fields:
            value = getattr(layer, attr)
            if value is not None:
                key = f"layer{k}.{arg}"
                arrays[key] = value
                entry["arrays"][arg] = key
        description.append(entry)
    document = {"format": FORMAT, "version": VERSION, "dtype": str(net.dtype), "layers": description, "meta": meta or {}}
    path = Path(path)
    np.savez_compressed(path, **arrays, **{"network.json": np.array(json.dumps(document))})
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load(path) -> tuple[Sequential, dict]:
    """``(net, meta)`` from a file written by :func:`save`; never unpickles."""
    with np.load(path, allow_pickle=False) as archive:
        if "network.json" not in archive.files:
            raise ValueError(f"{path}: not an lrpref network file (no network.json entry)")
        document = json.loads(str(archive["network.json"]))
        if document.get("format") != FORMAT or document.get("version") != VERSION:
            raise ValueError(f"{path}: unsupported format {document.get('format')!r} version {document.get('version')!r}")
        built = []
        for k, entry in enumerate(document["layers"]):
            if entry.get("type") not in _LAYERS:
                raise ValueError(f"{path}: layer {k} has unknown type {entry.get('type')!r}")
            constructor = _LAYERS[entry["type"]][0]
            kwargs = {arg: archive[key] for arg, key in entry["arrays"].items()}
            kwargs.update(entry["settings"])
            built.append(constructor(**kwargs))
    return Sequential(built), document.get("meta", {})
