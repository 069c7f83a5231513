"""Exchange records -> Pacifica's JSON shapes (pacifica-api.md §3 for REST, §4 for streams).

Prices and amounts are decimal strings, ids and times integers, flags booleans.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from daemon.sim import ledger
from daemon.sim.exchange import Exchange
from daemon.sim.markets import SimMarket
from daemon.sim.state import ZERO, Account, Fill, OrderEvent, SimOrder, SimPosition

JSON = dict[str, Any]


def num(value: Decimal) -> str:
    return format(value, "f")


def opt_num(value: Decimal | None) -> str | None:
    return None if value is None else num(value)


def market_info(market: SimMarket) -> JSON:
    m = market.market
    return {
        "symbol": m.symbol, "tick_size": num(m.tick_size), "min_tick": num(m.min_tick),
        "max_tick": num(m.max_tick), "lot_size": num(m.lot_size), "max_leverage": m.max_leverage,
        "isolated_only": m.isolated_only, "min_order_size": num(m.min_order_size),
        "max_order_size": num(m.max_order_size), "funding_rate": num(market.funding_rate),
        "next_funding_rate": num(market.next_funding_rate), "created_at": market.created_at,
        "instrument_type": market.instrument_type, "base_asset": market.base_asset,
    }


def prices(exchange: Exchange) -> list[JSON]:
    interest: dict[str, Decimal] = dict.fromkeys(exchange.quotes, ZERO)
    for account in exchange.accounts.values():
        for position in account.positions.values():
            if position.side.is_long:
                interest[position.symbol] += position.amount
    return [
        {
            "symbol": q.symbol, "mark": num(q.mark), "mid": num(q.mid), "oracle": num(q.oracle),
            "funding": num(q.funding), "next_funding": num(q.next_funding),
            "open_interest": num(interest[q.symbol]),
            "volume_24h": num(exchange.volume[q.symbol].quantize(ledger.USD)),
            "yesterday_price": num(q.yesterday), "timestamp": q.timestamp,
        }
        for q in exchange.quotes.values()
    ]


BOOK_DEPTH = "1000000"  # every taker fills at the mark, so the synthetic book never runs dry


def book(exchange: Exchange, symbol: str) -> JSON:
    """A one-level book a tick either side of the mid (`GET /book`, the `book` stream)."""
    quote = exchange.quotes[symbol]
    tick = exchange.markets[symbol].tick_size
    bids = [{"p": num(quote.mid - tick), "a": BOOK_DEPTH, "n": 1}]
    asks = [{"p": num(quote.mid + tick), "a": BOOK_DEPTH, "n": 1}]
    return {"s": symbol, "l": [bids, asks], "t": quote.timestamp}


def book_stream(exchange: Exchange, symbol: str) -> JSON:
    """The `book` frame: the REST book plus `li`, which Hummingbot reads as the update id."""
    return {**book(exchange, symbol), "li": exchange.last_order_id}


def bbo(exchange: Exchange, symbol: str) -> JSON:
    levels = book(exchange, symbol)["l"]
    return {"s": symbol, "i": exchange.last_order_id, "t": exchange.quotes[symbol].timestamp,
            "b": levels[0][0]["p"], "B": BOOK_DEPTH, "a": levels[1][0]["p"], "A": BOOK_DEPTH}


def recent_trade(item: Fill) -> JSON:
    """A `GET /trades` row, as pacifica-sdk and the Rust SDK read it."""
    return {"event_type": _event_type(item), "price": num(item.price),
            "amount": num(item.amount), "side": item.side, "cause": item.cause,
            "created_at": item.created_at}


def _event_type(item: Fill) -> str:
    return "fulfill_maker" if item.maker else "fulfill_taker"


def public_trade(item: Fill) -> JSON:
    return {"h": item.history_id, "a": num(item.amount), "d": item.side, "p": num(item.price),
            "s": item.symbol, "t": item.created_at, "tc": item.cause, "u": item.account,
            "li": item.history_id}


def account_info(exchange: Exchange, account: Account) -> JSON:
    money = ledger.balances(account, exchange.markets, exchange.quotes)
    open_orders = exchange.open_orders(account.address)
    stops = sum(1 for o in open_orders if o.is_resting_stop)
    return {
        "balance": num(account.balance.quantize(ledger.USD)),
        "fee_level": 0,
        "maker_fee": num(exchange.config.maker_fee),
        "taker_fee": num(exchange.config.taker_fee),
        "account_equity": num(money.equity.quantize(ledger.USD)),
        "available_to_spend": num(money.available.quantize(ledger.USD)),
        "available_to_withdraw": num(money.available.quantize(ledger.USD)),
        "pending_balance": "0",
        "total_margin_used": num(money.margin_used.quantize(ledger.USD)),
        "cross_mmr": num(money.maintenance.quantize(ledger.USD)),
        "positions_count": len(account.positions),
        "orders_count": len(open_orders) - stops,
        "stop_orders_count": stops,
        "updated_at": account.updated_at,
        "use_ltp_for_stop_orders": False,
        # Newer fields (blackcubeio/pacifica-sdk get-account-info.ts): no spot assets, no
        # lending here, so all the equity is cross-margin equity.
        "cross_account_equity": num(money.equity.quantize(ledger.USD)),
        "spot_collateral": "0",
        "spot_market_value": "0",
        "pending_interest": "0",
        "spot_balances": [],
    }


def account_info_stream(exchange: Exchange, account: Account, now: int) -> JSON:
    full = account_info(exchange, account)
    return {
        "ae": full["account_equity"], "as": full["available_to_spend"],
        "aw": full["available_to_withdraw"], "b": full["balance"], "f": full["fee_level"],
        "mu": full["total_margin_used"], "cm": full["cross_mmr"], "oc": full["orders_count"],
        "pb": full["pending_balance"], "pc": full["positions_count"],
        "sc": full["stop_orders_count"], "t": now,
    }


def account_settings(exchange: Exchange, account: Account | None) -> JSON:
    """The newer object shape (blackcubeio/pacifica-sdk get-account-settings.ts reads
    `{auto_lend_disabled, margin_settings, spot_settings}`); `margin_settings` lists only the
    markets whose leverage or margin mode the account changed."""
    rows = [] if account is None else [
        {"symbol": symbol,
         "isolated": account.isolated.get(symbol, False),
         "leverage": account.leverage.get(symbol, exchange.markets[symbol].max_leverage),
         "created_at": created, "updated_at": updated}
        for symbol, (created, updated) in account.setting_times.items()]
    return {"auto_lend_disabled": False, "margin_settings": rows, "spot_settings": []}


def position(exchange: Exchange, account: Account, pos: SimPosition) -> JSON:
    liquidation = ledger.liquidation_price(account, pos, exchange.markets, exchange.quotes)
    return {
        "symbol": pos.symbol, "side": pos.side.value, "amount": num(pos.amount),
        "entry_price": num(pos.entry_price.normalize()), "margin": "0",
        "funding": num(pos.funding), "isolated": False, "liquidation_price": opt_num(liquidation),
        "created_at": pos.created_at, "updated_at": pos.updated_at,
    }


def position_stream(exchange: Exchange, account: Account, pos: SimPosition) -> JSON:
    full = position(exchange, account, pos)
    return {"s": full["symbol"], "d": full["side"], "a": full["amount"],
            "p": full["entry_price"], "m": full["margin"], "f": full["funding"],
            "i": full["isolated"], "l": full["liquidation_price"], "t": pos.updated_at}


def _position_of(exchange: Exchange, order: SimOrder) -> SimPosition | None:
    return exchange.accounts[order.account].positions.get(order.symbol)


def _live_stop_price(order: SimOrder) -> str | None:
    """A stop-limit that fired and rests is a plain limit order now: no stop price."""
    return opt_num(order.stop_price) if order.is_stop else None


def open_order(exchange: Exchange, order: SimOrder) -> JSON:
    pos = _position_of(exchange, order)
    return {
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "symbol": order.symbol, "side": order.side.value, "price": num(order.price),
        "initial_amount": num(order.initial_amount(pos)), "filled_amount": num(order.filled),
        "cancelled_amount": num(order.cancelled), "stop_price": _live_stop_price(order),
        "order_type": order.order_type, "stop_parent_order_id": order.stop_parent_order_id,
        "reduce_only": order.reduce_only, "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def history_order(exchange: Exchange, order: SimOrder) -> JSON:
    """A GET /orders/history row: its own key set, not the open-order one."""
    return {
        "order_id": order.order_id, "client_order_id": order.client_order_id,
        "symbol": order.symbol, "side": order.side.value, "initial_price": num(order.price),
        "average_filled_price": num(order.average_price),
        "amount": num(order.initial_amount(_position_of(exchange, order))),
        "filled_amount": num(order.filled), "order_status": order.status.value,
        "order_type": order.order_type, "stop_price": opt_num(order.stop_price),
        "stop_parent_order_id": order.stop_parent_order_id, "reduce_only": order.reduce_only,
        "reason": order.reason, "created_at": order.created_at, "updated_at": order.updated_at,
    }


def order_event_row(exchange: Exchange, event: OrderEvent) -> JSON:
    order = exchange.orders[event.order_id]
    return {
        "history_id": event.li, "order_id": order.order_id,
        "client_order_id": order.client_order_id, "symbol": order.symbol,
        "side": order.side.value, "price": num(order.price), "initial_amount": num(event.amount),
        "filled_amount": num(event.filled), "cancelled_amount": num(event.cancelled),
        "event_type": event.event, "order_type": order.order_type,
        "order_status": event.status.value, "stop_price": opt_num(order.stop_price),
        "stop_parent_order_id": order.stop_parent_order_id, "reduce_only": order.reduce_only,
        "created_at": event.at,
    }


def _stop_type(order: SimOrder) -> str | None:
    if order.order_type.startswith("take_profit"):
        return "take_profit"
    if order.order_type.startswith("stop_loss"):
        return "stop_loss"
    return None


def order_stream(exchange: Exchange, order: SimOrder) -> JSON:
    pos = _position_of(exchange, order)
    return {
        "i": order.order_id, "I": order.client_order_id, "s": order.symbol,
        "d": order.side.value, "a": num(order.initial_amount(pos)), "f": num(order.filled),
        "c": num(order.cancelled), "p": num(order.average_price), "ip": num(order.price),
        "ot": order.order_type, "ro": order.reduce_only, "sp": _live_stop_price(order),
        "st": _stop_type(order), "os": order.status.value, "oe": order.last_event,
        "u": order.account, "t": order.updated_at,
    }


def order_update_stream(exchange: Exchange, event: OrderEvent) -> JSON:
    order = exchange.orders[event.order_id]
    return {
        "i": order.order_id, "I": order.client_order_id, "u": order.account, "s": order.symbol,
        "d": order.side.value, "p": num(event.average), "ip": num(order.price),
        "lp": num(event.price), "a": num(event.amount), "f": num(event.filled),
        "oe": event.event, "os": event.status.value, "ot": order.order_type,
        "sp": _live_stop_price(order), "si": order.stop_parent_order_id,
        "r": order.reduce_only, "ct": order.created_at, "ut": event.at, "li": event.li,
    }


def fill(item: Fill) -> JSON:
    return {
        "history_id": item.history_id, "order_id": item.order_id,
        "client_order_id": item.client_order_id, "symbol": item.symbol,
        "amount": num(item.amount), "price": num(item.price),
        "entry_price": num(item.entry_price.normalize()), "fee": num(item.fee),
        "pnl": num(item.pnl), "event_type": _event_type(item),
        "side": item.side, "cause": item.cause, "created_at": item.created_at,
    }


def fill_stream(item: Fill) -> JSON:
    return {
        "h": item.history_id, "i": item.order_id, "I": item.client_order_id, "u": item.account,
        "s": item.symbol, "p": num(item.price), "o": num(item.entry_price.normalize()),
        "a": num(item.amount), "te": _event_type(item),
        "ts": item.side, "tc": item.cause, "f": num(item.fee), "n": num(item.pnl),
        "t": item.created_at, "li": item.history_id,
    }


def order_log(exchange: Exchange, order: SimOrder) -> JSON:
    """The simulator's own full record of an order, for GET /sim/state."""
    row = history_order(exchange, order)
    row.update({
        "cancelled_amount": num(order.cancelled), "price": num(order.price),
        "account": order.account, "trigger_price_type":
            order.trigger.value if order.trigger else None,
        "tif": order.tif, "detail": order.detail, "triggered_at": order.triggered_at,
        "events": [e.event for e in exchange.history.get(order.order_id, [])],
    })
    return row
