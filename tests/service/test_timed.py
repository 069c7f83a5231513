"""Timed work and a refused stream: a time_exit closes its position at market when it falls
due (a scheduled wake, no price needed), once; a stream the exchange refuses at the handshake
shows in status as a feed failure, with the account degraded, while the daemon stays up."""

from __future__ import annotations

import json

from service_support import RULES, World, eventually, stopd

from daemon.domain import Side


async def test_time_exit_closes_when_due(world: World) -> None:
    world.rules.write_text(RULES.replace(
        "    stop_loss: 3%\n", "    stop_loss: 3%\n    time_exit: 4s\n"))
    trader = world.trader()
    daemon = world.daemon()
    daemon.start()
    await world.open(trader, "ETH", Side.BID, "1")
    await eventually(world.covered, 5, "covered", daemon=daemon)
    assert world.positions()
    # Due 4 s after it opened: closed at market by then (the wake is scheduled, not polled).
    await eventually(lambda: not world.positions(), 8, "closed by its time exit",
                     daemon=daemon)
    closes = [o for o in world.order_log() if o["order_type"] == "market" and o["reduce_only"]]
    assert len(closes) == 1
    # Its stop goes with it (an orphan once the position is gone).
    await eventually(lambda: not world.our_stops(), 5, "the stop cancelled", daemon=daemon)
    assert await daemon.stop() == 0


async def test_refused_stream_shows_in_status(world: World) -> None:
    world.config.write_text(world.config.read_text().replace(
        f"ws_url: {world.sim.ws_url}", f"ws_url: {world.sim.ws_url}-no-such-socket"))
    daemon = world.daemon()
    daemon.start()

    async def failure_shown() -> bool:
        code, out, _ = await stopd("status", "--config", str(world.config), "--json")
        if code != 0:
            return False
        account = json.loads(out)["accounts"][0]
        return bool(account["feed_failure"]) and json.loads(out)["degraded"] is True

    await eventually(failure_shown, 15, "the feed failure in status", every=0.5,
                     daemon=daemon)
    assert daemon.running
    daemon.kill()
