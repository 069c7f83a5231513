"""systemd's watchdog (sd_watchdog_enabled(3)): `WATCHDOG=1` every half of $WATCHDOG_USEC, sent
from a task on the daemon's event loop, and only while the daemon does its job.

A ping proves three things, or it is not sent:
- the loop turns: the ping is sent by a task on it, so a wedged loop (a blocking call, a busy
  callback) sends nothing and systemd's SIGABRT ends it;
- prices arrive: the stream's last frame is younger than `stale_after`, or the documented
  degraded mode (prices polled over REST) is itself making progress;
- the order worker is alive and moving: its task has not ended, and it is idle or a request
  ended recently.
Each is a named check returning None when healthy or a short reason; the first reason that
appears is logged once (and again when it changes), so the journal says why systemd restarted
the daemon. A missed watchdog costs a restart, never protection: resting stops stay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog

from daemon.notify import Notifier

log = structlog.get_logger(__name__)

Check = Callable[[], str | None]  # None: healthy; else why not


class Progressing(Protocol):
    """What the watchdog reads of the submitter (daemon.submitter.Submitter)."""

    @property
    def idle(self) -> bool: ...

    @property
    def last_progress(self) -> float: ...


def feed_fresh(age: Callable[[], float | None], stale_after: float, *,
               degraded_ok: Callable[[], bool] = lambda: False,
               clock: Callable[[], float] = time.monotonic) -> Check:
    """Healthy while the last price frame is younger than `stale_after`, or while the degraded
    mode makes progress (`degraded_ok`). Before any frame, `stale_after` of grace from now."""
    started = clock()

    def check() -> str | None:
        seconds = age()
        if seconds is None:
            seconds = clock() - started
        if seconds <= stale_after or degraded_ok():
            return None
        return f"no price frame for {seconds:.0f} s and the REST fallback makes no progress"
    return check


def submitter_moving(submitter: Progressing, stall_after: float, *,
                     clock: Callable[[], float] = time.monotonic) -> Check:
    """Healthy while the submitter is idle or a request of its ended within `stall_after`
    (longer than the longest wait it may be told to keep: a 429's 60 s)."""
    def check() -> str | None:
        if submitter.idle:
            return None
        quiet = clock() - submitter.last_progress
        if quiet <= stall_after:
            return None
        return f"the order worker has work and no request ended for {quiet:.0f} s"
    return check


def task_alive(task: asyncio.Task[object], name: str) -> Check:
    """Healthy while `task` runs: a worker that died must not be covered by the others."""
    def check() -> str | None:
        return f"the {name} task ended" if task.done() else None
    return check


class Watchdog:
    def __init__(self, notifier: Notifier, checks: Mapping[str, Check]) -> None:
        self._notifier = notifier
        self._checks = dict(checks)
        self.withheld: str | None = None  # why the last ping was not sent; None: it was
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self._notifier.watchdog_interval is not None

    def problem(self) -> str | None:
        for name, check in self._checks.items():
            reason = check()
            if reason is not None:
                return f"{name}: {reason}"
        return None

    def beat(self) -> bool:
        """One turn: ping if healthy; True if it pinged."""
        problem = self.problem()
        if problem is None:
            if self.withheld is not None:
                log.info("watchdog.resumed", after=self.withheld)
            self.withheld = None
            self._notifier.watchdog()
            self.pings += 1
            return True
        if problem != self.withheld:
            log.warning("watchdog.withheld", reason=problem)
        self.withheld = problem
        return False

    async def run(self) -> None:
        """Beat every half of $WATCHDOG_USEC until cancelled; return at once without one."""
        interval = self._notifier.watchdog_interval
        if interval is None:
            return
        while True:
            self.beat()
            await asyncio.sleep(interval)
