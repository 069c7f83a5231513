"""What public Pacifica clients read and call that the simulator must answer as Pacifica does.

Each test replays what a named client does, unchanged: Hummingbot's connector reads `li` from
every `book` and `trades` frame, starts by listing (or creating) an API config key, and asks
`/kline` for the last traded price.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from sim_support import AGENT, MAIN, Trader, frame, now_ms, ok, refused, subscribe
from websockets.asyncio.client import connect

from daemon.sim import Simulator


async def test_book_and_trade_frames_carry_li(sim: Simulator, trader: Trader) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "book", "symbol": "BTC", "agg_level": 1})
        snapshot = (await frame(ws, "book"))["data"]
        assert isinstance(snapshot["li"], int)
        await subscribe(ws, {"source": "trades", "symbol": "BTC"})
        await subscribe(ws, {"source": "account_trades", "account": trader.address})
        order_id = ok(await trader.market("BTC", "bid", "0.01"))["order_id"]
        seen: dict[str, list[dict[str, Any]]] = {}
        while len(seen) < 2:  # the two channels' frames may come in either order
            message = await frame(ws)
            if message["channel"] in ("trades", "account_trades"):
                seen[message["channel"]] = message["data"]
        [trade], [mine] = seen["trades"], seen["account_trades"]
        assert set(trade) == {"h", "a", "d", "p", "s", "t", "tc", "u", "li"}
        assert trade["li"] >= order_id
        assert mine["li"] == trade["li"]
        await sim.set_prices({"BTC": Decimal("60100")})
        assert (await frame(ws, "book"))["data"]["li"] >= trade["li"]


async def test_api_config_keys_listed_created_and_revoked(trader: Trader) -> None:
    assert ok(await trader.send("/account/api_keys", "list_api_keys", {})) == {
        "active_api_keys": [], "api_key_limit": 5}
    created = ok(await trader.send("/account/api_keys/create", "create_api_key", {}))
    key = created["api_key"]
    assert isinstance(key, str)
    assert key
    listed = ok(await trader.send("/account/api_keys", "list_api_keys", {}))
    assert listed["active_api_keys"] == [key]
    assert ok(await trader.send("/account/api_keys/revoke", "revoke_api_key",
                                {"api_key": key})) is None
    listed = ok(await trader.send("/account/api_keys", "list_api_keys", {}))
    assert listed["active_api_keys"] == []
    refused(await trader.send("/account/api_keys/revoke", "revoke_api_key", {"api_key": key}),
            400, "API key not found")


async def test_at_most_five_api_config_keys(trader: Trader) -> None:
    for _ in range(5):
        ok(await trader.send("/account/api_keys/create", "create_api_key", {}))
    refused(await trader.send("/account/api_keys/create", "create_api_key", {}),
            400, "API key limit reached: at most 5 per account")


async def test_an_agent_key_cannot_manage_api_config_keys(http: httpx.AsyncClient) -> None:
    main = Trader(http, MAIN)
    ok(await main.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": AGENT.public_key}))
    agent = Trader(http, AGENT, account=MAIN.public_key)
    refused(await agent.send("/account/api_keys", "list_api_keys", {}), 400,
            "Verification failed")
    refused(await agent.send("/account/api_keys/create", "create_api_key", {}), 400,
            "Verification failed")


async def test_kline_gives_the_last_traded_price(sim: Simulator, trader: Trader) -> None:
    await sim.set_prices({"BTC": Decimal("61000")})
    await sim.set_prices({"BTC": {"last": Decimal("61500"), "mark": Decimal("61200")}})
    start = now_ms() - 60_000
    rows = await trader.data("/kline", symbol="BTC", interval="1m", start_time=start)
    assert rows, "a candle covers the last minute"
    assert rows[-1]["c"] == "61500"
    ok(await trader.market("BTC", "bid", "0.01"))  # fills at the mark: the new last price
    rows = await trader.data("/kline", symbol="BTC", interval="1m", start_time=start)
    last = rows[-1]
    assert set(last) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}
    assert (last["s"], last["i"], last["c"]) == ("BTC", "1m", "61200")
    assert last["T"] - last["t"] == 60_000
    assert last["t"] % 60_000 == 0
    assert Decimal(last["h"]) >= Decimal("61500")  # set in this bucket, or carried into it
    assert Decimal(last["l"]) <= Decimal("61200")
    assert Decimal(sum(Decimal(r["v"]) for r in rows)) == Decimal("0.01")
    assert sum(r["n"] for r in rows) == 1
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    marks = await trader.data("/kline/mark", symbol="BTC", interval="1m", start_time=start)
    assert (marks[-1]["c"], marks[-1]["v"], marks[-1]["n"]) == ("61200", "0", 0)


async def test_kline_refusals(trader: Trader) -> None:
    start = now_ms() - 60_000
    refused(await trader.get("/kline", symbol="BTC", interval="7m", start_time=start), 400,
            "Invalid interval: '7m' (expected one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 12h, "
            "1d)")
    refused(await trader.get("/kline", symbol="BTC", interval="1m"), 400,
            "missing field `start_time`")
    # An unknown symbol is no candles, not a refusal (pacifica-python-sdk's docstring).
    for path in ("/kline", "/kline/mark"):
        assert await trader.data(path, symbol="NOPE", interval="1m", start_time=start) == []


async def test_hummingbots_ping_keeps_the_socket_alive_without_an_answer(
        sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}


async def test_candle_channels_stream_the_current_candle(sim: Simulator) -> None:
    async with connect(sim.ws_url) as ws:
        await subscribe(ws, {"source": "candle", "symbol": "BTC", "interval": "1m"})
        first = (await frame(ws, "candle"))["data"]
        assert set(first) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}
        assert (first["s"], first["i"], first["c"]) == ("BTC", "1m", "60000")
        await subscribe(ws, {"source": "mark_price_candle", "symbol": "BTC", "interval": "5m"})
        marks = (await frame(ws, "mark_price_candle"))["data"]
        assert (marks["i"], marks["T"] - marks["t"], marks["v"]) == ("5m", 300_000, "0")
        await sim.set_prices({"BTC": Decimal("60500")})
        closes: dict[str, str] = {}
        while len(closes) < 2:  # the two channels' frames may come in either order
            message = await frame(ws)
            if message["channel"] in ("candle", "mark_price_candle"):
                closes[message["channel"]] = message["data"]["c"]
        assert closes == {"candle": "60500", "mark_price_candle": "60500"}
        await ws.send(json.dumps({"method": "subscribe", "params": {
            "source": "candle", "symbol": "BTC", "interval": "7m"}}))
        await ws.send(json.dumps({"method": "ping"}))
        assert await frame(ws) == {"channel": "pong"}  # a bad interval gets no ack
