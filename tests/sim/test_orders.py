"""Orders over real HTTP: positions, stops resting and firing, texts of every refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_support import Trader, cloid, ok, refused

from daemon.sim import SimConfig, Simulator, run_simulator
from daemon.sim.config import DedupeScope


async def test_a_market_order_opens_a_position_at_the_mark(trader: Trader) -> None:
    order_id = ok(await trader.market("BTC", "bid", "0.5"))["order_id"]
    assert isinstance(order_id, int)
    body = (await trader.get("/positions")).json()
    assert body["success"] is True
    assert body["last_order_id"] >= order_id
    [position] = body["data"]
    assert position["symbol"] == "BTC"
    assert position["side"] == "bid"
    assert position["amount"] == "0.5"
    assert Decimal(position["entry_price"]) == 60000
    assert isinstance(position["created_at"], int)


async def test_a_stop_rests_in_open_orders_and_fires_on_a_price(trader: Trader,
                                                                 sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    stop_id = ok(await trader.stop("BTC", "ask", "58000", "0.5",
                                   client_order_id=cloid(1)))["order_id"]
    [order] = await trader.data("/orders")
    assert order == {
        "order_id": stop_id, "client_order_id": cloid(1), "symbol": "BTC", "side": "ask",
        "price": "0", "initial_amount": "0.5", "filled_amount": "0", "cancelled_amount": "0",
        "stop_price": "58000", "order_type": "stop_market", "stop_parent_order_id": None,
        "reduce_only": True, "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }
    await sim.set_prices({"BTC": Decimal("58001")})
    assert len(await trader.data("/orders")) == 1
    await sim.set_prices({"BTC": Decimal("57990")})
    assert await trader.data("/orders") == []
    assert await trader.data("/positions") == []
    history = await trader.data("/orders/history_by_id", order_id=stop_id)
    assert [row["event_type"] for row in history] == [
        "fulfill_market", "stop_triggered", "stop_created"]
    [close] = [f for f in await trader.data("/trades/history") if f["order_id"] == stop_id]
    assert close["side"] == "close_long"
    assert close["price"] == "57990"


async def test_a_stop_limit_fills_only_where_its_limit_allows(trader: Trader,
                                                              sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5", limit_price="57900"))
    await sim.set_prices({"BTC": Decimal("57000")})  # gaps through the limit
    [resting] = await trader.data("/orders")
    # Triggered: a plain limit order now, and shown as one (choice 14).
    assert (resting["order_type"], resting["stop_price"], resting["price"]) == (
        "limit", None, "57900")
    assert resting["filled_amount"] == "0"
    assert len(await trader.data("/positions")) == 1
    await sim.set_prices({"BTC": Decimal("57950")})
    assert await trader.data("/positions") == []


@pytest.mark.parametrize(("trigger", "moved", "fires"), [
    ("mark_price", {"mark": Decimal("57000")}, True),
    ("mark_price", {"mid": Decimal("57000")}, False),
    ("mid_price", {"mid": Decimal("57000")}, True),
    ("last_trade_price", {"last": Decimal("57000")}, True),
    ("last_trade_price", {"mark": Decimal("57000")}, False),
    (None, {"mid": Decimal("57000")}, True),  # no trigger_price_type behaves as mid_price
    (None, {"mark": Decimal("57000")}, False),
])
async def test_stops_trigger_on_their_trigger_price_type(
        trader: Trader, sim: Simulator, trigger: str | None, moved: dict[str, Decimal],
        fires: bool) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5", trigger=trigger))
    await sim.set_prices({"BTC": moved})
    assert (await trader.data("/positions") == []) is fires


async def test_a_bid_stop_protects_a_short_and_fires_on_a_rise(trader: Trader,
                                                               sim: Simulator) -> None:
    ok(await trader.market("ETH", "ask", "2"))
    ok(await trader.stop("ETH", "bid", "3100", "2"))
    await sim.set_prices({"ETH": Decimal("3100")})
    assert await trader.data("/positions") == []


@pytest.mark.parametrize(("side", "stop_price", "relation"), [
    ("ask", "61000", "below"), ("bid", "59000", "above"), ("ask", "60000", "below")])
async def test_a_stop_on_the_wrong_side_of_the_market_is_refused(
        trader: Trader, side: str, stop_price: str, relation: str) -> None:
    response = await trader.stop("BTC", side, stop_price, "0.1")
    refused(response, 422, f"Stop price {stop_price} would trigger immediately: a {side} "
                           f"stop_market must be {relation} the mark price 60000", 16)
    assert await trader.data("/orders") == []


@pytest.mark.parametrize(("payload", "error"), [
    ({"stop_order": {"stop_price": "58000.5", "amount": "0.1"}},
     "Stop price 58000.5 is not a multiple of tick size 1"),
    ({"stop_order": {"stop_price": "58000", "limit_price": "57999.5", "amount": "0.1"}},
     "Limit price 57999.5 is not a multiple of tick size 1"),
    ({"stop_order": {"stop_price": "58000", "amount": "0.000001"}},
     "Amount 0.000001 is not a multiple of lot size 0.00001"),
    ({"stop_order": {"stop_price": "1000001", "amount": "0.1"}},
     "Stop price 1000001 is out of range [0, 1000000]"),
    ({"stop_order": {"stop_price": "0", "amount": "0.1"}}, "Stop price 0 must be greater than 0"),
    ({"stop_order": {"stop_price": 58000, "amount": "0.1"}},
     "Invalid stop_price: expected a decimal string, got 58000"),
    ({"stop_order": {"stop_price": "58000", "amount": "0.1", "trigger_price_type": "index"}},
     "Invalid trigger_price_type: 'index' (expected mark_price, mid_price or "
     "last_trade_price)"),
    ({"stop_order": {"stop_price": "58000", "client_order_id": "abc"}},
     "Invalid client_order_id: 'abc' is not a UUID"),
    ({"symbol": "DOGE", "stop_order": {"stop_price": "1"}}, "Market not found: DOGE"),
    ({"symbol": "SOL-USDC", "stop_order": {"stop_price": "1"}}, "Market not found: SOL-USDC"),
    ({"stop_order": None}, "missing field `stop_order`"),
])
async def test_bad_stop_fields_get_pacificas_texts(trader: Trader, payload: dict[str, object],
                                                   error: str) -> None:
    body = {"symbol": "BTC", "side": "ask", "reduce_only": True, **payload}
    refused(await trader.send("/orders/stop/create", "create_stop_order", body), 400, error)


async def test_trailing_zeros_are_on_the_tick(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.10000"))
    ok(await trader.stop("BTC", "ask", "58000.00", "0.1"))


async def test_a_stop_with_amount_zero_rests_and_is_rejected_when_it_fires(
        trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    stop_id = ok(await trader.stop("BTC", "ask", "58000", "0"))["order_id"]
    assert [o["order_id"] for o in await trader.data("/orders")] == [stop_id]
    await sim.set_prices({"BTC": Decimal("57000")})
    assert await trader.data("/orders") == []
    assert len(await trader.data("/positions")) == 1
    [log] = [o for o in sim.state()["orders"] if o["order_id"] == stop_id]
    assert log["order_status"] == "rejected"
    assert log["detail"] == "order amount is zero"


async def test_a_stop_below_the_minimum_order_value_is_rejected_when_it_fires(
        trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    stop_id = ok(await trader.stop("BTC", "ask", "58000", "0.0001"))["order_id"]
    await sim.set_prices({"BTC": Decimal("57000")})
    [log] = [o for o in sim.state()["orders"] if o["order_id"] == stop_id]
    assert log["order_status"] == "rejected"
    assert log["detail"] == "order value 5.7000 USD is below the minimum order size 10 USD"


async def test_a_reduce_only_stop_never_flips_a_position(trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "2"))  # four times the position
    await sim.set_prices({"BTC": Decimal("57000")})
    assert await trader.data("/positions") == []
    fills = await trader.data("/trades/history")
    assert [f["side"] for f in fills if f["amount"] != "0.5"] == []


async def test_a_second_stop_after_the_first_closed_finds_nothing_to_reduce(
        trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    first = ok(await trader.stop("BTC", "ask", "58000", "0.5"))["order_id"]
    second = ok(await trader.stop("BTC", "ask", "57500", "0.5"))["order_id"]
    await sim.set_prices({"BTC": Decimal("57000")})
    assert await trader.data("/positions") == []
    status = {o["order_id"]: (o["order_status"], o["detail"]) for o in sim.state()["orders"]}
    assert status[first][0] == "filled"
    assert status[second] == ("rejected", "no position to reduce")


async def test_a_reduce_only_market_order_without_a_position_is_refused(trader: Trader) -> None:
    refused(await trader.market("BTC", "ask", "0.1", reduce_only=True), 422,
            "No position to reduce on BTC", 23)


async def test_a_reduce_only_market_order_cannot_grow_a_position(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.1"))
    refused(await trader.market("BTC", "bid", "0.1", reduce_only=True), 422,
            "Reduce only order would increase the BTC position", 21)


async def test_a_reduce_only_market_order_is_clamped_to_the_position(trader: Trader) -> None:
    ok(await trader.market("SOL", "ask", "10"))
    ok(await trader.market("SOL", "bid", "25", reduce_only=True))
    assert await trader.data("/positions") == []


async def test_a_plain_market_order_flips_a_position(trader: Trader) -> None:
    ok(await trader.market("SOL", "ask", "10"))
    ok(await trader.market("SOL", "bid", "25"))
    [position] = await trader.data("/positions")
    assert (position["side"], position["amount"]) == ("bid", "15")


async def test_a_market_order_below_the_minimum_order_size_is_refused(trader: Trader) -> None:
    refused(await trader.market("BTC", "bid", "0.0001"), 422,
            "Order amount too low: 6.0000 USD is below the minimum order size of 10 USD", 7)


async def test_an_order_beyond_the_collateral_is_refused(trader: Trader,
                                                         sim: Simulator) -> None:
    sim.fund(trader.address, Decimal(1000))
    refused(await trader.market("BTC", "bid", "1"), 422, "Insufficient balance", 5)
    ok(await trader.market("BTC", "bid", "0.8"))  # 48000 at 50x needs 960


async def test_an_order_above_the_maximum_order_size_is_refused(trader: Trader) -> None:
    refused(await trader.market("BTC", "bid", "90"), 422, "Order amount too high: 5400000 USD "
            "is above the maximum order size of 5000000 USD", 8)


async def test_a_duplicate_client_order_id_is_refused_with_code_36(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(7)))
    refused(await trader.stop("BTC", "ask", "57000", "0.5", client_order_id=cloid(7)),
            422, f"Duplicate client order id: {cloid(7)}", 36)
    assert len(await trader.data("/orders")) == 1


@pytest.mark.parametrize(("scope", "reuse_ok"), [(DedupeScope.EVER, False),
                                                 (DedupeScope.OPEN, True)])
async def test_dedupe_scope_decides_whether_a_cancelled_id_may_return(
        scope: DedupeScope, reuse_ok: bool) -> None:
    import httpx
    from sim_support import MAIN

    async with run_simulator(SimConfig(dedupe_scope=scope)) as simulator, \
            httpx.AsyncClient(base_url=simulator.base_url) as client:
        trader = Trader(client, MAIN)
        ok(await trader.market("BTC", "bid", "0.5"))
        ok(await trader.stop("BTC", "ask", "58000", "0.5", client_order_id=cloid(8)))
        refused(await trader.stop("BTC", "ask", "57000", "0.5", client_order_id=cloid(8)),
                422, f"Duplicate client order id: {cloid(8)}", 36)
        ok(await trader.cancel_stop("BTC", client_order_id=cloid(8)))
        again = await trader.stop("BTC", "ask", "57000", "0.5", client_order_id=cloid(8))
        if reuse_ok:
            ok(again)
        else:
            refused(again, 422, f"Duplicate client order id: {cloid(8)}", 36)


async def test_cancelling_a_stop_by_id_and_by_client_order_id(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    first = ok(await trader.stop("BTC", "ask", "58000", "0.2"))["order_id"]
    ok(await trader.stop("BTC", "ask", "57000", "0.3", client_order_id=cloid(3)))
    assert ok(await trader.cancel_stop("BTC", order_id=first)) is None
    ok(await trader.cancel_stop("BTC", client_order_id=cloid(3)))
    assert await trader.data("/orders") == []
    refused(await trader.cancel_stop("BTC", order_id=first), 400, "Stop order not found", 6)
    refused(await trader.cancel_stop("BTC", client_order_id=cloid(3)), 400,
            "Stop order not found", 6)
    refused(await trader.cancel_stop("BTC", client_order_id=cloid(99)), 422,
            f"Unused client order id: {cloid(99)}", 37)
    refused(await trader.cancel_stop("BTC", order_id=123456), 400, "Stop order not found", 6)


async def test_cancel_all_cancels_stops_unless_reduce_only_is_excluded(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "58000", "0.5"))
    ok(await trader.send("/orders/create", "create_order",
                         {"symbol": "BTC", "side": "bid", "price": "50000", "amount": "0.1",
                          "tif": "GTC", "reduce_only": False}))
    kept = ok(await trader.send("/orders/cancel_all", "cancel_all_orders",
                                {"all_symbols": True, "exclude_reduce_only": True}))
    assert kept == {"cancelled_count": 1}
    [stop] = await trader.data("/orders")
    assert stop["order_type"] == "stop_market"
    gone = ok(await trader.send("/orders/cancel_all", "cancel_all_orders",
                                {"all_symbols": True, "exclude_reduce_only": False}))
    assert gone == {"cancelled_count": 1}
    assert await trader.data("/orders") == []


async def test_a_resting_limit_fills_when_the_mark_reaches_it(trader: Trader,
                                                              sim: Simulator) -> None:
    order_id = ok(await trader.send(
        "/orders/create", "create_order",
        {"symbol": "ETH", "side": "bid", "price": "2900.5", "amount": "1", "tif": "GTC",
         "reduce_only": False, "client_order_id": cloid(5)}))["order_id"]
    [resting] = await trader.data("/orders")
    assert (resting["order_id"], resting["order_type"], resting["price"]) == (
        order_id, "limit", "2900.5")
    ok(await trader.send("/orders/cancel", "cancel_order",
                         {"symbol": "ETH", "client_order_id": cloid(5)}))
    refused(await trader.send("/orders/cancel", "cancel_order",
                              {"symbol": "ETH", "order_id": order_id}),
            422, "Failed to cancel order", 5)
    ok(await trader.send("/orders/create", "create_order",
                         {"symbol": "ETH", "side": "bid", "price": "2900.5", "amount": "1",
                          "tif": "GTC", "reduce_only": False}))
    await sim.set_prices({"ETH": Decimal("2900")})
    [position] = await trader.data("/positions")
    assert Decimal(position["entry_price"]) == Decimal("2900.5")


async def test_limit_price_tick_text(trader: Trader) -> None:
    refused(await trader.send("/orders/create", "create_order",
                              {"symbol": "ETH", "side": "bid", "price": "2900.55",
                               "amount": "1", "tif": "GTC", "reduce_only": False}),
            400, "Price 2900.55 is not a multiple of tick size 0.1")


async def test_a_stop_fills_at_the_price_that_fired_it(trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    stop_id = ok(await trader.stop("BTC", "ask", "58000", "0.5",
                                   trigger="mid_price"))["order_id"]
    await sim.set_prices({"BTC": {"mid": Decimal("57500"), "mark": Decimal("58500")}})
    [close] = [f for f in await trader.data("/trades/history") if f["order_id"] == stop_id]
    assert close["price"] == "57500"  # the gap is the trader's loss, not the stop price
