"""Without a price: levels the first price cannot find crossed by rounding alone.

Issue 9, defect 5: on a market whose tick is wider than the stop's distance (kBONK-like, tick
0.000001 at a price of 0.00002), a stop rounded toward a price the engine did not have landed
on the price itself; the ratchet held it, and the first price closed the position at market.
"""

from __future__ import annotations

import pytest
from engine_support import NOW, D, book, market, position, price, rule

from daemon.domain import Side
from daemon.engine import EXIT, SL, TP, Memory, evaluate
from daemon.rules.spec import LadderLeg, Pct, StopLoss, TakeProfit

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
