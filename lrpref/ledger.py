"""Conservation ledger: what each propagation step received, passed down and absorbed.

Every explanation in lrpref (neural LRP, reference-based methods, the bag-of-words
decomposition) records one row per step. For a step that receives relevance ``R_out``
from above and passes ``R_in`` down, the absorbed amounts are reported by kind
(``bias``, ``stabiliser``, ``dropped`` zero denominators, Taylor remainders, ...)
so that, per sample,

    received = passed + sum(absorbed[kind] for kind in kinds) + residual,

where ``residual`` is what no kind accounts for (round-off, or a method that is not
conservative and does not say why). Spec math.md §1 ("absorbed relevance") and
math.md §B6.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Ledger", "LedgerRow"]


@dataclass(frozen=True)
class LedgerRow:
    """One step of a ledger; every amount is an array with one value per sample."""

    name: str
    received: np.ndarray
    passed: np.ndarray
    absorbed: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def absorbed_total(self) -> np.ndarray:
        total = np.zeros_like(self.received)
        for amount in self.absorbed.values():
            total = total + amount
        return total

    @property
    def residual(self) -> np.ndarray:
        """``received - passed - sum(absorbed)``: zero (to round-off) when the books balance."""
        return self.received - self.passed - self.absorbed_total


class Ledger:
    """An ordered list of :class:`LedgerRow` (top step first) that prints as a table.

    ``ledger[k]`` is a row, ``ledger.sample(n)`` a printable view of one sample,
    ``ledger.kinds`` the absorption kinds present, ``ledger.as_dict()`` plain arrays.
    """

    def __init__(self, rows, kinds=None):
        self.rows = list(rows)
        seen = list(kinds or [])
        for row in self.rows:
            for kind in row.absorbed:
                if kind not in seen:
                    seen.append(kind)
        self.kinds = seen
        self.n_samples = len(self.rows[0].received) if self.rows else 0

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, k):
        return self.rows[k]

    def max_residual(self) -> float:
        """Largest ``|residual|`` over all rows and samples; NaN when any row holds a NaN (0 for an empty ledger)."""
        residuals = np.concatenate([np.abs(np.asarray(row.residual, dtype=np.float64)).ravel() for row in self.rows] or [[]])
        return float(np.max(residuals)) if residuals.size else 0.0  # np.max propagates NaN, Python's max() would drop it

    def as_dict(self) -> dict[str, np.ndarray]:
        """Columns as arrays of shape (steps, samples); step names under ``"name"``."""
        zeros = np.zeros(self.n_samples)
        out = {
            "name": np.array([row.name for row in self.rows]),
            "received": np.array([row.received for row in self.rows]),
            "passed": np.array([row.passed for row in self.rows]),
        }
        for kind in self.kinds:
            out[kind] = np.array([row.absorbed.get(kind, zeros) for row in self.rows])
        out["residual"] = np.array([row.residual for row in self.rows])
        return out

    def sample(self, n: int) -> str:
        """The table of sample ``n`` as text."""
        if not 0 <= n < self.n_samples:
            raise IndexError(f"sample {n} out of range: the ledger holds {self.n_samples} samples")
        header = ["step", "received", "passed"] + list(self.kinds) + ["residual"]
        lines = []
        for row in self.rows:
            cells = [row.name, _fmt(row.received[n]), _fmt(row.passed[n])]
            cells += [_fmt(row.absorbed[k][n]) if k in row.absorbed else "-" for k in self.kinds]
            cells.append(_fmt(row.residual[n]))
            lines.append(cells)
        widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]
        fmt_row = lambda cells: "  ".join(  # noqa: E731
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([fmt_row(header), rule] + [fmt_row(c) for c in lines])

    def __str__(self):
        if not self.rows:
            return "(empty ledger)"
        shown = min(self.n_samples, 3)
        blocks = [f"sample {n}\n{self.sample(n)}" for n in range(shown)]
        if self.n_samples > shown:
            blocks.append(f"... {self.n_samples - shown} more samples: ledger.sample(n)")
        return "\n\n".join(blocks)

    def __repr__(self):
        return f"<Ledger: {len(self.rows)} steps, {self.n_samples} samples, kinds {self.kinds}>"


def _fmt(value) -> str:
    value = float(value)
    if value == 0.0:
        return "0"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:.6f}"
    return f"{value:.4e}"
