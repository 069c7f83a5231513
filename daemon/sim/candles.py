"""Candles for `GET /kline` and `GET /kline/mark` (pacifica-api.md §3) from the prices the
simulator has set: rows `{t, T, s, i, o, c, h, l, v, n}`, oldest first.

Trade candles follow the last traded price and count the simulator's fills as volume (`v` in
the base asset, `n` fills); mark candles follow the mark and, as on Pacifica, have `v` "0".
A bucket with no price change carries the previous close, so every interval since the first
known price has a row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from daemon.sim.state import Fill

MINUTE = 60_000
INTERVALS: dict[str, int] = {
    "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE,
    "30m": 30 * MINUTE, "1h": 60 * MINUTE, "2h": 120 * MINUTE, "4h": 240 * MINUTE,
    "8h": 480 * MINUTE, "12h": 720 * MINUTE, "1d": 1440 * MINUTE,
}


@dataclass
class PriceTape:
    """Every (time, price) the simulator set, per symbol and kind ("last" or "mark")."""

    _times: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    _prices: dict[tuple[str, str], list[Decimal]] = field(
        default_factory=lambda: defaultdict(list))

    def record(self, symbol: str, at: int, *, last: Decimal, mark: Decimal) -> None:
        for kind, price in (("last", last), ("mark", mark)):
            times, prices = self._times[(symbol, kind)], self._prices[(symbol, kind)]
            if prices and prices[-1] == price:
                continue
            # A clock-skew fault can step the server clock back; the tape must stay sorted.
            times.append(max(at, times[-1]) if times else at)
            prices.append(price)

    def candles(self, symbol: str, kind: str, interval: str, start: int, end: int,
                fills: Iterable[Fill]) -> list[dict[str, Any]]:
        width = INTERVALS[interval]
        times, prices = self._times[(symbol, kind)], self._prices[(symbol, kind)]
        if not times or end < start:
            return []
        first = max(start - start % width, times[0] - times[0] % width)
        volume: dict[int, tuple[Decimal, int]] = {}
        if kind == "last":
            for item in fills:
                if item.symbol == symbol and start <= item.created_at <= end:
                    bucket = item.created_at - item.created_at % width
                    amount, count = volume.get(bucket, (Decimal(0), 0))
                    volume[bucket] = (amount + item.amount, count + 1)
        rows = []
        for opened in range(first, end - end % width + 1, width):
            before = bisect_right(times, opened - 1)
            inside = prices[before:bisect_right(times, opened + width - 1)]
            if before == 0 and not inside:
                continue
            open_ = prices[before - 1] if before else inside[0]
            span = [open_, *inside]
            amount, count = volume.get(opened, (Decimal(0), 0))
            rows.append({"t": opened, "T": opened + width, "s": symbol, "i": interval,
                         "o": format(open_, "f"), "c": format(span[-1], "f"),
                         "h": format(max(span), "f"), "l": format(min(span), "f"),
                         "v": format(amount, "f"), "n": count})
        return rows
