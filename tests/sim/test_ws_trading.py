"""Trading over the WebSocket: the same signed bodies as REST, answered with WS codes."""

from __future__ import annotations

import json
from typing import Any

from sim_support import AGENT, MAIN, Trader, cloid, frame
from websockets.asyncio.client import ClientConnection, connect

from daemon.sim import Simulator

BUY = {"symbol": "BTC", "side": "bid", "amount": "0.1", "slippage_percent": "0.5",
       "reduce_only": False, "client_order_id": cloid(1)}


async def trade(ws: ClientConnection, operation: str, body: dict[str, Any],
                request_id: str = "req-1") -> dict[str, Any]:
    await ws.send(json.dumps({"id": request_id, "params": {operation: body}}))
    while True:
        answer = await frame(ws)
        if "id" in answer:
            return answer


async def test_a_market_order_over_the_socket(sim: Simulator, trader: Trader) -> None:
    async with connect(sim.ws_url) as ws:
        answer = await trade(ws, "create_market_order",
                             trader.body("create_market_order", BUY))
    assert answer["code"] == 200
    assert answer["id"] == "req-1"
    assert answer["type"] == "create_market_order"
    assert answer["data"]["I"] == cloid(1)
    assert answer["data"]["s"] == "BTC"
    assert isinstance(answer["data"]["i"], int)
    assert [p["amount"] for p in await trader.data("/positions")] == ["0.1"]


async def test_refusals_carry_ws_codes(sim: Simulator, trader: Trader) -> None:
    async with connect(sim.ws_url) as ws:
        ok_answer = await trade(ws, "create_market_order",
                                trader.body("create_market_order", BUY))
        assert ok_answer["code"] == 200
        duplicate = await trade(ws, "create_market_order",
                                trader.body("create_market_order", BUY))
        assert (duplicate["code"], duplicate["err"]) == (
            420, f"Duplicate client order id: {cloid(1)}")
        forged = trader.body("create_market_order", BUY)
        forged["amount"] = "1"
        bad = await trade(ws, "create_market_order", forged)
        assert (bad["code"], bad["err"]) == (401, "Verification failed")
        agent = Trader(trader.client, AGENT, account=MAIN.public_key)
        unbound = await trade(ws, "create_market_order",
                              agent.body("create_market_order", {**BUY, "client_order_id":
                                                                 cloid(2)}))
        assert (unbound["code"], unbound["err"]) == (403, "Unauthorized")
        cancel = await trade(ws, "cancel_order", trader.body(
            "cancel_order", {"symbol": "BTC", "client_order_id": cloid(9)}))
        assert cancel["code"] == 420


async def test_stops_are_not_traded_over_the_socket(sim: Simulator, trader: Trader) -> None:
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"id": "x", "params": {"create_stop_order": trader.body(
            "create_stop_order", {"symbol": "BTC", "side": "ask", "reduce_only": True,
                                  "stop_order": {"stop_price": "1"}})}}))
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}


async def test_a_batch_over_the_socket(sim: Simulator, trader: Trader) -> None:
    body = {"actions": [{"type": "CreateMarket", "data": trader.body(
        "create_market_order", BUY)}]}
    async with connect(sim.ws_url) as ws:
        answer = await trade(ws, "batch_orders", body)
    assert answer["code"] == 200
    assert answer["data"]["results"][0]["success"] is True
