"""Progress bars for long work (tqdm), shown only when stderr is a terminal.

``progress(iterable, "what")`` wraps an iterable; the bar goes to stderr and is switched off
when stderr is not a terminal (pipes, CI logs, tests), so output that is captured stays clean.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["progress"]


def progress(iterable=None, description: str = "", *, total: int | None = None, enabled: bool | None = None):
    """``iterable`` wrapped in a tqdm bar on stderr; ``enabled=None`` shows it only on a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(iterable, desc=description, total=total, disable=not enabled, leave=False, file=sys.stderr,
                dynamic_ncols=True)
