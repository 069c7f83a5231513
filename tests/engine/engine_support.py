"""Builders for engine tests: markets, positions, prices, rules, and applying a plan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from daemon import ids
from daemon.domain import Market, OpenOrder, Position, Price, Side, TriggerPriceType
from daemon.engine import Action, Cancel, CloseMarket, Move, OrderIntent, Place, Resize
from daemon.rules.spec import (
    Abs,
    Components,
    Match,
    OrderStyle,
    Rule,
    RuleBook,
    SideFilter,
    UpdatePolicy,
    Window,
)

D = Decimal
ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
OTHER_ACCOUNT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CREATED = int((NOW - timedelta(hours=1)).timestamp() * 1000)
NO_HYSTERESIS = UpdatePolicy(min_move=Abs(D(0)), min_interval=timedelta(0))
STOP_MARKET = OrderStyle()


def market(symbol: str = "BTC", tick: str = "1", lot: str = "0.001",
           min_order: str = "10") -> Market:
    return Market(symbol, D(tick), D(lot), D(tick), D("10000000"), D(min_order),
                  D("10000000"), 50)


MARKETS = {"BTC": market("BTC", "1", "0.001"), "ETH": market("ETH", "0.1", "0.01"),
           "SOL": market("SOL", "0.01", "0.1")}


def position(side: Side = Side.BID, amount: str = "1", entry: str = "100000",
             symbol: str = "BTC", liq: str | None = None, created_at: int = CREATED) -> Position:
    return Position(symbol, side, D(amount), D(entry), created_at, created_at,
                    liquidation_price=D(liq) if liq is not None else None)


def price(mark: str | Decimal, symbol: str = "BTC", ts: int = 0) -> Price:
    value = D(mark)
    return Price(symbol, value, value, value, ts, value)


def rule(name: str = "r", *, symbols: Sequence[str] | None = None,
         side: SideFilter = SideFilter.ANY, windows: Sequence[Window] = (),
         order: OrderStyle = STOP_MARKET, trigger: TriggerPriceType = TriggerPriceType.MARK,
         update: UpdatePolicy = NO_HYSTERESIS, **components: object) -> Rule:
    return Rule(name, Match(tuple(sorted(symbols)) if symbols else None, side),
                Components(**components),  # type: ignore[arg-type]
                tuple(windows), order, trigger, update)


def book(*rules: Rule) -> RuleBook:
    return RuleBook(tuple(rules))


def open_order(intent: OrderIntent, order_id: int) -> OpenOrder:
    return OpenOrder(
        order_id=order_id, client_order_id=intent.client_order_id, symbol=intent.key.symbol,
        side=intent.side,
        order_type="stop_limit" if intent.limit_price is not None else "stop_market",
        price=intent.limit_price or D(0), stop_price=intent.stop_price,
        initial_amount=intent.amount, filled_amount=D(0), cancelled_amount=D(0),
        reduce_only=True, created_at=CREATED)


def foreign_order(order_id: int, stop: str = "90000", cloid: str | None = None) -> OpenOrder:
    return OpenOrder(order_id, cloid, "BTC", Side.ASK, "stop_market", D(0), D(stop), D("1"),
                     D(0), D(0), True, CREATED)


def apply(actions: Iterable[Action], live: Sequence[OpenOrder]) -> list[OpenOrder]:
    """What the exchange holds once the submitter has carried `actions` out."""
    result = list(live)
    next_id = max((o.order_id for o in result), default=0) + 1
    for action in actions:
        if isinstance(action, Place):
            if not any(o.client_order_id == action.order.client_order_id for o in result):
                result.append(open_order(action.order, next_id))
                next_id += 1
        elif isinstance(action, Move | Resize):
            result.append(open_order(action.order, next_id))
            next_id += 1
            result = [o for o in result if o.order_id != action.replaces.order_id]
        elif isinstance(action, Cancel):
            result = [o for o in result if o.order_id != action.order.order_id]
        else:
            assert isinstance(action, CloseMarket)
    return result


def is_ours(order: OpenOrder) -> bool:
    return ids.is_ours(order.client_order_id, ACCOUNT)
