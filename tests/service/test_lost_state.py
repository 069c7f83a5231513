"""With the state file lost, an id the exchange has seen before must not be sent again: where
Pacifica deduplicates only open orders, it would be a second order under one
client_order_id (the exchange's history shows both)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from conftest import MARKS, finish, make_world
from service_support import AccountSpec, eventually, seed_key

from daemon.domain import Side
from daemon.sim import SimConfig, run_simulator


async def test_lost_state_never_reuses_an_id_the_exchange_has_seen(tmp_path: Path) -> None:
    async with run_simulator(SimConfig(prices="static", dedupe_scope="open")) as sim:
        await sim.set_prices(MARKS)
        world = await make_world(sim, tmp_path, [AccountSpec(seed_key(13))])
        try:
            trader = world.trader()
            await world.open(trader, "ETH", Side.BID, "1")
            daemon = world.daemon()
            daemon.start()
            await eventually(world.covered, 8, "covered", daemon=daemon)
            assert await daemon.stop() == 0
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
