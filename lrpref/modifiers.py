"""Parameter modifiers ``rho``: the element-wise maps an LRP rule applies to a layer's weights and biases
(math.md §3.0: ``z = rho(W) a + rho(b)``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Modifier", "IDENTITY", "POSITIVE", "NEGATIVE", "NEGATED", "SQUARE", "ONES"]

_MODIFIERS = {
    "identity": ("w", lambda w, g: w),
    "positive": ("w⁺", lambda w, g: np.maximum(w, 0)),
    "negative": ("w⁻", lambda w, g: np.minimum(w, 0)),
    "negated": ("−w", lambda w, g: -w),
    "gamma_up": ("w + {g:g}·w⁺", lambda w, g: w + g * np.maximum(w, 0)),
    "gamma_down": ("w + {g:g}·w⁻", lambda w, g: w + g * np.minimum(w, 0)),
    "square": ("w²", lambda w, g: w * w),
    "ones": ("1", lambda w, g: np.ones_like(w)),
}


@dataclass(frozen=True)
class Modifier:
    """An element-wise parameter modifier ``rho`` (applied to weights and biases alike)."""

    kind: str
    gamma: float = 0.0

    def __post_init__(self):
        if self.kind not in _MODIFIERS:
            raise ValueError(f"unknown modifier {self.kind!r}; one of {sorted(_MODIFIERS)}")

    @property
    def is_identity(self) -> bool:
        return self.kind == "identity"

    def __call__(self, w):
        return _MODIFIERS[self.kind][1](w, w.dtype.type(self.gamma))

    def __str__(self):
        return _MODIFIERS[self.kind][0].format(g=self.gamma)


IDENTITY, POSITIVE, NEGATIVE, NEGATED = Modifier("identity"), Modifier("positive"), Modifier("negative"), Modifier("negated")
SQUARE, ONES = Modifier("square"), Modifier("ones")
