"""plan: make-before-break moves, resizes, orphans, hysteresis, idempotent ids, ownership."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from engine_support import (
    ACCOUNT,
    NOW,
    OTHER_ACCOUNT,
    D,
    apply,
    foreign_order,
    open_order,
    position,
)

from daemon import ids
from daemon.domain import OpenOrder, PositionKey, Side, TriggerPriceType
from daemon.engine import (
    EXIT,
    SL,
    TP,
    Cancel,
    CloseMarket,
    DesiredLeg,
    LegKind,
    Memory,
    Move,
    OrderIntent,
    Place,
    Plan,
    Resize,
    plan,
)
from daemon.rules.spec import Abs, Pct, UpdatePolicy

LONG = position(Side.BID, "1", "100000")
KEY = LONG.key
FREE = UpdatePolicy(Abs(D(0)), timedelta(0))


def leg(stop: str = "97000", amount: str = "1", name: str = SL,
        kind: LegKind = LegKind.STOP, update: UpdatePolicy = FREE,
        key: PositionKey = KEY) -> DesiredLeg:
    return DesiredLeg(key, name, kind, Side.ASK, D(amount),
                      None if kind is LegKind.CLOSE else D(stop), None,
                      TriggerPriceType.MARK, "r", "stop_loss", update)


def run(desired: list[DesiredLeg], live: list[OpenOrder], memory: Memory | None = None,
        minutes: float = 0, positions: tuple[PositionKey, ...] = (KEY,)) -> Plan:
    return plan(desired, live, account=ACCOUNT, positions=positions,
                memory=memory or Memory(), now=NOW + timedelta(minutes=minutes))


def placed(result: Plan) -> OrderIntent:
    action = result.actions[0]
    assert isinstance(action, Place)
    return action.order


def test_places_each_missing_leg_with_its_own_id_and_a_reason() -> None:
    result = run([leg(), leg("108000", name=TP, kind=LegKind.TAKE_PROFIT)], [])
    sl, tp = result.actions
    assert isinstance(sl, Place)
    assert isinstance(tp, Place)
    assert ids.belongs_to(sl.order.client_order_id, ACCOUNT, KEY, SL)
    assert ids.belongs_to(tp.order.client_order_id, ACCOUNT, KEY, TP)
    assert sl.order.revision == 0
    assert "place stop 1 at 97000" in sl.reason
    assert "take-profit" in tp.reason


def test_live_equal_to_desired_yields_nothing() -> None:
    desired = [leg(), leg("108000", name=TP, kind=LegKind.TAKE_PROFIT)]
    placed = run(desired, [])
    live = apply(placed.actions, [])
    assert run(desired, live, placed.memory).actions == ()
    # Adopted after a restart with no memory: still nothing to do.
    assert run(desired, live).actions == ()


def test_tighten_is_make_before_break_with_the_next_revision() -> None:
    placed = run([leg("97000")], [])
    live = apply(placed.actions, [])
    moved = run([leg("98000")], live, placed.memory, minutes=1)
    [move] = moved.actions
    assert isinstance(move, Move)
    assert not isinstance(move, Resize)
    assert move.replaces == live[0]
    assert move.order.revision == 1
    assert ids.belongs_to(move.order.client_order_id, ACCOUNT, KEY, SL)
    assert not move.loosens
    assert "tighten stop 97000 -> 98000" in move.reason


def test_amount_change_is_a_resize() -> None:
    placed = run([leg(amount="1")], [])
    live = apply(placed.actions, [])
    [resize] = run([leg(amount="1.5")], live, placed.memory).actions
    assert isinstance(resize, Resize)
    assert resize.order.amount == D("1.5")
    assert resize.order.revision == 1
    assert "resize stop 1 -> 1.5" in resize.reason


def test_min_move_and_min_interval_hold_back_moves_but_not_resizes() -> None:
    policy = UpdatePolicy(Pct(D("0.001")), timedelta(seconds=30))
    placed = run([leg("97000", update=policy)], [])
    live = apply(placed.actions, [])
    # 97000 -> 97050 is 0.05%, under min_move 0.1%.
    assert run([leg("97050", update=policy)], live, placed.memory, minutes=5).actions == ()
    # Big enough, but only 6 s after the placement.
    assert run([leg("98000", update=policy)], live, placed.memory, minutes=0.1).actions == ()
    [move] = run([leg("98000", update=policy)], live, placed.memory, minutes=1).actions
    assert isinstance(move, Move)
    [resize] = run([leg("97000", "2", update=policy)], live, placed.memory, minutes=0.1).actions
    assert isinstance(resize, Resize)


def test_orphans_are_cancelled_and_foreign_orders_untouched() -> None:
    gone = PositionKey("BTC", Side.BID, KEY.created_at - 1)  # same symbol/side, reopened
    orphan = foreign_order(1, "95000", ids.make(ACCOUNT, gone, SL, 0))
    manual = foreign_order(2, "90000", None)
    random_uuid = foreign_order(3, "90000", "d25ac10b-58cc-4372-a567-0e02b2c3d479")
    other = foreign_order(4, "90000", ids.make(OTHER_ACCOUNT, KEY, SL, 0))
    result = run([leg()], [orphan, manual, random_uuid, other])
    cancels = [a for a in result.actions if isinstance(a, Cancel)]
    assert [c.order for c in cancels] == [orphan]
    assert "position that is gone" in cancels[0].reason
    [place] = [a for a in result.actions if isinstance(a, Place)]
    assert place.order.revision == 0


def test_older_revisions_left_by_make_before_break_are_cancelled() -> None:
    old = open_order(replace(placed(run([leg("97000")], [])),
                             client_order_id=ids.make(ACCOUNT, KEY, SL, 4)), 1)
    new = replace(old, order_id=2, client_order_id=ids.make(ACCOUNT, KEY, SL, 5),
                  stop_price=D("98000"))
    [cancel] = run([leg("98000")], [old, new]).actions
    assert isinstance(cancel, Cancel)
    assert cancel.order == old


def test_in_flight_orders_are_retried_with_the_same_id_and_gone_ones_get_a_new_one() -> None:
    first = run([leg()], [])
    [again] = run([leg()], [], first.memory).actions  # not seen resting yet: a retry
    assert isinstance(again, Place)
    assert again.order.client_order_id == placed(first).client_order_id

    live = apply(first.actions, [])
    seen = run([leg()], live, first.memory)
    assert seen.actions == ()
    [replaced] = run([leg()], [], seen.memory).actions  # seen, now gone (fired or cancelled)
    assert isinstance(replaced, Place)
    assert replaced.order.revision == 1

    consumed = first.memory.consumed(KEY, SL)  # "duplicate id" but not resting: used up
    [fresh] = run([leg()], [], consumed).actions
    assert isinstance(fresh, Place)
    assert fresh.order.revision == 1


def test_close_market_is_repeated_only_after_min_interval_with_the_same_id() -> None:
    policy = UpdatePolicy(Abs(D(0)), timedelta(seconds=30))
    close = leg(name=EXIT, kind=LegKind.CLOSE, update=policy)
    first = run([close], [])
    [action] = first.actions
    assert isinstance(action, CloseMarket)
    assert action.order.stop_price is None
    assert run([close], [], first.memory, minutes=0.1).actions == ()
    [retry] = run([close], [], first.memory, minutes=1).actions
    assert isinstance(retry, CloseMarket)
    assert retry.order.client_order_id == action.order.client_order_id


def test_a_dropped_take_profit_is_cancelled_but_stops_of_an_unprotected_position_stay() -> None:
    placed = run([leg(), leg("108000", name=TP, kind=LegKind.TAKE_PROFIT)], [])
    live = apply(placed.actions, [])
    [cancel] = run([leg()], live, placed.memory).actions
    assert isinstance(cancel, Cancel)
    assert ids.belongs_to(cancel.order.client_order_id, ACCOUNT, KEY, TP)
    # No stop desired (no rule covers it now, or it is being closed): the resting stop stays.
    only_exit = [leg(name=EXIT, kind=LegKind.CLOSE)]
    result = run(only_exit, live, placed.memory)
    cancelled = [a.order for a in result.actions if isinstance(a, Cancel)]
    assert all(not ids.belongs_to(o.client_order_id, ACCOUNT, KEY, SL) for o in cancelled)
    assert run([], live[:1], placed.memory).actions == ()


def test_a_dropped_ladder_rung_is_cancelled_while_the_main_stop_remains() -> None:
    placed = run([leg(amount="0.5"), leg("99000", "0.5", name="ladder.0")], [])
    live = apply(placed.actions, [])
    actions = run([leg(amount="1")], live, placed.memory).actions
    assert {type(a) for a in actions} == {Resize, Cancel}
    [cancel] = [a for a in actions if isinstance(a, Cancel)]
    assert ids.belongs_to(cancel.order.client_order_id, ACCOUNT, KEY, "ladder.0")


def test_a_changed_trigger_type_replaces_the_order_at_once() -> None:
    policy = UpdatePolicy(Pct(D("0.01")), timedelta(hours=1))
    placed = run([leg(update=policy)], [])
    live = apply(placed.actions, [])
    seen = run([leg(update=policy)], live, placed.memory)
    assert seen.actions == ()
    on_last = replace(leg(update=policy), trigger=TriggerPriceType.LAST)
    [move] = run([on_last], live, seen.memory).actions
    assert isinstance(move, Move)
    assert move.order.trigger is TriggerPriceType.LAST
    assert "instead of mark_price" in move.reason
    # Adopted without memory, the trigger type is unknown: nothing to compare, no churn.
    assert run([on_last], live).actions == ()


def test_a_dropped_stop_leg_stays_until_the_stop_replacing_it_rests() -> None:
    """Make-before-break across legs: a rule change from a ladder to a plain stop places the
    stop first and cancels the rung only once the stop rests. Cancelling both in one plan
    left the position bare whenever the new stop was refused or failed, since the submitter
    runs the cancel whatever became of the placement."""
    placed = run([leg("99000", name="ladder.0")], [])
    live = apply(placed.actions, [])
    first = run([leg()], live, placed.memory)
    assert [type(a) for a in first.actions] == [Place]
    live = apply(first.actions, live)
    [cancel] = run([leg()], live, first.memory).actions
    assert isinstance(cancel, Cancel)
    assert ids.belongs_to(cancel.order.client_order_id, ACCOUNT, KEY, "ladder.0")
