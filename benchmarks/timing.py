"""What the benchmarks share: the median time of a call, timed in the process that runs it."""

from __future__ import annotations

import statistics
import time


def median_seconds(call, runs: int, warmup: int) -> float:
    """The median of ``runs`` timed calls of ``call()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
