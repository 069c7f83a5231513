"""Issue 12 end to end: `stopd run` against the simulator exports every metric with its
documented meaning (scraped over HTTP), POSTs webhook alerts (never the key), and sends
WATCHDOG=1 at half of WATCHDOG_USEC on a real notify socket."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from service_support import (
    World,
    eventually,
    free_port,
    notify_socket,
    received,
    secret_text,
)

from daemon.domain import Side
from daemon.sim.requests import CancelRequest


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[bytes]]]:
    documents: list[dict[str, Any]] = []
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        bodies.append(body)
        documents.append(json.loads(body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", documents, bodies
    await runner.cleanup()


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def faults(world: World, **fields: Any) -> None:
    async with httpx.AsyncClient() as control:
        (await control.post(f"{world.sim.root_url}/sim/faults", json=fields)).raise_for_status()


async def test_metrics_alerts_and_watchdog_during_a_run(
        world: World, tmp_path: Path,
        hook: tuple[str, list[dict[str, Any]], list[bytes]]) -> None:
    url, documents, bodies = hook
    port = free_port()
    world.config.write_text(world.config.read_text().replace(
        "metrics: off", f"metrics: 127.0.0.1:{port}")
        + f"alerts:\n  webhook: {url}\nbare_alert_after: 1s\n")
    scrape_url = f"http://127.0.0.1:{port}/metrics"
    account = world.accounts[0].owner

    async def scrape() -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(scrape_url, timeout=5)).text

    with notify_socket(tmp_path / "n.sock") as sock:
        daemon = world.daemon(env={"NOTIFY_SOCKET": str(tmp_path / "n.sock"),
                                   "WATCHDOG_USEC": "1000000"})
        daemon.start()
        trader = world.trader()
        await world.open(trader, "BTC", Side.BID, "0.01")
        await world.open(trader, "ETH", Side.ASK, "1")
        await eventually(world.covered, 8, "covered at start", daemon=daemon)
        await daemon.ready()
        received(sock)
        await asyncio.sleep(2.2)
        pings = [m for m in received(sock) if m == "WATCHDOG=1"]
        assert 3 <= len(pings) <= 6, pings  # every 0.5 s
        # Frozen (the whole process, from outside): no ping until it runs again.
        daemon.signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(0.2)
            received(sock)
            await asyncio.sleep(1.5)
            assert "WATCHDOG=1" not in received(sock)
        finally:
            daemon.signal(signal.SIGCONT)
        await eventually(lambda: "WATCHDOG=1" in received(sock), 3, "pings again",
                         daemon=daemon)

        # A price frame that moves the trailing stop: its request is timed from the frame.
        await world.sim.set_prices({"BTC": Decimal(61_000)})
        await eventually(lambda: Decimal(59_400) not in
                         [Decimal(s["stop_price"]) for s in world.our_stops()], 5,
                         "the BTC stop trailed", daemon=daemon)
        text = ""

        async def covered_in_metrics() -> bool:
            nonlocal text
            text = await scrape()
            return sample(text, "stopd_positions", account=account, state="covered") == 2

        await eventually(covered_in_metrics, 5, "2 covered in the metrics", daemon=daemon)
        assert sample(text, "stopd_positions", account=account, state="bare") == 0
        assert sample(text, "stopd_positions", account=account, state="unruled") == 0
        assert sample(text, "stopd_bare_seconds") == 0
        assert (sample(text, "stopd_frame_to_request_seconds_count") or 0) >= 1
        assert (sample(text, "stopd_request_seconds_count", endpoint="/orders/stop/create")
                or 0) >= 2
        assert (sample(text, "stopd_actions_total", kind="place", outcome="placed") or 0) >= 2
        assert (sample(text, "stopd_actions_total", kind="move", outcome="placed") or 0) >= 1
        assert (sample(text, "stopd_credits_remaining", account=account) or 0) > 0
        assert (sample(text, "stopd_rules_loaded_timestamp_seconds") or 0) > 1.7e9
        assert (sample(text, "stopd_feed_age_seconds", channel="prices") or 99) < 6
        assert sample(text, "stopd_degraded") == 0
        assert sample(text, "stopd_reload_failures_total") == 0

        # Cancelled by hand while the exchange answers every request with a 500: bare until
        # it is put back. The simulator runs in this loop, so the cancel and the fault land
        # in one step: the daemon cannot put the stop back in between.
        eth = next(s for s in world.our_stops() if s["symbol"] == "ETH")
        world.sim.faults.update({"error_rate": 1.0})
        world.sim.exchange.cancel(account, CancelRequest("ETH", eth["order_id"], None),
                                  world.sim.now_ms(), stop=True)
        world.sim.flush()

        async def bare_in_metrics() -> bool:
            nonlocal text
            text = await scrape()
            return sample(text, "stopd_positions", account=account, state="bare") == 1

        await eventually(bare_in_metrics, 5, "the position bare in the metrics", daemon=daemon)
        await eventually(lambda: any(d["event"] == "bare" for d in documents), 5,
                         "the bare webhook alert", daemon=daemon)
        assert (sample(await scrape(), "stopd_bare_seconds") or 0) >= 1
        await faults(world, reset=True)
        await eventually(world.covered, 10, "put back", daemon=daemon)
        await eventually(covered_in_metrics, 5, "covered again in the metrics", daemon=daemon)
        assert sample(text, "stopd_bare_seconds") == 0

        # A broken rule file: the reload failure is counted and posted.
        world.rules.write_text("version: 1\nrules: [\n")
        daemon.signal(signal.SIGHUP)

        async def reload_failed() -> bool:
            nonlocal text
            text = await scrape()
            return sample(text, "stopd_reload_failures_total") == 1

        await eventually(reload_failed, 5, "the failed reload counted", daemon=daemon)
        await eventually(lambda: any(d["event"] == "reload_failed" for d in documents), 5,
                         "the reload_failed webhook alert", daemon=daemon)

        # The short's stop fires: the webhook hears of it.
        await world.sim.set_prices({"ETH": Decimal(3_200)})
        await eventually(lambda: any(d["event"] == "stop_fired" for d in documents), 5,
                         "the stop_fired webhook alert", daemon=daemon)
        assert await daemon.stop() == 0

    fired = next(d for d in documents if d["event"] == "stop_fired")
    assert (fired["account"], fired["symbol"], fired["side"]) == (account, "ETH", "short")
    bare = next(d for d in documents if d["event"] == "bare")
    assert (bare["account"], bare["symbol"], bare["side"]) == (account, "ETH", "short")
    assert set(bare) == {"event", "account", "symbol", "side", "detail", "at"}
    key = secret_text(world.accounts[0].key)
    everything = b"".join(bodies).decode() + text
    assert key not in everything
    assert key[:44] not in everything


async def test_watchdog_stops_when_no_price_arrives_by_any_way(world: World,
                                                               tmp_path: Path) -> None:
    # Issue 12: pings only while prices arrive, on the stream or (degraded) over REST. With the
    # stream stalled and every REST answer a 500 the daemon protects nothing new: systemd must
    # be told, by the pings stopping. When REST answers again the degraded mode works and
    # they resume (the stalled stream itself is replaced later, by the feed's silence limit).
    with notify_socket(tmp_path / "w.sock") as sock:
        daemon = world.daemon(env={"NOTIFY_SOCKET": str(tmp_path / "w.sock"),
                                   "WATCHDOG_USEC": "1000000"})
        daemon.start()
        await world.open(world.trader(), "BTC", Side.BID, "0.01")
        await eventually(world.covered, 8, "covered at start", daemon=daemon)
        await daemon.ready()
        await faults(world, stall_ws=True, error_rate=1.0)

        # Stale after 6 s; the REST fallback counts as working for 30 s after its last
        # success (three poll intervals), which was at most at the daemon's start.
        deadline = asyncio.get_running_loop().time() + 45
        while True:
            received(sock)
            await asyncio.sleep(1.5)
            if "WATCHDOG=1" not in received(sock):  # silent for three ping intervals
                break
            assert asyncio.get_running_loop().time() < deadline, "pings never stopped"
        assert daemon.running  # degraded and saying so, not dead
        await faults(world, reset=True)
        await eventually(lambda: "WATCHDOG=1" in received(sock), 25,
                         "pings resume once REST prices arrive", daemon=daemon)
        assert await daemon.stop() == 0
