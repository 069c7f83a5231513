"""Faults switched on in the simulator: whatever the wire does, one intent is one order."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
from submitter_support import Rig, by_cloid, new_client, stop_leg

from daemon.engine.model import EXIT, LegKind
from daemon.engine.plan import Place


async def test_a_5xx_is_retried_with_the_same_id_and_ends_with_one_order(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (place,) = await rig.protect(key, "58000", faults={"error_count": 2})
    cloid = place.order.client_order_id
    assert len(rig.orders_with(cloid)) == 1
    assert set(by_cloid(rig.open_orders())) == {cloid}
    assert rig.results[-1].outcome == "placed"


async def test_a_response_lost_after_commit_is_confirmed_by_id_not_sent_twice(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (place,) = await rig.protect(key, "58000", faults={"lose_response_after_commit": 1})
    cloid = place.order.client_order_id
    assert len(rig.orders_with(cloid)) == 1
    assert rig.results[-1].outcome == "placed"
    assert "confirmed by id" in (rig.results[-1].detail or "")


async def test_a_connection_cut_after_commit_during_a_move_keeps_one_order_per_revision(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    (move,) = await rig.protect(key, "59000", faults={"lose_response_after_commit": 2,
                                                      "lose_mode": "reset"})
    assert len(rig.orders_with(move.order.client_order_id)) == 1
    assert len(rig.orders_with(first.order.client_order_id)) == 1
    assert set(by_cloid(rig.open_orders())) == {move.order.client_order_id}


async def test_a_429_burst_is_waited_out_through_the_budget_and_a_bare_position_goes_first(
        rig: Rig) -> None:
    btc = await rig.open_position("BTC")
    eth = await rig.open_position("ETH", n=2)
    sol = await rig.open_position("SOL", n=3)
    rig.make(concurrency=1)
    rig.run()
    for key, price in ((btc, "58000"), (eth, "2900")):
        await rig.protect(key, price)
    # Trailing moves for two covered positions are queued first; then a bare position.
    moves = (await rig.plan([stop_leg(btc, "59000", "0.1"), stop_leg(eth, "2950", "0.1")]
                            )).actions
    protect = (await rig.plan([stop_leg(sol, "140", "0.1")])).actions
    (place,) = protect
    assert isinstance(place, Place)
    await rig.faults(burst_429=3)
    rig.sub.submit(moves, bare=())
    await asyncio.sleep(0.05)  # the first move meets the 429s; the budget now says wait
    rig.sub.submit(protect, bare={sol})
    await rig.settle()
    created = {o["client_order_id"]: o["order_id"] for o in rig.sim.state()["orders"]}
    first_move, second_move = (created[m.order.client_order_id] for m in moves)
    # The move already under way keeps its slot; the bare position goes before the next.
    assert created[place.order.client_order_id] < second_move
    assert len(by_cloid(rig.open_orders())) == 3
    assert all(len(rig.orders_with(a.order.client_order_id)) == 1 for a in (*moves, place))
    assert first_move < second_move


async def test_a_close_whose_answer_is_lost_is_not_sent_twice(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    actions = (await rig.plan([stop_leg(key, "0", "0.1", leg=EXIT, kind=LegKind.CLOSE)])
               ).actions
    await rig.faults(lose_response_after_commit=1)
    rig.sub.submit(actions, bare={key})
    await rig.settle()
    (close,) = actions
    assert len(rig.orders_with(close.order.client_order_id)) == 1
    assert await rig.client.positions() == []
    assert rig.results[-1].outcome == "placed"
    assert "landed, filled" in (rig.results[-1].detail or "")


class NoOrderId(httpx.AsyncBaseTransport):
    """Answers to stop creation lose their order_id: the exchange accepted, but said nothing
    that names the order (the client's UNCONFIRMED)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/orders/stop/create"):
            return response
        body = json.loads(await response.aread())
        if isinstance(body.get("data"), dict):
            body["data"].pop("order_id", None)
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(response.status_code, headers=headers, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_an_answer_without_an_order_id_is_confirmed_by_id(rig: Rig) -> None:
    key = await rig.open_position()
    async with new_client(rig.sim, http_transport=NoOrderId()) as blind:
        rig.make(client=blind)
        rig.run()
        (place,) = await rig.protect(key, "58000")
        await rig.stop()
    cloid = place.order.client_order_id
    assert len(rig.orders_with(cloid)) == 1
    (result,) = rig.results
    assert result.outcome == "placed"
    assert result.detail == "accepted without an order id; confirmed by id"
    assert set(by_cloid(rig.open_orders())) == {cloid}


async def test_a_lost_close_is_found_in_the_history_where_duplicates_are_only_open_ones(
        open_scope_rig: Rig) -> None:
    rig = open_scope_rig
    key = await rig.open_position(amount="0.2")
    rig.run()
    # Close half: a re-send the exchange did not recognise would close the other half too.
    actions = (await rig.plan([stop_leg(key, "0", "0.1", leg=EXIT, kind=LegKind.CLOSE)])
               ).actions
    await rig.faults(lose_response_after_commit=1)
    rig.sub.submit(actions, bare={key})
    await rig.settle()
    (close,) = actions
    assert len(rig.orders_with(close.order.client_order_id)) == 1
    (position,) = await rig.client.positions()
    assert position.amount == Decimal("0.1")
    assert "landed, filled" in (rig.results[-1].detail or "")
