"""/orders/edit and /orders/batch."""

from __future__ import annotations

from typing import Any

from sim_support import Trader, cloid, ok, refused

LIMIT = {"symbol": "ETH", "side": "bid", "price": "2900", "amount": "1", "tif": "GTC",
         "reduce_only": False}


async def test_edit_replaces_a_limit_order_keeping_its_client_order_id(trader: Trader) -> None:
    first = ok(await trader.send("/orders/create", "create_order",
                                 {**LIMIT, "client_order_id": cloid(1)}))["order_id"]
    second = ok(await trader.send("/orders/edit", "edit_order",
                                  {"symbol": "ETH", "price": "2890.5", "amount": "2",
                                   "client_order_id": cloid(1)}))["order_id"]
    assert second != first
    [order] = await trader.data("/orders")
    assert (order["order_id"], order["client_order_id"], order["price"],
            order["initial_amount"], order["side"]) == (second, cloid(1), "2890.5", "2", "bid")
    refused(await trader.send("/orders/edit", "edit_order",
                              {"symbol": "ETH", "price": "2890", "amount": "1",
                               "order_id": first}), 422, "Failed to cancel order", 5)


async def test_batch_runs_actions_in_order_and_reports_each(trader: Trader) -> None:
    create = trader.body("create_order", {**LIMIT, "client_order_id": cloid(2)})
    bad = trader.body("create_order", {**LIMIT, "price": "2900.05"})
    market = trader.body("create_market_order", {"symbol": "SOL", "side": "bid",
                                                 "amount": "1", "slippage_percent": "1",
                                                 "reduce_only": False})
    cancel = trader.body("cancel_order", {"symbol": "ETH", "client_order_id": cloid(2)})
    response = await trader.client.post("/orders/batch", json={"actions": [
        {"type": "Create", "data": create}, {"type": "Create", "data": bad},
        {"type": "CreateMarket", "data": market}, {"type": "Cancel", "data": cancel}]})
    results: list[dict[str, Any]] = ok(response)["results"]
    assert [r["success"] for r in results] == [True, False, True, True]
    assert isinstance(results[0]["order_id"], int)
    assert results[1]["error"] == "Price 2900.05 is not a multiple of tick size 0.1"
    assert await trader.data("/orders") == []
    assert [p["symbol"] for p in await trader.data("/positions")] == ["SOL"]


async def test_one_bad_signature_refuses_the_whole_batch(trader: Trader) -> None:
    good = trader.body("create_order", LIMIT)
    forged = trader.body("create_order", LIMIT)
    forged["amount"] = "5"
    response = await trader.client.post("/orders/batch", json={"actions": [
        {"type": "Create", "data": good}, {"type": "Create", "data": forged}]})
    refused(response, 400, "Invalid signature")  # the text MCP saw for a batch (§2.4)
    assert await trader.data("/orders") == []


async def test_a_batch_has_one_to_ten_known_actions(trader: Trader) -> None:
    one = {"type": "Create", "data": trader.body("create_order", LIMIT)}
    refused(await trader.client.post("/orders/batch", json={"actions": [one] * 11}),
            400, "A batch takes 1 to 10 actions")
    refused(await trader.client.post("/orders/batch", json={"actions": [
        {"type": "Withdraw", "data": {}}]}), 400, "Invalid batch action: 'Withdraw'")
