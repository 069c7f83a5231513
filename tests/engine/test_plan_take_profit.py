"""The take-profit rests as a reduce-only GTC limit order at its target (docs/rules.md), so
the live order the plan compares against has a `price` and no `stop_price`."""

from __future__ import annotations

from datetime import timedelta

from engine_support import ACCOUNT, MARKETS, NOW, D, book, position, price, rule

from daemon import ids
from daemon.domain import OpenOrder, Side, TriggerPriceType
from daemon.engine import TP, DesiredLeg, LegKind, Memory, Move, Place, Plan, evaluate, plan
from daemon.rules.spec import Abs, OrderKind, OrderStyle, Pct, StopLoss, TakeProfit, UpdatePolicy

LONG = position(Side.BID, "1", "100000")
KEY = LONG.key
FREE = UpdatePolicy(Abs(D(0)), timedelta(0))


def take_profit(target: str, update: UpdatePolicy = FREE,
                trigger: TriggerPriceType = TriggerPriceType.MARK) -> DesiredLeg:
    return DesiredLeg(KEY, TP, LegKind.TAKE_PROFIT, Side.ASK, D(1), D(target), None, trigger,
                      "r", "take_profit", update)


def run(desired: list[DesiredLeg], live: list[OpenOrder], memory: Memory | None = None
        ) -> Plan:
    return plan(desired, live, account=ACCOUNT, positions=(KEY,), memory=memory or Memory(),
                now=NOW)


def resting_limit(cloid: str, target: str, order_id: int = 7) -> OpenOrder:
    """What GET /orders shows for the take-profit the submitter placed."""
    return OpenOrder(order_id, cloid, "BTC", Side.ASK, "limit", D(target), None, D(1), D(0),
                     D(0), True, KEY.created_at)


def test_a_resting_limit_at_the_target_is_the_take_profit() -> None:
    first = run([take_profit("108000")], [])
    [action] = first.actions
    assert isinstance(action, Place)
    assert (action.order.stop_price, action.order.limit_price) == (D(108000), None)
    live = [resting_limit(action.order.client_order_id, "108000")]
    assert run([take_profit("108000")], live, first.memory).actions == ()
    # Adopted without memory (a restart), it is still the same order.
    assert run([take_profit("108000")], live).actions == ()


def placed_limit(first: Plan, target: str) -> list[OpenOrder]:
    [action] = first.actions
    assert isinstance(action, Place)
    return [resting_limit(action.order.client_order_id, target)]


def test_a_moved_target_replaces_the_limit_make_before_break() -> None:
    first = run([take_profit("108000")], [])
    live = placed_limit(first, "108000")
    [move] = run([take_profit("109000")], live, first.memory).actions
    assert isinstance(move, Move)
    assert move.replaces == live[0]
    assert move.order.stop_price == D(109000)
    assert "108000 -> 109000" in move.reason
    parsed = ids.parse(move.order.client_order_id)
    assert parsed is not None
    assert parsed.revision == 1


def test_hysteresis_compares_the_limit_price() -> None:
    held = UpdatePolicy(Pct(D("0.01")), timedelta(0))
    first = run([take_profit("108000", held)], [])
    live = placed_limit(first, "108000")
    assert run([take_profit("108500", held)], live, first.memory).actions == ()


def test_a_rule_trigger_change_does_not_move_a_resting_limit() -> None:
    first = run([take_profit("108000")], [])
    live = placed_limit(first, "108000")
    assert run([take_profit("108000", trigger=TriggerPriceType.MID)], live,
               first.memory).actions == ()


def test_the_take_profit_has_no_stop_limit_offset() -> None:
    limit_style = OrderStyle(OrderKind.LIMIT, Pct(D("0.005")))
    r = rule(stop_loss=StopLoss(Pct(D("0.03"))), take_profit=TakeProfit(Pct(D("0.08"))),
             order=limit_style)
    result = evaluate(book(r), [LONG], {"BTC": price("100000")}, MARKETS, Memory(), NOW)
    legs = {leg.leg: leg for leg in result.desired}
    assert legs["sl"].limit_price is not None  # stops keep their stop-limit offset ...
    assert legs[TP].limit_price is None  # ... the limit TP needs none
    assert legs[TP].stop_price == D(108000)
