"""Time-scheduled windows: is one active at `now`, and when may that next change?

A window is active iff some cron fire time t satisfies now - duration < t <= now. The duration
is elapsed time, so across a DST change a window ends an hour later or earlier on the wall
clock than a naive reading of `cron + duration` suggests. APScheduler
3.x's `CronTrigger.get_next_fire_time(None, start)` returns the first fire time >= start
(rounded up to the second) in the trigger's own time zone, and reads no clock when the
trigger has no start_date, so it is pure here. Fire times are whole seconds, so starting the
search one microsecond after now - duration makes the lower bound strict.

The answer depends only on (cron, time zone, duration, now), and every position under one
rule asks the same question within one evaluation, so it is cached.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from daemon.rules.spec import Window

_TICK = timedelta(microseconds=1)


@lru_cache(maxsize=256)
def _trigger(cron: str, timezone: str) -> Any:
    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))


def _next_fire(cron: str, timezone: str, start: datetime) -> datetime | None:
    fire: datetime | None = _trigger(cron, timezone).get_next_fire_time(None, start)
    return fire


@lru_cache(maxsize=1024)
def _state(cron: str, timezone: str, duration: timedelta, now: datetime
           ) -> tuple[datetime | None, datetime | None]:
    """(start of the first running occurrence or None, next time of interest)."""
    first = _next_fire(cron, timezone, now - duration + _TICK)
    if first is not None and first <= now:
        # Active. It lasts at least until the first running occurrence ends; later ones may
        # extend it, which the evaluation at that time will find (an early look is harmless,
        # a late one is not, and this avoids walking every fire of a frequent cron).
        # A duration is elapsed time: adding it to the zone-aware fire time would be wall-clock
        # arithmetic, an hour off across a DST change (`now - duration` above is absolute).
        return first, first.astimezone(UTC) + duration
    return None, _next_fire(cron, timezone, now + _TICK)


def is_active(window: Window, now: datetime) -> bool:
    return _state(window.cron, window.timezone, window.duration, now)[0] is not None


def opened_at(window: Window, now: datetime) -> datetime | None:
    """When the occurrence running at `now` started (None: the window is closed)."""
    return _state(window.cron, window.timezone, window.duration, now)[0]


def next_change(window: Window, now: datetime) -> datetime | None:
    """A time after `now` no later than the window's next start or end (None: never)."""
    return _state(window.cron, window.timezone, window.duration, now)[1]
