"""`StateStore.save_memory` after a plan, over 10,000 positions (it runs on every price frame).

The memory is the engine's own: a full evaluate and plan of bench.engine's world, then price
frames of its random walk (every re-evaluated position that set a new extreme is a new
PositionMemory object), and frames where exactly 100 positions changed. Wall time, on a
file in a temporary folder; `synchronous=NORMAL` so no commit waits for an fsync.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench.engine import ACCOUNT, NOW, _book, _walk, _world
from bench.report import Row, percentiles_ms
from daemon.engine import Memory, by_key, evaluate, plan, reevaluate
from daemon.state import StateStore

FRAMES = 60
CHANGED = 100


def _timed(store: StateStore, memory: Memory, cpu: list[float] | None = None) -> float:
    """Wall seconds of one save; its CPU seconds go to `cpu` (the wall time of a loaded
    2-core box counts other processes' turns too)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    store.save_memory(ACCOUNT, memory)
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def run() -> list[Row]:
    rng = random.Random(7)
    book = _book()
    markets, prices, positions = _world(rng)
    keyed = by_key(positions)
    first = evaluate(book, positions, prices, markets, Memory(), NOW, account=ACCOUNT)
    planned = plan(first.desired, (), account=ACCOUNT, positions=keyed, memory=first.memory,
                   now=NOW).memory
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stopd.db"
        store = StateStore.open(path)
        initial_ms = _timed(store, planned) * 1000

        some, walked, changed_counts = [], [], []
        some_cpu: list[float] = []
        walked_cpu: list[float] = []
        memory, keys = planned, list(planned.positions)
        for frame in range(FRAMES):
            picked = rng.sample(keys, CHANGED)
            memory = memory.updated({k: replace(memory.positions[k], extreme=Decimal(frame))
                                     for k in picked})
            some.append(_timed(store, memory, some_cpu))

        current = first
        for frame in range(FRAMES):
            prices = _walk(prices, rng, ticks=30, ts=frame)
            after = reevaluate(current, book, keyed, prices, markets,
                               NOW + timedelta(seconds=frame + 1), account=ACCOUNT)
            changed_counts.append(sum(1 for k, v in after.memory.positions.items()
                                      if v is not current.memory.positions.get(k)))
            walked.append(_timed(store, after.memory, walked_cpu))
            current = after
        store.close()
        start = time.perf_counter()
        StateStore.open(path).load_memory(ACCOUNT)
        load_ms = (time.perf_counter() - start) * 1000
        size_mb = path.stat().st_size / 1e6

    s50, s99 = percentiles_ms(some)
    w50, w99 = percentiles_ms(walked)
    changed = sorted(changed_counts)[len(changed_counts) // 2]
    s_cpu = statistics.median(some_cpu) * 1000
    w_cpu = statistics.median(walked_cpu) * 1000
    return [
        Row(f"save_memory, 10,000 positions, {CHANGED} changed (p50 / p99 wall; p50 CPU)",
            f"{s50:.1f} / {s99:.1f} ms; {s_cpu:.1f} ms", "a few ms", s50 <= 5),
        Row(f"save_memory after a random-walk frame (median {changed} changed; p50 / p99 "
            "wall; p50 CPU)", f"{w50:.1f} / {w99:.1f} ms; {w_cpu:.1f} ms", "", None),
        Row("save_memory, 10,000 positions from nothing; open + load_memory",
            f"{initial_ms:.0f} ms; {load_ms:.0f} ms ({size_mb:.1f} MB file)",
            "start-up only", None),
    ]
