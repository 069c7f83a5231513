"""Signed POST bodies -> typed requests, with Pacifica's validation texts (pacifica-api.md §1.4).

Runs only after the signature verified. Prices must sit on the tick and inside
[min_tick, max_tick], amounts on the lot; the texts follow the one family Pacifica was seen
using: "<Label> <value> is not a multiple of tick size <tick>" (HTTP 400).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from daemon.domain import Market, Side, TriggerPriceType
from daemon.sim.decimals import decimal_or_reason
from daemon.sim.errors import bad_request
from daemon.sim.markets import SimMarket

TIFS = frozenset({"GTC", "IOC", "ALO", "TOB"})


@dataclass(frozen=True, slots=True)
class Leg:
    """A stop leg: a standalone stop's `stop_order`, or a take_profit/stop_loss object."""

    stop_price: Decimal
    limit_price: Decimal | None
    amount: Decimal | None  # None: the whole position when it fires
    client_order_id: str | None
    trigger: TriggerPriceType | None  # None: Pacifica reads it as mid_price (§2.1)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """/orders/create (price set) and /orders/create_market (price None)."""

    symbol: str
    side: Side
    amount: Decimal
    price: Decimal | None
    tif: str | None
    reduce_only: bool
    client_order_id: str | None
    take_profit: Leg | None
    stop_loss: Leg | None


@dataclass(frozen=True, slots=True)
class StopRequest:
    symbol: str
    side: Side
    reduce_only: bool
    leg: Leg


@dataclass(frozen=True, slots=True)
class TpslRequest:
    symbol: str
    side: Side
    take_profit: Leg | None
    stop_loss: Leg | None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    symbol: str
    order_id: int | None
    client_order_id: str | None


@dataclass(frozen=True, slots=True)
class EditRequest:
    symbol: str
    price: Decimal
    amount: Decimal
    order_id: int | None
    client_order_id: str | None


@dataclass(frozen=True, slots=True)
class CancelAllRequest:
    all_symbols: bool
    symbol: str | None
    exclude_reduce_only: bool


class RequestParser:
    def __init__(self, markets: Mapping[str, SimMarket]) -> None:
        self._markets = markets

    def market(self, body: Mapping[str, Any]) -> Market:
        symbol = _text(body, "symbol")
        found = self._markets.get(symbol)
        if found is None or not found.tradable:
            raise bad_request(f"Market not found: {symbol}")
        return found.market

    def order(self, body: Mapping[str, Any], *, limit: bool) -> OrderRequest:
        market = self.market(body)
        price = tif = None
        if limit:
            price = _price(market, body, "price", "Price")
            tif = _text(body, "tif")
            if tif not in TIFS:
                raise bad_request(f"Invalid tif: {tif!r} (expected GTC, IOC, ALO or TOB)")
        else:
            slippage = _decimal(body, "slippage_percent", "slippage_percent")
            if slippage < 0:
                raise bad_request("Invalid slippage_percent: must not be negative")
        return OrderRequest(
            symbol=market.symbol,
            side=_side(body),
            amount=_amount(market, body.get("amount"), "Amount", required=True) or Decimal(0),
            price=price,
            tif=tif,
            reduce_only=_flag(body, "reduce_only"),
            client_order_id=_cloid(body.get("client_order_id")),
            take_profit=self._leg(market, body.get("take_profit"), "Take profit"),
            stop_loss=self._leg(market, body.get("stop_loss"), "Stop loss"),
        )

    def stop(self, body: Mapping[str, Any]) -> StopRequest:
        market = self.market(body)
        side = _side(body)
        reduce_only = _flag(body, "reduce_only")
        leg = self._leg(market, body.get("stop_order"), None)
        if leg is None:
            raise bad_request("missing field `stop_order`")
        return StopRequest(market.symbol, side, reduce_only, leg)

    def tpsl(self, body: Mapping[str, Any]) -> TpslRequest:
        market = self.market(body)
        side = _side(body)
        take_profit = self._leg(market, body.get("take_profit"), "Take profit")
        stop_loss = self._leg(market, body.get("stop_loss"), "Stop loss")
        if take_profit is None and stop_loss is None:
            raise bad_request("At least one of take_profit or stop_loss is required")
        return TpslRequest(market.symbol, side, take_profit, stop_loss)

    def cancel(self, body: Mapping[str, Any]) -> CancelRequest:
        market = self.market(body)
        order_id = body.get("order_id")
        cloid = body.get("client_order_id")
        if order_id is not None and cloid is not None:
            raise bad_request("Send either order_id or client_order_id, not both")
        if order_id is None and cloid is None:
            raise bad_request("missing field `order_id` or `client_order_id`")
        if order_id is not None and (not isinstance(order_id, int) or isinstance(order_id, bool)):
            raise bad_request("Invalid order_id: expected an integer")
        return CancelRequest(market.symbol, order_id, _cloid(cloid))

    def edit(self, body: Mapping[str, Any]) -> EditRequest:
        target = self.cancel(body)
        market = self._markets[target.symbol].market
        return EditRequest(target.symbol, _price(market, body, "price", "Price"),
                           _amount(market, body.get("amount"), "Amount", required=True)
                           or Decimal(0), target.order_id, target.client_order_id)

    def cancel_all(self, body: Mapping[str, Any]) -> CancelAllRequest:
        all_symbols = _flag(body, "all_symbols")
        exclude = _flag(body, "exclude_reduce_only")
        symbol = None if all_symbols else self.market(body).symbol
        return CancelAllRequest(all_symbols, symbol, exclude)

    def _leg(self, market: Market, raw: object, label: str | None) -> Leg | None:
        if raw is None:
            return None
        where = label or "stop_order"
        if not isinstance(raw, Mapping):
            raise bad_request(f"Invalid {where}: expected an object")
        stop_label = f"{label} stop price" if label else "Stop price"
        limit_label = f"{label} limit price" if label else "Limit price"
        amount_label = f"{label} amount" if label else "Amount"
        limit_price = None
        if raw.get("limit_price") is not None:
            limit_price = _price(market, raw, "limit_price", limit_label)
        trigger_raw = raw.get("trigger_price_type")
        trigger = None
        if trigger_raw is not None:
            try:
                trigger = TriggerPriceType(trigger_raw)
            except ValueError:
                raise bad_request(f"Invalid trigger_price_type: {_show(trigger_raw)} (expected "
                                  "mark_price, mid_price or last_trade_price)") from None
        return Leg(
            stop_price=_price(market, raw, "stop_price", stop_label),
            limit_price=limit_price,
            amount=_amount(market, raw.get("amount"), amount_label, required=False),
            client_order_id=_cloid(raw.get("client_order_id")),
            trigger=trigger,
        )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        raise bad_request(f"missing field `{key}`")
    if not isinstance(value, str):
        raise bad_request(f"Invalid {key}: expected a string, got {_show(value)}")
    return value


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        raise bad_request(f"missing field `{key}`")
    if not isinstance(value, bool):
        raise bad_request(f"Invalid {key}: expected true or false, got {_show(value)}")
    return value


