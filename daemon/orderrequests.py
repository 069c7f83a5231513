"""The requests that carry out a planned order, as data: built (and checked) once, then
sent, or in a dry run only signed.

The ONE place that dispatches by what an order is (stop, take-profit, market close) and by
which endpoint cancels it, so a change of mechanism (say, how a take-profit rests) is a change
here only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from daemon.domain import Market, OpenOrder
from daemon.engine.model import LegKind
from daemon.engine.plan import OrderIntent
from daemon.pacifica.models import WriteOutcome
from daemon.pacifica.payloads import (
    OrderValidationError,
    TimeInForce,
    cancel_payload,
    limit_order_payload,
    market_order_payload,
    stop_order_payload,
)
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.signing import sign_request
from daemon.pacifica.transport import system_now_ms


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One write, as data: the operation and payload (signed in a dry run) and how to send it."""

    operation: str
    payload: dict[str, Any]
    send: Callable[[PacificaRest], Awaitable[WriteOutcome]]


def order_request(intent: OrderIntent, market: Market,
                  close_slippage: Decimal) -> OrderRequest:
    """The request that puts `intent` on the exchange: the ONE place that dispatches by kind.

    Every request is sent with `confirm=False`: the executor confirms by id itself, through
    the credit budget. A take-profit is a reduce-only resting limit order at its target (a
    reduce-only stop beyond the price would fire at once on Pacifica).
    """
    cloid = intent.client_order_id
    side = intent.side
    amount = intent.amount
    if intent.kind is LegKind.CLOSE:
        payload = market_order_payload(market, side, amount=amount,
                                       slippage_percent=close_slippage, reduce_only=True,
                                       client_order_id=cloid)
        return OrderRequest("create_market_order", payload, lambda client: (
            client.create_market_order(market, side, amount=amount,
                                       slippage_percent=close_slippage, reduce_only=True,
                                       client_order_id=cloid, confirm=False)))
    price = intent.stop_price
    if price is None:
        raise OrderValidationError(f"{intent.leg}: a resting order needs a price")
    if intent.kind is LegKind.TAKE_PROFIT:
        target = price  # the plan's contract: a take-profit's target is its stop_price
        payload = limit_order_payload(market, side, price=target, amount=amount,
                                      tif=TimeInForce.GTC, reduce_only=True,
                                      client_order_id=cloid)
        return OrderRequest("create_order", payload, lambda client: (
            client.create_limit_order(market, side, price=target, amount=amount,
                                      reduce_only=True, tif=TimeInForce.GTC,
                                      client_order_id=cloid, confirm=False)))
    limit = intent.limit_price
    trigger = intent.trigger
    payload = stop_order_payload(market, side, stop_price=price, amount=amount,
                                 client_order_id=cloid, trigger_price_type=trigger,
                                 limit_price=limit)
    return OrderRequest("create_stop_order", payload, lambda client: (
        client.create_stop_order(market, side, stop_price=price, amount=amount,
                                 client_order_id=cloid, trigger_price_type=trigger,
                                 limit_price=limit, confirm=False)))


def cancel_request(order: OpenOrder) -> OrderRequest:
    """Stops (and TP/SL legs) cancel on their own endpoint; plain orders on /orders/cancel."""
    payload = cancel_payload(order.symbol, order.order_id, None)
    if order.is_stop:
        return OrderRequest("cancel_stop_order", payload, lambda client: (
            client.cancel_stop_order(order.symbol, order_id=order.order_id)))
    return OrderRequest("cancel_order", payload, lambda client: (
        client.cancel_order(order.symbol, order_id=order.order_id)))


def sign_only(client: PacificaRest, request: OrderRequest) -> bool:
    """Sign `request` as it would be sent (a dry run exercises the signing path); False when
    the client holds no key."""
    if client.keypair is None:
        return False
    sign_request(client.keypair, request.operation, request.payload, timestamp=system_now_ms(),
                 expiry_window=client.expiry_window, account=client.account)
    return True
