"""The simulator's credit ledger: one `charge` (every /api/v1 request pays one) with 100 and
10,000 charges live in the window.

The window slides one charge per call (each call expires the oldest), so the number live stays
put. Median per-call time over batches; what grows with the number live is what a long
benchmark run against the simulator pays on every request.
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

from bench.report import Row
from daemon.sim.credits import CreditLedger

BATCH = 500
BATCHES = 21
COST = Decimal(1)


def per_call_us(live: int) -> float:
    # A window of `live` ms holding one charge per ms: each call at the next ms expires one.
    ledger = CreditLedger(window_ms=live)
    quota = Decimal(10 * live)  # never refused: every call appends
    for now in range(live):
        ledger.charge("k", quota, COST, now)
    now = live
    samples = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(BATCH):
            ledger.charge("k", quota, COST, now)
            now += 1
        samples.append((time.perf_counter() - start) / BATCH)
    return statistics.median(samples) * 1e6


def run() -> list[Row]:
    small, large = per_call_us(100), per_call_us(10_000)
    return [
        Row("sim credit ledger: one charge, 100 live (median)", f"{small:.1f} us", "-", None),
        Row("sim credit ledger: one charge, 10,000 live (median)", f"{large:.1f} us",
            "within 2x of 100 live", large <= 2 * small),
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row.name}: {row.measured}")
