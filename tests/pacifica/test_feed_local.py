"""The stream client against a tiny local WebSocket server that sends what we script,
including frames and silences the simulator will not produce."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from feed_support import ACCOUNT, feed_for, frame, local_server, price_row
from websockets.asyncio.server import ServerConnection

from daemon.domain import Side
from daemon.pacifica.feed import Channel, Feed, FeedConfig, PositionsFrame
from daemon.pacifica.models import OrderEvent


async def test_malformed_frames_are_skipped_and_the_stream_goes_on() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 1)
        await ws.send("this is not json")
        await ws.send(b"\xff\xfe binary garbage")
        await ws.send(frame("prices", "not a list"))
        await ws.send(json.dumps(["no", "object"]))
        await ws.send(frame("prices", [price_row("BTC", "oops"), price_row("ETH", "3000.5")]))
        await ws.send(frame("prices", [price_row("BTC", "60000")]))
        await srv.serve_pings(ws)

    async with local_server(script) as (srv, url):
        async with feed_for(url, Channel.PRICES) as feed:
            received: dict[str, Any] = {}
            async for batch in feed.prices.updates():
                received.update(batch)
                if "BTC" in received:
                    break
            assert received["ETH"].mark == Decimal("3000.5")
            assert received["BTC"].mark == Decimal(60000)
            assert feed.skipped_frames == 5
            assert feed.epoch == 1
        assert srv.connections == 1


async def test_missing_ack_is_a_failure_and_the_feed_reconnects() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        # First connection: the server stays silent about one subscription, as Pacifica does
        # for an invalid one.
        await srv.acks(ws, 2, skip="account_orders" if n == 1 else None)
        await srv.serve_pings(ws)

    async with (local_server(script) as (srv, url),
                feed_for(url, Channel.PRICES, Channel.ORDERS) as feed):
        epoch = await feed.wait_ready()
        assert epoch == 1
        assert srv.connections == 2
    sources = [m["params"]["source"] for m in srv.received if m.get("method") == "subscribe"]
    assert sources == ["prices", "account_orders"] * 2
    assert all(m["params"].get("account") == ACCOUNT for m in srv.received
               if m.get("method") == "subscribe" and m["params"]["source"] != "prices")


async def test_dropped_connection_reconnects_resubscribes_and_data_flows() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 2)
        if n == 1:
            await ws.send(frame("prices", [price_row("BTC", "60000")]))
            await ws.close()
            return
        await ws.send(frame("prices", [price_row("BTC", "59000")]))
        await srv.serve_pings(ws)

    async with (local_server(script) as (srv, url),
                feed_for(url, Channel.PRICES, Channel.ORDER_UPDATES) as feed):
        async for batch in feed.prices.updates():
            if "BTC" in batch and batch["BTC"].mark == Decimal(59000):
                break
        assert feed.epoch == 2
    subscribes = [m for m in srv.received if m.get("method") == "subscribe"]
    assert len(subscribes) == 4


async def test_json_pings_keep_the_connection_and_silence_replaces_it() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 1)
        if n == 1:
            # Answer two pings, then go quiet while keeping TCP open (half-open stall).
            for _ in range(2):
                message = json.loads(await ws.recv())
                srv.received.append(message)
                await ws.send('{"channel":"pong"}')
            await ws.wait_closed()
            return
        await srv.serve_pings(ws)

    async with local_server(script) as (srv, url), feed_for(url, Channel.PRICES) as feed:
        await feed.wait_ready(after_epoch=1)
    pings = [m for m in srv.received if m.get("method") == "ping"]
    assert len(pings) >= 2
    assert srv.connections >= 2


async def test_positions_keep_identity_and_a_bad_row_drops_the_whole_frame() -> None:
    row = {"s": "BTC", "d": "bid", "a": "0.1", "p": "60000", "m": "0", "f": "0", "i": False,
           "l": None, "t": 1000}
    seen_third = asyncio.Event()

    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 1)
        await ws.send(frame("account_positions", [row], li=1))
        await ws.send(frame("account_positions", [{**row, "a": "0.2", "t": 2000},
                                                  {**row, "s": "ETH", "a": None}], li=2))
        await ws.send(frame("account_positions", [{**row, "a": "0.3", "t": 3000}], li=3))
        await seen_third.wait()
        await ws.send(frame("account_positions", [], li=4))
        await ws.send(frame("account_positions", [{**row, "t": 5000}], li=5))
        await srv.serve_pings(ws)

    async def until(feed: Feed, li: int, version: int) -> tuple[int, PositionsFrame]:
        while True:
            version, snapshot = await feed.positions.next(version)
            assert snapshot.last_order_id != 2  # a frame with a bad row never reaches us
            if snapshot.last_order_id == li:
                return version, snapshot

    async with local_server(script) as (srv, url), feed_for(url, Channel.POSITIONS) as feed:
        version, third = await until(feed, 3, 0)
        (position,) = third.positions
        assert position.amount == Decimal("0.3")
        assert position.created_at == 1000  # identity survives updates
        assert position.updated_at == 3000
        assert position.side is Side.BID
        assert feed.skipped_frames == 1
        seen_third.set()
        _, fifth = await until(feed, 5, version)
        (reopened,) = fifth.positions
        assert reopened.created_at == 5000  # closed (empty set) then reopened: new identity


async def test_seeded_open_time_wins_and_order_updates_keep_order() -> None:
    update = {"i": 1, "I": None, "u": ACCOUNT, "s": "BTC", "d": "ask", "p": "0", "ip": "0",
              "lp": "0", "a": "0.1", "f": "0", "oe": "stop_created", "os": "open",
              "ot": "stop_market", "sp": "58000", "si": None, "r": True, "ct": 1, "ut": 1,
              "li": 1}

    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 2)
        await ws.send(frame("account_order_updates", [update, {**update, "oe": "bogus"},
                                                      {**update, "oe": "stop_triggered",
                                                       "os": "filled", "li": 2}]))
        await ws.send(frame("account_positions", [{"s": "BTC", "d": "bid", "a": "1", "p": "1",
                                                   "t": 999}]))
        await srv.serve_pings(ws)

    async with local_server(script) as (srv, url):
        feed = feed_for(url, Channel.ORDER_UPDATES, Channel.POSITIONS)
        from daemon.domain import Position
        feed.seed_positions([Position("BTC", Side.BID, Decimal(1), Decimal(1), created_at=42,
                                      updated_at=42)])
        async with feed:
            first = await feed.order_updates.get()
            second = await feed.order_updates.get()
            assert first.event is OrderEvent.STOP_CREATED
            assert second.event is OrderEvent.STOP_TRIGGERED  # the bogus row was skipped
            _, snapshot = await feed.positions.next(0)
            assert snapshot.positions[0].created_at == 42
            age = feed.age(Channel.ORDER_UPDATES)
            assert age is not None
            assert age >= 0
            assert feed.age(Channel.PRICES) is None
            silence = feed.silence()
            assert silence is not None
            assert silence >= 0


async def test_stop_ends_every_consumer() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 4)
        await srv.serve_pings(ws)

    async with local_server(script) as (srv, url):
        feed = feed_for(url)
        assert set(feed.channels) == set(Channel)
        async with feed:
            await feed.wait_ready()

            async def drain() -> int:
                count = 0
                async for _ in feed.order_updates:
                    count += 1
                async for _ in feed.prices.updates():
                    count += 1
                async for _ in feed.positions.updates():
                    count += 1
                return count

            consumer = asyncio.create_task(drain())
            await asyncio.sleep(0)
        assert await consumer == 0
        assert not feed.connected


def test_account_channels_need_an_account() -> None:
    import pytest
    with pytest.raises(ValueError, match="account"):
        Feed("ws://x", channels=[Channel.POSITIONS])
    assert Feed("ws://x").channels == (Channel.PRICES,)


async def _record_sleeps(url: str, clock: Callable[[], float], count: int) -> list[float]:
    sleeps: list[float] = []
    stopped = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= count:
            stopped.set()
            await asyncio.Event().wait()  # park the loop until stop() cancels it
        await asyncio.sleep(0)

    config = FeedConfig(backoff_base=0.01, backoff_cap=0.05, healthy_after=10.0,
                        ack_timeout=1.0)
    feed = Feed(url, channels=[Channel.PRICES], config=config, sleep=sleep,
                rng=lambda: 1.0, monotonic=clock)
    async with feed:
        await stopped.wait()
    return sleeps


async def test_backoff_grows_to_the_cap_while_connections_fail() -> None:
    async with local_server(lambda ws, n: ws.close()) as (srv, url):
        # The server closes before acking anything: every attempt fails.
        sleeps = await _record_sleeps(url, lambda: 0.0, 6)
    assert sleeps == [0.01, 0.02, 0.04, 0.05, 0.05, 0.05]
    assert srv.connections == 6


async def test_backoff_resets_after_a_healthy_connection() -> None:
    # The server's daily close: it drops a connection that has been up for a long time.
    async def script(ws: ServerConnection, n: int) -> None:
        await srv.acks(ws, 1)
        await ws.close()

    ticks = iter(range(0, 10**6, 100))  # every connection appears to have lived 100 s
    async with local_server(script) as (srv, url):
        sleeps = await _record_sleeps(url, lambda: float(next(ticks)), 4)
    assert sleeps == [0.01] * 4
