"""Without a price, or with a stale one: nothing the first fresh price finds crossed by rounding.

Issue 9, defect 5: on a market whose tick is wider than the stop's distance (kBONK-like, tick
0.000001 at a price of 0.00002), a stop rounded toward a price the engine did not have landed
on the price itself; the ratchet held it, and the first price closed the position at market.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from engine_support import MARKETS, NOW, D, book, market, position, price, rule

from daemon.domain import Market, Position, Price, Side
from daemon.engine import (
    EXIT,
    SL,
    TP,
    EngineConfig,
    Evaluation,
    Memory,
    by_key,
    evaluate,
    reevaluate,
)
from daemon.rules.spec import (
    Anchor,
    Breakeven,
    LadderLeg,
    Pct,
    Rule,
    StopLoss,
    TakeProfit,
    Trailing,
)

COARSE = {"BONK": market("BONK", "0.000001", "1000", min_order="0")}
SL3 = StopLoss(distance=Pct(D("0.03")))


@pytest.mark.parametrize(("side", "stop"), [(Side.BID, "0.000019"), (Side.ASK, "0.000021")])
def test_a_coarse_tick_without_a_price_rounds_away_and_the_first_price_keeps_it(
        side: Side, stop: str) -> None:
    # docs/rules.md example 36 and 37, with the price arriving after the first evaluation.
    pos = position(side, "1000000", "0.00002", "BONK")
    r = rule(stop_loss=SL3)
    blind = evaluate(book(r), [pos], {}, COARSE, Memory(), NOW)
    assert {leg.leg: leg.stop_price for leg in blind.desired} == {SL: D(stop)}
    seen = evaluate(book(r), [pos], {"BONK": price("0.00002", "BONK")}, COARSE, blind.memory,
                    NOW)
    assert {leg.leg: leg.stop_price for leg in seen.desired} == {SL: D(stop)}


@pytest.mark.parametrize(("side", "target"), [(Side.BID, "0.000021"), (Side.ASK, "0.000019")])
def test_a_coarse_tick_without_a_price_puts_the_take_profit_beyond_the_target(
        side: Side, target: str) -> None:
    # 3 % from 0.00002 is 0.0000206 (0.0000194 for the short): toward the price it is
    # 0.000020, which the first price 0.00002 would find reached (a market close).
    pos = position(side, "1000000", "0.00002", "BONK")
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.5"))),
             take_profit=TakeProfit(distance=Pct(D("0.03"))))
    blind = evaluate(book(r), [pos], {}, COARSE, Memory(), NOW)
    assert {leg.leg: leg.stop_price for leg in blind.desired}[TP] == D(target)
    seen = evaluate(book(r), [pos], {"BONK": price("0.00002", "BONK")}, COARSE, blind.memory,
                    NOW)
    assert EXIT not in {leg.leg for leg in seen.desired}


def test_a_ladder_rung_without_a_price_rounds_away_too() -> None:
    pos = position(Side.BID, "1000000", "0.00002", "BONK")
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.2"))),
             ladder=(LadderLeg(D("0.5"), Pct(D("0.03"))),))
    blind = evaluate(book(r), [pos], {}, COARSE, Memory(), NOW)
    assert {leg.leg: leg.stop_price for leg in blind.desired}["ladder.0"] == D("0.000019")
    seen = evaluate(book(r), [pos], {"BONK": price("0.00002", "BONK")}, COARSE, blind.memory,
                    NOW)
    assert {leg.leg: leg.stop_price for leg in seen.desired}["ladder.0"] == D("0.000019")


def test_an_ordinary_tick_without_a_price_rounds_away_then_tightens_with_the_price() -> None:
    # 3 % below 100003 is 97002.91: without a price 97002 (the first price might be 97002.95),
    # with one 97003, the nearest tick that rests on the protective side.
    pos = position(Side.BID, "1", "100003")
    r = rule(stop_loss=SL3)
    blind = evaluate(book(r), [pos], {}, {"BTC": market()}, Memory(), NOW)
    assert blind.desired[0].stop_price == D("97002")
    seen = evaluate(book(r), [pos], {"BTC": price("100003")}, {"BTC": market()},
                    blind.memory, NOW)
    assert seen.desired[0].stop_price == D("97003")


# Stale prices (issue 9, defect 6) -------------------------------------------------------------

STALE = EngineConfig(stale_after_ms=5000)
TS = int(NOW.timestamp() * 1000)
LATER = NOW + timedelta(seconds=10)  # the price of TS is stale by then


def _fast_and_full(r: Rule, pos: Position, first: Price, frame: Price, now: datetime,
                   markets: Mapping[str, Market] = MARKETS) -> tuple[Evaluation, Evaluation,
                                                                     Evaluation]:
    before = evaluate(book(r), [pos], {pos.symbol: first}, markets, Memory(), NOW,
                      config=STALE)
    fast = reevaluate(before, book(r), by_key([pos]), {pos.symbol: frame}, markets, now,
                      config=STALE)
    full = evaluate(book(r), [pos], {pos.symbol: frame}, markets, before.memory, now,
                    config=STALE)
    return before, fast, full


def test_a_price_going_stale_changes_nothing_and_both_paths_agree() -> None:
    # A short whose rung (3030) the mark (3040) has crossed: skipped, its amount with the
    # main stop. The same price gone stale must not place the rung again (below the mark, it
    # would fire at once or be refused) nor shrink the main stop.
    short = position(Side.ASK, "2", "3000", "ETH")
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.05"))),
             ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),))
    mark = price("3040", "ETH", ts=TS)
    before, fast, full = _fast_and_full(r, short, mark, mark, LATER)
    assert full.results == fast.results == before.results
    assert full.memory == fast.memory == before.memory


@pytest.mark.parametrize(("pos", "path", "better"), [
    (position(Side.BID, "1", "100000"), ["100000", "104000"], "110000"),
    (position(Side.ASK, "2", "3000", "ETH"), ["3000", "2900"], "2700"),
])
def test_a_stale_better_price_moves_nothing_and_both_paths_agree(
        pos: Position, path: list[str], better: str) -> None:
    r = rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02"))),
             breakeven=Breakeven(Pct(D("0.05")), Pct(D("0.01"))))
    before = evaluate(book(r), [pos], {pos.symbol: price(path[0], pos.symbol, ts=TS)},
                      MARKETS, Memory(), NOW, config=STALE)
    trailed = reevaluate(before, book(r), by_key([pos]),
                         {pos.symbol: price(path[1], pos.symbol, ts=TS)}, MARKETS, NOW,
                         config=STALE)
    frame = {pos.symbol: price(better, pos.symbol, ts=TS)}
    fast = reevaluate(trailed, book(r), by_key([pos]), frame, MARKETS, LATER, config=STALE)
    full = evaluate(book(r), [pos], frame, MARKETS, trailed.memory, LATER, config=STALE)
    assert fast.results == full.results
    assert fast.memory == full.memory == trailed.memory  # no new best price, no latch
    assert fast.desired == trailed.desired
    # Fresh again at the same value: now it moves, on both paths.
    fresh = {pos.symbol: price(better, pos.symbol, ts=TS + 10_000)}
    moved = reevaluate(fast, book(r), by_key([pos]), fresh, MARKETS, LATER, config=STALE)
    again = evaluate(book(r), [pos], fresh, MARKETS, fast.memory, LATER, config=STALE)
    assert moved.results == again.results
    assert moved.memory == again.memory != trailed.memory


def test_a_position_first_seen_on_a_stale_price_waits_for_a_fresh_one() -> None:
    # `from: first_seen` measures from a fresh price only; the same value turning fresh must
    # be found by the fast path too (no band edge moves: the band is `always` meanwhile).
    pos = position(Side.BID, "1", "100000")
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.02")), anchor=Anchor.FIRST_SEEN))
    stale = price("101000", ts=TS - 10_000)
    before = evaluate(book(r), [pos], {"BTC": stale}, MARKETS, Memory(), NOW, config=STALE)
    assert before.desired == ()
    assert any("no fresh mark_price" in n.message for n in before.notices)
    assert before.results[pos.key].band.always
    fresh = {"BTC": price("101000", ts=TS)}
    fast = reevaluate(before, book(r), by_key([pos]), fresh, MARKETS, NOW, config=STALE)
    full = evaluate(book(r), [pos], fresh, MARKETS, before.memory, NOW, config=STALE)
    assert fast.results == full.results
    assert fast.memory == full.memory
    assert [leg.stop_price for leg in fast.desired] == [D("98980")]


def test_a_stale_price_still_protects_a_coarse_tick_after_a_reload() -> None:
    # A reload during a feed gap: the stale price still tells the engine where the price is,
    # so the coarse tick is rounded against it, not onto it.
    pos = position(Side.BID, "1000000", "0.00002", "BONK")
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.05"))))
    mark = price("0.00002", "BONK", ts=TS)
    before = evaluate(book(r), [pos], {"BONK": mark}, COARSE, Memory(), NOW, config=STALE)
    edited = rule(stop_loss=SL3)
    after = evaluate(book(edited), [pos], {"BONK": mark}, COARSE, before.memory, LATER,
                     config=STALE)
    assert {leg.leg: leg.stop_price for leg in after.desired} == {SL: D("0.000019")}
