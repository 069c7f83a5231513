"""Pacifica WebSocket streams: prices and the account channels, kept alive by themselves.

    feed = Feed(sim.ws_url, account=address)
    async with feed:
        await feed.wait_ready()
        async for changed in feed.prices.updates(): ...      # conflated, newest per symbol
        async for positions in feed.positions.updates(): ...  # newest full position set
        async for update in feed.order_updates: ...           # every order event, in order

One connection carries every channel. Each (re)connect subscribes to all of them and requires
every ack within `ack_timeout` (Pacifica answers an invalid subscription with silence, so a
missing ack is a failure). A JSON `{"method":"ping"}` goes out every `ping_interval` seconds
(the server closes sockets idle for 60 s) and a connection that shows no frame at all for
`ping_interval + pong_timeout` is presumed half-open and replaced. Reconnects back off with
full jitter, capped, and start over from the smallest delay after a healthy connection, so
the server's 24 h close costs one quick reconnect. `epoch` counts completed subscriptions:
after it moves the consumer resyncs over REST (snapshot, then deltas). `failure` holds the last
connection failure until the next successful subscription; a fatal one (feedfailure.py: 401,
403, 404 at the handshake, a bad URI) is retried only every `fatal_retry_delay` seconds and
makes `wait_ready` raise `FeedFatal`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar

import structlog
import websockets
from websockets.asyncio.client import ClientConnection, connect

from daemon.domain import OpenOrder, Position, Side
from daemon.pacifica import wire
from daemon.pacifica.endpoints import MAINNET, TESTNET
from daemon.pacifica.errors import MalformedResponse
from daemon.pacifica.feedfailure import FeedFailure, FeedFatal, describe, is_fatal
from daemon.pacifica.models import OrderUpdate
from daemon.pacifica.slots import EventQueue, Latest, PriceBoard

# FeedFailure and FeedFatal belong to this module's interface (feed.failure, wait_ready).
__all__ = ["MAINNET_WS_URL", "TESTNET_WS_URL", "AckTimeout", "Channel", "Feed", "FeedConfig",
           "FeedFailure", "FeedFatal", "PositionIdentity", "PositionsFrame"]

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

MAINNET_WS_URL = MAINNET.ws
TESTNET_WS_URL = TESTNET.ws


class Channel(StrEnum):
    PRICES = "prices"
    POSITIONS = "account_positions"
    ORDERS = "account_orders"
    ORDER_UPDATES = "account_order_updates"

    @property
    def needs_account(self) -> bool:
        return self is not Channel.PRICES


@dataclass(frozen=True, slots=True)
class FeedConfig:
    ping_interval: float = 30.0  # well inside the server's 60 s idle limit
    pong_timeout: float = 10.0
    ack_timeout: float = 5.0
    open_timeout: float = 10.0
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    healthy_after: float = 30.0  # a connection that lived this long resets the backoff
    queue_size: int = 10_000
    # After a fatal failure (401/403/404 at the handshake, a bad URI): slow, so a refusal is
    # not hammered, yet a proxy's passing 403 heals by itself.
    fatal_retry_delay: float = 60.0


@dataclass(frozen=True, slots=True)
class PositionsFrame:
    """The account's full position set as one `account_positions` frame reported it."""

    positions: tuple[Position, ...]
    last_order_id: int | None


class AckTimeout(Exception):
    """A subscription was not acknowledged in time."""


class PositionIdentity:
    """Remembers when each open position was opened; the stream does not say.

    `account_positions` elements carry one time `t` and no open time, yet a position's identity
    (design.md §4) includes its open time. The first frame that shows a (symbol, side) fixes
    it, a REST snapshot (`seed`, with the exchange's `created_at`) overrides it, and a frame
    without the position forgets it so that a reopened position is a new one.
    """

    def __init__(self) -> None:
        self._opened: dict[tuple[str, Side], int] = {}

    def seed(self, positions: Iterable[Position]) -> None:
        self._opened = {(p.symbol, p.side): p.created_at for p in positions}

    def apply(self, rows: list[Mapping[str, Any]], where: str) -> tuple[Position, ...]:
        parsed: list[Position] = []
        opened: dict[tuple[str, Side], int] = {}
        for n, row in enumerate(rows):
            row_where = f"{where} item {n}"
            key = (wire.text(row, "s", row_where), wire.side(row, "d", row_where))
            created = self._opened.get(key)
            if created is None:
                created = wire.integer(row, "t", row_where)
            parsed.append(wire.position_from_stream(row, row_where, created))
            opened[key] = created
        self._opened = opened
        return tuple(parsed)


