"""Helpers for driving the simulator the way any Pacifica client would: signed bodies over
real HTTP (httpx) and frames over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from nacl.signing import SigningKey
from websockets.asyncio.client import ClientConnection

from daemon.pacifica.signing import Keypair, sign_request


def keypair(n: int) -> Keypair:
    return Keypair(SigningKey(bytes([n]) * 32))


# The texts the tests pin were worked out at these marks; the shipped defaults may move.
MARKS = {"BTC": Decimal(60_000), "ETH": Decimal(3_000), "SOL": Decimal(150)}

MAIN = keypair(1)
AGENT = keypair(2)
OTHER = keypair(3)


def cloid(n: int) -> str:
    return str(uuid.UUID(int=n, version=4))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Trader:
    client: httpx.AsyncClient
    key: Keypair
    account: str | None = None  # set: the key acts as this account's agent wallet
    api_key: str | None = "test-config-key"

    @property
    def address(self) -> str:
        return self.account or self.key.public_key

    def headers(self) -> dict[str, str]:
        return {"PF-API-KEY": self.api_key} if self.api_key else {}

    def body(self, operation: str, payload: Mapping[str, Any], *, timestamp: int | None = None,
             expiry_window: int = 5_000) -> dict[str, Any]:
        return sign_request(self.key, operation, payload,
                            timestamp=now_ms() if timestamp is None else timestamp,
                            expiry_window=expiry_window, account=self.account)

    async def send(self, path: str, operation: str, payload: Mapping[str, Any], *,
                   tamper: Callable[[dict[str, Any]], None] | None = None,
                   **signing: Any) -> httpx.Response:
        body = self.body(operation, payload, **signing)
        if tamper is not None:
            tamper(body)
        return await self.client.post(path, json=body, headers=self.headers())

    async def market(self, symbol: str, side: str, amount: str, *, reduce_only: bool = False,
                     client_order_id: str | None = None) -> httpx.Response:
        payload: dict[str, Any] = {"symbol": symbol, "side": side, "amount": amount,
                                   "slippage_percent": "0.5", "reduce_only": reduce_only}
        if client_order_id:
            payload["client_order_id"] = client_order_id
        return await self.send("/orders/create_market", "create_market_order", payload)

    async def stop(self, symbol: str, side: str, stop_price: str, amount: str | None = None, *,
                   trigger: str | None = "mark_price", client_order_id: str | None = None,
                   limit_price: str | None = None, reduce_only: bool = True) -> httpx.Response:
        leg: dict[str, Any] = {"stop_price": stop_price}
        for key, value in (("amount", amount), ("trigger_price_type", trigger),
                           ("client_order_id", client_order_id), ("limit_price", limit_price)):
            if value is not None:
                leg[key] = value
        return await self.send("/orders/stop/create", "create_stop_order",
                               {"symbol": symbol, "side": side, "reduce_only": reduce_only,
                                "stop_order": leg})

    async def cancel_stop(self, symbol: str, **ident: Any) -> httpx.Response:
        return await self.send("/orders/stop/cancel", "cancel_stop_order",
                               {"symbol": symbol, **ident})

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params={"account": self.address, **params},
                                     headers=self.headers())

    async def data(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["error"] is None
    return body["data"]


def refused(response: httpx.Response, status: int, error: str,
            code: int | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"success": False, "data": None, "error": error,
                    "code": status if code is None else code}


async def frame(ws: ClientConnection, channel: str | None = None) -> dict[str, Any]:
    """The next frame (of `channel`, skipping others); the timeout only guards a hang."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if channel is None or message.get("channel") == channel:
            return message  # type: ignore[no-any-return]


async def subscribe(ws: ClientConnection, params: dict[str, Any]) -> None:
    await ws.send(json.dumps({"method": "subscribe", "params": params}))
    assert await frame(ws) == {"channel": "subscribe", "data": params}


async def until_closed(ws: ClientConnection, *, ping: bool = False) -> None:
    """Read (optionally pinging, so silence is not the reason) until the server closes."""
    while True:
        if ping:
            await ws.send(json.dumps({"method": "ping"}))
        await frame(ws)


async def prices_of(ws: ClientConnection, symbol: str, *, until: Decimal | None = None,
                    frames: int | None = None) -> list[Decimal]:
    """Marks of `symbol` from successive frames, up to a value or a number of frames."""
    await subscribe(ws, {"source": "prices"})
    marks: list[Decimal] = []
    while True:
        data = (await frame(ws, "prices"))["data"]
        marks.append(Decimal(next(p["mark"] for p in data if p["symbol"] == symbol)))
        if (until is not None and marks[-1] == until) or (frames is not None
                                                          and len(marks) >= frames):
            return marks
