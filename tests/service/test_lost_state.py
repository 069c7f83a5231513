"""With the state file lost, an id the exchange has seen before must not be sent again: where
Pacifica deduplicates only open orders, it would be a second order under one
client_order_id (the exchange's history shows both)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from conftest import MARKS, finish, make_world
from service_support import AccountSpec, Daemon, World, eventually, seed_key

from daemon import ids
from daemon.domain import PositionKey, Side, TriggerPriceType
from daemon.engine import SL, LegKind, OrderIntent, Place
from daemon.journal import encode, journal_name
from daemon.pacifica.rest import PacificaRest
from daemon.sim import SimConfig, run_simulator
from daemon.state import StateStore


async def covered_then_stopped(world: World) -> tuple[PacificaRest, Daemon]:
    """An ETH long its daemon covered, then stopped (SIGTERM: its stop rests)."""
    trader = world.trader()
    await world.open(trader, "ETH", Side.BID, "1")
    daemon = world.daemon()
    daemon.start()
    await eventually(world.covered, 8, "covered", daemon=daemon)
    assert await daemon.stop() == 0
    return trader, daemon


async def test_lost_state_never_reuses_an_id_the_exchange_has_seen(tmp_path: Path) -> None:
    async with run_simulator(SimConfig(prices="static", dedupe_scope="open")) as sim:
        await sim.set_prices(MARKS)
        world = await make_world(sim, tmp_path, [AccountSpec(seed_key(13))])
        try:
            trader, daemon = await covered_then_stopped(world)
            # While it is down: its stop cancelled by hand, and its state file lost.
            [stop] = world.our_stops()
            await trader.cancel_stop_order("ETH", order_id=stop["order_id"])
            for suffix in ("", "-wal", "-shm"):
                Path(str(world.state) + suffix).unlink(missing_ok=True)  # noqa: ASYNC240
            daemon.start()
            await eventually(world.covered, 8, "covered again", daemon=daemon)
            assert [Decimal(s["stop_price"]) for s in world.our_stops()] == [Decimal("2910.0")]
            assert world.duplicates() == [], daemon.current_log()[-4000:]
            assert await daemon.stop() == 0
        finally:
            await finish(world)


async def test_a_pending_intent_a_later_revision_superseded_is_not_sent_at_restart(
        world: World) -> None:
    """A journal row left pending (its start could not read the exchange) whose leg has
    moved on to a later revision since: at the next start it is settled, not sent. Sent, it
    rested as a second stop of the leg at a price from long ago (where the exchange had
    forgotten the id, a second order under it)."""
    trader, daemon = await covered_then_stopped(world)
    owner = world.accounts[0].owner
    [stop] = world.our_stops()
    [position] = world.positions()
    key = PositionKey("ETH", Side.BID, int(position["created_at"]))
    # The leg moved on to revision 5 (resting), while revision 3's intent stayed pending.
    later = ids.make(owner, key, SL, 5)
    markets = await trader.markets()
    await trader.create_stop_order(markets["ETH"], Side.ASK, stop_price=Decimal("2910.0"),
                                   amount=Decimal(1), client_order_id=later,
                                   trigger_price_type=TriggerPriceType.MARK)
    await trader.cancel_stop_order("ETH", order_id=stop["order_id"])
    stale = OrderIntent(ids.make(owner, key, SL, 3), key, SL, LegKind.STOP, Side.ASK,
                        Decimal(1), Decimal("2900.0"), None, TriggerPriceType.MARK, 3)
    place = Place(stale, "sl: place stop 1 at 2900.0")
    store = StateStore.open(world.state)
    try:
        store.journal_intent(owner, stale.client_order_id, journal_name(place), "ETH",
                             encode(place))
    finally:
        store.close()
    daemon.start()
    await daemon.ready()
    await asyncio.sleep(1.0)
    sent = [o["client_order_id"] for o in world.order_log()]
    assert stale.client_order_id not in sent, daemon.current_log()[-4000:]
    assert [s["client_order_id"] for s in world.our_stops()] == [later]
    assert await daemon.stop() == 0