class Feed:
    def __init__(
        self,
        ws_url: str,
        *,
        account: str | None = None,
        channels: Iterable[Channel] | None = None,
        api_key: str | None = None,
        config: FeedConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        chosen = tuple(channels) if channels is not None else tuple(
            c for c in Channel if account is not None or not c.needs_account)
        if account is None and any(c.needs_account for c in chosen):
            raise ValueError("account channels need an account address")
        self.ws_url = ws_url
        self.account = account
        self.channels = chosen
        self.config = config or FeedConfig()
        self._headers = {"PF-API-KEY": api_key} if api_key else {}
        self._monotonic = monotonic
        self._rng = rng
        self._sleep = sleep
        self._last_frame: dict[Channel, float] = {}
        self._last_any: float | None = None
        self._identity = PositionIdentity()
        self._task: asyncio.Task[None] | None = None
        # Bumped on every subscription and every failure: what wait_ready waits on.
        self._changes = Latest[int]()
        self.failure: FeedFailure | None = None  # the last failure, until a subscription works
        self.prices = PriceBoard()
        self.positions = Latest[PositionsFrame]()
        self.orders = EventQueue[tuple[OpenOrder, ...]](self.config.queue_size)
        self.order_updates = EventQueue[OrderUpdate](self.config.queue_size)
        self.epoch = 0  # completed (re)subscriptions
        self.connected = False
        self.skipped_frames = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pacifica-feed")

    async def stop(self) -> None:
        """Close the socket, end every consumer iterator."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected = False
        for slot in (self.prices, self.positions, self.orders, self.order_updates,
                     self._changes):
            slot.close()

    async def wait_ready(self, after_epoch: int = 0) -> int:
        """Wait until a subscription newer than `after_epoch` is fully acknowledged.

        Raises FeedFatal as soon as (and whenever) the last failure is fatal; the feed goes on
        retrying slowly, so a later call may succeed. Raises slots.Closed once stopped.
        """
        seen = 0
        while True:
            failure = self.failure
            if failure is not None and failure.fatal:
                raise FeedFatal(failure)
            if self.epoch > after_epoch:
                return self.epoch
            seen, _ = await self._changes.next(seen)

    def seed_positions(self, positions: Iterable[Position]) -> None:
        """Give the stream the open times a REST snapshot knows (see PositionIdentity)."""
        self._identity.seed(positions)

    def silence(self) -> float | None:
        """Seconds since any frame at all (pongs included): is the connection alive?"""
        return None if self._last_any is None else self._monotonic() - self._last_any

    def age(self, channel: Channel) -> float | None:
        """Seconds since the last valid frame on `channel`; None if none arrived yet."""
        seen = self._last_frame.get(channel)
        return None if seen is None else self._monotonic() - seen

    # -- connection loop -----------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        opened_at_least_once = False
        while True:
            opened_at: float | None = None
            fatal = False
            try:
                async with connect(self.ws_url, additional_headers=self._headers,
                                   open_timeout=self.config.open_timeout,
                                   close_timeout=2.0, max_queue=64) as ws:
                    if opened_at_least_once:
                        # Across a gap a position may have closed and reopened on the same
                        # side unseen: open times are learned again (a REST seed, new frames).
                        self._identity.seed(())
                    opened_at_least_once = True
                    opened_at = self._monotonic()
                    await self._subscribe(ws)
                    self.connected = True
                    self.failure = None
                    self.epoch += 1
                    self._changes.put(self.epoch)
                    log.info("feed.subscribed", epoch=self.epoch,
                             channels=[c.value for c in self.channels])
                    await self._pump(ws)
            except (OSError, TimeoutError, AckTimeout, websockets.WebSocketException) as exc:
                fatal = is_fatal(exc, handshake_done=opened_at is not None)
                self._failed(exc, fatal=fatal)
            except Exception as exc:
                # A bug here must not end the feed silently: consumers would see stale data
                # with no error anywhere. Log it loudly and reconnect like any other failure.
                log.exception("feed.unexpected_error")
                self._failed(exc, fatal=False, logged=True)
            finally:
                self.connected = False
            lived = 0.0 if opened_at is None else self._monotonic() - opened_at
            failures = 0 if lived >= self.config.healthy_after else failures + 1
            delay = self.config.fatal_retry_delay if fatal else self._backoff(failures)
            log.info("feed.reconnecting", delay_s=round(delay, 3), failures=failures,
                     fatal=fatal)
            await self._sleep(delay)

    def _failed(self, exc: BaseException, *, fatal: bool, logged: bool = False) -> None:
        self.failure = FeedFailure(describe(exc), fatal, self._monotonic())
        if fatal:
            log.error("feed.refused", error=self.failure.message,
                      retry_in_s=self.config.fatal_retry_delay)
        elif not logged:
            log.warning("feed.disconnected", error=self.failure.message)
        self._changes.put(self._changes.version + 1)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.config.backoff_cap,
                      self.config.backoff_base * 2.0 ** max(failures - 1, 0))
        jitter: float = self._rng()
        return jitter * ceiling

    def _params(self, channel: Channel) -> dict[str, str]:
        params = {"source": channel.value}
        if channel.needs_account and self.account is not None:
            params["account"] = self.account
        return params

    async def _subscribe(self, ws: ClientConnection) -> None:
        for channel in self.channels:
            await ws.send(json.dumps({"method": "subscribe", "params": self._params(channel)}))
        waiting = set(self.channels)
        deadline = self._loop_time() + self.config.ack_timeout
        while waiting:
            remaining = deadline - self._loop_time()
            if remaining <= 0:
                raise AckTimeout(f"no ack for {sorted(c.value for c in waiting)}")
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
            except TimeoutError:
                raise AckTimeout(f"no ack for {sorted(c.value for c in waiting)}") from None
            acked = self._handle(raw)
            if acked is not None:
                waiting.discard(acked)

    @staticmethod
    def _loop_time() -> float:
        # Deadlines use the loop's clock; the injectable monotonic clock is for frame ages.
        return asyncio.get_running_loop().time()

    async def _pump(self, ws: ClientConnection) -> None:
        pinger = asyncio.create_task(self._ping(ws), name="pacifica-feed-ping")
        silence_limit = self.config.ping_interval + self.config.pong_timeout
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=silence_limit)
                except TimeoutError:
                    log.warning("feed.silent", seconds=silence_limit)
                    return
                self._handle(raw)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            await ws.send('{"method":"ping"}')

    # -- frames --------------------------------------------------------------------------

    def handle_frame(self, raw: str | bytes) -> None:
        """Feed one raw frame in as if it came off the socket (replays, tests).

        Never raises for bad input: a malformed frame is logged, counted and skipped.
        """
        self._handle(raw)

    def _handle(self, raw: str | bytes) -> Channel | None:
        """Dispatch one frame; returns the channel it acknowledged, if it was an ack."""
        self._last_any = self._monotonic()
        try:
            frame = wire.mapping(wire.loads(raw, "ws frame"), "ws frame")
            name = frame.get("channel")
            if name == "pong":
                return None
            if name == "subscribe":
                return self._ack(frame)
            try:
                channel = Channel(str(name))
            except ValueError:
                log.debug("feed.ignored_frame", channel=str(name)[:40])
                return None
            if channel not in self.channels:
                return None
            self._deliver(channel, frame)
        except MalformedResponse as exc:
            self.skipped_frames += 1
            log.warning("feed.malformed_frame", error=str(exc)[:200])
        return None

    def _ack(self, frame: Mapping[str, Any]) -> Channel | None:
        data = frame.get("data")
        source = data.get("source") if isinstance(data, Mapping) else None
        try:
            return Channel(str(source))
        except ValueError:
            return None

    def _deliver(self, channel: Channel, frame: Mapping[str, Any]) -> None:
        where = f"ws {channel.value} frame"
        rows = wire.items(frame.get("data"), where)
        if channel is Channel.PRICES:
            self.prices.put(self._each(rows, where, wire.price_from_wire))
        elif channel is Channel.ORDER_UPDATES:
            for update in self._each(rows, where, OrderUpdate.from_wire):
                self.order_updates.put(update)
        elif channel is Channel.POSITIONS:
            # A full set: one bad row must drop the frame, or a position would look closed.
            mappings = [wire.mapping(r, f"{where} item {n}") for n, r in enumerate(rows)]
            positions = self._identity.apply(mappings, where)
            self.positions.put(PositionsFrame(positions, _last_order_id(frame, where)))
        else:
            self.orders.put(tuple(
                wire.open_order_from_stream(wire.mapping(r, f"{where} item {n}"),
                                            f"{where} item {n}")
                for n, r in enumerate(rows)))
        self._last_frame[channel] = self._monotonic()

    def _each(self, rows: Iterable[Any], where: str,
              parse: Callable[[Mapping[str, Any], str], _T]) -> list[_T]:
        """Parse independent rows; a bad row is logged and skipped, the rest survive."""
        out: list[_T] = []
        for n, row in enumerate(rows):
            row_where = f"{where} item {n}"
            try:
                out.append(parse(wire.mapping(row, row_where), row_where))
            except MalformedResponse as exc:
                self.skipped_frames += 1
                log.warning("feed.malformed_row", error=str(exc)[:200])
        return out


def _last_order_id(frame: Mapping[str, Any], where: str) -> int | None:
    return wire.opt_int(frame, "li", where)

