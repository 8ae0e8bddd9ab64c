"""Composites: which rule each layer of a network uses (spec ``neural.md`` §3.11).

A :class:`Composite` resolves a rule for layer ``k`` in this order:

1. ``layers[k]`` (explicit index; negative indices count from the end);
2. for *weight layers* (Dense, Conv2d): ``first`` for the first layer whose type is in
   ``first_types``, ``last`` for the last weight layer, ``middle`` for the others;
3. ``types``: the first entry whose layer type matches (``isinstance``);
4. ``default`` for weight layers and the other affine layers (average pooling, BatchNorm);
5. built-ins: :class:`~lrpref.rules.Pass` for element-wise layers and Flatten,
   :class:`~lrpref.rules.WinnerTakesAll` (first index) for MaxPool2d, LRP-0 for an
   affine layer when no ``default`` is given.

A single rule passed to :func:`lrpref.explain` is ``Composite(default=rule)``: it applies to
every affine layer ("average pooling through the active linear rule", spec §3.10).
"""

from __future__ import annotations

from .layers import Affine, Conv2d, Dense, ElementWise, Flatten, MaxPool2d
from .rules import LRP0, Pass, Rule, WinnerTakesAll

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
        self.types = dict(types or {})
        self.layers = dict(layers or {})
        for key, rule in list(self.types.items()) + list(self.layers.items()):
            if not isinstance(rule, Rule):
                raise TypeError(f"Composite: the rule for {key!r} must be an lrpref rule, got {rule!r}")
        self.first_types = tuple(first_types)
        self.name = name

    def rules_for(self, net) -> list[Rule]:
        """One rule per layer of ``net``."""
        n = len(net)
        explicit = {}
        for k, rule in self.layers.items():
            if not -n <= k < n:
                raise IndexError(f"Composite assigns a rule to layer {k}, but the network has {n} layers")
            explicit[k % n] = rule
        weight = [k for k, layer in enumerate(net) if isinstance(layer, WEIGHT_LAYERS)]
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
        if isinstance(layer, Affine):
            if self.default is not None:
                return self.default
            if isinstance(layer, WEIGHT_LAYERS):
                raise ValueError(f"{net.where(k)}: the composite assigns no rule to this layer (give default=)")
            return LRP0()
        if isinstance(layer, (ElementWise, Flatten)):
            return Pass()
        if isinstance(layer, MaxPool2d):
            return WinnerTakesAll()
        raise TypeError(f"{net.where(k)}: no rule for layers of type {type(layer).__name__}")

    def describe(self) -> str:
        if self.name:
            return self.name
        parts = [f"{label}={rule.describe()}" for label, rule in
                 (("default", self.default), ("first", self.first), ("middle", self.middle), ("last", self.last)) if rule]
        parts += [f"{kind.__name__}: {rule.describe()}" for kind, rule in self.types.items()]
        parts += [f"layer {k}: {rule.describe()}" for k, rule in self.layers.items()]
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
