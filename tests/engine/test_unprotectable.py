"""A covered position the engine cannot protect is an error the service shows as bare.

Issue 9, "also seen": a short whose liquidation price is within two ticks of zero got "stop of
0; not placed" and no market close, and an absolute distance larger than the price an error
and no stop; neither said what to do, and nothing marked the position as bare.
"""

from __future__ import annotations

from engine_support import ACCOUNT, MARKETS, NOW, D, book, market, position, price, rule

from daemon.domain import PositionKey, Side
from daemon.engine import Evaluation, Memory, Severity, evaluate
from daemon.rules.spec import Abs, LadderLeg, Pct, StopLoss

BONK = {"BONK": market("BONK", "0.000001", "1000")}


def _flagged_with_advice(ev: Evaluation, key: PositionKey, *words: str) -> None:
    assert ev.desired == ()
    assert ev.unprotected == (key,)
    [notice] = [n for n in ev.notices if n.severity is Severity.ERROR]
    for word in ("NOT protected", *words):
        assert word in notice.message


def test_a_distance_larger_than_the_price_is_an_unprotected_error_that_says_what_to_do() -> None:
    pos = position(Side.BID, "1", "100", "BTC")
    ev = evaluate(book(rule(stop_loss=StopLoss(distance=Abs(D(500))))), [pos],
                  {"BTC": price("100")}, MARKETS, Memory(), NOW, account=ACCOUNT)
    _flagged_with_advice(ev, pos.key, "distance", "smaller")


def test_a_short_whose_liquidation_leaves_no_room_for_a_stop_is_an_unprotected_error() -> None:
    # Short 10,000,000 @ 0.000001, liquidation 0.000002: the stop must sit inside the
    # liquidation by two ticks, at 0: no stop exists, and closing at market would close a
    # position no component of its rule has crossed.
    pos = position(Side.ASK, "10000000", "0.000001", "BONK", liq="0.000002")
    ev = evaluate(book(rule(stop_loss=StopLoss(distance=Pct(D("0.03"))))), [pos],
                  {"BONK": price("0.000001", "BONK")}, BONK, Memory(), NOW, account=ACCOUNT)
    _flagged_with_advice(ev, pos.key, "liquidation", "margin")


def test_rungs_that_can_rest_still_rest_but_the_rest_is_flagged() -> None:
    # A rung at 2% rests; the absolute stop_loss below zero covers nothing: half is bare.
    pos = position(Side.BID, "1", "100000", "BTC")
    r = rule(stop_loss=StopLoss(distance=Abs(D(200000))),
             ladder=(LadderLeg(D("0.5"), Pct(D("0.02"))),))
    ev = evaluate(book(r), [pos], {"BTC": price("100000")}, MARKETS, Memory(), NOW)
    assert [(leg.leg, leg.amount) for leg in ev.desired] == [("ladder.0", D("0.5"))]
    assert ev.unprotected == (pos.key,)


def test_a_protected_position_is_not_flagged() -> None:
    pos = position(Side.BID, "1", "100000", "BTC")
    ev = evaluate(book(rule(stop_loss=StopLoss(distance=Pct(D("0.03"))))), [pos],
                  {"BTC": price("100000")}, MARKETS, Memory(), NOW)
    assert ev.unprotected == ()


def test_a_symbol_without_market_info_is_flagged() -> None:
    pos = position(Side.BID, "1", "100", "NOPE")
    ev = evaluate(book(rule(stop_loss=StopLoss(distance=Pct(D("0.03"))))), [pos],
                  {"NOPE": price("100", "NOPE")}, MARKETS, Memory(), NOW)
    assert ev.unprotected == (pos.key,)
