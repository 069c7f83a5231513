"""Webhook alerts against a real HTTP receiver on a loopback port."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from daemon.alerts import Alerts, Webhook
from daemon.domain import PositionKey, Side
from daemon.keys import load_keypair
from daemon.metrics import BareStretches
from daemon.pacifica.retry import RetryPolicy
from daemon.settings import KeySource

ACCOUNT = "42trU9A5nfMxaz7k2AeWmDbfQ1rvxoKAf5vdqf6XBDVV"
BTC = PositionKey("BTC", Side.BID, 1)
ETH = PositionKey("ETH", Side.ASK, 2)
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02)
NOON = datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=UTC)
# A key of the daemon's own, loaded the way the daemon loads it (which registers it).
SECRET = "4Z7cXSyeFR8wNGMVXUE1TwtKn5D5Vu7FzEv69dokLv7K"


class Receiver:
    """Answers each POST with the next status of `statuses` (then 200), after `delay` s."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{token}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook/T0KEN-in-the-url"
    yield found
    await runner.cleanup()


async def running(alerts: Alerts, until: Callable[[], bool]) -> None:
    """Run the alerts' task until `until()` holds, then stop it."""
    task = asyncio.create_task(alerts.run())
    try:
        deadline = time.monotonic() + 5
        while not until():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)
        assert alerts.webhook is not None
        await alerts.webhook.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await alerts.aclose()


async def test_the_documented_documents_arrive(receiver: Receiver) -> None:
    alerts = Alerts(Webhook(receiver.url, policy=FAST), wall=lambda: NOON)
    alerts.stop_fired(ACCOUNT, BTC, "stop at 60000 filled")
    alerts.rejected(ACCOUNT, ETH, "Stop price must be above mark price")
    alerts.reload_failed("rules/a.yaml:3:5: stop.distance: expected a percentage")
    await running(alerts, lambda: len(receiver.bodies) == 3)
    at = "2026-11-29T12:00:00.123Z"
    assert receiver.documents() == [
        {"event": "stop_fired", "account": ACCOUNT, "symbol": "BTC", "side": "long",
         "detail": "stop at 60000 filled", "at": at},
        {"event": "rejected", "account": ACCOUNT, "symbol": "ETH", "side": "short",
         "detail": "Stop price must be above mark price", "at": at},
        {"event": "reload_failed", "account": "", "symbol": None, "side": None,
         "detail": "rules/a.yaml:3:5: stop.distance: expected a percentage", "at": at},
    ]


async def test_the_receiver_never_sees_a_registered_key(receiver: Receiver) -> None:
    keypair = load_keypair(KeySource("env", "K"), {"K": SECRET})
    alerts = Alerts(Webhook(receiver.url, policy=FAST))
    # An exchange error echoing what it was sent, say: the key must not travel on.
    alerts.rejected(ACCOUNT, BTC, f"bad signature for {SECRET}")
    alerts.stop_fired(SECRET, BTC, repr(keypair))
    await running(alerts, lambda: len(receiver.bodies) == 2)
    everything = b"".join(receiver.bodies).decode()
    for encoding in keypair.secret_encodings():
        assert encoding not in everything
    assert "[REDACTED]" in receiver.documents()[0]["detail"]


async def test_transient_failures_are_retried_then_delivered_once(receiver: Receiver) -> None:
    receiver.statuses = [503, 429]
    webhook = Webhook(receiver.url, policy=FAST)
    alerts = Alerts(webhook)
    alerts.reload_failed("x")
    await running(alerts, lambda: webhook.sent == 1)
    assert len(receiver.bodies) == 3
    assert (webhook.sent, webhook.failed) == (1, 0)


async def test_a_refusal_is_not_retried_and_a_dead_receiver_is_given_up(
        receiver: Receiver) -> None:
    receiver.statuses = [400]
    webhook = Webhook(receiver.url, policy=FAST)
    alerts = Alerts(webhook)
    alerts.reload_failed("x")
    await running(alerts, lambda: webhook.failed == 1)
    assert len(receiver.bodies) == 1

    dead = Webhook("http://127.0.0.1:9/hook/T0KEN-in-the-url", policy=FAST)
    alerts = Alerts(dead)
    with capture_logs() as logs:
        alerts.reload_failed("x")
        alerts.reload_failed("y")
        await running(alerts, lambda: dead.failed == 2)
    assert dead.sent == 0
    failures = [entry for entry in logs if entry["event"] == "alerts.failed"]
    assert [entry["attempts"] for entry in failures] == [4, 4]
    assert "T0KEN" not in repr(logs)  # a token in the URL never reaches a log line
    assert failures[0]["webhook"] == "127.0.0.1"


async def test_the_queue_is_bounded_and_the_loop_never_waits(receiver: Receiver) -> None:
    receiver.delay = 0.5  # a slow receiver
    webhook = Webhook(receiver.url, capacity=3, policy=FAST)
    alerts = Alerts(webhook)
    task = asyncio.create_task(alerts.run())
    try:
        alerts.reload_failed("first")  # taken by the sender at once
        await asyncio.sleep(0.05)
        started = time.monotonic()
        for n in range(10):
            alerts.reload_failed(f"more {n}")
        assert time.monotonic() - started < 0.05  # queueing never waits on the receiver
        assert webhook.dropped == 7  # 3 queued behind the one in flight
        # The loop keeps turning while a POST is in flight.
        lags = []
        for _ in range(20):
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before)
        assert max(lags) < 0.2
        await webhook.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await alerts.aclose()
    assert [d["detail"] for d in receiver.documents()] == ["first", "more 0", "more 1", "more 2"]


def test_a_bare_stretch_alerts_once_past_its_delay() -> None:
    sent: list[dict[str, str | None]] = []

    class Collect(Webhook):
        def put(self, document: dict[str, str | None]) -> bool:
            sent.append(document)
            return True

    alerts = Alerts(Collect("http://127.0.0.1:9/"), bare_after=timedelta(seconds=30))
    alerts.check_bare(ACCOUNT, {BTC: 100.0}, now=129.0)
    assert sent == []
    alerts.check_bare(ACCOUNT, {BTC: 100.0, ETH: 120.0}, now=131.0)
    alerts.check_bare(ACCOUNT, {BTC: 100.0, ETH: 120.0}, now=140.0)  # not again
    assert [(d["event"], d["symbol"], d["detail"]) for d in sent] == [
        ("bare", "BTC", "no resting stop for 31 s")]
    alerts.check_bare(ACCOUNT, {ETH: 120.0}, now=150.0)  # BTC covered again; ETH now 30 s
    alerts.check_bare(ACCOUNT, {BTC: 200.0, ETH: 120.0}, now=231.0)  # a new BTC stretch
    assert [d["symbol"] for d in sent] == ["BTC", "ETH", "BTC"]


async def test_bare_stretches_are_watched_from_the_metrics(receiver: Receiver) -> None:
    stretches = BareStretches()
    stretches.update(ACCOUNT, {BTC}, time.monotonic())
    alerts = Alerts(Webhook(receiver.url, policy=FAST), stretches=stretches,
                    bare_after=timedelta(milliseconds=100))
    await running(alerts, lambda: len(receiver.bodies) == 1)
    (document,) = receiver.documents()
    assert (document["event"], document["account"], document["symbol"], document["side"]) == (
        "bare", ACCOUNT, "BTC", "long")


def test_without_a_webhook_nothing_happens() -> None:
    alerts = Alerts(None)
    alerts.stop_fired(ACCOUNT, BTC)
    alerts.reload_failed("x")
    alerts.check_bare(ACCOUNT, {BTC: 0.0}, now=100.0)
