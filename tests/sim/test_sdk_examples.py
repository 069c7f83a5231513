"""Pacifica's official python-sdk examples, replayed against the simulator as they are written.

The bodies are built and signed here the SDK's way (its `prepare_message`: header beside
`data`, keys sorted, compact JSON; Ed25519; base58), not with the project's signing module, so
a canonicalisation both sides share a mistake in cannot hide. Prices are the SDK's own: the
simulator starts where those examples expect the market (BTC 110000).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import base58
import httpx
import pytest
from nacl.signing import SigningKey
from websockets.asyncio.client import connect

from daemon.sim import Simulator, run_simulator

MAIN = SigningKey(bytes([41]) * 32)
AGENT = SigningKey(bytes([42]) * 32)


def address(key: SigningKey) -> str:
    return base58.b58encode(bytes(key.verify_key)).decode()


def sdk_body(key: SigningKey, operation: str, payload: dict[str, Any], *,
             account: str | None = None, agent: bool = False,
             null_agent: bool = False) -> dict[str, Any]:
    header = {"timestamp": int(time.time() * 1_000), "expiry_window": 5_000, "type": operation}
    message = json.dumps({**header, "data": payload}, sort_keys=True, separators=(",", ":"))
    signature = base58.b58encode(key.sign(message.encode()).signature).decode()
    body: dict[str, Any] = {"account": account or address(key)}
    if agent:
        body["agent_wallet"] = address(key)
    elif null_agent:
        body["agent_wallet"] = None  # some SDK examples send it explicitly as null
    body.update(signature=signature, timestamp=header["timestamp"],
                expiry_window=header["expiry_window"])
    return {**body, **payload}


@pytest.fixture
async def shipped() -> AsyncIterator[Simulator]:
    async with run_simulator() as simulator:  # the shipped starting prices, as the SDK assumes
        yield simulator


@pytest.fixture
async def api(shipped: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shipped.base_url, timeout=10) as client:
        yield client


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"success", "data", "error", "code"}
    assert (body["success"], body["error"], body["code"]) == (True, None, None)
    return body["data"]


def market_payload() -> dict[str, Any]:
    return {"symbol": "BTC", "reduce_only": False, "amount": "0.1", "side": "bid",
            "slippage_percent": "0.5", "client_order_id": str(uuid.uuid4())}


async def test_position_tpsl_example(api: httpx.AsyncClient) -> None:
    order = data(await api.post("/orders/create_market",
                                json=sdk_body(MAIN, "create_market_order", market_payload())))
    assert isinstance(order["order_id"], int)
    tpsl = {"symbol": "BTC", "side": "ask",
            "take_profit": {"stop_price": "120000", "limit_price": "120300", "amount": "0.1",
                            "client_order_id": str(uuid.uuid4())},
            "stop_loss": {"stop_price": "99800"}}
    assert data(await api.post("/positions/tpsl",
                               json=sdk_body(MAIN, "set_position_tpsl", tpsl))) is None
    orders = data(await api.get("/orders", params={"account": address(MAIN)}))
    assert sorted(o["order_type"] for o in orders) == ["stop_loss_market", "take_profit_limit"]


async def test_cancel_all_example_with_a_null_agent_wallet(api: httpx.AsyncClient) -> None:
    limit = {"symbol": "BTC", "price": "100000", "reduce_only": False, "amount": "0.1",
             "side": "bid", "tif": "GTC", "client_order_id": str(uuid.uuid4())}
    data(await api.post("/orders/create", json=sdk_body(MAIN, "create_order", limit)))
    body = sdk_body(MAIN, "cancel_all_orders", {"all_symbols": True,
                                                "exclude_reduce_only": False}, null_agent=True)
    assert data(await api.post("/orders/cancel_all", json=body)) == {"cancelled_count": 1}


async def test_batch_example(api: httpx.AsyncClient) -> None:
    create = {"symbol": "BTC", "price": str(100_000), "reduce_only": False, "amount": "0.1",
              "side": "bid", "tif": "GTC", "client_order_id": str(uuid.uuid4())}
    actions = [{"type": "Create", "data": sdk_body(MAIN, "create_order", create)},
               {"type": "Cancel", "data": sdk_body(MAIN, "cancel_order",
                                                   {"symbol": "BTC", "order_id": 42069})}]
    results = data(await api.post("/orders/batch", json={"actions": actions}))["results"]
    assert results[0]["success"] is True
    assert isinstance(results[0]["order_id"], int)
    assert results[1]["success"] is False


async def test_agent_wallet_example(api: httpx.AsyncClient) -> None:
    bind = sdk_body(MAIN, "bind_agent_wallet", {"agent_wallet": address(AGENT)})
    assert data(await api.post("/agent/bind", json=bind)) is None
    order = sdk_body(AGENT, "create_market_order", market_payload(), account=address(MAIN),
                     agent=True)
    assert isinstance(data(await api.post("/orders/create_market", json=order))["order_id"],
                      int)
    [position] = data(await api.get("/positions", params={"account": address(MAIN)}))
    assert (position["side"], position["amount"]) == ("bid", "0.1")


async def test_websocket_market_order_example(shipped: Simulator) -> None:
    body = sdk_body(MAIN, "create_market_order", market_payload())
    request_id = str(uuid.uuid4())
    async with connect(shipped.ws_url, ping_interval=30) as ws:
        await ws.send(json.dumps({"id": request_id, "params": {"create_market_order": body}}))
        answer = json.loads(await ws.recv())
    assert set(answer) == {"code", "data", "id", "t", "type", "rl"}
    assert (answer["code"], answer["id"], answer["type"]) == (200, request_id,
                                                               "create_market_order")
    assert answer["data"]["I"] == body["client_order_id"]
    assert answer["data"]["s"] == "BTC"
    assert isinstance(answer["data"]["i"], int)
