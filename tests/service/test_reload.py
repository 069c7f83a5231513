"""Reload and the service manager: READY=1, RELOADING=1 (+MONOTONIC_USEC), READY=1, STOPPING=1
in that order on a real datagram socket; a rule file broken on SIGHUP keeps the old rules and
the daemon healthy; a fixed file is picked up by itself, and a loosening is logged as such."""

from __future__ import annotations

import asyncio
import json
import signal
from decimal import Decimal
from pathlib import Path

from service_support import RULES, World, eventually, notify_socket, received, stopd
from test_faults import faults

from daemon.domain import Side


async def test_notify_reload_broken_then_fixed(world: World, tmp_path: Path) -> None:
    trader = world.trader()
    await world.open(trader, "ETH", Side.BID, "1")
    messages: list[str] = []
    with notify_socket(tmp_path / "notify.sock") as sock:
        daemon = world.daemon(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
                                   "WATCHDOG_USEC": "2000000"})
        daemon.start()

        def heard(text: str) -> bool:
            messages.extend(received(sock))
            return any(text in m.split("\n") for m in messages)

        await eventually(lambda: heard("READY=1"), 10, "READY=1", daemon=daemon)
        assert world.covered()
        [stop] = world.our_stops()
        assert Decimal(stop["stop_price"]) == Decimal("2910.0")  # 3% under 3000

        # Broken on SIGHUP: the old rules stay, the daemon stays up and says why.
        world.rules.write_text(RULES.replace("stop_loss: 3%", "stop_loss: [oops"))
        daemon.signal(signal.SIGHUP)
        await eventually(lambda: sum(m.startswith("READY=1") for m in messages) >= 2
                         or heard("__never__"), 10, "READY=1 after the failed reload",
                         daemon=daemon)
        code, out, _ = await stopd("status", "--config", str(world.config), "--json")
        assert code == 0, out
        status = json.loads(out)
        assert "rules.yaml:" in status["rules"]["error"]
        await world.open(trader, "SOL", Side.BID, "1")
        await eventually(world.covered, 3, "covered under the old rules", daemon=daemon)
        sol = [s for s in world.our_stops() if s["symbol"] == "SOL"]
        assert [Decimal(s["stop_price"]) for s in sol] == [Decimal("145.50")]
        assert daemon.running

        # Fixed (and loosened to 5%): picked up without a signal; the loosening is logged.
        world.rules.write_text(RULES.replace("stop_loss: 3%", "stop_loss: 5%"))
        await eventually(
            lambda: {Decimal(s["stop_price"]) for s in world.our_stops()
                     if s["symbol"] == "ETH"} == {Decimal("2850.0")}, 8,
            "the fixed file picked up", daemon=daemon)
        assert "LOOSENS" in daemon.output()
        assert await daemon.stop() == 0
        await asyncio.sleep(0.1)
        messages.extend(received(sock))
    firsts = [m.split("\n")[0] for m in messages if not m.startswith("STATUS=")
              and not m.startswith("WATCHDOG")]
    order = [m for m in firsts if m in ("READY=1", "RELOADING=1", "STOPPING=1")]
    assert order[:3] == ["READY=1", "RELOADING=1", "READY=1"], order
    assert order[-1] == "STOPPING=1"
    assert order.count("RELOADING=1") == order.count("READY=1") - 1
    assert any(m.startswith("WATCHDOG=1") for m in messages)  # every 1 s while healthy
    reloading = [m for m in messages if m.startswith("RELOADING=1")]
    assert all("MONOTONIC_USEC=" in m for m in reloading)


async def test_a_reload_before_ready_does_not_announce_ready(world: World,
                                                             tmp_path: Path) -> None:
    """READY=1 means protected (the first reconcile read, the first plan's placements
    answered): a SIGHUP (or a rule file touched) while still starting must not send it."""
    trader = world.trader()
    await world.open(trader, "ETH", Side.BID, "1")
    await faults(world, latency_ms=400)  # a slow REST API: the start takes seconds
    messages: list[str] = []
    with notify_socket(tmp_path / "notify.sock") as sock:
        daemon = world.daemon(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
        daemon.start()
        err = tmp_path / f"daemon-{daemon.runs}.err"
        await eventually(lambda: "daemon.starting" in err.read_text(errors="replace"), 10,
                         "the daemon loading", every=0.02, daemon=daemon)
        await asyncio.sleep(0.2)  # its signal handlers are in place
        daemon.signal(signal.SIGHUP)

        def ready_heard() -> bool:
            messages.extend(received(sock))
            return any("READY=1" in m.split("\n") for m in messages)

        await eventually(ready_heard, 15, "READY=1", every=0.02, daemon=daemon)
        assert world.covered(), ("READY=1 before the position was protected", messages)
        await faults(world, reset=True)
        assert await daemon.stop() == 0
