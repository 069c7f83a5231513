"""Alerts without Prometheus: a small JSON document POSTed to the settings' `alerts.webhook`
when a stop fires, a position stays bare past `bare_alert_after`, an action is rejected or a
reload fails (docs/configuration.md, "Alerts").

    {"event": "bare", "account": "42trU9...", "symbol": "BTC", "side": "long",
     "detail": "no stop for 31 s", "at": "2026-11-29T03:00:00.123Z"}

`event` is one of stop_fired | bare | rejected | reload_failed; `symbol`, `side` (long or
short) and `detail` may be null; `account` is the public address ("" for a reload, which is
the whole daemon's); `at` is UTC.

An alert must never hurt what it reports on: `Alerts` methods only put the document on a
bounded queue (when it is full the new one is dropped and counted), and one task on the loop
sends them, each with a few retries and jittered backoff (daemon.pacifica.retry's policy).
Nothing in a document comes from a key: the fields are the strings named above, and every one
is scrubbed of registered secrets before it leaves. The URL itself may carry a token (Slack,
Discord), so it is registered as a secret too and logs name only its host.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import httpx
import structlog

from daemon.domain import PositionKey, Side
from daemon.logs import register_secret, scrub
from daemon.metrics import BareStretches
from daemon.pacifica.retry import RetryPolicy
from daemon.settings import DEFAULT_BARE_ALERT_AFTER

log = structlog.get_logger(__name__)

Event = Literal["stop_fired", "bare", "rejected", "reload_failed"]
Document = dict[str, str | None]

QUEUE_SIZE = 100
# Up to 5 tries over about half a minute: long enough for a receiver's restart, short enough
# that a dead receiver does not hold back the alerts behind it for long.
POLICY = RetryPolicy(attempts=5, base_delay=1.0, max_delay=15.0)
TIMEOUT_S = 5.0
CHECK_EVERY_S = 1.0  # how often bare stretches are compared with bare_alert_after


def side_name(side: Side) -> str:
    return "long" if side is Side.BID else "short"


class Webhook:
    """A bounded queue of documents and the task that POSTs them to one URL."""

    def __init__(self, url: str, *, capacity: int = QUEUE_SIZE, policy: RetryPolicy = POLICY,
                 timeout: float = TIMEOUT_S,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        register_secret(url)  # a token in the path or query must never reach a log line
        self._url = url
        self.host = urlsplit(url).hostname or "?"
        self._queue: asyncio.Queue[Document] = asyncio.Queue(maxsize=capacity)
        self._policy = policy
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport,
                                         follow_redirects=False)
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def put(self, document: Document) -> bool:
        """Queue `document` without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(document)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("alerts.dropped", webhook=self.host, alert=document.get("event"),
                        dropped=self.dropped, reason="queue full")
            return False
        return True

    @property
    def idle(self) -> bool:
        return self._queue.empty()

    async def run(self) -> None:
        """Send queued documents one after another, until cancelled."""
        while True:
            document = await self._queue.get()
            try:
                await self._deliver(document)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent or given up on."""
        await self._queue.join()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _deliver(self, document: Document) -> None:
        for attempt in range(1, self._policy.attempts + 1):
            failure = await self._post(document)
            if failure is None:
                self.sent += 1
                log.info("alerts.sent", webhook=self.host, alert=document.get("event"),
                         attempts=attempt)
                return
            final = failure.startswith("HTTP 4") and failure != "HTTP 429"
            if final or attempt == self._policy.attempts:
                break
            await self._policy.sleep(self._policy.backoff(attempt))
        self.failed += 1
        log.warning("alerts.failed", webhook=self.host, alert=document.get("event"),
                    attempts=attempt, error=failure)

    async def _post(self, document: Document) -> str | None:
        """None when the receiver took it; else a short reason that quotes no URL."""
        try:
            response = await self._client.post(self._url, json=document)
        except httpx.HTTPError as exc:
            return type(exc).__name__  # the message may hold the URL: its type only
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"


class Alerts:
    """What the service calls. Without a webhook every call does nothing."""

    def __init__(self, webhook: Webhook | None, *, stretches: BareStretches | None = None,
                 bare_after: timedelta = DEFAULT_BARE_ALERT_AFTER,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.webhook = webhook
        self._stretches = stretches
        self._bare_after = bare_after.total_seconds()
        self._clock = clock
        self._wall = wall
        self._told: dict[str, set[PositionKey]] = {}  # bare stretches already alerted

    def stop_fired(self, account: str, key: PositionKey, detail: str | None = None) -> None:
        self._send("stop_fired", account, key, detail)

    def rejected(self, account: str, key: PositionKey | None, detail: str | None) -> None:
        self._send("rejected", account, key, detail)

    def reload_failed(self, detail: str) -> None:
        self._send("reload_failed", "", None, detail)

    def check_bare(self, account: str, since: Mapping[PositionKey, float], now: float) -> None:
        """Alert once per bare stretch that has lasted `bare_alert_after`."""
        told = self._told.setdefault(account, set())
        told &= set(since)  # a stretch that ended may alert again when a new one starts
        for key, start in since.items():
            lasted = now - start
            if key not in told and lasted >= self._bare_after:
                told.add(key)
                self._send("bare", account, key, f"no resting stop for {lasted:.0f} s")

    async def run(self) -> None:
        """Send alerts and watch bare stretches, until cancelled."""
        async with asyncio.TaskGroup() as group:
            if self.webhook is not None:
                group.create_task(self.webhook.run())
            if self._stretches is not None and self.webhook is not None:
                group.create_task(self._watch_bare(self._stretches))

    async def _watch_bare(self, stretches: BareStretches) -> None:
        while True:
            now = self._clock()
            for account in stretches.accounts():
                self.check_bare(account, stretches.since(account), now)
            await asyncio.sleep(CHECK_EVERY_S)

    async def aclose(self) -> None:
        if self.webhook is not None:
            with contextlib.suppress(Exception):
                await self.webhook.aclose()

    def _send(self, event: Event, account: str, key: PositionKey | None,
              detail: str | None) -> None:
        if self.webhook is None:
            return
        at = self._wall().astimezone(UTC).isoformat(timespec="milliseconds")
        document: Document = {
            "event": event,
            "account": account,
            "symbol": None if key is None else key.symbol,
            "side": None if key is None else side_name(key.side),
            "detail": detail,
            "at": at.replace("+00:00", "Z"),
        }
        self.webhook.put({name: None if value is None else scrub(value)
                          for name, value in document.items()})
