"""Composites: which rule each layer of a network uses (math.md §3.11).

A :class:`Composite` resolves a rule for node ``k`` in this order:

1. ``layers[key]`` — the node by position (negative positions count from the end) or by name;
2. for *weight layers* (Dense, Conv2d, the layers whose ``role`` is ``"weight"``): ``first``
   for the first of them (in topological order) whose type is in ``first_types``, ``last``
   for the last weight layer, ``middle`` for the others;
3. ``types``: the first entry whose layer type matches (``isinstance``);
4. ``default`` for weight layers and the other affine layers (average pooling, BatchNorm);
5. the layer's own :meth:`~lrpref.layers.Layer.default_rule`: pass-through for element-wise
   layers, Flatten and Concat, winner-takes-all (first index) for MaxPool2d, the proportional
   :class:`~lrpref.SumSplit` (ε = 1e-6, zennit's convention) for Add, LRP-0 for the other affine layers.

A single rule passed to :func:`lrpref.explain` is ``Composite(default=rule)``: it applies to
every affine layer ("average pooling through the active linear rule", math.md §3.10). Sums
(``Add``) keep their own split unless the composite names them, e.g. ``types={lr.Add: lr.LRP0()}``.
"""

from __future__ import annotations

import numpy as np

from .layers import Conv2d, Dense, Layer
from .rules import LRP0, Rule

__all__ = ["Composite", "as_composite", "WEIGHT_LAYERS"]

WEIGHT_LAYERS = (Dense, Conv2d)


class Composite:
    """A map from the layers of a network to rules (see the module docstring for the order)."""

    def __init__(self, default: Rule | None = None, *, first: Rule | None = None, middle: Rule | None = None,
                 last: Rule | None = None, types: dict | None = None, layers: dict | None = None,
                 first_types: tuple = WEIGHT_LAYERS, name: str | None = None):
        for label, rule in (("default", default), ("first", first), ("middle", middle), ("last", last)):
            if rule is not None and not isinstance(rule, Rule):
                raise TypeError(f"Composite {label}= must be an lrpref rule, got {rule!r}")
        self.default, self.first, self.middle, self.last = default, first, middle, last
        for label, mapping in (("types", types), ("layers", layers)):
            if mapping is not None and not isinstance(mapping, dict):
                raise TypeError(f"Composite {label}= must be a dict, got {type(mapping).__name__}")
        for kind in types or {}:
            if not (isinstance(kind, type) and issubclass(kind, Layer)):
                raise TypeError(f"Composite types= keys must be lrpref layer classes (e.g. lr.Dense), got {kind!r}; "
                                f"to address nodes by name use layers=")
        self.types = dict(types or {})
        self.layers = dict(layers or {})
        for key, rule in list(self.types.items()) + list(self.layers.items()):
            if not isinstance(rule, Rule):
                raise TypeError(f"Composite: the rule for {key!r} must be an lrpref rule, got {rule!r}")
        self.first_types = tuple(first_types)
        self.name = name

    def rules_for(self, net) -> list[Rule]:
        """One rule per node of ``net`` (in its topological order)."""
        n = len(net)
        explicit = {}
        for key, rule in self.layers.items():
            if isinstance(key, str):
                if key not in [node.name for node in net.nodes]:
                    raise KeyError(f"Composite assigns a rule to the node {key!r}, but the network has no node of that "
                                   f"name (its nodes: {[node.name for node in net.nodes]})")
            elif isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
                if not -n <= key < n:
                    raise IndexError(f"Composite assigns a rule to layer {key}, but the network has {n} layers")
            else:
                raise TypeError(f"Composite layers= keys are node positions or names, got {key!r}")
            explicit[net.index(key)] = rule
        weight = [k for k, layer in enumerate(net) if layer.role == "weight"]
        firsts = [k for k in weight if isinstance(net[k], self.first_types)]
        positions = {}
        if weight:
            positions.update({k: self.middle for k in weight})
            positions[weight[-1]] = self.last
            if firsts:
                positions[firsts[0]] = self.first
        return [self._resolve(k, layer, explicit.get(k), positions.get(k), net) for k, layer in enumerate(net)]

    def _resolve(self, k, layer, explicit, positional, net):
        if explicit is not None:
            return explicit
        if positional is not None:
            return positional
        for kind, rule in self.types.items():
            if isinstance(layer, kind):
                return rule
        if layer.role == "weight":
            if self.default is None:
                raise ValueError(f"{net.where(k)}: the composite assigns no rule to this layer (give default=)")
            return self.default
        if layer.role == "affine" and self.default is not None:
            return self.default
        return layer.default_rule()

    def describe(self) -> str:
        if self.name:
            return self.name
        parts = [f"{label}={rule.describe()}" for label, rule in
                 (("default", self.default), ("first", self.first), ("middle", self.middle), ("last", self.last)) if rule]
        parts += [f"{kind.__name__}: {rule.describe()}" for kind, rule in self.types.items()]
        parts += [f"{'layer ' if not isinstance(k, str) else ''}{k}: {rule.describe()}" for k, rule in self.layers.items()]
        return f"Composite({', '.join(parts)})"

    def __repr__(self):
        return self.describe()


def as_composite(rule, net) -> Composite:
    """A composite from a rule, a composite, a list of one rule per layer of ``net``, or None (LRP-0)."""
    if rule is None:
        return Composite(default=LRP0(), name="LRP0()")
    if isinstance(rule, Composite):
        return rule
    if isinstance(rule, Rule):
        return Composite(default=rule, name=rule.describe())
    if isinstance(rule, (list, tuple)):
        if len(rule) != len(net):
            raise ValueError(f"a list of rules needs one rule per layer: got {len(rule)} for {len(net)} layers")
        return Composite(layers=dict(enumerate(rule)), name="per-layer rules")
    raise TypeError(f"rule must be an lrpref rule, a Composite or a list of rules (one per layer), got {type(rule).__name__}")
