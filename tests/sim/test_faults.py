"""Injected faults and the other /sim control endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from sim_support import MAIN, Trader, cloid, frame, ok, refused, subscribe, until_closed
from websockets.asyncio.client import connect

from daemon.sim import Simulator


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.root_url, timeout=10) as client:
        yield client


async def inject(control: httpx.AsyncClient, **faults: Any) -> dict[str, Any]:
    response = await control.post("/sim/faults", json=faults)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_the_fault_set_is_returned_and_cleared(control: httpx.AsyncClient) -> None:
    active = await inject(control, latency_ms=5, burst_429=2, stall_ws=True)
    assert active["latency_ms"] == 5
    assert active["burst_429"] == 2
    assert active["stall_ws"] is True
    assert (await control.get("/sim/faults")).json() == active
    cleared = await inject(control, reset=True)
    assert cleared["latency_ms"] == cleared["burst_429"] == 0
    assert cleared["stall_ws"] is False


@pytest.mark.parametrize(("faults", "error"), [
    ({"latency": 5}, "unknown fault field(s): latency"),
    ({"burst_429": -1}, "burst_429: expected a whole number >= 0"),
    ({"error_rate": 2}, "error_rate: expected a number from 0 to 1"),
    ({"stall_ws": "yes"}, "stall_ws: expected true or false"),
    ({"lose_mode": "drop"}, "lose_mode: expected \"504\" or \"reset\""),
])
async def test_a_bad_fault_request_says_what_is_wrong(control: httpx.AsyncClient,
                                                      faults: dict[str, Any],
                                                      error: str) -> None:
    response = await control.post("/sim/faults", json=faults)
    assert response.status_code == 400
    assert response.json() == {"error": error}


async def test_latency_delays_answers(control: httpx.AsyncClient, trader: Trader) -> None:
    await inject(control, latency_ms=2_000)
    with pytest.raises(httpx.ReadTimeout):
        await trader.client.get("/info", timeout=0.1)
    await inject(control, latency_ms=0)
    ok(await trader.client.get("/info"))


async def test_server_errors_come_before_any_effect(control: httpx.AsyncClient,
                                                    trader: Trader) -> None:
    await inject(control, error_count=2)
    for _ in range(2):
        refused(await trader.market("BTC", "bid", "0.1"), 500, "Internal server error")
    assert await trader.data("/positions") == []
    await inject(control, error_rate=1.0)
    refused(await trader.market("BTC", "bid", "0.1"), 500, "Internal server error")
    await inject(control, error_rate=0)
    ok(await trader.market("BTC", "bid", "0.1"))


async def test_a_429_burst_answers_with_rate_limit_headers(control: httpx.AsyncClient,
                                                           trader: Trader) -> None:
    await inject(control, burst_429=2)
    for _ in range(2):
        response = await trader.market("BTC", "bid", "0.1")
        refused(response, 429, "Rate limit exceeded")
        assert response.headers["ratelimit"].startswith('"credits";r=')
        assert response.headers["ratelimit-policy"] == '"credits";q=3000;w=60'
    ok(await trader.market("BTC", "bid", "0.1"))


async def test_a_lost_response_still_commits_and_a_retry_is_a_duplicate(
        control: httpx.AsyncClient, trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    await inject(control, lose_response_after_commit=1)
    lost = await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(1))
    refused(lost, 504, "Gateway Timeout")
    [resting] = await trader.data("/orders")
    assert resting["client_order_id"] == cloid(1)
    refused(await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(1)),
            422, f"Duplicate client order id: {cloid(1)}", 36)


async def test_a_lost_response_can_be_a_connection_reset(control: httpx.AsyncClient,
                                                          trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    await inject(control, lose_response_after_commit=1, lose_mode="reset")
    with pytest.raises(httpx.TransportError):
        await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(2))
    [resting] = await trader.data("/orders")
    assert resting["client_order_id"] == cloid(2)


async def test_drop_ws_cuts_every_socket(control: httpx.AsyncClient, sim: Simulator) -> None:
    async with connect(sim.ws_url) as first, connect(sim.ws_url) as second:
        await subscribe(first, {"source": "prices"})
        await subscribe(second, {"source": "prices"})
        await inject(control, drop_ws=True)
        for ws in (first, second):
            with pytest.raises(websockets.ConnectionClosedError):
                await until_closed(ws)
            assert ws.close_code == 1006  # no close frame: the connection just went away
    assert sim.state()["ws_connections"] == 0


async def test_duplicate_frames(control: httpx.AsyncClient, sim: Simulator) -> None:
    sim.price_interval = 0  # only the frames this test causes, in their order
    async with connect(sim.ws_url) as ws:
        await inject(control, duplicate_frames=True)
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}
        assert await frame(ws) == {"channel": "pong"}
        await inject(control, duplicate_frames=False)
        await ws.send(json.dumps({"method": "subscribe", "params": {"source": "prices"}}))
        await ws.send(json.dumps({"method": "ping"}))
        assert (await frame(ws))["channel"] == "subscribe"
        assert (await frame(ws))["channel"] == "prices"
        assert await frame(ws) == {"channel": "pong"}


async def test_a_stalled_socket_stays_open_but_sends_nothing(control: httpx.AsyncClient,
                                                             sim: Simulator) -> None:
    sim.price_interval = 0  # only the frames this test causes, in their order
    async with connect(sim.ws_url, ping_interval=None) as ws:
        await subscribe(ws, {"source": "prices"})
        await frame(ws, "prices")
        await inject(control, stall_ws=True)
        await ws.send(json.dumps({"method": "ping"}))
        await sim.set_prices({"BTC": Decimal("61000")})
        pong_waiter = await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pong_waiter), timeout=0.3)
        await inject(control, stall_ws=False)
        await ws.send(json.dumps({"method": "ping"}))
        # What was sent during the stall is gone: the first frame now is the new pong.
        assert await frame(ws) == {"channel": "pong"}


async def test_state_shows_accounts_positions_orders_and_the_log(
        control: httpx.AsyncClient, trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5", client_order_id=cloid(10)))
    ok(await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(11)))
    ok(await trader.cancel_stop("BTC", client_order_id=cloid(11)))
    state = (await control.get("/sim/state")).json()
    assert state == json.loads(json.dumps(sim.state())) | {"now": state["now"]}
    mine = state["accounts"][MAIN.public_key]
    assert [p["symbol"] for p in mine["positions"]] == ["BTC"]
    assert mine["open_orders"] == []
    log = {o["client_order_id"]: o for o in state["orders"]}
    assert log[cloid(10)]["order_status"] == "filled"
    assert log[cloid(11)]["events"] == ["stop_created", "cancel"]
    assert log[cloid(11)]["trigger_price_type"] == "mark_price"


async def test_fund_sets_collateral(control: httpx.AsyncClient, trader: Trader) -> None:
    response = await control.post("/sim/fund", json={"account": MAIN.public_key,
                                                     "collateral": "2500.5"})
    assert response.json()["balance"] == "2500.500000"
    assert (await trader.data("/account"))["balance"] == "2500.500000"
    bad = await control.post("/sim/fund", json={"account": MAIN.public_key, "collateral": 5})
    assert bad.status_code == 400
    assert bad.json() == {"error": "collateral: expected a decimal string, got 5"}


async def test_sim_prices_refuses_unknown_symbols_and_bad_numbers(
        control: httpx.AsyncClient) -> None:
    for body, error in (({"DOGE": "1"}, "DOGE: unknown symbol"),
                        ({"BTC": "-1"}, "BTC: must be a positive number"),
                        ({"BTC": {"markk": "1"}}, "BTC: expected some of mark, mid, oracle, "
                                                  "last"),
                        ([1], "the body must be a JSON object")):
        response = await control.post("/sim/prices", json=body)
        assert response.status_code == 400
        assert response.json() == {"error": error}


async def test_reset_forgets_everything(control: httpx.AsyncClient, trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    assert (await control.post("/sim/reset")).json() == {"reset": True}
    assert await trader.data("/positions") == []
    refused(await trader.get("/account"), 404, "Account not found", 1)


async def test_a_simulator_bug_still_answers_in_the_envelope(
        trader: Trader, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim.exchange, "place_order", broken)
    refused(await trader.market("BTC", "bid", "0.1"), 500, "Internal server error")
    ok(await trader.client.get("/info"))


async def test_clock_skew_expires_requests_signed_on_a_good_clock(
        control: httpx.AsyncClient, trader: Trader) -> None:
    active = await inject(control, clock_skew_ms=20_000)
    assert active["clock_skew_ms"] == 20_000
    refused(await trader.market("BTC", "bid", "0.1"), 400, "Invalid message")
    ok(await trader.send("/orders/create_market", "create_market_order",
                         {"symbol": "BTC", "side": "bid", "amount": "0.1",
                          "slippage_percent": "0.5", "reduce_only": False},
                         expiry_window=30_000))
    await inject(control, clock_skew_ms=0)
    ok(await trader.market("BTC", "bid", "0.1"))
