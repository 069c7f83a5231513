"""Breakeven latches are judged under the rule in force, and a window's latch per occurrence.

Issue 9, defects 3 and 4: a latch earned under one rule (or one occurrence of a window) was
carried into a rule (or occurrence) that would never have latched, and its stop, beyond the
price, closed the position at market.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine_support import MARKETS, D, book, position, price, rule

from daemon.domain import Position, Side
from daemon.engine import EXIT, SL, Evaluation, LegKind, Memory, evaluate
from daemon.rules.spec import Breakeven, Components, Match, Pct, Rule, StopLoss, Window

SL3 = StopLoss(distance=Pct(D("0.03")))


def _pct(text: str) -> Pct:
    return Pct(D(text) / 100)


def _run(r: Rule, pos: Position, mark: str, memory: Memory, now: datetime) -> Evaluation:
    return evaluate(book(r), [pos], {pos.symbol: price(mark, pos.symbol)}, MARKETS, memory, now)


def _legs(ev: Evaluation) -> dict[str, tuple[LegKind, Decimal | None, str]]:
    return {leg.leg: (leg.kind, leg.stop_price, leg.component) for leg in ev.desired}


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def test_a_latch_is_judged_again_under_the_edited_rule() -> None:
    # Latched at +1 % under {at: 1%, offset: 0.1%}; the trader reloads with {at: 5%, offset:
    # 2%} at +1.5 %: the new rule never latched, so its stop is the stop loss (the ratchet
    # reset by the edit, and said so), not a breakeven at 102000 beyond the price.
    pos = position(Side.BID, "1", "100000")
    before = rule("btc", stop_loss=SL3, breakeven=Breakeven(_pct("1"), _pct("0.1")))
    latched = _run(before, pos, "101000", Memory(), NOW)
    assert _legs(latched)[SL][1] == D("100100")
    edited = rule("btc", stop_loss=SL3, breakeven=Breakeven(_pct("5"), _pct("2")))
    after = _run(edited, pos, "101500", latched.memory, NOW)
    fresh = _run(edited, pos, "101500", Memory(), NOW)
    assert EXIT not in _legs(after)
    assert _legs(after)[SL][:2] == _legs(fresh)[SL][:2] == (LegKind.STOP, D("97000"))
    assert after.desired[0].loosened_from == D("100100")


def test_a_latch_kept_by_the_best_price_still_holds_after_the_edit() -> None:
    # The edited rule's threshold was reached by the best price kept: it latches at once.
    pos = position(Side.BID, "1", "100000")
    before = rule("btc", stop_loss=SL3, breakeven=Breakeven(_pct("1"), _pct("0.1")))
    first = _run(before, pos, "103000", Memory(), NOW)
    second = _run(before, pos, "100500", first.memory, NOW)
    edited = rule("btc", stop_loss=SL3, breakeven=Breakeven(_pct("2"), _pct("0.2")))
    after = _run(edited, pos, "100500", second.memory, NOW)
    assert _legs(after)[SL] == (LegKind.STOP, D("100200"), "breakeven")


def test_a_resize_into_another_rule_does_not_carry_the_latch() -> None:
    # min_notional tiers: the small tier latched at +1 %; growth takes the position into the
    # big tier, whose breakeven (at 5 %) was never reached. It keeps the stop the small tier
    # set (a position passing to another rule keeps its stop) and is not closed. (A partial
    # close keeps the tier the position was armed in: docs/rules.md, min_notional.)
    big = Rule("big", Match(("BTC",), min_notional=D("50000")),
               Components(stop_loss=SL3, breakeven=Breakeven(_pct("5"), _pct("2"))))
    small = Rule("small", Match(("BTC",)),
                 Components(stop_loss=SL3, breakeven=Breakeven(_pct("1"), _pct("0.1"))))
    rules = book(big, small)
    pos = position(Side.BID, "0.4", "100000")
    latched = evaluate(rules, [pos], {"BTC": price("101000")}, MARKETS, Memory(), NOW)
    assert latched.desired[0].rule == "small"
    bigger = replace(pos, amount=D("1"))
    after = evaluate(rules, [bigger], {"BTC": price("101500")}, MARKETS, latched.memory, NOW)
    legs = _legs(after)
    assert EXIT not in legs
    assert legs[SL][:2] == (LegKind.STOP, D("100100"))
    assert after.desired[0].rule == "big"
    assert after.memory.positions[pos.key].latched == ()


def _short_rule(window_stop: bool = False, stop: str = "3") -> Rule:
    weekend = Window("weekend", "0 20 * * FRI", "UTC", timedelta(hours=52),
                     Components(breakeven=Breakeven(_pct("1"), _pct("0.5"))))
    return rule("btc", stop_loss=StopLoss(distance=_pct(stop)), windows=(weekend,))


FRIDAY = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
NEXT_FRIDAY = FRIDAY + timedelta(days=7)


def _first_weekend(pos: Position, r: Rule) -> Memory:
    memory = _run(r, pos, "100000", Memory(), NOW).memory
    latched = _run(r, pos, "101000", memory, FRIDAY)
    assert _legs(latched)[SL] == (LegKind.STOP, D("100500"), "window:weekend/breakeven")
    # Back to midweek: the window closed, the stop it tightened stays.
    midweek = _run(r, pos, "100600", latched.memory, FRIDAY + timedelta(days=4))
    assert _legs(midweek)[SL][:2] == (LegKind.STOP, D("100500"))
    return midweek.memory


def test_the_next_occurrence_of_a_window_starts_afresh_after_a_stop_loss_edit() -> None:
    pos = position(Side.BID, "1", "100000")
    memory = _first_weekend(pos, _short_rule())
    # An unrelated edit of the stop loss resets the ratchet; the next weekend opens at
    # +0.2 %, short of the window's 1 %: its breakeven has not latched in this occurrence.
    edited = _short_rule(stop="2.5")
    after = _run(edited, pos, "100200", memory, NEXT_FRIDAY)
    assert _legs(after) == {SL: (LegKind.STOP, D("97500"), "stop_loss")}
    # Reaching 1 % in this occurrence latches it again.
    again = _run(edited, pos, "101000", after.memory, NEXT_FRIDAY + timedelta(hours=1))
    assert _legs(again)[SL] == (LegKind.STOP, D("100500"), "window:weekend/breakeven")


def test_the_next_occurrence_of_a_window_starts_afresh_after_an_addition() -> None:
    # No reload: midweek the trader adds to the position, moving the entry up to 100400. The
    # stop the last weekend tightened (100500) stays; a latch carried over would put the
    # breakeven at 100902, beyond the price of 100600, and close the position at market.
    r = _short_rule()
    pos = position(Side.BID, "1", "100000")
    memory = _first_weekend(pos, r)
    added = replace(pos, amount=D("2"), entry_price=D("100400"))
    after = _run(r, added, "100600", memory, NEXT_FRIDAY)
    assert _legs(after) == {SL: (LegKind.STOP, D("100500"), "stop_loss (held by ratchet)")}
