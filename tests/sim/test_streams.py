"""The WebSocket: acks, ping/pong, silence for bad subscriptions, account streams, closes."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest
import websockets
from sim_support import MAIN, Trader, cloid, frame, ok, subscribe, until_closed
from websockets.asyncio.client import ClientConnection, connect

from daemon.sim import SimConfig, Simulator, run_simulator


async def test_ping_gets_pong(sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}


@pytest.mark.parametrize("params", [
    {"source": "no_such_channel"},
    {"source": "account_positions"},  # no account
    {"source": "account_orders", "account": 42},
    "prices",
])
async def test_an_invalid_subscription_gets_no_ack(sim: Simulator, params: object) -> None:
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "subscribe", "params": params}))
        await ws.send("this is not json")
        await ws.send(json.dumps({"method": "ping"}))
        # Frames keep their order: had there been an ack, it would come before the pong.
        assert await frame(ws) == {"channel": "pong"}


async def test_prices_snapshot_then_a_frame_per_change(sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "prices"})
        snapshot = await frame(ws, "prices")
        assert {p["symbol"] for p in snapshot["data"]} >= {"BTC", "ETH", "SOL", "kBONK"}
        await sim.set_prices({"BTC": Decimal("61000.5")})
        btc = await btc_row_reaching(ws, "61000.5")  # past any cadence frame queued before
        assert btc["mid"] == "61000.5"
        assert set(btc) == {"funding", "mark", "mid", "next_funding", "open_interest", "oracle",
                            "symbol", "timestamp", "volume_24h", "yesterday_price"}


async def btc_row_reaching(ws: ClientConnection, mark: str) -> dict[str, Any]:
    while True:
        [btc] = [p for p in (await frame(ws, "prices"))["data"] if p["symbol"] == "BTC"]
        if btc["mark"] == mark:
            return btc  # type: ignore[no-any-return]


async def test_prices_are_pushed_at_a_steady_cadence_while_nothing_moves() -> None:
    async with run_simulator(SimConfig(price_interval=0.1)) as sim, connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "prices"})
        snapshot = (await frame(ws, "prices"))["data"]
        started = time.monotonic()
        frames = [(await frame(ws, "prices"))["data"] for _ in range(3)]
        # Three frames at 0.1 s take about 0.3 s; the change-only stream would send none.
        assert time.monotonic() - started < 2
        marks = [{p["symbol"]: p["mark"] for p in rows} for rows in [snapshot, *frames]]
        assert all(m == marks[0] for m in marks)  # static: nothing moved ...
        assert set(marks[0]) == {m.symbol for m in sim.config.markets}  # every symbol ...
        stamps = [rows[0]["timestamp"] for rows in [snapshot, *frames]]
        assert stamps == sorted(stamps)
        assert stamps[-1] > stamps[0]  # ... but freshly stamped


async def test_a_price_interval_of_zero_pushes_only_on_change() -> None:
    async with run_simulator(SimConfig(price_interval=0)) as sim, connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "prices"})
        await frame(ws, "prices")
        await asyncio.sleep(0.3)
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}
        sim.price_interval = 0.05  # the in-process API changes the cadence of a running sim
        assert (await frame(ws))["channel"] == "prices"


def test_the_default_cadence_beats_live_oracle_and_daemon_staleness() -> None:
    # Live Pacifica's oracle moves every 3 s; the daemon calls prices stale after 10 s.
    assert 1 <= SimConfig().price_interval <= 3


async def test_post_sim_prices_pushes_a_frame_and_fires_stops(sim: Simulator,
                                                              trader: Trader) -> None:
    import httpx

    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5"))
    async with connect(sim.ws_url) as ws, httpx.AsyncClient(base_url=sim.root_url) as control:
        await subscribe(ws, {"source": "prices"})
        await frame(ws, "prices")
        response = await control.post("/sim/prices", json={"BTC": "57000"})
        assert response.status_code == 200
        await btc_row_reaching(ws, "57000")
    assert await trader.data("/positions") == []


async def test_account_streams_follow_a_position_and_its_stop(sim: Simulator,
                                                              trader: Trader) -> None:
    account = MAIN.public_key
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "account_positions", "account": account})
        assert await frame(ws, "account_positions") == {
            "channel": "account_positions", "data": [], "li": 0}
        await subscribe(ws, {"source": "account_orders", "account": account})
        assert (await frame(ws, "account_orders"))["data"] == []
        await subscribe(ws, {"source": "account_order_updates", "account": account})

        ok(await trader.market("BTC", "bid", "0.5"))
        positions = await frame(ws, "account_positions")
        [row] = positions["data"]
        assert {k: row[k] for k in ("s", "d", "a", "p", "i")} == {
            "s": "BTC", "d": "bid", "a": "0.5", "p": "60000", "i": False}
        assert set(row) == {"s", "d", "a", "p", "m", "f", "i", "l", "t"}
        assert isinstance(positions["li"], int)

        stop_id = ok(await trader.stop("BTC", "ask", "58000", "0.5",
                                       client_order_id=cloid(4)))["order_id"]
        [created] = (await frame(ws, "account_order_updates"))["data"]
        assert (created["i"], created["I"], created["oe"], created["os"], created["ot"],
                created["sp"], created["r"]) == (stop_id, cloid(4), "stop_created", "open",
                                                 "stop_market", "58000", True)
        assert set(created) == {"i", "I", "u", "s", "d", "p", "ip", "lp", "a", "f", "oe", "os",
                                "ot", "sp", "si", "r", "ct", "ut", "li"}
        orders = await frame(ws, "account_orders")
        [resting] = orders["data"]
        assert set(resting) == {"i", "I", "s", "d", "a", "f", "c", "p", "ip", "ot", "ro", "sp",
                                "st", "os", "oe", "u", "t"}
        assert resting["sp"] == "58000"

        await sim.set_prices({"BTC": Decimal("57000")})
        updates = (await frame(ws, "account_order_updates"))["data"]
        assert [(u["i"], u["oe"], u["os"]) for u in updates] == [
            (stop_id, "stop_triggered", "open"), (stop_id, "fulfill_market", "filled")]
        assert updates[0]["li"] < updates[1]["li"]
        assert (await frame(ws, "account_orders"))["data"] == []
        assert (await frame(ws, "account_positions"))["data"] == []


async def test_account_info_stream(sim: Simulator, trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    async with connect(sim.ws_url) as ws:
        params = {"source": "account_info", "account": MAIN.public_key}
        await ws.send(json.dumps({"method": "subscribe", "params": params}))
        # Live adds `full: false` to this one ack (issue 11 item 8).
        assert await frame(ws) == {"channel": "subscribe", "data": {**params, "full": False}}
        info = (await frame(ws, "account_info"))["data"]
        assert info["pc"] == 1
        assert set(info) == {"ae", "as", "aw", "b", "f", "mu", "cm", "oc", "pb", "pc", "sc", "t"}


async def test_unsubscribe_is_acked_and_stops_the_channel(sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "prices"})
        await frame(ws, "prices")
        await ws.send(json.dumps({"method": "unsubscribe", "params": {"source": "prices"}}))
        # A cadence frame may have been queued before the ack; none can come after it.
        assert await frame(ws, "unsubscribe") == {"channel": "unsubscribe",
                                                  "data": {"source": "prices"}}
        await sim.set_prices({"BTC": Decimal("61000")})
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}


async def test_a_silent_client_is_disconnected() -> None:
    async with run_simulator(SimConfig(ws_idle_timeout=0.2)) as sim, connect(
            sim.ws_url, ping_interval=None) as ws:
        with pytest.raises(websockets.ConnectionClosedOK):
            await frame(ws)
        assert ws.close_code == 1000


async def test_every_connection_ends_at_its_maximum_lifetime() -> None:
    async with run_simulator(SimConfig(ws_max_lifetime=0.2)) as sim, connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "prices"})
        with pytest.raises(websockets.ConnectionClosedOK):
            await until_closed(ws, ping=True)


async def test_book_bbo_and_public_trades(sim: Simulator, trader: Trader) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "book", "symbol": "BTC", "agg_level": 1})
        book = (await frame(ws, "book"))["data"]
        assert book["s"] == "BTC"
        assert [side[0]["p"] for side in book["l"]] == ["59999", "60001"]
        await subscribe(ws, {"source": "bbo", "symbol": "BTC"})
        bbo = (await frame(ws, "bbo"))["data"]
        assert (bbo["b"], bbo["a"]) == ("59999", "60001")
        await subscribe(ws, {"source": "trades", "symbol": "BTC"})
        await sim.set_prices({"BTC": Decimal("61000")})
        assert (await frame(ws, "bbo"))["data"]["b"] == "60999"
        ok(await trader.market("BTC", "bid", "0.1"))
        [public] = (await frame(ws, "trades"))["data"]
        assert (public["s"], public["a"], public["p"], public["d"]) == (
            "BTC", "0.1", "61000", "open_long")


@pytest.mark.parametrize("params", [
    {"source": "book", "symbol": "BTC", "agg_level": 3},
    {"source": "bbo", "symbol": "DOGE"},
    {"source": "trades"},
])
async def test_bad_symbol_subscriptions_get_no_ack(sim: Simulator,
                                                   params: dict[str, object]) -> None:
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "subscribe", "params": params}))
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}
