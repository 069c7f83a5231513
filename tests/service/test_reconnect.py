"""A position closed and reopened on the same side while the stream was down is a new
position: after the reconnect it must not be judged under the old one's identity, whose
memory (a trailing extreme far above the new entry) would see its stop "already crossed"
and close the new position at market."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from conftest import finish, make_world
from service_support import AccountSpec, eventually, seed_key
from test_faults import faults, start_covered_btc_long

from daemon.domain import Side

if TYPE_CHECKING:
    from daemon.sim import Simulator


async def test_reopened_during_an_outage_is_a_new_position(sim: Simulator,
                                                           tmp_path: Path) -> None:
    # No scheduled reconcile during the test: only the stream and the reconnect tell.
    world = await make_world(sim, tmp_path, [AccountSpec(seed_key(12))], reconcile="60s")
    try:
        daemon = await start_covered_btc_long(world)
        trader = world.trader()
        await sim.set_prices({"BTC": Decimal(62_000)})
        await eventually(lambda: [s["stop_price"] for s in world.our_stops()] == ["61380"], 5,
                         "trailed to 62000", daemon=daemon)
        # The stream goes silent; meanwhile the trader closes, the price falls, and the
        # trader opens a new long at 61000, under the old position's trailing stop.
        await faults(world, stall_ws=True)
        await asyncio.sleep(0.3)
        await world.close(trader, "BTC", Side.BID, "0.01")
        await sim.set_prices({"BTC": Decimal(61_000)})
        await world.open(trader, "BTC", Side.BID, "0.01")
        assert [p["symbol"] for p in world.positions()] == ["BTC"]
        # The stream comes back through a reconnect (its snapshot first); REST is slow.
        await faults(world, reset=True, latency_ms=400, drop_ws=True)
        await asyncio.sleep(3.0)
        await faults(world, reset=True)
        positions = world.positions()
        assert [(p["symbol"], Decimal(p["amount"])) for p in positions] == [
            ("BTC", Decimal("0.01"))], (
            daemon.current_log()[-6000:])
        await eventually(world.covered, 5, "the new position covered", daemon=daemon)
        # Under its own identity: trailing 1% from its own 61000, not the old 62000 peak.
        assert [s["stop_price"] for s in world.our_stops()] == ["60390"]
        assert await daemon.stop() == 0
    finally:
        await finish(world)
