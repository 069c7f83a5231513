"""Candle invariants over any price tape: bounds, alignment, continuity, the latest close."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from daemon.sim.candles import INTERVALS, PriceTape

ticks = st.lists(st.tuples(st.integers(0, 5 * 60_000), st.integers(1, 50)), min_size=1,
                 max_size=40)


@given(ticks, st.sampled_from(["1m", "3m", "5m"]), st.integers(0, 6 * 60_000),
       st.integers(0, 6 * 60_000))
def test_candles_are_consistent_with_the_tape(steps: list[tuple[int, int]], interval: str,
                                              start: int, span: int) -> None:
    tape = PriceTape()
    at = 0
    history: list[tuple[int, Decimal]] = []
    for gap, price in steps:
        at += gap
        tape.record("BTC", at, last=Decimal(price), mark=Decimal(price))
        history.append((at, Decimal(price)))
    end = start + span
    rows = tape.candles("BTC", "last", interval, start, end, [])
    width = INTERVALS[interval]
    for row in rows:
        o, c, h, low = (Decimal(row[k]) for k in ("o", "c", "h", "l"))
        assert low <= min(o, c) <= max(o, c) <= h
        assert row["t"] % width == 0
        assert row["T"] == row["t"] + width
        assert row["t"] <= end
    for before, after in itertools.pairwise(rows):
        assert after["t"] == before["t"] + width
        assert after["o"] == before["c"]  # a quiet bucket carries the close forward
    # The last row is the bucket holding `end`, and it closes on the last price inside it.
    last_bucket_end = end - end % width + width
    known = [p for t, p in history if t < last_bucket_end]
    if rows:
        assert rows[-1]["T"] == last_bucket_end
        assert Decimal(rows[-1]["c"]) == known[-1]
    else:
        assert not known
