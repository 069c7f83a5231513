"""What the running service shows the outside: Prometheus metrics (daemon.metrics) and webhook
alerts (daemon.alerts), fed from the service's accounts through a handful of hooks, so
daemon.service stays about the loop itself (the watchdog is the service's own).

The service calls, in this order of life:
    ops = Operations(settings)                   # before the accounts are built
    PacificaRest(..., http_transport=ops.transport())   # request timings
    ops.start(accounts)                          # metrics server, feed ages, alert task
    ops.tick(accounts)                           # every second: positions, credits, degraded
    ops.reloaded(problems or None)               # after every reload
    await ops.close()                            # on the way out
and `start` sets each Account's hooks (on_submit, on_order_update, on_action) to
`submitted`, `order_update` and `action_result`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence

import httpx
import structlog

from daemon import ids
from daemon.account import Account, action_position
from daemon.alerts import Alerts, Webhook
from daemon.domain import PositionKey, Side
from daemon.engine import Action
from daemon.journal import journal_id, journal_name
from daemon.metrics import Metrics
from daemon.pacifica.feed import Channel
from daemon.pacifica.models import OrderEvent, OrderUpdate
from daemon.settings import Settings
from daemon.submitter import ActionResult

log = structlog.get_logger(__name__)

PLANNED_KEPT = 1000  # client_order_ids waiting for their request, for frame_to_request


class TimedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, timing each request to its answer's headers, by endpoint."""

    def __init__(self, on_request: Callable[[httpx.Request], None],
                 on_answer: Callable[[str, float], None],
                 inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._on_request = on_request
        self._on_answer = on_answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._on_request(request)
        started = time.monotonic()
        try:
            return await self._inner.handle_async_request(request)
        finally:
            self._on_answer(_endpoint(request.url.path), time.monotonic() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _endpoint(path: str) -> str:
    """`/api/v1/orders/stop/create` -> `/orders/stop/create`: a bounded label, no ids."""
    _, marker, rest = path.partition("/api/v1")
    return rest if marker and rest else path


def _client_order_id(request: httpx.Request) -> str | None:
    """The client_order_id a signed write carries (top level, or in its stop_order)."""
    if request.method != "POST":
        return None
    try:
        body = json.loads(request.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for part in (body, body.get("stop_order")):
        if isinstance(part, dict) and isinstance(part.get("client_order_id"), str):
            return str(part["client_order_id"])
    return None


class Operations:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        webhook = None if settings.alerts is None else Webhook(settings.alerts.webhook)
        self.alerts = Alerts(webhook, stretches=self.metrics.stretches,
                             bare_after=settings.bare_alert_after)
        self.address: tuple[str, int] | None = None  # where metrics are served, once they are
        self._planned: dict[str, float] = {}  # client_order_id -> its price frame's arrival
        self._alert_task: asyncio.Task[None] | None = None

    # -- wiring ---------------------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        return TimedTransport(self._request_leaving, self.metrics.observe_request)

    def start(self, accounts: Sequence[Account]) -> None:
        if self.settings.metrics is not None:
            self.address = self.metrics.serve(self.settings.metrics)
            log.info("metrics.serving", host=self.address[0], port=self.address[1])
        for account in accounts:
            for channel in Channel:
                self.metrics.feed_age(channel.value, _age_of(account, channel))
            account.on_submit = self.submitted
            account.on_order_update = self.order_update
            account.on_action = self.action_result
        self.metrics.rules_loaded()
        self._alert_task = asyncio.get_running_loop().create_task(self.alerts.run(),
                                                                 name="alerts")
        self._alert_task.add_done_callback(_report_end)

    async def close(self) -> None:
        if self._alert_task is not None:
            self._alert_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._alert_task
        await self.alerts.aclose()
        self.metrics.close()

    # -- what the service reports ---------------------------------------------------------------

    def tick(self, accounts: Sequence[Account]) -> None:
        """Every second or so: positions by state, credits, a stale price stream."""
        now = time.monotonic()
        for account in accounts:
            if account.evaluation is not None:
                covered, bare, unruled = classify(account)
                self.metrics.positions(account.address, covered=covered, bare=bare,
                                       unruled=unruled)
            self.metrics.credits(account.address, account.budget.remaining(now))
        self.metrics.degraded(any(account.stale() for account in accounts))

    def reloaded(self, problems: Sequence[str] | None) -> None:
        if problems is None:
            self.metrics.rules_loaded()
            return
        self.metrics.reload_failed()
        self.alerts.reload_failed("; ".join(problems[:5]) or "the rules do not load")

    # -- account hooks ----------------------------------------------------------------------

    def submitted(self, account: Account, actions: Sequence[Action]) -> None:
        """Actions were handed to the submitter: remember the price frame they were planned
        from, so the request carrying each can be timed from it (frame_to_request)."""
        age = account.feed.age(Channel.PRICES)
        if age is None or age > self.settings.stale_after.total_seconds():
            return  # not planned from a live frame
        frame_at = time.monotonic() - age
        for action in actions:
            self._planned[journal_id(action)] = frame_at
        while len(self._planned) > PLANNED_KEPT:
            del self._planned[next(iter(self._planned))]

    def _request_leaving(self, request: httpx.Request) -> None:
        cloid = _client_order_id(request)
        frame_at = None if cloid is None else self._planned.pop(cloid, None)
        if frame_at is not None:
            self.metrics.frame_to_request(time.monotonic() - frame_at)

    def action_result(self, account: Account, result: ActionResult) -> None:
        self.metrics.action(journal_name(result.action), result.outcome)
        if result.outcome == "rejected":
            self.alerts.rejected(account.address, action_position(result.action),
                                 result.detail)

    def order_update(self, account: Account, update: OrderUpdate) -> None:
        if update.event is not OrderEvent.STOP_TRIGGERED or update.client_order_id is None:
            return
        parsed = ids.parse(update.client_order_id)
        if parsed is None or parsed.account != ids.account_tag(account.address):
            return  # not ours: someone else's stop
        key = next((k for k in account.positions
                    if ids.position_tag(account.address, k) == parsed.position),
                   PositionKey(update.symbol, _position_side(update.side), 0))
        self.alerts.stop_fired(account.address, key,
                               f"stop {update.client_order_id} triggered at "
                               f"{update.stop_price if update.stop_price is not None else '?'}")


def _report_end(task: asyncio.Task[None]) -> None:
    """Alerts must not die in silence: a bug there is logged with its traceback."""
    if not task.cancelled() and task.exception() is not None:
        log.error("alerts.task_ended", exc_info=task.exception())


def classify(account: Account) -> tuple[int, set[PositionKey], int]:
    """(covered, bare, unruled): bare is a position a rule covers with no stop of ours
    resting, or one the engine cannot protect (its ERROR notice says why)."""
    results = account.evaluation.results if account.evaluation is not None else {}
    unstopped = account.bare()
    covered, bare, unruled = 0, set(), 0
    for key in account.positions:
        result = results.get(key)
        if result is None or result.rule is None:
            unruled += 1
        elif key in unstopped or result.unprotected:
            bare.add(key)
        else:
            covered += 1
    return covered, bare, unruled


def _position_side(order_side: Side) -> Side:
    # A stop that protects a long sells (ask).
    return Side.BID if order_side is Side.ASK else Side.ASK


def _age_of(account: Account, channel: Channel) -> Callable[[], float | None]:
    return lambda: account.feed.age(channel)
