"""The queue: supersession, per-position order, stopping."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from submitter_support import Rig, by_cloid, stop_leg

from daemon.domain import PositionKey, Side
from daemon.engine.memory import Memory
from daemon.engine.plan import plan
from daemon.state import StateStore


async def test_a_newer_action_for_the_same_leg_supersedes_a_queued_one(rig: Rig) -> None:
    key = await rig.open_position()
    (older,) = (await rig.plan([stop_leg(key, "58000", "0.1")])).actions
    (newer,) = (await rig.plan([stop_leg(key, "57500", "0.1")])).actions
    assert older.order.client_order_id != newer.order.client_order_id
    rig.sub.submit([older], bare={key})
    rig.sub.submit([newer], bare={key})
    rig.run()
    await rig.settle()
    assert rig.orders_with(older.order.client_order_id) == []
    assert set(by_cloid(rig.open_orders())) == {newer.order.client_order_id}
    assert [r.action for r in rig.results] == [newer]


async def test_a_placement_just_answered_is_not_sent_again_when_planned_again(
        rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    (place,) = await rig.protect(key, "58000")
    sent = rig.history_size()
    rig.sub.submit([place], bare={key})  # a plan made before the order showed up
    await rig.settle()
    assert rig.history_size() == sent
    assert len(rig.results) == 1


async def test_stop_drops_what_is_queued_and_leaves_no_pending_intent(rig: Rig) -> None:
    keys = [await rig.open_position(s, n=n) for n, s in enumerate(("BTC", "ETH", "SOL"))]
    actions = (await rig.plan([stop_leg(k, p, "0.1") for k, p in
                               zip(keys, ("58000", "2900", "140"), strict=True)])).actions
    rig.sub.submit(actions, bare=set(keys))
    assert not rig.sub.idle
    await rig.sub.stop()
    assert rig.sub.idle
    assert rig.open_orders() == []
    assert rig.store.pending(rig.account) == []
    rig.sub.submit(actions, bare=set(keys))  # after stop: refused
    assert rig.sub.idle


async def test_a_gone_position_is_forgotten_from_the_rejections(rig: Rig) -> None:
    key = await rig.open_position()
    rig.run()
    await rig.protect(key, "61000")  # refused: would fire at once
    assert key in rig.sub.rejected
    assert rig.sub.backlog == 0
    rig.sub.forget([key])
    assert rig.sub.rejected == {}


async def test_positions_run_in_parallel_and_one_position_in_series(rig: Rig) -> None:
    keys = [await rig.open_position(s, n=n) for n, s in enumerate(("BTC", "ETH", "SOL"))]
    stops = (await rig.plan([stop_leg(k, p, "0.1") for k, p in
                             zip(keys, ("58000", "2900", "140"), strict=True)])).actions
    await rig.faults(latency_ms=300)
    rig.run()
    started = time.monotonic()
    rig.sub.submit(stops, bare=set(keys))
    await rig.settle()
    parallel = time.monotonic() - started
    assert parallel < 0.8  # three positions side by side: about one request's latency
    btc = keys[0]
    legs = [stop_leg(btc, "58000", "0.1"), stop_leg(btc, "57000", "0.1", leg="ladder.0"),
            stop_leg(btc, "56000", "0.1", leg="ladder.1")]
    more = (await rig.plan(legs)).actions
    assert len(more) == 2
    started = time.monotonic()
    rig.sub.submit(more, bare=())
    await rig.settle()
    assert time.monotonic() - started >= 0.6  # one position: one request after the other
    assert len(rig.open_orders()) == 5
    assert rig.sub.last_progress >= started


async def test_nothing_is_sent_when_the_intent_cannot_be_journaled(rig: Rig) -> None:
    key = await rig.open_position()
    (place,) = (await rig.plan([stop_leg(key, "58000", "0.1")])).actions
    rig.store.close()  # the journal is unusable: the request must not go out unrecorded
    rig.run()
    rig.sub.submit([place], bare={key})
    await rig.settle()
    assert rig.orders_with(place.order.client_order_id) == []
    (result,) = rig.results
    assert result.outcome == "failed"
    assert rig.sub.last_error is not None
    rig.store = StateStore.open(rig.path / "state" / "stopd.db")  # for the fixture to close


async def test_a_large_queue_resubmitted_keeps_one_item_per_leg(rig: Rig) -> None:
    """A plan for thousands of positions, planned again and again before the worker runs:
    each leg stays queued once."""
    keys = [PositionKey("BTC", Side.BID, 1_000 + n) for n in range(2_000)]
    legs = [stop_leg(k, "58000", "0.1") for k in keys]
    actions = plan(legs, [], account=rig.account, positions=keys, memory=Memory(),
                   now=datetime.now(UTC)).actions
    for _ in range(5):
        rig.sub.submit(actions[1:], bare=())
    rig.sub.submit(actions[:1], bare={keys[0]})
    assert rig.sub.backlog == 2_000
    assert not rig.sub.idle
    await rig.sub.stop()
    assert rig.sub.backlog == 0
