"""Pacifica JSON -> domain values, with errors that say which answer and which field was wrong.

Every reader takes `where` (e.g. "GET /positions item 2") so a malformed answer raises a
`MalformedResponse` naming it, never a KeyError. Unknown extra fields are ignored: the exchange
adds fields over time (spot markets, `instrument_type`, `liquidation_price`). Money arrives as
decimal strings; JSON numbers are parsed with `parse_float=Decimal` so a float never appears.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.domain import Market, OpenOrder, Position, Price, Side
from daemon.pacifica.errors import MalformedResponse

PERPETUAL = "perpetual"


def loads(text: str | bytes, where: str) -> Any:
    """Parse JSON with Decimal money; a broken document is a MalformedResponse."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:  # json.JSONDecodeError and bad UTF-8 both land here
        raise MalformedResponse(f"{where}: not JSON ({exc.__class__.__name__})") from None


def bad(where: str, what: str) -> MalformedResponse:
    return MalformedResponse(f"{where}: {what}")


def mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(where, f"expected an object, got {type(value).__name__}")
    return value


def items(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise bad(where, f"expected a list, got {type(value).__name__}")
    return value


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise bad(where, f"missing field {key!r}")
    return obj[key]


def dec(obj: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = _field(obj, key, where)
    return _to_decimal(value, key, where)


def opt_dec(obj: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _to_decimal(value, key, where)


def _to_decimal(value: object, key: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise bad(where, f"field {key!r} is not a decimal string: {value!r:.40}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise bad(where, f"field {key!r} is not a decimal: {value!r:.40}") from None
    if not result.is_finite():
        raise bad(where, f"field {key!r} is not finite: {value!r:.40}")
    return result


def integer(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = _field(obj, key, where)
    return _to_int(value, key, where)


def opt_int(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    return None if value is None else _to_int(value, key, where)


def _to_int(value: object, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(where, f"field {key!r} is not an integer: {value!r:.40}")
    return value


def text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _field(obj, key, where)
    if not isinstance(value, str) or not value:
        raise bad(where, f"field {key!r} is not a non-empty string: {value!r:.40}")
    return value


def opt_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad(where, f"field {key!r} is not a string: {value!r:.40}")
    return value


def flag(obj: Mapping[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    if key not in obj and default is not None:
        return default
    value = _field(obj, key, where)
    if not isinstance(value, bool):
        raise bad(where, f"field {key!r} is not a boolean: {value!r:.40}")
    return value


def side(obj: Mapping[str, Any], key: str, where: str) -> Side:
    value = _field(obj, key, where)
    try:
        return Side(value)
    except ValueError:
        raise bad(where, f"field {key!r} is not bid/ask: {value!r:.40}") from None


def market_from_wire(obj: Mapping[str, Any], where: str) -> Market | None:
    """One /info row; None for a non-perpetual instrument (spot markets share /info)."""
    kind = obj.get("instrument_type", PERPETUAL)
    if kind != PERPETUAL:
        return None
    tick = dec(obj, "tick_size", where)
    lot = dec(obj, "lot_size", where)
    if tick <= 0 or lot <= 0:
        raise bad(where, "tick_size and lot_size must be positive")
    return Market(
        symbol=text(obj, "symbol", where),
        tick_size=tick,
        lot_size=lot,
        min_tick=opt_dec(obj, "min_tick", where) or Decimal(0),
        max_tick=opt_dec(obj, "max_tick", where) or Decimal("Infinity"),
        min_order_size=dec(obj, "min_order_size", where),
        max_order_size=opt_dec(obj, "max_order_size", where) or Decimal("Infinity"),
        max_leverage=integer(obj, "max_leverage", where),
        isolated_only=flag(obj, "isolated_only", where, default=False),
    )


def price_from_wire(obj: Mapping[str, Any], where: str) -> Price:
    """A /info/prices row or one element of the `prices` stream (same field names)."""
    return Price(
        symbol=text(obj, "symbol", where),
        mark=dec(obj, "mark", where),
        mid=dec(obj, "mid", where),
        oracle=dec(obj, "oracle", where),
        timestamp=integer(obj, "timestamp", where),
    )


def position_from_wire(obj: Mapping[str, Any], where: str) -> Position:
    """A GET /positions row (side bid = long, ask = short)."""
    return Position(
        symbol=text(obj, "symbol", where),
        side=side(obj, "side", where),
        amount=dec(obj, "amount", where),
        entry_price=dec(obj, "entry_price", where),
        created_at=integer(obj, "created_at", where),
        updated_at=integer(obj, "updated_at", where),
        liquidation_price=opt_dec(obj, "liquidation_price", where),
        isolated=flag(obj, "isolated", where, default=False),
        margin=opt_dec(obj, "margin", where) or Decimal(0),
        funding=opt_dec(obj, "funding", where) or Decimal(0),
    )


def position_from_stream(obj: Mapping[str, Any], where: str, created_at: int) -> Position:
    """An `account_positions` element {s,d,a,p,m,f,i,l,t}.

    The frame carries one time `t` and no open time, so the caller supplies the position's
    `created_at` (its identity) from what it knows; see `feed.PositionIdentity`.
    """
    return Position(
        symbol=text(obj, "s", where),
        side=side(obj, "d", where),
        amount=dec(obj, "a", where),
        entry_price=dec(obj, "p", where),
        created_at=created_at,
        updated_at=integer(obj, "t", where),
        liquidation_price=opt_dec(obj, "l", where),
        isolated=flag(obj, "i", where, default=False),
        margin=opt_dec(obj, "m", where) or Decimal(0),
        funding=opt_dec(obj, "f", where) or Decimal(0),
    )


def open_order_from_wire(obj: Mapping[str, Any], where: str) -> OpenOrder:
    """A GET /orders row, resting stops included."""
    return OpenOrder(
        order_id=integer(obj, "order_id", where),
        client_order_id=opt_text(obj, "client_order_id", where),
        symbol=text(obj, "symbol", where),
        side=side(obj, "side", where),
        order_type=text(obj, "order_type", where),
        price=opt_dec(obj, "price", where) or Decimal(0),
        stop_price=opt_dec(obj, "stop_price", where),
        initial_amount=dec(obj, "initial_amount", where),
        filled_amount=opt_dec(obj, "filled_amount", where) or Decimal(0),
        cancelled_amount=opt_dec(obj, "cancelled_amount", where) or Decimal(0),
        reduce_only=flag(obj, "reduce_only", where, default=False),
        created_at=integer(obj, "created_at", where),
        updated_at=opt_int(obj, "updated_at", where) or 0,
        stop_parent_order_id=opt_int(obj, "stop_parent_order_id", where),
    )


def open_order_from_stream(obj: Mapping[str, Any], where: str) -> OpenOrder:
    """An `account_orders` element {i,I,s,d,a,f,c,p,ip,ot,ro,sp,st,os,oe,u,t}."""
    timestamp = integer(obj, "t", where)
    return OpenOrder(
        order_id=integer(obj, "i", where),
        client_order_id=opt_text(obj, "I", where),
        symbol=text(obj, "s", where),
        side=side(obj, "d", where),
        order_type=text(obj, "ot", where),
        price=opt_dec(obj, "ip", where) or Decimal(0),
        stop_price=opt_dec(obj, "sp", where),
        initial_amount=dec(obj, "a", where),
        filled_amount=opt_dec(obj, "f", where) or Decimal(0),
        cancelled_amount=opt_dec(obj, "c", where) or Decimal(0),
        reduce_only=flag(obj, "ro", where, default=False),
        created_at=timestamp,
        updated_at=timestamp,
    )
