"""A crash at any point of an action, then `recover` on the next start: adopted or sent again
with the same id, never doubled (anchors.md R1, R3)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from submitter_support import Rig, by_cloid, new_client, stop_leg

from daemon import journal
from daemon.domain import Side
from daemon.engine.model import EXIT, LegKind
from daemon.engine.plan import Action, Cancel, CloseMarket, Move, Place
from daemon.state import StateStore


def crash_after_journal(rig: Rig, action: Action) -> StateStore:
    """The intent is committed, then the process dies before sending: the next start opens
    the same state file afresh."""
    rig.store.journal_intent(rig.account, journal.journal_id(action),
                             journal.journal_name(action), action.order.symbol
                             if isinstance(action, Cancel) else action.order.key.symbol,
                             journal.encode(action))
    rig.store.close()
    rig.store = StateStore.open(rig.path / "state" / "stopd.db")
    return rig.store


async def test_an_intent_journaled_but_never_sent_is_sent_once_on_recovery(rig: Rig) -> None:
    key = await rig.open_position()
    (place,) = (await rig.plan([stop_leg(key, "58000", "0.1")])).actions
    crash_after_journal(rig, place)
    assert [e.client_order_id for e in rig.store.pending(rig.account)] == [
        place.order.client_order_id]
    await rig.make().recover()
    assert len(rig.orders_with(place.order.client_order_id)) == 1
    assert set(by_cloid(rig.open_orders())) == {place.order.client_order_id}
    assert rig.store.pending(rig.account) == []
    assert [r.outcome for r in rig.results] == ["placed"]
    await rig.make().recover()  # a second start finds nothing pending
    assert len(rig.orders_with(place.order.client_order_id)) == 1


async def test_an_intent_that_landed_before_the_crash_is_adopted_not_resent(rig: Rig) -> None:
    key = await rig.open_position()
    (place,) = (await rig.plan([stop_leg(key, "58000", "0.1")])).actions
    assert isinstance(place, Place)
    store = crash_after_journal(rig, place)
    # It went out (and rests) just before the crash; its outcome was never journaled.
    intent = place.order
    assert intent.stop_price is not None
    await rig.client.create_stop_order(rig.markets["BTC"], intent.side,
                                       stop_price=intent.stop_price, amount=intent.amount,
                                       client_order_id=intent.client_order_id)
    sent = rig.history_size()
    await rig.make(store=store).recover()
    assert rig.history_size() == sent
    assert len(rig.orders_with(intent.client_order_id)) == 1
    assert rig.results[-1].outcome == "already_placed"
    assert rig.store.pending(rig.account) == []


async def test_a_move_cut_between_place_and_cancel_is_finished_on_recovery(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    await rig.stop()
    (move,) = (await rig.plan([stop_leg(key, "59000", "0.1")])).actions
    assert isinstance(move, Move)
    crash_after_journal(rig, move)
    assert move.order.stop_price is not None
    await rig.client.create_stop_order(rig.markets["BTC"], Side.ASK,
                                       stop_price=move.order.stop_price,
                                       amount=move.order.amount,
                                       client_order_id=move.order.client_order_id)
    await rig.make().recover()
    assert set(by_cloid(rig.open_orders())) == {move.order.client_order_id}
    assert len(rig.orders_with(move.order.client_order_id)) == 1
    assert first.order.client_order_id not in by_cloid(rig.open_orders())
    assert rig.store.pending(rig.account) == []


async def test_a_move_cut_before_its_placement_is_carried_out_make_before_break(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    await rig.protect(key, "58000")
    await rig.stop()
    (move,) = (await rig.plan([stop_leg(key, "59000", "0.1")])).actions
    crash_after_journal(rig, move)
    await rig.make().recover()
    (stop,) = rig.open_orders()
    assert stop["client_order_id"] == move.order.client_order_id
    assert Decimal(stop["stop_price"]) == Decimal(59000)


async def test_pending_intents_that_no_longer_make_sense_are_settled_without_a_request(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    await rig.stop()
    # The position closes; its stop is cancelled by hand. A cancel of that stop, and a new
    # placement for the closed position, were journaled just before a crash.
    await rig.client.cancel_stop_order("BTC", client_order_id=first.order.client_order_id)
    await rig.client.create_market_order(rig.markets["BTC"], Side.ASK, amount=Decimal("0.1"),
                                         slippage_percent=Decimal(1), reduce_only=True)
    live = [o for o in await rig.client.open_orders()]
    assert live == []
    stale = first.order
    cancel = Cancel(_open_order_for(stale.client_order_id, stale.stop_price), "orphan")
    crash_after_journal(rig, cancel)
    (again,) = (await rig.plan([stop_leg(key, "57000", "0.1")], [key])).actions
    crash_after_journal(rig, again)
    sent = rig.history_size()
    rig.results.clear()
    await rig.make().recover()
    assert rig.history_size() == sent
    assert rig.store.pending(rig.account) == []
    assert sorted(r.outcome for r in rig.results) == ["gone", "gone"]


def _open_order_for(cloid: str, stop_price: Decimal | None) -> Any:
    from daemon.domain import OpenOrder

    return OpenOrder(order_id=1, client_order_id=cloid, symbol="BTC", side=Side.ASK,
                     order_type="stop_market", price=Decimal(0), stop_price=stop_price,
                     initial_amount=Decimal("0.1"), filled_amount=Decimal(0),
                     cancelled_amount=Decimal(0), reduce_only=True, created_at=0)


async def test_a_dry_run_recovers_nothing_and_sends_nothing(rig: Rig) -> None:
    key = await rig.open_position()
    (place,) = (await rig.plan([stop_leg(key, "58000", "0.1")])).actions
    crash_after_journal(rig, place)
    sent = rig.history_size()
    await rig.make(dry_run=True).recover()
    assert rig.history_size() == sent
    assert len(rig.store.pending(rig.account)) == 1  # left for a real run to settle


async def test_a_close_that_filled_before_the_crash_is_not_sent_again(
        open_scope_rig: Rig) -> None:
    rig = open_scope_rig
    key = await rig.open_position(amount="0.2")
    (close,) = (await rig.plan([stop_leg(key, "0", "0.1", leg=EXIT, kind=LegKind.CLOSE)])
                ).actions
    assert isinstance(close, CloseMarket)
    crash_after_journal(rig, close)
    # It went out and filled just before the crash.
    await rig.client.create_market_order(rig.markets["BTC"], Side.ASK, amount=Decimal("0.1"),
                                         slippage_percent=Decimal(1), reduce_only=True,
                                         client_order_id=close.order.client_order_id)
    await rig.make().recover()
    (position,) = await rig.client.positions()
    assert position.amount == Decimal("0.1")
    assert len(rig.orders_with(close.order.client_order_id)) == 1
    assert rig.store.pending(rig.account) == []
    assert "landed before the restart" in (rig.results[-1].detail or "")


async def test_a_stop_that_fired_before_the_crash_is_reported_spent_not_resent(
        open_scope_rig: Rig) -> None:
    rig = open_scope_rig
    key = await rig.open_position(amount="0.2")
    (place,) = (await rig.plan([stop_leg(key, "59000", "0.1")])).actions
    crash_after_journal(rig, place)
    assert place.order.stop_price is not None
    await rig.client.create_stop_order(rig.markets["BTC"], Side.ASK,
                                       stop_price=place.order.stop_price,
                                       amount=place.order.amount,
                                       client_order_id=place.order.client_order_id)
    await rig.sim.set_prices({"BTC": Decimal(58_500)})  # it fires: half the position closes
    sent = rig.history_size()
    await rig.make().recover()
    assert rig.history_size() == sent
    (result,) = rig.results
    assert result.duplicate_not_open  # the service marks the id spent: a new revision next
    assert rig.open_orders() == []


class Counting(httpx.AsyncBaseTransport):
    """Counts requests by path: what the recovery costs in heavy reads."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path.rsplit("/api/v1/", 1)[-1])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_recovery_reads_the_history_once_for_every_pending_entry(rig: Rig) -> None:
    btc = await rig.open_position("BTC")
    eth = await rig.open_position("ETH", n=2)
    actions = (await rig.plan([stop_leg(btc, "58000", "0.1"),
                               stop_leg(eth, "2900", "0.1")])).actions
    for action in actions:
        crash_after_journal(rig, action)
    counting = Counting()
    async with new_client(rig.sim, http_transport=counting) as client:
        await rig.make(client=client).recover()
    assert counting.paths.count("orders/history") == 1
    assert counting.paths.count("orders/stop/create") == 2
    assert len(rig.open_orders()) == 2
