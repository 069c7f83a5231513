"""A simulator bug still answers in Pacifica's envelope, and is logged through structlog as
the rest of the project logs."""

from __future__ import annotations

import json

import pytest
from sim_support import Trader, frame
from structlog.testing import capture_logs
from websockets.asyncio.client import connect

from daemon.sim import Simulator


def broken(*_: object) -> object:
    raise RuntimeError("a simulator bug")


async def test_an_unhandled_error_is_a_500_and_a_structured_log_line(
        trader: Trader, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.exchange, "open_orders", broken)
    with capture_logs() as logs:
        response = await trader.get("/orders")
    assert response.status_code == 500
    assert response.json() == {"success": False, "data": None,
                               "error": "Internal server error", "code": 500}
    [entry] = [e for e in logs if e["event"] == "sim.request_failed"]
    assert (entry["method"], entry["path"], entry["log_level"]) == (
        "GET", "/api/v1/orders", "error")


async def test_a_bad_websocket_frame_is_logged_and_the_socket_lives(
        sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.hub, "_trade", broken)
    async with connect(sim.ws_url) as ws:
        with capture_logs() as logs:
            await ws.send(json.dumps({"id": 1, "params": {"create_order": {}}}))
            await ws.send(json.dumps({"method": "ping"}))
            assert await frame(ws) == {"channel": "pong"}
    assert [e["event"] for e in logs] == ["sim.ws_frame_failed"]
