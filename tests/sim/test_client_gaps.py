"""Gaps that published Pacifica clients hit (issue 11 items 2-8), each against a real port."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sim_support import AGENT, MAIN, OTHER, Trader, cloid, frame, ok, refused, subscribe
from websockets.asyncio.client import connect

from daemon.sim import Simulator


async def test_account_settings_is_the_newer_object(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.01"))
    assert await trader.data("/account/settings") == {
        "auto_lend_disabled": False, "margin_settings": [], "spot_settings": []}


async def test_margin_mode_is_served_and_shows_in_the_settings(trader: Trader) -> None:
    ok(await trader.send("/account/margin", "update_margin_mode",
                         {"symbol": "ETH", "is_isolated": True}))
    [eth] = (await trader.data("/account/settings"))["margin_settings"]
    assert (eth["symbol"], eth["isolated"], eth["leverage"]) == ("ETH", True, 50)
    assert eth["created_at"] <= eth["updated_at"]
    ok(await trader.send("/account/margin", "update_margin_mode",
                         {"symbol": "ETH", "is_isolated": False}))
    [eth] = (await trader.data("/account/settings"))["margin_settings"]
    assert eth["isolated"] is False
    refused(await trader.send("/account/margin", "update_margin_mode",
                              {"symbol": "ETH", "is_isolated": "yes"}), 400,
            "Invalid is_isolated: expected true or false")
    # Signed as its own type: a body signed for another operation does not verify.
    refused(await trader.client.post("/account/margin", json=trader.body(
        "update_leverage", {"symbol": "ETH", "is_isolated": True})), 400, "Verification failed")


async def test_recent_trades_come_from_the_fills(trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.01"))
    await sim.set_prices({"BTC": Decimal(61_000)})
    ok(await trader.market("BTC", "ask", "0.01", reduce_only=True))
    ok(await trader.market("ETH", "bid", "0.01"))
    body = (await trader.client.get("/trades", params={"symbol": "BTC"})).json()
    assert isinstance(body["last_order_id"], int)
    closing, opening = body["data"]  # newest first, BTC only
    assert closing == {"event_type": "fulfill_taker", "price": "61000", "amount": "0.01",
                       "side": "close_long", "cause": "normal",
                       "created_at": closing["created_at"]}
    assert (opening["price"], opening["side"]) == ("60000", "open_long")
    refused(await trader.client.get("/trades", params={"symbol": "NOPE"}), 400,
            "Market not found: NOPE")


async def test_agent_list_names_the_bound_agents(trader: Trader) -> None:
    assert ok(await trader.send("/agent/list", "list_agent_wallets", {})) == {
        "agent_wallets": []}
    for agent in (AGENT, OTHER):
        ok(await trader.send("/agent/bind", "bind_agent_wallet",
                             {"agent_wallet": agent.public_key}))
    expected = sorted([AGENT.public_key, OTHER.public_key])
    assert ok(await trader.send("/agent/list", "list_agent_wallets", {})) == {
        "agent_wallets": expected}
    # The agent itself may ask (a daemon checking its binding at start) ...
    agent = Trader(trader.client, AGENT, account=MAIN.public_key)
    assert ok(await agent.send("/agent/list", "list_agent_wallets", {}))["agent_wallets"] == (
        expected)
    # ... and once revoked it is told so.
    ok(await trader.send("/agent/revoke", "revoke_agent_wallet",
                         {"agent_wallet": AGENT.public_key}))
    refused(await agent.send("/agent/list", "list_agent_wallets", {}), 400, "Unauthorized")


async def test_every_fill_cause_is_a_documented_one(trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.02"))
    ok(await trader.stop("BTC", "ask", "58000", "0.01"))
    ok(await trader.send("/positions/tpsl", "set_position_tpsl", {
        "symbol": "BTC", "side": "ask",
        "take_profit": {"stop_price": "62000", "amount": "0.01",
                        "trigger_price_type": "mark_price"}}))
    await sim.set_prices({"BTC": Decimal(62_000)})
    await sim.set_prices({"BTC": Decimal(57_000)})
    fills = await trader.data("/trades/history")
    assert len(fills) == 3  # the open, the take-profit, the stop
    assert {f["cause"] for f in fills} == {"normal"}
    documented = {"normal", "market_liquidation", "backstop_liquidation", "settlement"}
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "account_trades", "account": trader.address})
        ok(await trader.market("BTC", "bid", "0.01"))
        [row] = (await frame(ws, "account_trades"))["data"]
        assert row["tc"] in documented


async def test_a_triggered_stop_limit_is_a_limit_order_cancelled_as_one(
        trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5", limit_price="57900",
                         client_order_id=cloid(7)))
    await sim.set_prices({"BTC": Decimal(57_000)})  # fired, but the limit was gapped through
    [resting] = await trader.data("/orders")
    assert (resting["order_type"], resting["stop_price"], resting["price"]) == (
        "limit", None, "57900")
    refused(await trader.cancel_stop("BTC", client_order_id=cloid(7)), 400,
            "Stop order not found", 6)
    ok(await trader.send("/orders/cancel", "cancel_order",
                         {"symbol": "BTC", "client_order_id": cloid(7)}))
    assert await trader.data("/orders") == []
    [logged] = [o for o in sim.state()["orders"] if o["client_order_id"] == cloid(7)]
    assert logged["events"] == ["stop_created", "stop_triggered", "cancel"]


async def test_liquidation_prices_are_numbers_even_below_zero(trader: Trader,
                                                              sim: Simulator) -> None:
    sim.fund(trader.address, Decimal(1_000_000))
    ok(await trader.market("BTC", "bid", "1"))  # 60000 of BTC on a million of collateral
    ok(await trader.market("ETH", "ask", "1"))
    positions = {p["symbol"]: p for p in await trader.data("/positions")}
    long_liq = Decimal(positions["BTC"]["liquidation_price"])
    assert long_liq < 0  # no price can liquidate it, and live says so with a negative value
    assert Decimal(positions["ETH"]["liquidation_price"]) > Decimal(3_000)
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "account_positions", "account": trader.address})
        rows = {r["s"]: r for r in (await frame(ws, "account_positions"))["data"]}
        assert Decimal(rows["BTC"]["l"]) == long_liq


async def test_the_book_takes_agg_level_10000(sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "book", "symbol": "BTC", "agg_level": 10000})
        assert (await frame(ws, "book"))["data"]["s"] == "BTC"


async def test_account_carries_the_newer_fields(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.01"))
    info = await trader.data("/account")
    assert info["cross_account_equity"] == info["account_equity"]
    assert (info["spot_collateral"], info["spot_market_value"], info["pending_interest"],
            info["spot_balances"]) == ("0", "0", "0", [])


@pytest.mark.parametrize("full", [None, True])
async def test_the_account_info_ack_carries_full(sim: Simulator, full: bool | None) -> None:
    params: dict[str, object] = {"source": "account_info", "account": MAIN.public_key}
    if full is not None:
        params["full"] = full
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"method": "subscribe", "params": params}))
        ack = await frame(ws)
    assert ack == {"channel": "subscribe", "data": {**params, "full": bool(full)}}
