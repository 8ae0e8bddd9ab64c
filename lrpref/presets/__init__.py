"""Presets: named composites and the conventions of the peers (spec ``peers.md``).

* zennit's composites ``EpsilonGammaBox``, ``EpsilonPlus``, ``EpsilonPlusFlat``,
  ``EpsilonAlpha2Beta1``, ``EpsilonAlpha2Beta1Flat`` (also as ``presets.zennit.*``) and
  :class:`Montavon2019`, the recommendation of Montavon et al. 2019.
* One namespace per peer — :mod:`.zennit`, :mod:`.captum`, :mod:`.innvestigate`,
  :mod:`.toolbox` — with that peer's rules under its own names, its composites, and (captum) its
  ``explain`` settings for DeepLIFT and IG; :mod:`.textbook` is lrpref's own convention.
* :func:`composite` looks a rule up by name in any convention: ``composite("gamma:0.25",
  "captum")``, and zennit's composites by their names (``"EpsilonPlusFlat"``,
  ``"EpsilonGammaBox:-1,1"``, :data:`NAMED_COMPOSITES`) in any convention that has their rules. Where a peer's behaviour is a bug, its preset reproduces it only with
  ``quirks=True`` (docs/peers.md says what is wrong and what the correct value is).
"""

from __future__ import annotations

from . import captum, innvestigate, textbook, toolbox, zennit
from ..layers import Conv2d, Dense
from ._common import PeerComposite, RuleName, UnsupportedRule, parse_rule
from .textbook import Montavon2019
from .zennit import EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus, EpsilonPlusFlat

__all__ = ["NAMED_COMPOSITES", "EpsilonGammaBox", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1", "EpsilonAlpha2Beta1Flat",
           "Montavon2019", "CONVENTIONS", "composite", "parse_composite", "RuleName", "parse_rule", "UnsupportedRule",
           "PeerComposite", "zennit", "captum", "innvestigate", "toolbox", "textbook"]

CONVENTIONS = {module.NAME: module for module in (textbook, zennit, captum, innvestigate, toolbox)}

# zennit's composites by name: (rule on the first layer, on convolutions, on dense layers, the first layer's types);
# "EpsilonGammaBox:low,high" takes zᴮ's bounds, and applies it to the first convolution only.
NAMED_COMPOSITES = {
    "EpsilonPlus": (None, "zplus", "epsilon:1e-6", None),
    "EpsilonPlusFlat": ("flat", "zplus", "epsilon:1e-6", None),
    "EpsilonAlpha2Beta1": (None, "alpha2beta1", "epsilon:1e-6", None),
    "EpsilonAlpha2Beta1Flat": ("flat", "alpha2beta1", "epsilon:1e-6", None),
    "EpsilonGammaBox": ("zbox", "gamma:0.25", "epsilon:1e-6", (Conv2d,)),
}
_NAMED = {name.lower(): name for name in NAMED_COMPOSITES}


def parse_composite(text) -> tuple[RuleName, RuleName | None]:
    """``(rest, first)`` from ``"rule"`` or ``"first/rest"`` (e.g. ``"zbox:-1,1/epsilon:0.25"``)."""
    if isinstance(text, RuleName):
        return text, None
    first, _, rest = str(text).rpartition("/")
    return parse_rule(rest), (parse_rule(first) if first else None)


def _named_composite(text, module, quirks):
    """A composite of :data:`NAMED_COMPOSITES` (``"EpsilonGammaBox:-1,1"``) in a convention, or None for other text."""
    name, _, bounds = str(text).strip().partition(":")
    if not isinstance(text, str) or name.lower() not in _NAMED:
        return None
    name = _NAMED[name.lower()]
    first, conv, dense, first_types = NAMED_COMPOSITES[name]
    if (first == "zbox") != bool(bounds):
        raise ValueError(f"{text!r}: " + ("EpsilonGammaBox takes zᴮ's bounds, e.g. 'EpsilonGammaBox:-1,1'"
                                          if first == "zbox" else f"{name} takes no parameters"))
    if first == "zbox":
        first += ":" + bounds
    made = module.composite(parse_rule(conv), None if first is None else parse_rule(first), quirks)
    made.types[Dense] = module.rule(parse_rule(dense), quirks)
    if first_types is not None:
        made.first_types = first_types
    made.name = f"{name}: {made.describe()}, {dense} on dense layers" + (" (zᴮ on the first convolution)" if first_types else "")
    return made


def composite(rule, convention: str | None = None, quirks: bool = False):
    """The composite of ``rule`` (a rule name, ``"first/rest"``, a :class:`RuleName`, or a name of
    :data:`NAMED_COMPOSITES`) in a convention (``None`` = ``"textbook"``, or one of :data:`CONVENTIONS`).
    Raises :class:`UnsupportedRule` when the peer has no such rule."""
    name = "textbook" if convention is None else str(convention).lower()
    if name not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; one of {sorted(CONVENTIONS)}")
    named = _named_composite(rule, CONVENTIONS[name], quirks)
    if named is not None:
        return named
    rest, first = parse_composite(rule)
    return CONVENTIONS[name].composite(rest, first, quirks)
