"""The WebSocket at /ws: subscriptions, acks, ping/pong, idle and lifetime closes, faults.

Frames are queued per connection and written by one task each, so a slow reader never holds
up the exchange. Protocol pings are answered by hand (autoping off) so `stall_ws` can play a
half-open connection: TCP up, nothing sent, not even pongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from daemon.sim.candles import INTERVALS
from daemon.sim.faults import Faults

log = structlog.get_logger(__name__)

ACCOUNT_SOURCES = frozenset({"account_positions", "account_orders", "account_order_updates",
                             "account_info", "account_trades"})
SYMBOL_SOURCES = frozenset({"book", "bbo", "trades"})
# Candle channels name a symbol and an interval; their key is "<symbol> <interval>".
CANDLE_SOURCES = frozenset({"candle", "mark_price_candle"})
# The documented levels, and 10000, which published clients send (issue 11 item 8).
BOOK_AGG_LEVELS = (1, 2, 5, 10, 100, 1000, 10000)
QUEUE_LIMIT = 10_000  # frames; a reader this far behind is disconnected

Subscription = tuple[str, str | None]  # (source, account or symbol)
Snapshot = Callable[[str, str | None], list[dict[str, Any]]]
# Who is on a socket, for credits: (PF-API-KEY header or None, remote address).
Caller = tuple[str | None, str | None]
# (operation, signed body, request id, caller) -> the answer frame, or None if not trading
Trade = Callable[[str, object, object, Caller], dict[str, Any] | None]


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    opened: float
    caller: Caller
    subscriptions: set[Subscription] = field(default_factory=set)
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    last_heard: float = 0.0


class StreamHub:
    def __init__(self, faults: Faults, snapshot: Snapshot, trade: Trade, *,
                 symbols: frozenset[str], idle_timeout: float, max_lifetime: float) -> None:
        self._symbols = symbols
        self._faults = faults
        self._snapshot = snapshot  # frames a new subscriber gets right after its ack
        self._trade = trade
        self._idle_timeout = idle_timeout
        self._max_lifetime = max_lifetime
        self._connections: set[_Connection] = set()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def subscribers(self, source: str) -> set[str | None]:
        """Accounts (None for public channels) that someone follows on `source`."""
        return {acct for c in self._connections for (src, acct) in c.subscriptions
                if src == source}

    def publish(self, source: str, frame: Mapping[str, Any], account: str | None = None) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        for connection in list(self._connections):
            if (source, account) in connection.subscriptions:
                self._enqueue(connection, text)

    def _enqueue(self, connection: _Connection, text: str) -> None:
        try:
            connection.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._abort(connection)

    def drop_all(self) -> None:
        """Cut every socket without a close frame, as a network drop would."""
        for connection in list(self._connections):
            self._abort(connection)

    def _abort(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if connection.transport is not None:
            connection.transport.abort()
        with contextlib.suppress(asyncio.QueueFull):
            connection.queue.put_nowait(None)

    async def close_all(self) -> None:
        for connection in list(self._connections):
            self._connections.discard(connection)
            await connection.ws.close(code=1001, message=b"server shutdown")

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        now = time.monotonic()
        caller = (request.headers.get("PF-API-KEY"), request.remote)
        connection = _Connection(ws, request.transport, now, caller, last_heard=now)
        self._connections.add(connection)
        writer = asyncio.create_task(self._write(connection))
        try:
            await self._read(connection)
        finally:
            self._connections.discard(connection)
            with contextlib.suppress(asyncio.QueueFull):
                connection.queue.put_nowait(None)
            await writer
            if not ws.closed:
                await ws.close()
        return ws

    async def _read(self, connection: _Connection) -> None:
        ws = connection.ws
        while connection in self._connections:
            now = time.monotonic()
            deadline = min(connection.last_heard + self._idle_timeout,
                           connection.opened + self._max_lifetime)
            # Pacifica closes after 60 s of client silence and every connection at 24 h.
            # The deadline is checked here too: a chatty client never lets receive() time out.
            if deadline <= now:
                await ws.close(code=1000, message=b"timeout")
                return
            try:
                message = await ws.receive(timeout=deadline - now)
            except TimeoutError:
                await ws.close(code=1000, message=b"timeout")
                return
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                return
            connection.last_heard = time.monotonic()
            if message.type is WSMsgType.PING:
                if not self._faults.stall_ws:
                    await ws.pong(message.data)
            elif message.type is WSMsgType.TEXT:
                try:
                    self._on_text(connection, message.data)
                except Exception:
                    # One bad frame must not end the connection or the server.
                    log.exception("sim.ws_frame_failed")

    def _on_text(self, connection: _Connection, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            return  # like the real server: no answer to what it cannot read
        if not isinstance(request, dict):
            return
        method = request.get("method")
        if method == "ping":
            self._enqueue(connection, '{"channel":"pong"}')
            return
        params = request.get("params")
        if "id" in request and isinstance(params, dict) and len(params) == 1:
            [(operation, body)] = params.items()
            answer = self._trade(operation, body, request["id"], connection.caller)
            if answer is not None:
                self._enqueue(connection, json.dumps(answer, separators=(",", ":")))
                return
        subscription = _subscription(params, self._symbols)
        if subscription is None or method not in ("subscribe", "unsubscribe"):
            return  # an invalid subscription gets no ack and no error (§4)
        acked = params
        if method == "subscribe" and subscription[0] == "account_info" and isinstance(
                params, dict):
            acked = {**params, "full": params.get("full", False)}  # as live acks it (issue 11)
        ack = json.dumps({"channel": method, "data": acked}, separators=(",", ":"))
        if method == "unsubscribe":
            connection.subscriptions.discard(subscription)
            self._enqueue(connection, ack)
            return
        connection.subscriptions.add(subscription)
        self._enqueue(connection, ack)
        for frame in self._snapshot(*subscription):
            self._enqueue(connection, json.dumps(frame, separators=(",", ":")))

    async def _write(self, connection: _Connection) -> None:
        while True:
            text = await connection.queue.get()
            if text is None or connection.ws.closed:
                return
            if self._faults.stall_ws:
                continue  # half-open: the frame is lost, the socket stays up
            copies = 2 if self._faults.duplicate_frames else 1
            try:
                for _ in range(copies):
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return


def _subscription(params: object, symbols: frozenset[str]) -> Subscription | None:
    """The (source, key) a valid subscription names; key is the account or the symbol."""
    if not isinstance(params, dict):
        return None
    source = params.get("source")
    if source == "prices":
        return ("prices", None)
    symbol = params.get("symbol")
    if source in SYMBOL_SOURCES and isinstance(symbol, str) and symbol in symbols:
        if source == "book" and params.get("agg_level", 1) not in BOOK_AGG_LEVELS:
            return None
        return (str(source), symbol)
    interval = params.get("interval")
    if (source in CANDLE_SOURCES and isinstance(symbol, str) and symbol in symbols
            and interval in INTERVALS):
        return (str(source), f"{symbol} {interval}")
    account = params.get("account")
    if source in ACCOUNT_SOURCES and isinstance(account, str) and account:
        return (str(source), account)
    return None
