"""The running simulator: one aiohttp app on one loopback port (REST, /ws, /sim controls).

`Simulator` owns the pure `Exchange` and everything with a clock or a socket around it: the
price driver task, credits, faults and the stream hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from daemon.sim import control, rest, wire, wstrade
from daemon.sim.candles import PriceTape
from daemon.sim.config import SimConfig
from daemon.sim.credits import CreditLedger
from daemon.sim.exchange import Exchange
from daemon.sim.faults import Faults
from daemon.sim.host import PriceUpdate
from daemon.sim.pricepaths import Step, load_path, walk_step
from daemon.sim.requests import RequestParser
from daemon.sim.ws import CANDLE_SOURCES, StreamHub


class Simulator:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.faults = Faults(seed=self.config.seed)
        self.hub = StreamHub(self.faults, self._snapshot, self._trade,
                             symbols=frozenset(m.symbol for m in self.config.markets),
                             idle_timeout=self.config.ws_idle_timeout,
                             max_lifetime=self.config.ws_max_lifetime)
        self._path: list[Step] | None = None
        if self.config.prices not in ("static", "walk"):
            symbols = frozenset(m.symbol for m in self.config.markets)
            self._path = load_path(Path(self.config.prices), symbols)
        self.reset()
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._price_interval = self.config.price_interval
        self.host = "127.0.0.1"
        self.port = 0

    def reset(self) -> None:
        """Forget every account, order and charge; prices go back to the market file's."""
        self.exchange = Exchange(self.config, self.now_ms())
        self.parser = RequestParser(self.exchange.sim_markets)
        self.credits = CreditLedger(self.config.credit_window_ms)
        self.tape = PriceTape()
        self._record(self.exchange.quotes)

    def _record(self, symbols: Iterable[str]) -> None:
        """Remember the prices just set, for the /kline candles."""
        for symbol in symbols:
            quote = self.exchange.quotes[symbol]
            self.tape.record(symbol, quote.timestamp, last=quote.last, mark=quote.mark)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.config.clock_skew_ms + self.faults.clock_skew_ms

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(middlewares=[rest.make_middleware(self)],
                              client_max_size=1 << 20)
        rest.add_routes(app, self)
        control.add_routes(app, self)
        app.router.add_get("/ws", self.hub.handle)
        # In-flight requests (say, held by an injected latency) get a short grace at shutdown.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = int(self._runner.addresses[0][1])
        if self.config.prices == "walk":
            self._driver = asyncio.create_task(self._walk())
        elif self._path is not None:
            self._driver = asyncio.create_task(self._replay(self._path))
        self._start_ticker()

    async def stop(self) -> None:
        for task in (self._driver, self._ticker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _walk(self) -> None:
        rng = random.Random(self.config.seed)  # noqa: S311 - a reproducible price path
        while True:
            await asyncio.sleep(self.config.walk_interval)
            current = {s: q.mark for s, q in self.exchange.quotes.items()}
            moved = walk_step(rng, self.exchange.markets, current,
                              self.config.walk_volatility_bps)
            await self.set_prices(dict(moved))

    @property
    def price_interval(self) -> float:
        """Seconds between `prices` frames sent even when nothing moved; 0: on change only."""
        return self._price_interval

    @price_interval.setter
    def price_interval(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("price_interval must be >= 0")
        self._price_interval = seconds
        if self._runner is not None:  # started: the new cadence applies from now
            self._start_ticker()

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._price_interval > 0:
            self._ticker = asyncio.create_task(self._tick(self._price_interval))

    async def _tick(self, interval: float) -> None:
        """Every symbol's prices at a steady cadence, moved or not: live Pacifica's oracle
        moves every 3 s, so a client's staleness check must not fire on a quiet market."""
        while True:
            await asyncio.sleep(interval)
            self.exchange.restamp_quotes(self.now_ms())
            self.hub.publish("prices", {"channel": "prices", "data": wire.prices(self.exchange)})

    async def _replay(self, path: list[Step]) -> None:
        for step in path:
            await asyncio.sleep(step.wait)
            await self.set_prices(dict(step.prices))

    # -- in-process helpers ------------------------------------------------------------------

    async def set_prices(self, prices: Mapping[str, PriceUpdate]) -> None:
        """Set marks (and mid, oracle, last with them) at once, push `prices`, fire stops.

        A value may also be a mapping of some of mark/mid/oracle/last to move them apart.
        """
        updates: dict[str, dict[str, Decimal]] = {}
        for symbol, value in prices.items():
            if symbol not in self.exchange.quotes:
                raise ValueError(f"unknown symbol {symbol!r}")
            if isinstance(value, Decimal):
                updates[symbol] = dict.fromkeys(("mark", "mid", "oracle", "last"), value)
            else:
                updates[symbol] = dict(value)
        self.exchange.set_quotes(updates, self.now_ms())
        self._record(updates)
        self.flush()

    def fund(self, account: str, collateral: Decimal) -> None:
        self.exchange.fund(account, collateral, self.now_ms())
        self.flush()

    def state(self) -> dict[str, Any]:
        ex = self.exchange
        return {
            "now": self.now_ms(),
            "last_order_id": ex.last_order_id,
            "prices": wire.prices(ex),
            "accounts": {
                address: {
                    "account": wire.account_info(ex, acct),
                    "agents": sorted(acct.agents),
                    "positions": [wire.position(ex, acct, p) for p in acct.positions.values()],
                    "open_orders": [wire.open_order(ex, o) for o in ex.open_orders(address)],
                }
                for address, acct in ex.accounts.items()
            },
            "orders": [wire.order_log(ex, o) for o in ex.orders.values()],
            "fills": [wire.fill(f) for f in ex.fills],
            "faults": self.faults.as_dict(),
            "ws_connections": self.hub.connection_count,
        }

    # -- streams -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Turn what the exchange changed into stream frames."""
        out = self.exchange.drain()
        ex, hub, now = self.exchange, self.hub, self.now_ms()
        for item in out.fills:  # a fill moves the last traded price
            self.tape.record(item.symbol, item.created_at, last=item.price,
                             mark=ex.quotes[item.symbol].mark)
        if out.prices:
            hub.publish("prices", {"channel": "prices", "data": wire.prices(ex)})
            for source in ("book", "bbo"):
                for symbol in hub.subscribers(source):
                    if symbol is not None:
                        hub.publish(source, self._symbol_frame(source, symbol), symbol)
        if out.prices or out.fills:
            for source in CANDLE_SOURCES:
                for key in hub.subscribers(source):
                    if key is not None:
                        hub.publish(source, self._candle_frame(source, key), key)
        events: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in out.events:
            events[event.account].append(wire.order_update_stream(ex, event))
        for account, rows in events.items():
            hub.publish("account_order_updates",
                        {"channel": "account_order_updates", "data": rows}, account)
        trades: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in out.fills:
            trades[item.account].append(wire.fill_stream(item))
        for account, rows in trades.items():
            hub.publish("account_trades", {"channel": "account_trades", "data": rows}, account)
        by_symbol: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in out.fills:
            by_symbol[item.symbol].append(wire.public_trade(item))
        for symbol, rows in by_symbol.items():
            hub.publish("trades", {"channel": "trades", "data": rows}, symbol)
        for account in out.order_accounts:
            hub.publish("account_orders", self._frame("account_orders", account), account)
        for account in out.accounts:
            hub.publish("account_positions", self._frame("account_positions", account), account)
        info_accounts = out.accounts | out.order_accounts
        if out.prices:
            info_accounts |= {a for a in hub.subscribers("account_info") if a in ex.accounts}
        for account in info_accounts:
            acct = ex.accounts.get(account)
            if acct is not None:
                hub.publish("account_info", {"channel": "account_info",
                                             "data": wire.account_info_stream(ex, acct, now)},
                            account)

    def _symbol_frame(self, source: str, symbol: str) -> dict[str, Any]:
        make = wire.book_stream if source == "book" else wire.bbo
        return {"channel": source, "data": make(self.exchange, symbol)}

    def _candle_frame(self, source: str, key: str) -> dict[str, Any]:
        """The candle now forming for a "<symbol> <interval>" subscription."""
        symbol, interval = key.split(" ")
        kind = "mark" if source == "mark_price_candle" else "last"
        now = self.now_ms()
        rows = self.tape.candles(symbol, kind, interval, now, now, self.exchange.fills)
        return {"channel": source, "data": rows[-1] if rows else None}

    def _frame(self, source: str, account: str) -> dict[str, Any]:
        ex = self.exchange
        acct = ex.accounts.get(account)
        if source == "account_positions":
            rows = [] if acct is None else [wire.position_stream(ex, acct, p)
                                            for p in acct.positions.values()]
            return {"channel": source, "data": rows, "li": ex.last_order_id}
        return {"channel": source,
                "data": [wire.order_stream(ex, o) for o in ex.open_orders(account)]}

    def _trade(self, operation: str, body: object, request_id: object,
               caller: tuple[str | None, str | None]) -> dict[str, Any] | None:
        if operation not in wstrade.WS_OPERATIONS:
            return None
        return wstrade.reply(self, operation, body, request_id, caller)

    def _snapshot(self, source: str, key: str | None) -> list[dict[str, Any]]:
        """What a new subscriber gets after the ack: the current state of its channel.

        Event channels (order updates, trades) start with the next event instead.
        """
        ex = self.exchange
        if source == "prices":
            return [{"channel": "prices", "data": wire.prices(ex)}]
        if key is None:
            return []
        if source in ("book", "bbo"):
            return [self._symbol_frame(source, key)]
        if source in CANDLE_SOURCES:
            return [self._candle_frame(source, key)]
        if source in ("account_positions", "account_orders"):
            return [self._frame(source, key)]
        acct = ex.accounts.get(key)
        if source == "account_info" and acct is not None:
            return [{"channel": source,
                     "data": wire.account_info_stream(ex, acct, self.now_ms())}]
        return []


@asynccontextmanager
async def run_simulator(config: SimConfig | None = None, *, host: str = "127.0.0.1",
                        port: int = 0) -> AsyncIterator[Simulator]:
    """Start a simulator on `host:port` (0 = any free port) and stop it on exit."""
    simulator = Simulator(config)
    await simulator.start(host, port)
    try:
        yield simulator
    finally:
        await simulator.stop()
