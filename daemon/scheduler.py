"""The daemon's timed work on APScheduler 3.x, inside the daemon's own event loop.

Every job is an `async def` run as a task on the loop (AsyncIOExecutor), so jobs share the
book with the watchers without locks or threads. A job that raises is logged with its
traceback and counted (`errors`, `last_error`, shown in status), never silently dropped; a
run skipped because the previous one is still going is logged too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = structlog.get_logger(__name__)

Job = Callable[..., Awaitable[None]]


class Scheduler:
    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_listener(
            self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        """Start on the running loop (call from inside it)."""
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def every(self, seconds: float, job: Job, *args: Any, job_id: str) -> None:
        self._scheduler.add_job(job, "interval", args=args, seconds=seconds, id=job_id,
                                replace_existing=True, coalesce=True, max_instances=1,
                                misfire_grace_time=None)

    def soon(self, job: Job, *args: Any, job_id: str) -> None:
        """Run once now; several requests before it starts coalesce into one run, and one
        made while it runs gets its own run after (max_instances 2)."""
        self._scheduler.add_job(job, "date", args=args, run_date=datetime.now(UTC), id=job_id,
                                replace_existing=True, max_instances=2,
                                misfire_grace_time=None)

    def at(self, when: datetime, job: Job, *args: Any, job_id: str) -> None:
        self._scheduler.add_job(job, "date", args=args, run_date=when, id=job_id,
                                replace_existing=True, max_instances=2,
                                misfire_grace_time=None)

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            exc = event.exception
            if isinstance(exc, asyncio.CancelledError):
                return  # cancelled at shutdown: not a failure
            self.errors += 1
            self.last_error = f"{event.job_id}: {type(exc).__name__}: {exc}"[:300]
            log.error("job.failed", job=event.job_id, error=self.last_error, exc_info=exc)
        else:
            log.warning("job.skipped", job=event.job_id,
                        why="missed" if event.code == EVENT_JOB_MISSED else "still running")
