"""Stream connection failures, classed retryable or fatal, against real loopback servers whose
handshake refuses (401/403/404 ...), fails (500-504), or is cut (EOF)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from feed_support import FAST, Server, feed_for, local_server
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response

from daemon.pacifica.feed import Channel, Feed, FeedFailure, FeedFatal

SLOW = 30.0  # the fatal retry delay under test (distinct from any backoff delay)


class Sleeps:
    """The feed's sleep: records each delay and the failure behind it; a delay of at least
    `hold`, or the `park_after`th sleep, parks until `release` is set, so a test sees the
    feed between attempts."""

    def __init__(self, hold: float = math.inf, park_after: int | None = None) -> None:
        self.hold = hold
        self.park_after = park_after
        self.delays: list[float] = []
        self.failures: list[FeedFailure | None] = []
        self.release = asyncio.Event()
        self.feed: Feed | None = None

    async def __call__(self, seconds: float) -> None:
        assert self.feed is not None
        self.delays.append(seconds)
        self.failures.append(self.feed.failure)
        if seconds >= self.hold or len(self.delays) == self.park_after:
            await self.release.wait()
        await asyncio.sleep(0)


def make_feed(url: str, sleeps: Sleeps) -> Feed:
    feed = feed_for(url, Channel.PRICES, sleep=sleeps,
                    config=dataclasses.replace(FAST, fatal_retry_delay=SLOW))
    sleeps.feed = feed
    return feed


async def until(check: Callable[[], object]) -> None:
    """Poll a condition on the feed's plain attributes (they have no event to await)."""
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def refuse(status: HTTPStatus, first: int) -> Callable[[ServerConnection, int], Response | None]:
    """A handshake gate answering `status` to the first `first` handshakes."""
    def gate(connection: ServerConnection, n: int) -> Response | None:
        return connection.respond(status, "refused\n") if n <= first else None
    return gate


async def serve_acks(srv: Server, ws: ServerConnection) -> None:
    await srv.acks(ws, 1)
    await srv.serve_pings(ws)


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN,
                                    HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST])
async def test_a_refused_handshake_is_fatal_retried_slowly_and_heals(
        status: HTTPStatus) -> None:
    sleeps = Sleeps(hold=SLOW)

    async def script(ws: ServerConnection, n: int) -> None:
        await serve_acks(srv, ws)

    async with local_server(script, refuse(status, 1)) as (srv, url):
        feed = make_feed(url, sleeps)
        async with feed:
            with pytest.raises(FeedFatal) as info:
                await asyncio.wait_for(feed.wait_ready(), 5)
            failure = info.value.failure
            assert failure.fatal
            assert f"HTTP {int(status)}" in failure.message
            assert feed.failure == failure
            assert 0 < failure.at <= time.monotonic()
            await until(lambda: sleeps.delays)
            assert sleeps.delays == [SLOW]  # no quick retry: the refusal is not hammered
            with pytest.raises(FeedFatal):
                await feed.wait_ready()  # asked again while refused: still fatal, at once
            assert srv.handshakes == 1
            sleeps.release.set()  # the slow retry comes; the proxy lets us through now
            await until(lambda: feed.failure is None)
            assert await feed.wait_ready() == 1
            assert feed.failure is None
        assert srv.handshakes == 2


@pytest.mark.parametrize("status", [HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.BAD_GATEWAY,
                                    HTTPStatus.SERVICE_UNAVAILABLE,
                                    HTTPStatus.GATEWAY_TIMEOUT])
async def test_a_server_error_at_handshake_is_retryable_with_backoff(
        status: HTTPStatus) -> None:
    sleeps = Sleeps()

    async def script(ws: ServerConnection, n: int) -> None:
        await serve_acks(srv, ws)

    async with local_server(script, refuse(status, 2)) as (srv, url):
        feed = make_feed(url, sleeps)
        async with feed:
            assert await asyncio.wait_for(feed.wait_ready(), 5) == 1
            assert feed.failure is None  # cleared by the subscription that worked
    assert srv.handshakes == 3
    assert len(sleeps.delays) == 2
    assert all(d <= FAST.backoff_cap for d in sleeps.delays)
    assert [f is not None and not f.fatal and f"HTTP {int(status)}" in f.message
            for f in sleeps.failures] == [True, True]


@asynccontextmanager
async def cutting_server() -> AsyncIterator[tuple[list[int], str]]:
    """A TCP server that reads the start of the handshake, then hangs up (EOF)."""
    accepted: list[int] = []

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await reader.read(1)
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(cut, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        yield accepted, f"ws://127.0.0.1:{port}/ws"


async def test_a_handshake_cut_short_is_retryable() -> None:
    sleeps = Sleeps(park_after=3)
    async with cutting_server() as (accepted, url):
        feed = make_feed(url, sleeps)
        async with feed:
            await until(lambda: len(sleeps.delays) == 3)
            with pytest.raises(TimeoutError):  # not FeedFatal: waiting may help
                await asyncio.wait_for(feed.wait_ready(), 0.2)
            failure = feed.failure
    assert failure is not None
    assert not failure.fatal
    assert "InvalidMessage" in failure.message
    assert all(f is not None and not f.fatal for f in sleeps.failures)
    assert all(d <= FAST.backoff_cap for d in sleeps.delays)  # the quick backoff, not SLOW
    assert len(accepted) == 3


async def test_a_closed_port_is_retryable_and_a_bad_uri_is_fatal() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    refused = Sleeps(park_after=1)
    async with make_feed(f"ws://127.0.0.1:{port}/ws", refused) as feed:
        await until(lambda: refused.delays)
        assert feed.failure is not None
        assert not feed.failure.fatal
        assert feed.failure.message.startswith("ConnectionRefusedError")
    bad = Sleeps(hold=SLOW)
    async with make_feed("http://127.0.0.1:1/ws", bad) as feed:
        with pytest.raises(FeedFatal, match="InvalidURI"):
            await asyncio.wait_for(feed.wait_ready(), 5)
        await until(lambda: bad.delays)
        assert bad.delays == [SLOW]


async def test_a_missing_ack_after_the_handshake_is_retryable() -> None:
    sleeps = Sleeps()

    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await srv.serve_pings(ws)  # opens fine, never acks the subscription
        await serve_acks(srv, ws)

    async with local_server(script) as (srv, url):
        feed = make_feed(url, sleeps)
        async with feed:
            assert await asyncio.wait_for(feed.wait_ready(), 5) == 1
            assert feed.failure is None
    (failure,) = sleeps.failures
    assert failure is not None
    assert not failure.fatal
    assert failure.message.startswith("AckTimeout")
