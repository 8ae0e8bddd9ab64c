"""Presets: named composites and the conventions of the peers (spec ``peers.md``).

* zennit's composites ``EpsilonGammaBox``, ``EpsilonPlus``, ``EpsilonPlusFlat``,
  ``EpsilonAlpha2Beta1``, ``EpsilonAlpha2Beta1Flat`` (also as ``presets.zennit.*``) and
  :class:`Montavon2019`, the recommendation of Montavon et al. 2019.
* One namespace per peer — :mod:`.zennit`, :mod:`.captum`, :mod:`.innvestigate`,
  :mod:`.toolbox` — with that peer's rules under its own names, its composites, and (captum) its
  ``explain`` settings for DeepLIFT and IG; :mod:`.textbook` is lrpref's own convention.
* :func:`composite` looks a rule up by name in any convention: ``composite("gamma:0.25",
  "captum")``. Where a peer's behaviour is a bug, its preset reproduces it only with
  ``quirks=True`` (docs/peers.md says what is wrong and what the correct value is).
"""

from __future__ import annotations

from . import captum, innvestigate, textbook, toolbox, zennit
from ._common import PeerComposite, RuleName, UnsupportedRule, parse_rule
from .textbook import Montavon2019
from .zennit import EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus, EpsilonPlusFlat

__all__ = ["EpsilonGammaBox", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1", "EpsilonAlpha2Beta1Flat",
           "Montavon2019", "CONVENTIONS", "composite", "parse_composite", "RuleName", "parse_rule", "UnsupportedRule",
           "PeerComposite", "zennit", "captum", "innvestigate", "toolbox", "textbook"]

CONVENTIONS = {module.NAME: module for module in (textbook, zennit, captum, innvestigate, toolbox)}


def parse_composite(text) -> tuple[RuleName, RuleName | None]:
    """``(rest, first)`` from ``"rule"`` or ``"first/rest"`` (e.g. ``"zbox:-1,1/epsilon:0.25"``)."""
    if isinstance(text, RuleName):
        return text, None
    first, _, rest = str(text).rpartition("/")
    return parse_rule(rest), (parse_rule(first) if first else None)


def composite(rule, convention: str | None = None, quirks: bool = False):
    """The composite of ``rule`` (a rule name, ``"first/rest"``, or a :class:`RuleName`) in a convention
    (``None`` = ``"textbook"``, or one of :data:`CONVENTIONS`). Raises :class:`UnsupportedRule` when the peer
    has no such rule."""
    name = "textbook" if convention is None else str(convention).lower()
    if name not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; one of {sorted(CONVENTIONS)}")
    rest, first = parse_composite(rule)
    return CONVENTIONS[name].composite(rest, first, quirks)
