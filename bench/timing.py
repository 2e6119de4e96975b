"""Timing helpers shared by the benchmarks (no torch: runtime-only benchmarks import it)."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds over `repeats` runs after one warm-up run, and the last result."""
    return timed_together({"only": fn}, repeats)["only"]


def timed_together(fns: dict, repeats: int) -> dict:
    """{name: (median seconds, last result)}, the functions timed in turn, round after round,
    after one warm-up each: a machine that speeds up or slows down between minutes then
    moves them all, not only the one measured at that time."""
    results = {name: fn() for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in fns}
