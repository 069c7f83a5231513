"""Trading over the WebSocket: the same signed bodies as REST, answered with WS codes."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sim_support import AGENT, MAIN, Trader, cloid, frame, ok
from websockets.asyncio.client import ClientConnection, connect

from daemon.sim import SimConfig, Simulator, run_simulator

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


async def test_answers_carry_the_credit_state_and_spend_the_shared_budget() -> None:
    """§4: replies carry `rl`; the credits are the ones REST spends (keyed by PF-API-KEY)."""
    async with run_simulator(SimConfig(api_key_quota=2)) as sim, \
            httpx.AsyncClient(base_url=sim.base_url) as http:
        keyed = Trader(http, MAIN, api_key="ws-key")
        headers = {"PF-API-KEY": "ws-key"}
        async with connect(sim.ws_url, additional_headers=headers) as ws:
            first = await trade(ws, "create_market_order", keyed.body("create_market_order", BUY))
            assert first["code"] == 200
            assert first["rl"] == {"r": 10, "q": 20, "t": first["rl"]["t"]}
            assert isinstance(first["rl"]["t"], int)
            ok(await keyed.market("BTC", "bid", "0.1"))  # REST spends the same budget
            spent = await trade(ws, "create_market_order", keyed.body(
                "create_market_order", {**BUY, "client_order_id": cloid(2)}))
        assert (spent["code"], spent["err"], spent["rl"]["r"]) == (429, "Rate limit exceeded", 0)
        assert [o["client_order_id"] for o in sim.state()["orders"]] == [cloid(1), None]