def _side(body: Mapping[str, Any]) -> Side:
    value = _text(body, "side")
    try:
        return Side(value)
    except ValueError:
        raise bad_request(f"Invalid side: {value!r} (expected bid or ask)") from None


def _parse_decimal(value: object, name: str) -> Decimal:
    number = decimal_or_reason(value)
    if isinstance(number, str):
        raise bad_request(f"Invalid {name}: {number}")
    return number


def _decimal(body: Mapping[str, Any], key: str, name: str) -> Decimal:
    if body.get(key) is None:
        raise bad_request(f"missing field `{key}`")
    return _parse_decimal(body[key], name)


def _price(market: Market, body: Mapping[str, Any], key: str, label: str) -> Decimal:
    price = _decimal(body, key, key)
    if price <= 0:
        raise bad_request(f"{label} {price:f} must be greater than 0")
    if not market.min_tick <= price <= market.max_tick:
        raise bad_request(f"{label} {price:f} is out of range "
                          f"[{market.min_tick:f}, {market.max_tick:f}]")
    if not market.is_tick_multiple(price):
        raise bad_request(f"{label} {price:f} is not a multiple of tick size "
                          f"{market.tick_size:f}")
    return price


def _amount(market: Market, raw: object, label: str, *, required: bool) -> Decimal | None:
    if raw is None:
        if required:
            raise bad_request("missing field `amount`")
        return None
    amount = _parse_decimal(raw, "amount")
    if amount < 0:
        raise bad_request(f"{label} {amount:f} must not be negative")
    if not market.is_lot_multiple(amount):
        raise bad_request(f"{label} {amount:f} is not a multiple of lot size {market.lot_size:f}")
    return amount


def _cloid(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise bad_request(f"Invalid client_order_id: expected a UUID string, got {_show(raw)}")
    try:
        uuid.UUID(raw)
    except ValueError:
        raise bad_request(f"Invalid client_order_id: {_show(raw)} is not a UUID") from None
    if len(raw) != 36:
        raise bad_request(f"Invalid client_order_id: {_show(raw)} is not a hyphenated UUID")
    return raw
