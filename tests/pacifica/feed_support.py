"""A tiny local WebSocket server for stream-client tests: it sends what a test scripts, and
can refuse the opening handshake the way a proxy or the exchange would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from daemon.pacifica.feed import Channel, Feed, FeedConfig

ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
# Short enough to keep the suite quick, long enough that a loaded CI machine does not see a
# healthy loopback connection as silent.
FAST = FeedConfig(ping_interval=0.1, pong_timeout=1.0, ack_timeout=1.0, backoff_base=0.01,
                  backoff_cap=0.02)


def price_row(symbol: str, mark: str, ts: int = 1) -> dict[str, Any]:
    return {"symbol": symbol, "mark": mark, "mid": mark, "oracle": mark, "funding": "0",
            "next_funding": "0", "open_interest": "1", "volume_24h": "1",
            "yesterday_price": mark, "timestamp": ts}


def frame(channel: str, data: Any, **extra: Any) -> str:
    return json.dumps({"channel": channel, "data": data, **extra})


Script = Callable[[ServerConnection, int], Awaitable[None]]


class Server:
    """Counts connections and records every message a client sent."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.handshakes = 0
        self.received: list[dict[str, Any]] = []

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        await self.script(ws, self.connections)

    async def acks(self, ws: ServerConnection, count: int, skip: str | None = None) -> None:
        """Read `count` subscribe requests, acking all but the `skip` source."""
        for _ in range(count):
            message = json.loads(await ws.recv())
            self.received.append(message)
            if message["params"]["source"] != skip:
                await ws.send(frame("subscribe", message["params"]))

    async def serve_pings(self, ws: ServerConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            self.received.append(message)
            if message.get("method") == "ping":
                await ws.send('{"channel":"pong"}')


# Called with the handshake's number (1 = first); answers an HTTP response to refuse it, or
# None to let the WebSocket open.
Gate = Callable[[ServerConnection, int], Response | None]


@asynccontextmanager
async def local_server(script: Script, gate: Gate | None = None,
                       ) -> AsyncIterator[tuple[Server, str]]:
    server = Server(script)
    handshakes = 0

    def process_request(connection: ServerConnection, _: Request) -> Response | None:
        nonlocal handshakes
        handshakes += 1
        server.handshakes = handshakes
        return gate(connection, handshakes) if gate is not None else None

    async with serve(server.handler, "127.0.0.1", 0,
                     process_request=process_request) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        yield server, f"ws://127.0.0.1:{port}/ws"


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def feed_for(url: str, *channels: Channel, **kwargs: Any) -> Feed:
    options: dict[str, Any] = {"config": FAST, "sleep": no_wait, "rng": lambda: 0.5, **kwargs}
    return Feed(url, account=ACCOUNT, channels=channels or None, **options)


