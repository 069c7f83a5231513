"""One row per measured number, and the markdown table they end up in."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Row:
    name: str
    measured: str
    target: str
    met: bool | None  # None: no target to meet


def rate(fn: Callable[[int], None], n: int, repeats: int = 5) -> float:
    """Best-of-`repeats` operations per second of `fn(n)`, which performs n operations."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return n / best


def percentiles_ms(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000


def render(rows: list[Row]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Measured {stamp} on {platform.machine()}, Python {platform.python_version()}, "
        "one process. Written by `make bench`; do not edit by hand.",
        "",
        "| benchmark | measured | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.name} | {row.measured} | {row.target} | {met} |")
    return "\n".join(lines) + "\n"
