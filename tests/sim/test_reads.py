"""Unsigned reads: markets, prices, account, history, settings, and the envelope on 404."""

from __future__ import annotations

from decimal import Decimal

from sim_support import Trader, cloid, ok, refused

from daemon.sim import Simulator


async def test_order_history_pages_newest_first(trader: Trader) -> None:
    ids = [ok(await trader.market("SOL", "bid", "1"))["order_id"] for _ in range(3)]
    first = (await trader.get("/orders/history", limit=2)).json()
    assert [o["order_id"] for o in first["data"]] == ids[:0:-1]
    assert first["has_more"] is True
    rest = (await trader.get("/orders/history", limit=2, cursor=first["next_cursor"])).json()
    assert [o["order_id"] for o in rest["data"]] == ids[:1]
    assert rest["has_more"] is False
    assert rest["data"][0]["order_status"] == "filled"


async def test_unknown_order_history_is_404(trader: Trader) -> None:
    refused(await trader.get("/orders/history_by_id", order_id=999), 404,
            "Order history not found for order ID: 999")


async def test_unknown_paths_under_the_api_answer_in_the_envelope(trader: Trader) -> None:
    refused(await trader.get("/no/such/thing"), 404, "Not found")


async def test_info_lists_perpetuals_and_a_spot_market_to_filter(trader: Trader) -> None:
    markets = {m["symbol"]: m for m in await trader.data("/info")}
    assert {"BTC", "ETH", "SOL", "kBONK"} <= {s for s, m in markets.items()
                                             if m["instrument_type"] == "perpetual"}
    assert markets["SOL-USDC"]["instrument_type"] == "spot"
    assert markets["BTC"]["tick_size"] == "1"
    assert markets["BTC"]["max_leverage"] == 50
    assert markets["kBONK"]["lot_size"] == "1"
    assert markets["kBONK"]["min_order_size"] == "10"


async def test_prices_are_strings_with_the_documented_fields(trader: Trader,
                                                             sim: Simulator) -> None:
    await sim.set_prices({"BTC": Decimal("61000.5")})
    rows = {p["symbol"]: p for p in await trader.data("/info/prices")}
    assert set(rows["BTC"]) == {"symbol", "mark", "mid", "oracle", "funding", "next_funding",
                                "open_interest", "volume_24h", "yesterday_price", "timestamp"}
    assert rows["BTC"]["mark"] == rows["BTC"]["mid"] == rows["BTC"]["oracle"] == "61000.5"
    assert isinstance(rows["BTC"]["timestamp"], int)


async def test_account_shape(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5"))
    account = await trader.data("/account")
    assert account["positions_count"] == 1
    assert account["orders_count"] == 0
    assert account["stop_orders_count"] == 1
    assert Decimal(account["total_margin_used"]) == Decimal(600)  # 30000 notional at 50x


async def test_history_rows_have_pacificas_key_sets(trader: Trader) -> None:
    order_id = ok(await trader.market("SOL", "bid", "1", client_order_id=cloid(20)))["order_id"]
    [row] = await trader.data("/orders/history")
    assert set(row) == {"order_id", "client_order_id", "symbol", "side", "initial_price",
                        "average_filled_price", "amount", "filled_amount", "order_status",
                        "order_type", "stop_price", "stop_parent_order_id", "reduce_only",
                        "reason", "created_at", "updated_at"}
    assert (row["average_filled_price"], row["amount"], row["order_status"]) == (
        "150", "1", "filled")
    [event] = await trader.data("/orders/history_by_id", order_id=order_id)
    assert set(event) == {"history_id", "order_id", "client_order_id", "symbol", "side",
                          "price", "initial_amount", "filled_amount", "cancelled_amount",
                          "event_type", "order_type", "order_status", "stop_price",
                          "stop_parent_order_id", "reduce_only", "created_at"}


async def test_leverage_shows_in_account_settings_and_limits_margin(trader: Trader,
                                                                     sim: Simulator) -> None:
    ok(await trader.send("/account/leverage", "update_leverage",
                         {"symbol": "BTC", "leverage": 2}))
    [setting] = (await trader.data("/account/settings"))["margin_settings"]
    assert (setting["symbol"], setting["isolated"], setting["leverage"]) == ("BTC", False, 2)
    sim.fund(trader.address, Decimal(20_000))
    refused(await trader.market("BTC", "bid", "1"), 422, "Insufficient balance", 5)
    refused(await trader.send("/account/leverage", "update_leverage",
                              {"symbol": "BTC", "leverage": 51}),
            422, "Invalid leverage 51: must be between 1 and 50", 11)


async def test_funding_history_and_builder_approvals_are_empty(trader: Trader) -> None:
    body = (await trader.get("/funding/history")).json()
    assert (body["data"], body["has_more"]) == ([], False)
    assert await trader.data("/account/builder_codes/approvals") == []
    refused(await trader.client.get("/funding/history"), 400, "missing field `account`")
