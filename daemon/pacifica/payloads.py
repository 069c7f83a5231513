"""Request payloads for Pacifica's write endpoints, built and checked before anything is signed.

Pure functions from domain values to the exact dicts that get signed and sent: prices and
amounts as plain decimal strings on the market's tick and lot, optional keys left out rather
than sent as null, `trigger_price_type` always explicit, stops always reduce-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from daemon.domain import Market, Side, TriggerPriceType


class OrderValidationError(ValueError):
    """A request the client refuses to sign: off the tick or lot, out of range, or ambiguous."""


class TimeInForce(StrEnum):
    """`tif` of a limit order (pacifica-api.md §2.4)."""

    GTC = "GTC"  # rests until filled or cancelled
    IOC = "IOC"  # fills what it can at once, the rest is cancelled
    ALO = "ALO"  # add-liquidity-only: refused rather than taking; no speed bump
    TOB = "TOB"  # top of book, maker only


@dataclass(frozen=True, slots=True)
class TpslLeg:
    """One leg of a position TP/SL; `amount` None means the whole position."""

    stop_price: Decimal
    client_order_id: str | None = None
    limit_price: Decimal | None = None
    amount: Decimal | None = None
    trigger_price_type: TriggerPriceType = TriggerPriceType.MARK


def price_to_wire(market: Market, price: Decimal, what: str) -> str:
    """The exchange's string for a price, refusing anything off the tick or out of range."""
    if not price.is_finite() or price <= 0:
        raise OrderValidationError(f"{market.symbol} {what} {price} must be a positive number")
    if not market.is_tick_multiple(price):
        raise OrderValidationError(
            f"{market.symbol} {what} {price} is not a multiple of tick size {market.tick_size}")
    if not market.min_tick <= price <= market.max_tick:
        raise OrderValidationError(
            f"{market.symbol} {what} {price} is outside [{market.min_tick}, {market.max_tick}]")
    return format(price.quantize(market.tick_size), "f")


def amount_to_wire(market: Market, amount: Decimal) -> str:
    if not amount.is_finite() or amount <= 0:
        raise OrderValidationError(f"{market.symbol} amount {amount} must be positive")
    if not market.is_lot_multiple(amount):
        raise OrderValidationError(
            f"{market.symbol} amount {amount} is not a multiple of lot size {market.lot_size}")
    return format(amount.quantize(market.lot_size), "f")


def _check_direction(symbol: str, side: Side, stop_price: Decimal, reference: Decimal) -> None:
    # A bid stop fires at price >= stop, an ask stop at price <= stop (pacifica-api.md §2.1).
    fires_now = stop_price <= reference if side is Side.BID else stop_price >= reference
    if fires_now:
        where = "above" if side is Side.BID else "below"
        raise OrderValidationError(
            f"{symbol} {side.value} stop {stop_price} must be {where} the current price "
            f"{reference}, or it fires at once")


def stop_order_payload(
    market: Market, side: Side, *, stop_price: Decimal, amount: Decimal, client_order_id: str,
    trigger_price_type: TriggerPriceType, limit_price: Decimal | None = None,
    reference_price: Decimal | None = None,
) -> dict[str, Any]:
    """`create_stop_order`; with `reference_price` a stop that would fire at once is refused."""
    if reference_price is not None:
        _check_direction(market.symbol, side, stop_price, reference_price)
    stop: dict[str, Any] = {
        "stop_price": price_to_wire(market, stop_price, "stop price"),
        "amount": amount_to_wire(market, amount),
        "client_order_id": client_order_id,
        "trigger_price_type": trigger_price_type.value,
    }
    if limit_price is not None:
        stop["limit_price"] = price_to_wire(market, limit_price, "limit price")
    return {"symbol": market.symbol, "side": side.value, "reduce_only": True, "stop_order": stop}


def market_order_payload(
    market: Market, side: Side, *, amount: Decimal, slippage_percent: Decimal,
    reduce_only: bool, client_order_id: str | None,
) -> dict[str, Any]:
    if not slippage_percent.is_finite() or slippage_percent <= 0:
        raise OrderValidationError(f"slippage_percent {slippage_percent} must be positive")
    payload: dict[str, Any] = {
        "symbol": market.symbol, "side": side.value,
        "amount": amount_to_wire(market, amount),
        "slippage_percent": format(slippage_percent, "f"),
        "reduce_only": reduce_only,
    }
    if client_order_id is not None:
        payload["client_order_id"] = client_order_id
    return payload


def limit_order_payload(
    market: Market, side: Side, *, price: Decimal, amount: Decimal, tif: TimeInForce,
    reduce_only: bool, client_order_id: str | None,
) -> dict[str, Any]:
    """`create_order`: a limit order on the tick and lot, optional cloid left out if None."""
    payload: dict[str, Any] = {
        "symbol": market.symbol, "side": side.value,
        "price": price_to_wire(market, price, "limit price"),
        "amount": amount_to_wire(market, amount),
        "tif": tif.value,
        "reduce_only": reduce_only,
    }
    if client_order_id is not None:
        payload["client_order_id"] = client_order_id
    return payload


def tpsl_payload(market: Market, side: Side, *, take_profit: TpslLeg | None,
                 stop_loss: TpslLeg | None) -> dict[str, Any]:
    """`set_position_tpsl`; `side` is the closing side."""
    if take_profit is None and stop_loss is None:
        raise OrderValidationError("set_position_tpsl needs a take_profit or a stop_loss")
    payload: dict[str, Any] = {"symbol": market.symbol, "side": side.value}
    for name, leg in (("take_profit", take_profit), ("stop_loss", stop_loss)):
        if leg is not None:
            payload[name] = _leg_to_wire(market, leg)
    return payload


def cancel_payload(symbol: str, order_id: int | None,
                   client_order_id: str | None) -> dict[str, Any]:
    """`cancel_order` / `cancel_stop_order`: exactly one of the two references."""
    if (order_id is None) == (client_order_id is None):
        raise OrderValidationError("name the order by exactly one of order_id, client_order_id")
    if order_id is not None:
        return {"symbol": symbol, "order_id": order_id}
    return {"symbol": symbol, "client_order_id": client_order_id}


def _leg_to_wire(market: Market, leg: TpslLeg) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stop_price": price_to_wire(market, leg.stop_price, "stop price"),
        "trigger_price_type": leg.trigger_price_type.value,
    }
    if leg.limit_price is not None:
        out["limit_price"] = price_to_wire(market, leg.limit_price, "limit price")
    if leg.amount is not None:
        out["amount"] = amount_to_wire(market, leg.amount)
    if leg.client_order_id is not None:
        out["client_order_id"] = leg.client_order_id
    return out
