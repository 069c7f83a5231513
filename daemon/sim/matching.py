"""When orders fire and fill: pure predicates over one order and one price.

Trigger direction comes from the side (pacifica-api.md §2.1): a bid stop fires when the price
rises to >= stop_price, an ask stop when it falls to <= stop_price. A take-profit closes into a
favourable move, so its direction is the reverse (a long's TP is an ask above the price).
"""

from __future__ import annotations

from decimal import Decimal

from daemon.domain import Side, TriggerPriceType
from daemon.sim.errors import business
from daemon.sim.requests import Leg
from daemon.sim.state import TAKE_PROFIT_TYPES, Quote

LEG_LABELS = {"take_profit": "Take profit stop price", "stop_loss": "Stop loss stop price"}
TRIGGER_NAMES = {
    TriggerPriceType.MARK: "mark price",
    TriggerPriceType.MID: "mid price",
    TriggerPriceType.LAST: "last trade price",
}


def fires_on_rise(order_type: str, side: Side) -> bool:
    rises = side is Side.BID
    return not rises if order_type in TAKE_PROFIT_TYPES else rises


def stop_fires(order_type: str, side: Side, stop_price: Decimal, price: Decimal) -> bool:
    if fires_on_rise(order_type, side):
        return price >= stop_price
    return price <= stop_price


def limit_crosses(side: Side, limit: Decimal, price: Decimal) -> bool:
    """A bid limit fills at or below its price, an ask limit at or above."""
    return price <= limit if side is Side.BID else price >= limit


def trigger_name(trigger: TriggerPriceType | None) -> str:
    return TRIGGER_NAMES[trigger or TriggerPriceType.MID]


def wrong_side_message(label: str, order_type: str, side: Side, stop_price: Decimal,
                       price: Decimal, trigger: TriggerPriceType | None) -> str:
    relation = "above" if fires_on_rise(order_type, side) else "below"
    return (f"{label} {stop_price:f} would trigger immediately: a {side.value} "
            f"{order_type} must be {relation} the {trigger_name(trigger)} {price:f}")


def refuse_if_fires(order_type: str, side: Side, stop_price: Decimal,
                    trigger: TriggerPriceType | None, label: str, quote: Quote) -> None:
    """A stop that would fire at once is refused (the stricter reading of §2.1)."""
    price = quote.by_trigger(trigger)
    if stop_fires(order_type, side, stop_price, price):
        raise business(wrong_side_message(label, order_type, side, stop_price, price, trigger),
                       code=16)


def leg_type(kind: str, leg: Leg) -> str:
    """take_profit/stop_loss + market/limit, as GET /orders names a TP/SL leg."""
    return f"{kind}_{'market' if leg.limit_price is None else 'limit'}"
