"""`stopd plan` prints each position's rule, stops and action and sends nothing; `--dry-run`
sends nothing over a whole run (and still says READY); `stopd status` reads the running
daemon's snapshot."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path

from service_support import RULES, World, eventually, notify_socket, received, stopd
from test_faults import faults

from daemon.domain import Side
from daemon.sim.requests import CancelRequest


async def test_plan_and_dry_run_send_nothing(world: World, tmp_path: Path) -> None:
    trader = world.trader()
    await world.open(trader, "BTC", Side.BID, "0.01")
    await world.open(trader, "ETH", Side.ASK, "1")
    history = world.order_log()

    code, out, err = await stopd("plan", "--config", str(world.config), "--json")
    assert code == 0, err
    document = json.loads(out)  # only the JSON document on stdout
    [account] = document["accounts"]
    rows = {p["symbol"]: p for p in account["positions"]}
    assert rows["BTC"]["rule"] == "btc-longs"
    assert rows["ETH"]["rule"] == "everything-else"
    assert rows["BTC"]["desired"][0]["stop_price"] == "59400"
    assert "place stop" in rows["BTC"]["actions"][0]["reason"]
    code, text, err = await stopd("plan", "--config", str(world.config))
    assert code == 0, err
    assert "btc-longs" in text
    assert "place stop" in text
    assert world.order_log() == history

    with notify_socket(tmp_path / "n.sock") as sock:
        daemon = world.daemon("--dry-run", env={"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        daemon.start()
        heard: list[str] = []
        await eventually(lambda: bool(heard.extend(received(sock)))
                         or any(m.startswith("READY=1") for m in heard), 10,
                         "READY=1 in a dry run", daemon=daemon)
        await world.sim.set_prices({"BTC": Decimal(60_500)})
        await asyncio.sleep(1.5)
        assert world.order_log() == history
        assert "dry_run" in daemon.output()
        assert await daemon.stop() == 0


async def test_status_of_a_running_daemon(world: World) -> None:
    trader = world.trader()
    await world.open(trader, "BTC", Side.BID, "0.01")
    code, _, err = await stopd("status", "--config", str(world.config))
    assert code == 1
    assert "no status" in err
    daemon = world.daemon()
    daemon.start()
    await eventually(world.covered, 8, "covered", daemon=daemon)

    async def snapshot_shows_stop() -> bool:
        code, out, _ = await stopd("status", "--config", str(world.config), "--json")
        if code != 0:
            return False
        status = json.loads(out)
        positions = status["accounts"][0]["positions"]
        return bool(positions and positions[0]["stops"])

    await eventually(snapshot_shows_stop, 10, "status shows the stop", every=0.5, daemon=daemon)
    code, out, _ = await stopd("status", "--config", str(world.config), "--json")
    status = json.loads(out)
    [account] = status["accounts"]
    [position] = account["positions"]
    assert position["rule"] == "btc-longs"
    assert position["bare"] is False
    assert position["stops"][0]["stop_price"] == "59400"
    assert position["stops"][0]["distance_pct"] == "1.00"
    assert account["stale"] is False
    assert account["feed_age_s"] is not None
    assert status["degraded"] is False
    # The daemon's own API key buys 300 credits a minute; placing the stop spent some.
    assert account["credits_quota"] == "300"
    assert Decimal(account["credits_remaining"]) < 300
    code, text, _ = await stopd("status", "--config", str(world.config))
    assert code == 0
    [row] = [line.split() for line in text.splitlines() if line.startswith("  BTC ")]
    assert [Decimal(v) for v in (row[2], row[3], row[4], row[7], row[9])] == [
        Decimal("0.01"), 60_000, 60_000, 59_400, Decimal("0.01")]
    assert row[:2] + row[5:7] + row[8:9] + row[10:] == [
        "BTC", "long", "btc-longs", "sl", "x", "1.00%", "protected"]
    assert re.search(r"credits: +[\d.]+ of 300 left", text), text
    assert "last error:  none" in text
    assert await daemon.stop() == 0


async def test_a_position_whose_stop_is_gone_is_bare_though_its_take_profit_rests(
        world: World) -> None:
    """A take-profit is no protection: a position whose stop is gone while its take-profit
    rests shows as bare in status (and its stop goes back at the priority of a bare one)."""
    world.rules.write_text(RULES.replace("stop_loss: 3%", "stop_loss: 3%\n    take_profit: 8%"))
    trader = world.trader()
    await world.open(trader, "ETH", Side.BID, "1")
    daemon = world.daemon()
    daemon.start()
    await eventually(lambda: len(world.our_stops()) == 2 and world.covered(), 8,
                     "the stop and the take-profit rest", daemon=daemon)
    account = world.accounts[0].owner
    stop = next(s for s in world.our_stops() if s["stop_price"] is not None)
    # Cancelled by hand while the exchange answers every request with a 500: the simulator
    # runs in this loop, so the daemon cannot put it back in between.
    world.sim.faults.update({"error_rate": 1.0})
    world.sim.exchange.cancel(account, CancelRequest("ETH", stop["order_id"], None),
                              world.sim.now_ms(), stop=True)
    world.sim.flush()
    assert not world.covered()

    async def bare() -> bool:
        code, out, _ = await stopd("status", "--config", str(world.config), "--json")
        if code != 0:
            return False
        [position] = json.loads(out)["accounts"][0]["positions"]
        return position["bare"] is True

    await eventually(bare, 8, "status shows the position bare", every=0.5, daemon=daemon)
    await faults(world, reset=True)
    await eventually(world.covered, 10, "the stop put back", daemon=daemon)
    assert await daemon.stop() == 0
