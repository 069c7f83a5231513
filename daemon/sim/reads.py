"""The unsigned GET endpoints (pacifica-api.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from daemon.sim import candles, wire
from daemon.sim.errors import ExchangeError, bad_request
from daemon.sim.host import SimHost
from daemon.sim.http import account_param, envelope, int_param

Query = Mapping[str, str]
DEFAULT_LIMIT = 100
MAX_LIMIT = 4000
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


def info(sim: SimHost, query: Query) -> web.Response:
    return envelope([wire.market_info(m) for m in sim.exchange.sim_markets.values()])


def info_prices(sim: SimHost, query: Query) -> web.Response:
    return envelope(wire.prices(sim.exchange))


def account(sim: SimHost, query: Query) -> web.Response:
    found = sim.exchange.accounts.get(account_param(query))
    if found is None:
        raise ExchangeError(404, "Account not found", 1)
    return envelope(wire.account_info(sim.exchange, found))


def account_settings(sim: SimHost, query: Query) -> web.Response:
    found = sim.exchange.accounts.get(account_param(query))
    return envelope(wire.account_settings(sim.exchange, found))


def positions(sim: SimHost, query: Query) -> web.Response:
    found = sim.exchange.accounts.get(account_param(query))
    rows = [] if found is None else [wire.position(sim.exchange, found, p)
                                     for p in found.positions.values()]
    return envelope(rows, last_order_id=sim.exchange.last_order_id)


def orders(sim: SimHost, query: Query) -> web.Response:
    rows = [wire.open_order(sim.exchange, o)
            for o in sim.exchange.open_orders(account_param(query))]
    return envelope(rows, last_order_id=sim.exchange.last_order_id)


def _limit(query: Query) -> int:
    limit = int_param(query, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"Invalid limit: must be between 1 and {MAX_LIMIT}")
    return limit


def order_history(sim: SimHost, query: Query) -> web.Response:
    """Newest first; the cursor is the last order id already returned."""
    address = account_param(query)
    limit = _limit(query)
    cursor = int_param(query, "cursor")
    mine = [o for o in reversed(sim.exchange.orders.values()) if o.account == address
            and (cursor is None or o.order_id < cursor)]
    page = mine[:limit]
    has_more = len(mine) > limit
    return envelope([wire.history_order(sim.exchange, o) for o in page],
                    next_cursor=str(page[-1].order_id) if has_more else None,
                    has_more=has_more)


def order_history_by_id(sim: SimHost, query: Query) -> web.Response:
    order_id = int_param(query, "order_id")
    if order_id is None:
        raise bad_request("missing field `order_id`")
    rows = [wire.order_event_row(sim.exchange, e)
            for e in sim.exchange.history.get(order_id, [])]
    if not rows:
        raise ExchangeError(404, f"Order history not found for order ID: {order_id}")
    return envelope(list(reversed(rows)))


def trade_history(sim: SimHost, query: Query) -> web.Response:
    address = account_param(query)
    limit = _limit(query)
    symbol = query.get("symbol")
    start = int_param(query, "start_time")
    end = int_param(query, "end_time")
    if start is not None and end is not None and end - start > THIRTY_DAYS_MS:
        raise bad_request("Time range cannot exceed 30 days")
    cursor = int_param(query, "cursor")
    mine = [f for f in reversed(sim.exchange.fills) if f.account == address
            and (symbol is None or f.symbol == symbol)
            and (start is None or f.created_at >= start) and (end is None or f.created_at <= end)
            and (cursor is None or f.history_id < cursor)]
    page = mine[:limit]
    has_more = len(mine) > limit
    return envelope([wire.fill(f) for f in page],
                    next_cursor=str(page[-1].history_id) if has_more else None,
                    has_more=has_more)


def funding_history(sim: SimHost, query: Query) -> web.Response:
    """Funding is not simulated, so an account's funding history is always empty."""
    account_param(query)
    return envelope([], next_cursor=None, has_more=False)


def builder_approvals(sim: SimHost, query: Query) -> web.Response:
    account_param(query)
    return envelope([])


def _symbol(sim: SimHost, query: Query) -> str:
    symbol = query.get("symbol")
    if symbol is None or symbol not in sim.exchange.quotes:
        raise bad_request(f"Market not found: {symbol}")
    return symbol


def book(sim: SimHost, query: Query) -> web.Response:
    """A thin synthetic book one tick either side of the mid, deep enough for any order."""
    return envelope(wire.book(sim.exchange, _symbol(sim, query)))


RECENT_TRADES = 100


def recent_trades(sim: SimHost, query: Query) -> web.Response:
    """`GET /trades?symbol=`: the market's latest fills, newest first, with `last_order_id`
    beside `data` (blackcubeio/pacifica-sdk get-recent-trades.ts reads both)."""
    symbol = _symbol(sim, query)
    rows = []
    for item in reversed(sim.exchange.fills):
        if item.symbol == symbol:
            rows.append(wire.recent_trade(item))
            if len(rows) == RECENT_TRADES:
                break
    return envelope(rows, last_order_id=sim.exchange.last_order_id)


def _kline(kind: str) -> Callable[[SimHost, Query], web.Response]:
    def read(sim: SimHost, query: Query) -> web.Response:
        symbol = query.get("symbol")
        if symbol is None:
            raise bad_request("missing field `symbol`")
        interval = query.get("interval")
        if interval is None:
            raise bad_request("missing field `interval`")
        if interval not in candles.INTERVALS:
            raise bad_request(f"Invalid interval: {interval[:40]!r} (expected one of "
                              f"{', '.join(candles.INTERVALS)})")
        start = int_param(query, "start_time")
        if start is None:
            raise bad_request("missing field `start_time`")
        end = int_param(query, "end_time", sim.now_ms())
        assert end is not None
        if symbol not in sim.exchange.quotes:
            return envelope([])  # no candles, as pacifica-python-sdk's docstring says
        return envelope(sim.tape.candles(symbol, kind, interval, start, end,
                                         sim.exchange.fills))

    return read


READ_ROUTES: tuple[tuple[str, Callable[[SimHost, Query], web.Response]], ...] = (
    ("/info", info),
    ("/info/prices", info_prices),
    ("/account", account),
    ("/account/settings", account_settings),
    ("/positions", positions),
    ("/orders", orders),
    ("/orders/history", order_history),
    ("/orders/history_by_id", order_history_by_id),
    ("/trades/history", trade_history),
    ("/book", book),
    ("/trades", recent_trades),
    ("/kline", _kline("last")),
    ("/kline/mark", _kline("mark")),
    ("/funding/history", funding_history),
    ("/account/builder_codes/approvals", builder_approvals),
)
