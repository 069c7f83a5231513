"""Invariants of evaluate and plan over random positions, rules and price paths."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from engine_support import (
    ACCOUNT,
    NOW,
    OTHER_ACCOUNT,
    PROP_MARKET,
    D,
    apply,
    at,
    book,
    foreign_order,
    is_ours,
    positions,
    price,
    price_paths,
    rules,
)
from hypothesis import given
from hypothesis import strategies as st

from daemon import ids
from daemon.domain import OpenOrder, Position, PositionKey, Price, Side
from daemon.engine import (
    SL,
    TP,
    Cancel,
    CloseMarket,
    DesiredLeg,
    LegKind,
    Memory,
    Move,
    evaluate,
    plan,
    reevaluate,
)
from daemon.rules.spec import Match, Rule, SideFilter

MARKETS = {"XYZ": PROP_MARKET}


def step(rule: Rule, pos: Position, mark: Decimal, memory: Memory, live: list[OpenOrder]
         ) -> tuple[list[DesiredLeg], Memory, list[OpenOrder], int]:
    """One evaluation and plan, carried out on `live`; returns the number of actions."""
    ev = evaluate(book(rule), [pos], {"XYZ": price(mark, "XYZ")}, MARKETS, memory, NOW,
                  account=ACCOUNT, live=live)
    p = plan(ev.desired, live, account=ACCOUNT, positions=[pos.key], memory=ev.memory, now=NOW)
    return list(ev.desired), p.memory, apply(p.actions, live), len(p.actions)


def looser(side: Side, new: Decimal, old: Decimal) -> bool:
    """Is stop `new` looser than `old` for a position on `side`?"""
    return new < old if side is Side.BID else new > old


@given(rules(), positions(), price_paths(), st.lists(st.booleans(), max_size=12))
def test_stops_protective_ratcheted_and_well_formed(rule: Rule, pos: Position,
                                                    path: list[Decimal], adds: list[bool]
                                                    ) -> None:
    memory, live = Memory(), list[OpenOrder]()
    last: dict[str, Decimal] = {}
    entry = pos.entry_price
    for i, multiple in enumerate(path):
        mark = at(entry, multiple)
        if i < len(adds) and adds[i]:
            # Added to at the mark: the entry moves, so entry-based levels move with it.
            pos = replace(pos, entry_price=((pos.entry_price + mark) / 2).quantize(D("0.01")))
        desired, memory, live, _ = step(rule, pos, mark, memory, live)
        stop_total = D(0)
        for leg in desired:
            assert leg.side is pos.side.opposite
            assert D(0) < leg.amount <= pos.amount
            assert PROP_MARKET.is_lot_multiple(leg.amount)
            if leg.kind is LegKind.CLOSE:
                continue
            assert leg.stop_price is not None
            assert PROP_MARKET.is_tick_multiple(leg.stop_price)
            if leg.limit_price is not None:
                assert PROP_MARKET.is_tick_multiple(leg.limit_price)
                assert not looser(pos.side, leg.stop_price, leg.limit_price)  # fill-side
            if leg.kind is LegKind.TAKE_PROFIT:
                assert looser(pos.side, mark, leg.stop_price)  # profit side of the price
                continue
            stop_total += leg.amount
            # On the protective side of the current trigger price at placement.
            assert looser(pos.side, leg.stop_price, mark), (leg, mark)
            if pos.liquidation_price is not None:
                assert looser(pos.side, pos.liquidation_price, leg.stop_price)
            if leg.leg in last:
                assert not looser(pos.side, leg.stop_price, last[leg.leg]), "loosened"
            last[leg.leg] = leg.stop_price
        assert stop_total <= pos.amount
    # The exchange side: at most one of our orders per leg, none loosened by construction.
    legs = [ids.parse(o.client_order_id) for o in live]
    assert len({(p.position, p.leg) for p in legs if p}) == len(live)


@given(rules(), positions(), price_paths(max_size=4))
def test_no_new_price_no_actions(rule: Rule, pos: Position, path: list[Decimal]) -> None:
    memory, live = Memory(), list[OpenOrder]()
    for multiple in path:
        desired, memory, live, _ = step(rule, pos, at(pos.entry_price, multiple), memory, live)
    if any(leg.kind is LegKind.CLOSE for leg in desired):
        return  # a market close is re-sent (same id) until the position is gone
    _, _, live_again, count = step(rule, pos, at(pos.entry_price, path[-1]), memory, live)
    assert count == 0
    assert live_again == live


# Mostly a quiet market (the same prices again), so that time alone must move some positions.
_frame_multiples = st.one_of(st.just(D("1.000")), st.just(D("1.000")),
                             st.decimals(D("0.6"), D("1.4"), places=3))


@given(st.lists(st.tuples(rules(timed=True), positions()), min_size=1, max_size=5),
       st.lists(st.tuples(_frame_multiples, _frame_multiples, st.integers(0, 40)),
                min_size=2, max_size=8))
def test_fast_path_equals_full_evaluation(
        cases: list[tuple[Rule, Position]], frames: list[tuple[Decimal, Decimal, int]]) -> None:
    # Each position gets its own symbol-less rule; give them distinct identities and symbols.
    symbols = ["XYZ", "ABC"]
    markets = {s: PROP_MARKET for s in symbols}
    pos_list = []
    for i, (_, pos) in enumerate(cases):
        pos_list.append(Position(symbols[i % 2], pos.side, pos.amount, D("1000"), pos.created_at
                                 + i, pos.updated_at, pos.liquidation_price and D("1000")
                                 * pos.liquidation_price / pos.entry_price))
    rulebook = book(*[_named(r, f"r{i}", pos_list[i]) for i, (r, _) in enumerate(cases)])
    by_key = {p.key: p for p in pos_list}

    def prices_for(frame: tuple[Decimal, Decimal, int]) -> dict[str, Price]:
        return {s: price(at(D("1000"), k), s) for s, k in zip(symbols, frame[:2], strict=True)}

    now = NOW
    previous = evaluate(rulebook, pos_list, prices_for(frames[0]), markets, Memory(), now)
    for frame in frames[1:]:
        now += timedelta(minutes=frame[2])  # windows open and close, time exits fall due
        prices = prices_for(frame)
        fast = reevaluate(previous, rulebook, by_key, prices, markets, now)
        full = evaluate(rulebook, pos_list, prices, markets, previous.memory, now)
        assert fast.results == full.results
        assert fast.memory == full.memory
        previous = fast  # the next frame uses the index derived incrementally


def _named(rule: Rule, name: str, pos: Position) -> Rule:
    """`rule`, matching only `pos` (one rule per position, none ambiguous)."""

    side = SideFilter.LONG if pos.side is Side.BID else SideFilter.SHORT
    return replace(rule, name=name, match=Match((pos.symbol,), side, None))


@st.composite
def live_mess(draw: st.DrawFn, keys: list[PositionKey]) -> list[OpenOrder]:
    """Foreign orders, our orphans, and stale or duplicate orders of ours on current legs."""
    orders: list[OpenOrder] = []
    gone = PositionKey("XYZ", Side.BID, 1)
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["foreign", "other-account", "orphan", "stale"]))
        stop = str(draw(st.decimals(D("500"), D("1500"), places=2)))
        if kind == "foreign":
            cloid = draw(st.one_of(st.none(), st.uuids(version=4).map(str)))
        else:
            account = OTHER_ACCOUNT if kind == "other-account" else ACCOUNT
            key = gone if kind == "orphan" else draw(st.sampled_from(keys))
            leg = draw(st.sampled_from([SL, TP, "ladder.0", "ladder.1"]))
            cloid = ids.make(account, key, leg, draw(st.integers(0, 3)))
        order = foreign_order(1000 + i, stop, cloid)
        orders.append(order)
    return orders


@given(st.data(), st.lists(st.tuples(rules(), positions()), min_size=1, max_size=3),
       st.decimals(D("0.8"), D("1.2"), places=3))
def test_plan_converges_and_never_touches_foreign_orders(
        data: st.DataObject, cases: list[tuple[Rule, Position]], multiple: Decimal) -> None:
    pos_list = [Position("XYZ", pos.side, pos.amount, pos.entry_price, pos.created_at + i,
                         pos.updated_at, pos.liquidation_price)
                for i, (_, pos) in enumerate(cases)]
    rulebook = book(*[_named(r, f"r{i}", pos_list[i]) for i, (r, _) in enumerate(cases)])
    if len({(p.side) for p in pos_list}) < len(pos_list):
        return  # two rules for one (symbol, side) would be ambiguous; covered elsewhere
    keys = [p.key for p in pos_list]
    live = data.draw(live_mess(keys))
    foreign = [o for o in live if not is_ours(o)]
    prices = {"XYZ": price(at(D("1000"), multiple), "XYZ")}
    ev = evaluate(rulebook, pos_list, prices, MARKETS, Memory(), NOW, account=ACCOUNT, live=live)
    first = plan(ev.desired, live, account=ACCOUNT, positions=keys, memory=ev.memory, now=NOW)
    for action in first.actions:
        touched = action.order if isinstance(action, Cancel) else (
            action.replaces if isinstance(action, Move) else None)
        if touched is not None:
            assert is_ours(touched)
    after = apply(first.actions, live)
    assert all(o in after for o in foreign)
    ev2 = evaluate(rulebook, pos_list, prices, MARKETS, first.memory, NOW, account=ACCOUNT,
                   live=after)
    assert ev2.desired == ev.desired
    second = plan(ev2.desired, after, account=ACCOUNT, positions=keys, memory=ev2.memory,
                  now=NOW)
    # Make-before-break across legs: a stop leg no longer desired goes once a desired stop
    # of its position rests, so one more plan may cancel it.
    assert all(isinstance(a, CloseMarket | Cancel) for a in second.actions), second.actions
    after = apply(second.actions, after)
    ev3 = evaluate(rulebook, pos_list, prices, MARKETS, second.memory, NOW, account=ACCOUNT,
                   live=after)
    assert ev3.desired == ev.desired
    third = plan(ev3.desired, after, account=ACCOUNT, positions=keys, memory=ev3.memory,
                 now=NOW)
    assert all(isinstance(a, CloseMarket) for a in third.actions), third.actions
    ours = [o for o in after if is_ours(o)]
    for leg in ev.desired:
        if leg.kind is LegKind.CLOSE:
            continue
        matching = [o for o in ours if ids.belongs_to(o.client_order_id, ACCOUNT, leg.key,
                                                      leg.leg)]
        assert len(matching) == 1
        assert matching[0].stop_price == leg.stop_price
        assert matching[0].remaining == leg.amount
    assert not any(ids.belongs_to(o.client_order_id, ACCOUNT, PositionKey("XYZ", Side.BID, 1))
                   for o in after)
