"""Each kind of action carried out against the simulator: place, move (make-before-break),
resize, cancel, market close, take-profit, rejection, dry run."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from submitter_support import Rig, by_cloid, stop_leg

from daemon.domain import Side
from daemon.engine.model import EXIT, TP, LegKind
from daemon.engine.plan import Cancel, CloseMarket, Move, Place, Resize


async def test_a_stop_is_placed_reduce_only_at_the_planned_price(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (place,) = await rig.protect(key, "58000")
    assert isinstance(place, Place)
    (stop,) = [o for o in rig.open_orders() if o["client_order_id"] == place.order.client_order_id]
    assert Decimal(stop["stop_price"]) == Decimal(58000)
    assert stop["reduce_only"] is True
    assert stop["side"] == "ask"
    (result,) = rig.results
    assert result.outcome == "placed"
    assert rig.store.pending(rig.account) == []
    assert rig.sub.last_error is None
    assert rig.sub.idle


async def test_a_move_places_the_new_stop_before_cancelling_the_old(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    samples: list[set[str]] = []
    stop_sampling = asyncio.Event()

    async def sample() -> None:
        while not stop_sampling.is_set():
            samples.append({o["client_order_id"] for o in rig.open_orders()
                            if o.get("stop_price")})
            await asyncio.sleep(0)

    sampler = asyncio.create_task(sample())
    (move,) = await rig.protect(key, "59000")
    stop_sampling.set()
    await sampler
    assert isinstance(move, Move)
    assert move.replaces.client_order_id == first.order.client_order_id
    old, new = first.order.client_order_id, move.order.client_order_id
    assert samples
    assert all(s for s in samples), "a sampled moment showed no stop"
    # The new one was seen resting beside the old one before the old one went.
    both = next(i for i, s in enumerate(samples) if new in s)
    assert old in samples[both]
    assert set(by_cloid(rig.open_orders())) == {new}
    assert Decimal(by_cloid(rig.open_orders())[new]["stop_price"]) == Decimal(59000)
    assert [r.outcome for r in rig.results] == ["placed", "placed"]


async def test_a_resize_replaces_the_stop_with_the_new_amount(rig: Rig) -> None:
    key = await rig.open_position(amount="0.1")
    rig.run()
    await rig.protect(key, "58000", amount="0.1")
    await rig.open_position(amount="0.1", n=2)  # the position grows to 0.2
    (resize,) = await rig.protect(key, "58000", amount="0.2")
    assert isinstance(resize, Resize)
    (stop,) = rig.open_orders()
    assert stop["client_order_id"] == resize.order.client_order_id
    assert Decimal(stop["initial_amount"]) == Decimal("0.2")


async def test_a_failed_placement_keeps_the_old_stop(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (first,) = await rig.protect(key, "58000")
    # Above the mark: an ask stop there fires at once, so the exchange refuses it.
    (move,) = await rig.protect(key, "61000")
    assert isinstance(move, Move)
    assert set(by_cloid(rig.open_orders())) == {first.order.client_order_id}
    assert rig.results[-1].outcome == "rejected"
    assert "would trigger immediately" in (rig.results[-1].detail or "")


async def test_cancels_of_an_orphan_and_of_an_order_already_gone(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    await rig.protect(key, "58000")
    # The position closes by hand; its stop stays (plain stops do) and is now an orphan.
    await rig.client.create_market_order(rig.markets["BTC"], Side.ASK, amount=Decimal("0.1"),
                                         slippage_percent=Decimal(1), reduce_only=True)
    cancels = (await rig.plan([], [])).actions
    assert [type(a) for a in cancels] == [Cancel]
    rig.sub.submit(cancels, bare=())
    await rig.settle()
    assert rig.open_orders() == []
    rig.sub.submit(cancels, bare=())  # again: nothing to cancel any more
    await rig.settle()
    assert [r.outcome for r in rig.results[-2:]] == ["cancelled", "gone"]


async def test_a_market_close_is_sent_once_with_its_own_id_and_bounded_slippage(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    actions = (await rig.plan([stop_leg(key, "0", "0.1", leg=EXIT, kind=LegKind.CLOSE)],
                              [key])).actions
    (close,) = actions
    assert isinstance(close, CloseMarket)
    rig.sub.submit(actions, bare={key})
    await rig.settle()
    rig.sub.submit(actions, bare={key})  # the same close planned again: not sent again
    await rig.settle()
    (sent,) = rig.orders_with(close.order.client_order_id)
    assert sent["reduce_only"] is True
    assert await rig.client.positions() == []
    assert [r.outcome for r in rig.results] == ["placed"]


async def test_a_take_profit_rests_as_a_reduce_only_limit_order(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    legs = [stop_leg(key, "58000", "0.1"),
            stop_leg(key, "63000", "0.1", leg=TP, kind=LegKind.TAKE_PROFIT)]
    actions = (await rig.plan(legs, [key])).actions
    rig.sub.submit(actions, bare={key})
    await rig.settle()
    orders = by_cloid(rig.open_orders())
    tp = next(a for a in actions if isinstance(a, Place) and a.order.leg == TP)
    rests = orders[tp.order.client_order_id]
    assert rests["reduce_only"] is True
    assert Decimal(rests["price"]) == Decimal(63000)
    assert len(orders) == 2
    # The planner sees both as they should be: nothing more to do.
    assert (await rig.plan(legs)).actions == ()


async def test_a_rejection_is_final_for_its_intent_until_a_new_plan(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (bad,) = await rig.protect(key, "61000")  # would fire at once: refused
    assert rig.sub.rejected[key].startswith(bad.reason)
    assert "would trigger immediately" in rig.sub.rejected[key]
    assert rig.sub.last_error is not None
    sent = rig.history_size()
    rig.sub.submit([bad], bare={key})  # the same intent again: not sent again
    await rig.settle()
    assert rig.history_size() == sent
    assert key in rig.sub.rejected
    (good,) = await rig.protect(key, "58000")  # a new plan for the position
    assert good.order.client_order_id != bad.order.client_order_id
    assert key not in rig.sub.rejected
    assert [o["client_order_id"] for o in rig.open_orders()] == [good.order.client_order_id]


async def test_a_dry_run_signs_and_logs_and_sends_nothing(rig: Rig) -> None:
    key = await rig.open_position()
    before = rig.sim.state()["orders"]
    rig.make(dry_run=True)
    rig.run()
    actions = await rig.protect(key, "58000")
    assert rig.sim.state()["orders"] == before
    assert [r.outcome for r in rig.results] == ["dry_run"]
    assert rig.results[0].detail == "signed, not sent"
    assert rig.store.pending(rig.account) == []
    assert len(actions) == 1


async def test_a_close_of_a_position_closed_meanwhile_is_gone_not_rejected(
        rig: Rig) -> None:
    # Typically our own stop fired on a gap while the engine, seeing the price through it,
    # asked for a market close: the position is already closed, which is what the close
    # wanted. A rejection would be a false "last error" and a webhook alert every time.
    key = await rig.open_position()
    rig.run()
    actions = (await rig.plan([stop_leg(key, "0", "0.1", leg=EXIT, kind=LegKind.CLOSE)])
               ).actions
    await rig.client.create_market_order(rig.markets["BTC"], Side.ASK, amount=Decimal("0.1"),
                                         slippage_percent=Decimal(1), reduce_only=True)
    rig.sub.submit(actions, bare={key})
    await rig.settle()
    (result,) = rig.results
    assert result.outcome == "gone"
    assert "No position to reduce" in (result.detail or "")
    assert rig.store.pending(rig.account) == []
    assert rig.sub.rejected == {}
