"""Typed results of the exchange layer that are not domain values.

Domain values (Market, Price, Position, OpenOrder) come from `daemon.domain` and are parsed in
`daemon.pacifica.wire`; what only the exchange layer needs (account summary, order history,
order-update events, the outcome of a write) lives here, each with a `from_wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from daemon.domain import OpenOrder, Side
from daemon.pacifica import wire


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class OrderEvent(StrEnum):
    """`oe` of an order update (pacifica-api.md §4)."""

    MAKE = "make"
    STOP_CREATED = "stop_created"
    FULFILL_MARKET = "fulfill_market"
    FULFILL_LIMIT = "fulfill_limit"
    ADJUST = "adjust"
    STOP_PARENT_ORDER_FILLED = "stop_parent_order_filled"
    STOP_TRIGGERED = "stop_triggered"
    STOP_UPGRADE = "stop_upgrade"
    CANCEL = "cancel"
    FORCE_CANCEL = "force_cancel"
    EXPIRED = "expired"
    POST_ONLY_REJECTED = "post_only_rejected"
    SELF_TRADE_PREVENTED = "self_trade_prevented"


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], obj: Mapping[str, Any], key: str, where: str) -> _E:
    value = obj.get(key)
    try:
        return kind(str(value))
    except ValueError:
        raise wire.bad(where, f"field {key!r} has unknown value {value!r:.40}") from None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """GET /account. Only the balance fields are required; the rest vary by doc version."""

    balance: Decimal
    account_equity: Decimal
    available_to_spend: Decimal
    available_to_withdraw: Decimal | None = None
    pending_balance: Decimal | None = None
    total_margin_used: Decimal | None = None
    positions_count: int | None = None
    orders_count: int | None = None
    stop_orders_count: int | None = None
    use_ltp_for_stop_orders: bool | None = None
    updated_at: int | None = None

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], where: str) -> AccountInfo:
        ltp = obj.get("use_ltp_for_stop_orders")
        return cls(
            balance=wire.dec(obj, "balance", where),
            account_equity=wire.dec(obj, "account_equity", where),
            available_to_spend=wire.dec(obj, "available_to_spend", where),
            available_to_withdraw=wire.opt_dec(obj, "available_to_withdraw", where),
            pending_balance=wire.opt_dec(obj, "pending_balance", where),
            total_margin_used=wire.opt_dec(obj, "total_margin_used", where),
            positions_count=wire.opt_int(obj, "positions_count", where),
            orders_count=wire.opt_int(obj, "orders_count", where),
            stop_orders_count=wire.opt_int(obj, "stop_orders_count", where),
            use_ltp_for_stop_orders=ltp if isinstance(ltp, bool) else None,
            updated_at=wire.opt_int(obj, "updated_at", where),
        )


@dataclass(frozen=True, slots=True)
class HistoricalOrder:
    """One row of GET /orders/history."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    order_type: str
    status: OrderStatus
    amount: Decimal
    filled_amount: Decimal
    initial_price: Decimal | None
    average_filled_price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    reason: str | None
    created_at: int
    updated_at: int

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], where: str) -> HistoricalOrder:
        amount = wire.opt_dec(obj, "amount", where)
        if amount is None:
            amount = wire.dec(obj, "initial_amount", where)
        return cls(
            order_id=wire.integer(obj, "order_id", where),
            client_order_id=wire.opt_text(obj, "client_order_id", where),
            symbol=wire.text(obj, "symbol", where),
            side=wire.side(obj, "side", where),
            order_type=wire.text(obj, "order_type", where),
            status=_enum(OrderStatus, obj, "order_status", where),
            amount=amount,
            filled_amount=wire.opt_dec(obj, "filled_amount", where) or Decimal(0),
            initial_price=wire.opt_dec(obj, "initial_price", where),
            average_filled_price=wire.opt_dec(obj, "average_filled_price", where),
            stop_price=wire.opt_dec(obj, "stop_price", where),
            reduce_only=wire.flag(obj, "reduce_only", where, default=False),
            reason=wire.opt_text(obj, "reason", where),
            created_at=wire.integer(obj, "created_at", where),
            updated_at=wire.opt_int(obj, "updated_at", where) or 0,
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    orders: tuple[HistoricalOrder, ...]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One element of an `account_order_updates` frame."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    event: OrderEvent
    status: OrderStatus
    order_type: str
    amount: Decimal
    filled_amount: Decimal
    average_price: Decimal | None  # p
    initial_price: Decimal | None  # ip
    last_price: Decimal | None  # lp
    stop_price: Decimal | None
    stop_parent_order_id: int | None
    reduce_only: bool
    created_at: int
    updated_at: int
    last_order_id: int | None

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], where: str) -> OrderUpdate:
        return cls(
            order_id=wire.integer(obj, "i", where),
            client_order_id=wire.opt_text(obj, "I", where),
            symbol=wire.text(obj, "s", where),
            side=wire.side(obj, "d", where),
            event=_enum(OrderEvent, obj, "oe", where),
            status=_enum(OrderStatus, obj, "os", where),
            order_type=wire.text(obj, "ot", where),
            amount=wire.dec(obj, "a", where),
            filled_amount=wire.opt_dec(obj, "f", where) or Decimal(0),
            average_price=wire.opt_dec(obj, "p", where),
            initial_price=wire.opt_dec(obj, "ip", where),
            last_price=wire.opt_dec(obj, "lp", where),
            stop_price=wire.opt_dec(obj, "sp", where),
            stop_parent_order_id=wire.opt_int(obj, "si", where),
            reduce_only=wire.flag(obj, "r", where, default=False),
            created_at=wire.integer(obj, "ct", where),
            updated_at=wire.opt_int(obj, "ut", where) or 0,
            last_order_id=wire.opt_int(obj, "li", where),
        )


class WriteStatus(StrEnum):
    """What a write achieved, as far as the exchange's answer (and a lookup by id) can tell."""

    PLACED = "placed"  # the exchange accepted this request
    ALREADY_PLACED = "already_placed"  # "Duplicate client order id": an earlier attempt landed
    CANCELLED = "cancelled"  # the exchange confirmed the cancel
    GONE = "gone"  # cancel: the order is not there (filled, cancelled, or never existed)
    UNCONFIRMED = "unconfirmed"  # answered, but not readably: look the order up by its id


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """The one result type of every write (create, TP/SL, cancel).

    `order_id` comes from the answer, or from `confirmed` (the matching open order found on
    GET /orders by `client_order_id`) when the answer had none. An ALREADY_PLACED order that is
    no longer open (a stop that fired, a filled market order) has neither. UNCONFIRMED means
    the exchange answered success without an order id, or with a body that cannot be read:
    whether the order exists is known only to a lookup by `client_order_id`
    (`PacificaRest.find_order`, `find_order_in_history`); without one nothing can tell.
    `attempts` counts the signed attempts the transport made.
    """

    status: WriteStatus
    client_order_id: str | None
    order_id: int | None
    confirmed: OpenOrder | None
    attempts: int
