"""Component behaviour beyond the worked examples: ratchet, reloads, memory, missing prices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from engine_support import (
    ACCOUNT,
    CREATED,
    MARKETS,
    NOW,
    D,
    apply,
    book,
    foreign_order,
    position,
    price,
    rule,
)

from daemon import ids
from daemon.domain import OpenOrder, Position, Price, Side, TriggerPriceType
from daemon.engine import (
    SL,
    DesiredLeg,
    EngineConfig,
    Evaluation,
    LegKind,
    Memory,
    Move,
    PositionMemory,
    Severity,
    evaluate,
    plan,
)
from daemon.rules.spec import (
    Abs,
    Anchor,
    Breakeven,
    Components,
    Match,
    OrderKind,
    OrderStyle,
    Pct,
    Rule,
    SideFilter,
    StopLoss,
    TimeExit,
    Trailing,
    Window,
)

SL3 = StopLoss(distance=Pct(D("0.03")))
LONG = position(Side.BID, "1", "100000")
SHORT = position(Side.ASK, "2", "3000", "ETH")


def sl_of(evaluation: Evaluation) -> DesiredLeg:
    legs = [leg for leg in evaluation.desired if leg.leg == SL]
    assert len(legs) == 1
    return legs[0]


def _memory(evaluation: Evaluation, pos: Position) -> PositionMemory:
    memory = evaluation.memory.get(pos.key)
    assert memory is not None
    return memory


def run(r: Rule, pos: Position, marks: list[str], memory: Memory | None = None,
        now: datetime = NOW, account: str | None = None, live: Sequence[OpenOrder] = ()
        ) -> Evaluation:
    symbol = pos.symbol
    evaluation = None
    for mark in marks:
        evaluation = evaluate(book(r), [pos], {symbol: price(mark, symbol)}, MARKETS,
                              memory or Memory(), now, account=account, live=live)
        memory = evaluation.memory
    assert evaluation is not None
    return evaluation


@pytest.mark.parametrize(("pos", "lower_entry", "held"), [
    (LONG, "99000", D("97000")),  # 3% of 99000 = 96030: looser, held at 97000
    (SHORT, "3010", D("3090")),  # 3% of 3010 = 3100.3: looser for a short, held at 3090
])
def test_entry_change_never_loosens(pos: Position, lower_entry: str, held: Decimal) -> None:
    first = run(rule(stop_loss=SL3), pos, ["100000" if pos is LONG else "3000"])
    moved = position(pos.side, str(pos.amount), lower_entry, pos.symbol)
    again = evaluate(book(rule(stop_loss=SL3)), [moved],
                     {moved.symbol: price("99500" if pos is LONG else "3005", moved.symbol)},
                     MARKETS, first.memory, NOW)
    leg = sl_of(again)
    assert leg.stop_price == held
    assert "held by ratchet" in leg.component


def test_window_end_keeps_its_tighter_stop() -> None:
    window = Window("wed", "0 8 * * WED", "UTC", timedelta(hours=8),
                    Components(stop_loss=StopLoss(distance=Pct(D("0.015")))))
    r = rule(stop_loss=SL3, windows=(window,))
    during = run(r, LONG, ["100000"])
    assert sl_of(during).stop_price == D("98500")
    after = run(r, LONG, ["100000"], during.memory, NOW + timedelta(hours=5))
    assert sl_of(after).stop_price == D("98500")


@pytest.mark.parametrize(("pos", "mark", "tight", "loose"), [
    (LONG, "100000", D("98500"), D("97000")),
    (SHORT, "3000", D("3045"), D("3090")),
])
def test_rule_change_may_loosen_and_plan_says_so(pos: Position, mark: str, tight: Decimal,
                                                 loose: Decimal) -> None:
    tight_rule = rule(stop_loss=StopLoss(distance=Pct(D("0.015"))))
    first = run(tight_rule, pos, [mark], account=ACCOUNT)
    p1 = plan(first.desired, [], account=ACCOUNT, positions=[pos.key],
              memory=first.memory, now=NOW)
    live = apply(p1.actions, [])
    assert live[0].stop_price == tight

    same = run(tight_rule, pos, [mark], p1.memory, account=ACCOUNT, live=live)
    assert sl_of(same).loosened_from is None

    reloaded = run(rule(stop_loss=SL3), pos, [mark], p1.memory, account=ACCOUNT, live=live)
    leg = sl_of(reloaded)
    assert leg.stop_price == loose
    assert leg.loosened_from == tight
    p2 = plan(reloaded.desired, live, account=ACCOUNT, positions=[pos.key],
              memory=reloaded.memory, now=NOW + timedelta(minutes=1))
    [move] = p2.actions
    assert isinstance(move, Move)
    assert move.loosens
    assert "LOOSENS" in move.reason
    assert move.replaces == live[0]


def test_without_memory_our_resting_stop_is_the_floor_and_foreign_ones_are_not() -> None:
    ours = foreign_order(1, "99000", ids.make(ACCOUNT, LONG.key, SL, 3))
    theirs = foreign_order(2, "99900", None)
    evaluation = run(rule(stop_loss=SL3), LONG, ["100000"], account=ACCOUNT, live=[ours, theirs])
    leg = sl_of(evaluation)
    assert leg.stop_price == D("99000")


@pytest.mark.parametrize(("pos", "path", "stop"), [
    (LONG, ["100000", "104000"], D("101920")),
    (SHORT, ["3000", "2900"], D("2958")),
])
def test_missing_or_stale_price_freezes_trailing(pos: Position, path: list[str], stop: Decimal
                                                 ) -> None:
    r = rule(trailing=Trailing(Pct(D("0.02"))))
    moving = run(r, pos, path)
    assert sl_of(moving).stop_price == stop
    memory = moving.memory
    missing = evaluate(book(r), [pos], {}, MARKETS, memory, NOW)
    assert sl_of(missing).stop_price == stop
    assert missing.memory == memory
    assert missing.results[pos.key].band.always
    better = "120000" if pos is LONG else "2000"
    stale = evaluate(book(r), [pos], {pos.symbol: price(better, pos.symbol, ts=CREATED)},
                     MARKETS, memory, NOW, config=EngineConfig(stale_after_ms=5000))
    assert sl_of(stale).stop_price == stop
    assert stale.memory == memory


def test_breakeven_latches_once_and_stays() -> None:
    r = rule(stop_loss=SL3, breakeven=Breakeven(Pct(D("0.02")), Pct(D("0.001"))))
    latched = run(r, LONG, ["102000"])
    assert _memory(latched, LONG).latched == ("breakeven",)
    fallen = run(r, LONG, ["100200", "100150"], latched.memory)
    assert sl_of(fallen).stop_price == D("100100")
    assert _memory(fallen, LONG).latched == ("breakeven",)


def test_first_seen_is_recorded_once() -> None:
    r = rule(stop_loss=StopLoss(distance=Pct(D("0.02")), anchor=Anchor.FIRST_SEEN))
    evaluation = run(r, LONG, ["101000", "90000", "120000"])
    assert _memory(evaluation, LONG).first_seen == D("101000")


def test_uncovered_ambiguous_and_unknown_market_are_reported_not_raised() -> None:
    only_eth = Rule("eth", Match(("ETH",)), Components(stop_loss=SL3))
    evaluation = evaluate(book(only_eth), [LONG, SHORT], {}, MARKETS, Memory(), NOW)
    assert evaluation.uncovered == (LONG.key,)
    assert any("no rule covers" in n.message for n in evaluation.notices)

    twins = book(Rule("a", Match(("BTC",), SideFilter.LONG), Components(stop_loss=SL3)),
                 Rule("b", Match(("BTC",), SideFilter.LONG), Components(stop_loss=SL3)))
    evaluation = evaluate(twins, [LONG], {}, MARKETS, Memory(), NOW)
    assert evaluation.uncovered == (LONG.key,)
    [notice] = evaluation.notices
    assert notice.severity is Severity.ERROR
    assert "more than one rule" in notice.message

    evaluation = evaluate(book(rule(stop_loss=SL3)), [position(symbol="DOGE")], {}, MARKETS,
                          Memory(), NOW)
    assert evaluation.desired == ()
    assert "no market info" in evaluation.notices[0].message


def test_rule_is_chosen_by_notional_at_entry_not_at_the_price() -> None:
    big = Rule("big", Match(("BTC",), min_notional=D("50000")), Components(stop_loss=SL3))
    small = Rule("any", Match(None), Components(stop_loss=StopLoss(distance=Pct(D("0.05")))))
    for mark in ("100000", "40000", "100"):
        evaluation = evaluate(book(big, small), [LONG], {"BTC": price(mark)}, MARKETS, Memory(),
                              NOW)
        assert evaluation.results[LONG.key].rule == "big"


def test_last_trade_trigger_without_last_price_places_entry_stops_and_waits() -> None:
    r = rule(stop_loss=SL3, trigger=TriggerPriceType.LAST)
    no_last = Price("BTC", D("50000"), D("50000"), D("50000"), 0, None)
    evaluation = evaluate(book(r), [LONG], {"BTC": no_last}, MARKETS, Memory(), NOW)
    leg = sl_of(evaluation)
    assert leg.stop_price == D("97000")
    assert leg.trigger is TriggerPriceType.LAST


def test_time_exit_deadline_is_the_next_time_of_interest() -> None:
    r = rule(stop_loss=SL3, time_exit=TimeExit(timedelta(hours=2)))
    evaluation = run(r, LONG, ["100000"])
    band = evaluation.results[LONG.key].band
    assert band.due == NOW + timedelta(hours=1)
    later = run(r, LONG, ["100000"], evaluation.memory, band.due)
    kinds = sorted(leg.kind for leg in later.desired)
    assert kinds == [LegKind.CLOSE, LegKind.STOP]


def test_unusable_market_info_is_reported_not_raised() -> None:
    broken = {"BTC": replace(MARKETS["BTC"], tick_size=D(0))}
    evaluation = evaluate(book(rule(stop_loss=SL3)), [LONG], {"BTC": price("100000")}, broken,
                          Memory(), NOW)
    assert evaluation.desired == ()
    assert "unusable market info" in evaluation.notices[0].message


def test_a_stop_limit_wider_than_the_stop_keeps_a_positive_limit() -> None:
    wide = rule(stop_loss=StopLoss(price=D("20")), order=OrderStyle(OrderKind.LIMIT, Abs(D("30"))))
    evaluation = run(wide, LONG, ["100000"])
    assert sl_of(evaluation).limit_price == D("1")
