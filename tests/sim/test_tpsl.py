"""Position TP/SL (/positions/tpsl) and TP/SL riding on an order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sim_support import MAIN, MARKS, Trader, cloid, ok, refused

from daemon.sim import SimConfig, Simulator, run_simulator
from daemon.sim.config import TpslMode


async def tpsl(trader: Trader, side: str, **legs: Any) -> Any:
    return await trader.send("/positions/tpsl", "set_position_tpsl",
                             {"symbol": "BTC", "side": side, **legs})


async def test_legs_rest_as_stop_orders_found_by_client_order_id(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    response = await tpsl(trader, "ask",
                          take_profit={"stop_price": "66000", "limit_price": "65900",
                                       "client_order_id": cloid(1),
                                       "trigger_price_type": "mark_price"},
                          stop_loss={"stop_price": "57000", "client_order_id": cloid(2),
                                     "trigger_price_type": "mark_price"})
    assert response.json() == {"success": True, "data": None, "error": None, "code": None}
    orders = {o["client_order_id"]: o for o in await trader.data("/orders")}
    assert orders[cloid(1)]["order_type"] == "take_profit_limit"
    assert orders[cloid(1)]["stop_price"] == "66000"
    assert orders[cloid(1)]["price"] == "65900"
    assert orders[cloid(2)]["order_type"] == "stop_loss_market"
    assert orders[cloid(2)]["initial_amount"] == "0.5"  # no amount: the whole position
    assert all(o["reduce_only"] and o["side"] == "ask" for o in orders.values())


async def test_the_side_must_be_the_closing_side(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    refused(await tpsl(trader, "bid", stop_loss={"stop_price": "57000"}), 422,
            "Invalid stop order side", 17)


async def test_without_a_position_there_is_no_tpsl(trader: Trader) -> None:
    refused(await tpsl(trader, "ask", stop_loss={"stop_price": "57000"}), 400,
            "Position not found", 13)


async def test_at_least_one_leg_is_required(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    refused(await tpsl(trader, "ask"), 400,
            "At least one of take_profit or stop_loss is required")


async def test_a_failing_stop_loss_leaves_the_take_profit(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    response = await tpsl(trader, "ask", take_profit={"stop_price": "66000"},
                          stop_loss={"stop_price": "57000.5"})
    refused(response, 400, "Stop loss stop price 57000.5 is not a multiple of tick size 1")
    # The tick check runs on the whole request first; a later failure keeps the TP:
    response = await tpsl(trader, "ask", take_profit={"stop_price": "66000"},
                          stop_loss={"stop_price": "61000", "trigger_price_type": "mark_price"})
    refused(response, 422, "Stop loss stop price 61000 would trigger immediately: a ask "
                           "stop_loss_market must be below the mark price 60000", 16)
    [left] = await trader.data("/orders")
    assert left["order_type"] == "take_profit_market"


async def test_a_take_profit_fires_on_a_favourable_move(trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await tpsl(trader, "ask", take_profit={"stop_price": "62000",
                                              "trigger_price_type": "mark_price"},
                  stop_loss={"stop_price": "57000", "trigger_price_type": "mark_price"}))
    await sim.set_prices({"BTC": Decimal("62000")})
    assert await trader.data("/positions") == []
    # The stop-loss leg went with the position.
    assert await trader.data("/orders") == []
    fills = await trader.data("/trades/history")
    assert fills[0]["cause"] == "normal"  # the only documented cause of an ordinary fill
    assert fills[0]["side"] == "close_long"


async def test_a_plain_stop_stays_when_the_position_closes(trader: Trader,
                                                           sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "57000", "0.5"))
    ok(await trader.market("BTC", "ask", "0.5", reduce_only=True))
    [left] = await trader.data("/orders")
    assert left["order_type"] == "stop_market"


async def test_tpsl_on_a_market_order_links_to_its_parent(trader: Trader) -> None:
    order_id = ok(await trader.send(
        "/orders/create_market", "create_market_order",
        {"symbol": "BTC", "side": "ask", "amount": "0.5", "slippage_percent": "0.5",
         "reduce_only": False, "stop_loss": {"stop_price": "63000",
                                             "trigger_price_type": "mark_price"}}))["order_id"]
    [leg] = await trader.data("/orders")
    assert leg["stop_parent_order_id"] == order_id
    assert (leg["order_type"], leg["side"]) == ("stop_loss_market", "bid")


async def test_tpsl_on_a_resting_limit_order_appears_when_it_fills(trader: Trader,
                                                                   sim: Simulator) -> None:
    ok(await trader.send(
        "/orders/create", "create_order",
        {"symbol": "BTC", "side": "bid", "price": "59000", "amount": "0.5", "tif": "GTC",
         "reduce_only": False, "stop_loss": {"stop_price": "57000",
                                             "trigger_price_type": "mark_price"}}))
    assert [o["order_type"] for o in await trader.data("/orders")] == ["limit"]
    await sim.set_prices({"BTC": Decimal("59000")})
    assert [o["order_type"] for o in await trader.data("/orders")] == ["stop_loss_market"]


async def test_an_order_and_its_legs_cannot_share_a_client_order_id(trader: Trader) -> None:
    response = await trader.send(
        "/orders/create_market", "create_market_order",
        {"symbol": "BTC", "side": "bid", "amount": "0.5", "slippage_percent": "0.5",
         "reduce_only": False, "client_order_id": cloid(30),
         "stop_loss": {"stop_price": "57000", "client_order_id": cloid(30)}})
    refused(response, 422, f"Duplicate client order id: {cloid(30)}", 36)
    assert await trader.data("/positions") == []


@pytest.fixture
async def add_trader() -> AsyncIterator[Trader]:
    """The main account on a simulator run with `--tpsl add`."""
    async with run_simulator(SimConfig(tpsl=TpslMode.ADD)) as simulator, httpx.AsyncClient(
            base_url=simulator.base_url, timeout=10) as client:
        await simulator.set_prices(MARKS)
        yield Trader(client, MAIN)


TP_LEG = {"stop_price": "66000", "client_order_id": cloid(1), "trigger_price_type": "mark_price"}
SL_LEG = {"stop_price": "57000", "client_order_id": cloid(2), "trigger_price_type": "mark_price"}


def test_replace_is_the_default() -> None:
    assert SimConfig().tpsl is TpslMode.REPLACE


async def test_a_second_tpsl_replaces_every_leg_by_default(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.stop("BTC", "ask", "55000", "0.5", client_order_id=cloid(3)))
    ok(await tpsl(trader, "ask", take_profit=TP_LEG))
    # Only a stop-loss this time: the take-profit goes too (what ocean-agent guards against).
    ok(await tpsl(trader, "ask", stop_loss=SL_LEG))
    orders = {o["client_order_id"]: o["order_type"] for o in await trader.data("/orders")}
    assert orders == {cloid(3): "stop_market", cloid(2): "stop_loss_market"}  # plain stop stays
    history = {o["client_order_id"]: o for o in await trader.data("/orders/history")}
    assert (history[cloid(1)]["order_status"], history[cloid(1)]["reason"]) == (
        "cancelled", "cancel")


async def test_a_replacing_tpsl_whose_leg_is_refused_leaves_the_position_bare(
        trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await tpsl(trader, "ask", stop_loss=SL_LEG))
    refused(await tpsl(trader, "ask", take_profit={**TP_LEG, "stop_price": "59000"}), 422,
            "Take profit stop price 59000 would trigger immediately: a ask take_profit_market "
            "must be above the mark price 60000", 16)
    assert await trader.data("/orders") == []  # no rollback: the old stop-loss is gone


async def test_under_tpsl_add_a_second_call_adds_legs(add_trader: Trader) -> None:
    ok(await add_trader.market("BTC", "bid", "0.5"))
    ok(await tpsl(add_trader, "ask", take_profit=TP_LEG))
    ok(await tpsl(add_trader, "ask", stop_loss=SL_LEG))
    orders = {o["client_order_id"]: o["order_type"] for o in await add_trader.data("/orders")}
    assert orders == {cloid(1): "take_profit_market", cloid(2): "stop_loss_market"}


async def test_a_retried_tpsl_is_a_duplicate_and_replaces_nothing(trader: Trader) -> None:
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await tpsl(trader, "ask", stop_loss=SL_LEG))
    refused(await tpsl(trader, "ask", stop_loss=SL_LEG), 422,
            f"Duplicate client order id: {cloid(2)}", 36)
    [still] = await trader.data("/orders")
    assert still["client_order_id"] == cloid(2)
    refused(await tpsl(trader, "ask", take_profit={**TP_LEG, "client_order_id": cloid(5)},
                       stop_loss={**SL_LEG, "client_order_id": cloid(5)}), 422,
            f"Duplicate client order id: {cloid(5)}", 36)
    assert [o["client_order_id"] for o in await trader.data("/orders")] == [cloid(2)]
