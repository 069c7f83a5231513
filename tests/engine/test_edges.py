"""Edges found in review: coarse ticks, extreme numbers, dust, impossible targets, rule switches."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from engine_support import (
    ACCOUNT,
    MARKETS,
    NOW,
    D,
    apply,
    book,
    market,
    position,
    price,
    rule,
)
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Market, OpenOrder, Position, Price, Side, TriggerPriceType
from daemon.engine import (
    EXIT,
    SL,
    TP,
    LegKind,
    Memory,
    Severity,
    evaluate,
    plan,
    reevaluate,
)
from daemon.engine.hotpath import by_key
from daemon.rules.spec import (
    Abs,
    Anchor,
    Breakeven,
    Components,
    LadderLeg,
    Match,
    OrderKind,
    OrderStyle,
    Pct,
    Rule,
    SideFilter,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
    UpdatePolicy,
    Window,
)

SL3 = StopLoss(distance=Pct(D("0.03")))
# A low-priced coin whose tick is a large share of its price (kBONK-like).
COARSE = {"BONK": market("BONK", "0.000001", "1000", min_order="0")}


def _legs(r: Rule, pos: Position, mark: str, markets: dict[str, Market] | None = None,
          memory: Memory | None = None) -> dict[str, tuple[Side, Decimal, Decimal | None]]:
    ev = evaluate(book(r), [pos], {pos.symbol: price(mark, pos.symbol)}, markets or MARKETS,
                  memory or Memory(), NOW)
    return {leg.leg: (leg.side, leg.amount, leg.stop_price) for leg in ev.desired}


@pytest.mark.parametrize(("side", "entry", "mark", "stop"), [
    # 3% below 0.0000200 is 0.0000194: up to the tick it is 0.000020, the price itself.
    (Side.BID, "0.000020", "0.000020", "0.000019"),
    # 3% above 0.0000200 is 0.0000206: down to the tick it is 0.000020.
    (Side.ASK, "0.000020", "0.000020", "0.000021"),
])
def test_a_tick_coarser_than_the_distance_rounds_away_rather_than_closing(
        side: Side, entry: str, mark: str, stop: str) -> None:
    pos = position(side, "1000000", entry, "BONK")
    legs = _legs(rule(stop_loss=SL3), pos, mark, COARSE)
    assert EXIT not in legs  # not a market close of a position nowhere near its stop
    assert legs[SL] == (side.opposite, D("1000000"), D(stop))


def test_coarse_tick_rounding_tightens_again_once_the_price_clears_the_tick() -> None:
    pos = position(Side.BID, "1000000", "0.000020", "BONK")
    r = rule(stop_loss=SL3)
    first = evaluate(book(r), [pos], {"BONK": price("0.000020", "BONK")}, COARSE, Memory(), NOW)
    assert first.desired[0].stop_price == D("0.000019")
    frame = {"BONK": price("0.000021", "BONK")}
    fast = reevaluate(first, book(r), by_key([pos]), frame, COARSE, NOW)
    full = evaluate(book(r), [pos], frame, COARSE, first.memory, NOW)
    assert fast.desired == full.desired
    assert full.desired[0].stop_price == D("0.000020")


@pytest.mark.parametrize(("entry", "mark", "tick"), [
    ("1E+25", "1E+25", "0.000001"),  # beyond Decimal's 28 digits once on the tick
    ("100000", "1E+30", "0.01"),  # a trailing extreme that far out
])
def test_numbers_beyond_decimal_precision_are_a_notice_not_a_crash(
        entry: str, mark: str, tick: str) -> None:
    markets = {"BTC": market("BTC", tick, "0.001")}
    bad = position(Side.BID, "1", entry)
    good = position(Side.ASK, "2", "3000", "ETH")
    r = rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02"))))
    ev = evaluate(book(r), [bad, good],
                  {"BTC": price(mark), "ETH": price("3000", "ETH")},
                  {**markets, "ETH": MARKETS["ETH"]}, Memory(), NOW)
    assert [leg.key for leg in ev.desired] == [good.key]  # the other position is unaffected
    errors = [n for n in ev.notices if n.severity is Severity.ERROR]
    assert len(errors) == 1
    assert errors[0].key == bad.key
    assert "not protected" in errors[0].message
    assert ev.results[bad.key].band.always  # tried again on the next frame


def test_a_position_smaller_than_one_lot_gets_no_zero_amount_close() -> None:
    dust = position(Side.BID, "0.0004", "100000")  # BTC lot 0.001
    r = rule(stop_loss=SL3, time_exit=TimeExit(NOW - NOW.replace(hour=11, minute=30)))
    ev = evaluate(book(r), [dust], {"BTC": price("100000")}, MARKETS, Memory(), NOW)
    assert [leg for leg in ev.desired if leg.kind is LegKind.CLOSE] == []
    assert any("lot" in n.message and n.severity is Severity.WARNING for n in ev.notices)


def test_a_take_profit_beyond_zero_is_reported_as_unreachable() -> None:
    short = position(Side.ASK, "2", "3000", "ETH")
    r = rule(stop_loss=SL3, take_profit=TakeProfit(distance=Abs(D(5000))))
    ev = evaluate(book(r), [short], {"ETH": price("3000", "ETH")}, MARKETS, Memory(), NOW)
    assert TP not in {leg.leg for leg in ev.desired}
    [notice] = ev.notices
    assert notice.severity is Severity.ERROR
    assert "-2000" in notice.message
    assert "USD" not in notice.message


def _hype(amount: str) -> Position:
    return position(Side.BID, amount, "100", "HYPE")


HYPE = {"HYPE": market("HYPE", "0.01", "0.1")}
BIG = Rule("big", Match(("HYPE",), SideFilter.LONG, D(2000)), rule(
    stop_loss=StopLoss(distance=Pct(D("0.05"))), trailing=Trailing(Pct(D("0.01")))).components,
    update=rule().update)
SMALL = Rule("small", Match(("HYPE",)), rule(stop_loss=SL3).components, update=rule().update)


def test_a_partial_close_keeps_the_rule_the_position_was_armed_under() -> None:
    """min_notional picks the rule by the size the position was armed at (first seen, or last
    grown): a partial close, by hand or through its own rungs, never moves it to another
    tier, whose stop might already be crossed and close the rest at market."""
    rules = book(BIG, SMALL)
    pos = _hype("30")  # 3000 USD: `big`, trailing 1% behind 100 = 99
    prices = {"HYPE": price("100", "HYPE")}
    first = evaluate(rules, [pos], prices, HYPE, Memory(), NOW, account=ACCOUNT)
    assert [(leg.rule, leg.stop_price) for leg in first.desired] == [("big", D(99))]
    smaller = _hype("15")  # 1500 USD, but armed at 3000: still `big`
    second = evaluate(rules, [smaller], prices, HYPE, first.memory, NOW, account=ACCOUNT)
    [leg] = second.desired
    assert (leg.rule, leg.amount, leg.stop_price) == ("big", D(15), D(99))


def test_growth_into_another_tier_does_not_loosen_the_stop() -> None:
    """Growth re-arms the position and may move it to another rule, which is not a change of
    the rule that set the stop: the stop it had stays, and the new rule can only tighten."""
    tight = Rule("small", Match(("HYPE",)), rule(stop_loss=StopLoss(Pct(D("0.01")))).components,
                 update=rule().update)
    loose = Rule("big", Match(("HYPE",), SideFilter.LONG, D(2000)),
                 rule(stop_loss=StopLoss(Pct(D("0.05")))).components, update=rule().update)
    rules = book(loose, tight)
    pos = _hype("15")  # 1500 USD: `small`, 1% = 99
    prices = {"HYPE": price("100", "HYPE")}
    first = evaluate(rules, [pos], prices, HYPE, Memory(), NOW, account=ACCOUNT)
    assert [(leg.rule, leg.stop_price) for leg in first.desired] == [("small", D(99))]
    p = plan(first.desired, [], account=ACCOUNT, positions=[pos.key], memory=first.memory,
             now=NOW)
    live: list[OpenOrder] = apply(p.actions, [])
    bigger = _hype("30")  # 3000 USD: now `big`, whose 5% stop is 95
    second = evaluate(rules, [bigger], prices, HYPE, p.memory, NOW, account=ACCOUNT, live=live)
    [leg] = second.desired
    assert (leg.rule, leg.amount, leg.stop_price, leg.loosened_from) == (
        "big", D(30), D(99), None)
    actions = plan(second.desired, live, account=ACCOUNT, positions=[bigger.key],
                   memory=second.memory, now=NOW).actions
    assert all(not getattr(a, "loosens", False) for a in actions)


def test_a_reload_that_changes_the_rule_itself_may_still_loosen() -> None:
    pos = _hype("15")
    prices = {"HYPE": price("100", "HYPE")}
    tight = Rule("small", Match(("HYPE",)), rule(stop_loss=StopLoss(Pct(D("0.01")))).components)
    first = evaluate(book(tight), [pos], prices, HYPE, Memory(), NOW)
    second = evaluate(book(SMALL), [pos], prices, HYPE, first.memory, NOW)
    [leg] = second.desired
    assert (leg.stop_price, leg.loosened_from) == (D(97), D(99))


@given(st.decimals(D("0.000001"), D("0.001"), places=6),
       st.sampled_from(["0.000001", "0.00001", "1", "10"]),
       st.booleans())
def test_stops_stay_on_the_protective_side_with_any_tick(mark: Decimal, tick: str,
                                                         long: bool) -> None:
    side = Side.BID if long else Side.ASK
    pos = position(side, "1000000", format(mark, "f"), "BONK")
    markets = {"BONK": market("BONK", tick, "1000", min_order="0")}
    ev = evaluate(book(rule(stop_loss=SL3, ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),))),
                  [pos], {"BONK": price(mark, "BONK")}, markets, Memory(), NOW)
    assert all(leg.kind is not LegKind.CLOSE for leg in ev.desired)
    for leg in ev.desired:
        assert leg.stop_price is not None
        assert leg.stop_price > 0
        assert (leg.stop_price < mark) if long else (leg.stop_price > mark)


def _window_rule(**overrides: object) -> Rule:
    # 2026-11-25 is a Wednesday: the window opens at NOW and lasts an hour.
    window = Window("noon", "0 12 * * WED", "UTC", timedelta(hours=1),
                    Components(**overrides))  # type: ignore[arg-type]
    return rule(stop_loss=SL3, windows=(window,))


@pytest.mark.parametrize(("overrides", "stop"), [
    ({"trailing": Trailing(Pct(D("0.02")))}, D(98000)),  # 2% behind 100000, not behind 110000
    ({"breakeven": Breakeven(Pct(D("0.05")))}, D(97000)),  # +5% not reached since it opened
])
def test_a_window_trails_and_latches_from_the_price_since_it_opened(
        overrides: dict[str, object], stop: Decimal) -> None:
    """A peak from before the window must not put the window's stop beyond today's price,
    which would close the position at market the moment the window opens."""
    r = _window_rule(**overrides)
    pos = position(Side.BID, "1", "100000")
    memory = Memory()
    for mark in ["100000", "110000", "100000"]:
        memory = evaluate(book(r), [pos], {"BTC": price(mark)}, MARKETS, memory,
                          NOW - timedelta(hours=1)).memory
    ev = evaluate(book(r), [pos], {"BTC": price("100000")}, MARKETS, memory, NOW)
    assert [(leg.leg, leg.stop_price) for leg in ev.desired] == [(SL, stop)]
    # It trails from there while open, and the next occurrence starts afresh.
    later = evaluate(book(r), [pos], {"BTC": price("101000")}, MARKETS, ev.memory,
                     NOW + timedelta(minutes=30))
    if "trailing" in overrides:
        assert later.desired[0].stop_price == D(98980)
    restored = Memory.from_json(later.memory.to_json())
    assert restored == later.memory
    week = evaluate(book(r), [pos], {"BTC": price("99000")}, MARKETS, restored,
                    NOW + timedelta(days=7))
    assert EXIT not in {leg.leg for leg in week.desired}


@pytest.mark.parametrize("components", [
    {"stop_loss": StopLoss(Pct(D("0.03")), Anchor.FIRST_SEEN)},
    {"trailing": Trailing(Pct(D("0.02")))},
])
def test_a_stop_waiting_for_a_first_price_says_the_position_is_bare(
        components: dict[str, object]) -> None:
    comps = Components(**components)  # type: ignore[arg-type]
    r = replace(rule(trigger=TriggerPriceType.LAST), components=comps)
    no_last = Price("BTC", D(100000), D(100000), D(100000), 0, None)
    ev = evaluate(book(r), [position()], {"BTC": no_last}, MARKETS, Memory(), NOW)
    assert ev.desired == ()
    [notice] = ev.notices
    assert notice.severity is Severity.WARNING
    assert "last_trade_price" in notice.message
    assert "not protected" in notice.message


def test_an_entry_based_stop_needs_no_price_and_no_warning() -> None:
    ev = evaluate(book(rule(stop_loss=SL3)), [position()], {}, MARKETS, Memory(), NOW)
    assert [leg.stop_price for leg in ev.desired] == [D(97000)]
    assert ev.notices == ()


def test_a_position_below_one_lot_says_no_stop_can_cover_it() -> None:
    dust = position(Side.BID, "0.0004", "100000")  # BTC lot 0.001
    ev = evaluate(book(rule(stop_loss=SL3)), [dust], {"BTC": price("100000")}, MARKETS,
                  Memory(), NOW)
    assert ev.desired == ()
    [notice] = ev.notices
    assert notice.severity is Severity.WARNING
    assert "less than one lot" in notice.message


@pytest.mark.parametrize("edit", [
    {"components": Components(stop_loss=SL3, take_profit=TakeProfit(Pct(D("0.10"))))},
    {"update": UpdatePolicy(Pct(D("0.005")), timedelta(seconds=30))},
    {"order": OrderStyle(OrderKind.LIMIT, Pct(D("0.005")))},
    {"match": Match(("BTC",))},
])
def test_an_edit_that_does_not_touch_the_stop_does_not_loosen_it(edit: dict[str, object]
                                                                 ) -> None:
    """The ratchet holds 97000 after the entry moved down; editing the take-profit, the
    update policy, the order style or the match is no reason to let it go."""
    before = replace(rule(stop_loss=SL3), components=Components(
        stop_loss=SL3, take_profit=TakeProfit(Pct(D("0.08")))))
    prices = {"BTC": price("100000")}
    first = evaluate(book(before), [position()], prices, MARKETS, Memory(), NOW)
    added = position(entry="99000")  # bought more lower: 3% from entry is now 96030
    held = evaluate(book(before), [added], prices, MARKETS, first.memory, NOW)
    assert [leg.stop_price for leg in held.desired if leg.leg == SL] == [D(97000)]
    after = replace(before, **edit)  # type: ignore[arg-type]
    assert after.fingerprint != before.fingerprint
    ev = evaluate(book(after), [added], prices, MARKETS, held.memory, NOW)
    [sl] = [leg for leg in ev.desired if leg.leg == SL]
    assert (sl.stop_price, sl.loosened_from) == (D(97000), None)


@pytest.mark.parametrize(("side", "tp"), [
    # 3% above 0.0000200 is 0.0000206: down to the tick it is the price itself.
    (Side.BID, D("0.000021")),
    (Side.ASK, D("0.000019")),
])
def test_a_tick_coarser_than_the_take_profit_distance_does_not_close_at_market(
        side: Side, tp: Decimal) -> None:
    pos = position(side, "1000000", "0.000020", "BONK")
    r = rule(stop_loss=StopLoss(Pct(D("0.2"))), take_profit=TakeProfit(Pct(D("0.03"))))
    frame = {"BONK": price("0.000020", "BONK")}
    ev = evaluate(book(r), [pos], frame, COARSE, Memory(), NOW)
    assert EXIT not in {leg.leg for leg in ev.desired}
    assert [leg.stop_price for leg in ev.desired if leg.leg == TP] == [tp]
    # Back past the tick, the target rounds toward the price again: the fast path sees it.
    back = {"BONK": price("0.000019" if side is Side.BID else "0.000021", "BONK")}
    fast = reevaluate(ev, book(r), by_key([pos]), back, COARSE, NOW)
    full = evaluate(book(r), [pos], back, COARSE, ev.memory, NOW)
    assert fast.desired == full.desired
    assert [leg.stop_price for leg in full.desired if leg.leg == TP] == [D("0.000020")]
