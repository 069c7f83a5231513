"""Typical memory contents for state tests and the state benchmark."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from daemon.domain import PositionKey, Side, TriggerPriceType
from daemon.engine.memory import Memory, OrderMemory, PositionMemory

ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
OTHER = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
PLANNED = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def key(n: int, symbol: str = "BTC") -> PositionKey:
    return PositionKey(symbol, Side.BID if n % 2 else Side.ASK, 1_764_000_000_000 + n)


def position(n: int, extreme: int = 100_000) -> PositionMemory:
    """What the engine keeps for a trailing position with a ladder: a typical row."""
    order = OrderMemory(n % 7, True, Decimal(extreme - 3000), Decimal("0.125"), None, PLANNED,
                        TriggerPriceType.MARK)
    return PositionMemory(
        first_seen=Decimal(99_000), extreme=Decimal(extreme), latched=("breakeven",),
        fingerprint="0123456789abcdef", rule="btc-longs",
        floors=(("ladder.0", Decimal(extreme - 2000)), ("sl", Decimal(extreme - 3000))),
        orders=(("ladder.0", replace(order, revision=n % 5)), ("sl", order)),
        windows=(("weekend", PLANNED, Decimal(extreme)),))


def memory(count: int) -> Memory:
    return Memory({key(n, f"S{n % 50}"): position(n) for n in range(count)})
