"""The engine's price-frame hot path over 10,000 positions (design.md §7: <= 10 ms a frame).

Three kinds of frame: a quiet one that crosses no band (what most frames are), a random-walk
frame (every symbol moves a few ticks, so trailing positions set new extremes and must be
re-evaluated), and a full `evaluate`, the fallback after a reload or a position change.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.report import Row, percentiles_ms
from daemon.domain import Market, Position, Price, Side
from daemon.engine import Memory, by_key, evaluate, plan, reevaluate
from daemon.rules.spec import (
    Breakeven,
    Components,
    Match,
    Pct,
    Rule,
    RuleBook,
    SideFilter,
    StopLoss,
    Trailing,
)

ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
POSITIONS = 10_000
SYMBOLS = 50
FRAMES = 60
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
D = Decimal


def _book() -> RuleBook:
    guard = Components(
        stop_loss=StopLoss(Pct(D("0.03"))),
        trailing=Trailing(Pct(D("0.02")), activate_at=Pct(D("0.01"))),
        breakeven=Breakeven(Pct(D("0.015")), Pct(D("0.001"))),
    )
    return RuleBook((
        Rule("longs", Match(None, SideFilter.LONG), guard),
        Rule("shorts", Match(None, SideFilter.SHORT), guard),
    ))


def _world(rng: random.Random) -> tuple[dict[str, Market], dict[str, Price], list[Position]]:
    markets = {f"S{i}": Market(f"S{i}", D("0.01"), D("0.001"), D("0.01"), D("1000000"),
                               D("10"), D("1000000"), 20) for i in range(SYMBOLS)}
    prices = {s: Price(s, D(1000), D(1000), D(1000), 0) for s in markets}
    created = int((NOW - timedelta(hours=1)).timestamp() * 1000)
    positions = []
    for n in range(POSITIONS):
        symbol = f"S{n % SYMBOLS}"
        entry = D(1000) + D(rng.randint(-3000, 3000)) / 100
        positions.append(Position(symbol, Side.BID if n % 2 else Side.ASK,
                                  D(rng.randint(1, 500)) / 100, entry, created + n, created + n))
    return markets, prices, positions


def _walk(prices: dict[str, Price], rng: random.Random, ticks: int, ts: int) -> dict[str, Price]:
    moved = {}
    for symbol, price in prices.items():
        mark = price.mark + D(rng.randint(-ticks, ticks)) / 100
        moved[symbol] = Price(symbol, mark, mark, mark, ts)
    return moved


def run() -> list[Row]:
    rng = random.Random(7)
    book = _book()
    markets, prices, positions = _world(rng)
    keyed = by_key(positions)

    start = time.perf_counter()
    first = evaluate(book, positions, prices, markets, Memory(), NOW, account=ACCOUNT)
    full_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    plan(first.desired, (), account=ACCOUNT, positions=keyed, memory=first.memory, now=NOW)
    plan_ms = (time.perf_counter() - start) * 1000

    quiet, walked, crossed_counts = [], [], []
    current = first
    for frame in range(FRAMES):
        now = NOW + timedelta(seconds=frame + 1)
        same = {s: Price(s, p.mark, p.mid, p.oracle, frame) for s, p in prices.items()}
        start = time.perf_counter()
        reevaluate(current, book, keyed, same, markets, now, account=ACCOUNT)
        quiet.append(time.perf_counter() - start)

        prices = _walk(prices, rng, ticks=30, ts=frame)
        start = time.perf_counter()
        after = reevaluate(current, book, keyed, prices, markets, now, account=ACCOUNT)
        walked.append(time.perf_counter() - start)
        crossed_counts.append(sum(1 for k, r in after.results.items()
                                  if r is not current.results.get(k)))
        current = after

    q50, q99 = percentiles_ms(quiet)
    w50, w99 = percentiles_ms(walked)
    crossed = sorted(crossed_counts)[len(crossed_counts) // 2]
    return [
        Row("price frame, 10,000 positions, no band crossed (p50 / p99)",
            f"{q50:.2f} / {q99:.2f} ms", "<= 10 ms", q99 <= 10),
        Row(f"price frame, 10,000 positions, random walk (median {crossed} re-evaluated; "
            "p50 / p99)", f"{w50:.1f} / {w99:.1f} ms", "<= 10 ms", w99 <= 10),
        Row("full evaluate, 10,000 positions (reload or position change)",
            f"{full_ms:.0f} ms", "fallback, not the hot path", None),
        Row("plan, 10,000 positions to place from nothing", f"{plan_ms:.0f} ms", "", None),
    ]
