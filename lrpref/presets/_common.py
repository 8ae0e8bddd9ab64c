"""What the convention modules share: rule names as text, and a composite that refuses what a peer refuses.

A rule name is the text the verifier and the command line take (``peers.md``; docs/verify.md):
``lrp0``, ``epsilon[:ε]``, ``gamma[:γ]``, ``alpha2beta1`` (any ``alpha<α>beta<β>``) or
``alphabeta:α,β``, ``zplus``, ``zbox:low,high``, ``w2``, ``flat``. Each convention module
turns a :class:`RuleName` into its own rule (``rule(name, quirks)``) and a layer map into a
composite (``composite(rest, first, quirks)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import rules
from ..composites import WEIGHT_LAYERS, Composite
from ..layers import BatchNorm, Concat, Conv2d, Dense, Flatten, ReLU

__all__ = ["RuleName", "parse_rule", "UnsupportedRule", "PeerComposite", "weight_layer_map", "input_channels",
           "relu_gradient"]

_ALIASES = {"lrp0": "lrp0", "lrp-0": "lrp0", "z": "lrp0", "epsilon": "epsilon", "eps": "epsilon", "gamma": "gamma",
            "alphabeta": "alphabeta", "zplus": "zplus", "z+": "zplus", "zbox": "zbox", "zb": "zbox",
            "w2": "w2", "wsquare": "w2", "ww": "w2", "flat": "flat"}
_PARAMETERS = {"lrp0": (0, 0), "epsilon": (0, 1), "gamma": (0, 1), "alphabeta": (2, 2), "zplus": (0, 0),
               "zbox": (2, 2), "w2": (0, 0), "flat": (0, 0)}
_ALPHA_BETA = re.compile(r"alpha(\d+(?:\.\d+)?)beta(\d+(?:\.\d+)?)$")


class UnsupportedRule(ValueError):
    """A peer has no such rule (or no rule for a layer of the network)."""


@dataclass(frozen=True)
class RuleName:
    """A rule by name with its numeric parameters (``kind`` one of ``lrp0``, ``epsilon``, ``gamma``,
    ``alphabeta``, ``zplus``, ``zbox``, ``w2``, ``flat``); missing parameters take the convention's defaults."""

    kind: str
    params: tuple = ()

    def param(self, index: int, default: float) -> float:
        return self.params[index] if len(self.params) > index else default

    def __str__(self):
        if self.kind == "alphabeta":
            return f"alpha{self.params[0]:g}beta{self.params[1]:g}"
        return self.kind + (":" + ",".join(f"{p:g}" for p in self.params) if self.params else "")


def parse_rule(text: str) -> RuleName:
    """A :class:`RuleName` from text such as ``"epsilon:0.25"``, ``"alpha2beta1"`` or ``"zbox:-1,1"``."""
    if isinstance(text, RuleName):
        return text
    cleaned = str(text).strip().lower().replace(" ", "")
    match = _ALPHA_BETA.match(cleaned)
    if match:
        return RuleName("alphabeta", (float(match.group(1)), float(match.group(2))))
    name, _, rest = cleaned.partition(":")
    if name not in _ALIASES:
        raise ValueError(f"unknown rule {text!r}; one of lrp0, epsilon[:ε], gamma[:γ], alpha<α>beta<β>, alphabeta:α,β, "
                         f"zplus, zbox:low,high, w2, flat")
    kind = _ALIASES[name]
    try:
        params = tuple(float(p) for p in rest.split(",")) if rest else ()
    except ValueError:
        raise ValueError(f"rule {text!r}: parameters must be numbers separated by commas") from None
    fewest, most = _PARAMETERS[kind]
    if not fewest <= len(params) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise ValueError(f"rule {text!r}: {kind} takes {wanted} parameter(s), got {len(params)}")
    return RuleName(kind, params)


class PeerComposite(Composite):
    """A composite that refuses the layer types a peer has no rule for (``unsupported``: type → reason), lets
    ``per_layer(layer)`` pick a rule that depends on the layer itself (or None for the usual resolution) and
    ``per_position(net, k)`` one that depends on where the layer sits in the network (or None)."""

    def __init__(self, *args, unsupported: dict | None = None, per_layer=None, per_position=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unsupported = dict(unsupported or {})
        self.per_layer = per_layer
        self.per_position = per_position

    def rules_for(self, net):
        for k, layer in enumerate(net):
            for kind, reason in self.unsupported.items():
                if isinstance(layer, kind):
                    raise UnsupportedRule(f"{net.where(k)}: {reason}")
        rules = super().rules_for(net)
        if self.per_layer is not None:
            rules = [self.per_layer(layer) or rule for layer, rule in zip(net, rules)]
        if self.per_position is not None:
            rules = [self.per_position(net, k) or rule for k, rule in enumerate(rules)]
        return rules


def weight_layer_map(rest, first=None, types=None, name=None, **kwargs) -> PeerComposite:
    """``rest`` on Dense and Conv2d, ``first`` on the first of them, ``types`` for the other layers."""
    return PeerComposite(first=first, first_types=WEIGHT_LAYERS, types={Dense: rest, Conv2d: rest, **(types or {})},
                         name=name, **kwargs)


def _tensor_channels(net, t) -> int | None:
    """The channel count (axis 1) of tensor ``t`` of ``net``, from the nearest node below that fixes it (None if
    none does)."""
    while t > 0:
        node = net.nodes[t - 1]
        layer = node.layer
        if isinstance(layer, (Dense, Conv2d)):
            return layer.W.shape[0]
        if isinstance(layer, BatchNorm):
            return layer.channels
        if isinstance(layer, Concat) and layer.axis == 1:
            parts = [_tensor_channels(net, s) for s in node.inputs]
            return None if None in parts else sum(parts)
        if isinstance(layer, (Flatten, Concat)):
            break
        t = node.inputs[0]
    return None


def input_channels(net, k, needed_by: str) -> int:
    """The channel count of node ``k``'s input (in a chain or a graph), which ``needed_by`` needs."""
    channels = _tensor_channels(net, net.nodes[k].inputs[0])
    if channels is None:
        raise UnsupportedRule(f"{net.where(k)}: {needed_by} needs the channels of its input, and no Dense, Conv2d, "
                              f"BatchNorm or channel Concat below it (without a Flatten between) gives them")
    return channels


def relu_gradient(channels: int, dtype, label: str) -> rules.Surrogate:
    """The gradient of a ReLU applied to relevance, ``R_in = R·1[x > 0]`` (what a peer does to an activation it
    does not treat as one).

    Built as ``ZPlus("products")`` on the identity map of the ReLU's input (a BatchNorm with mean 0,
    variance 1, no eps): ``D = x⁺``, so ``R_in = x⁺·R/x⁺ = R`` where ``x > 0``, and a zero ``D`` (``x ≤ 0``)
    drops ``R`` (reported as ``dropped``).
    """
    identity = BatchNorm(np.zeros(channels), np.ones(channels), eps=0.0, dtype=dtype)
    return rules.Surrogate(rules.ZPlus("products"), lambda layer: identity, (ReLU,), label)
