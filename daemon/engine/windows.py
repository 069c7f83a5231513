"""Time-scheduled windows: is one active at `now`, and when does that next change?

A window is active iff some cron fire time t satisfies now - duration < t <= now. APScheduler
3.x's `CronTrigger.get_next_fire_time(None, start)` returns the first fire time >= start
(rounded up to the second) in the trigger's own time zone, and reads no clock when the
trigger has no start_date, so it is pure here. Fire times are whole seconds, so starting the
search one microsecond after now - duration makes the lower bound strict.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from daemon.rules.spec import Window

_TICK = timedelta(microseconds=1)


@lru_cache(maxsize=256)
def _trigger(cron: str, timezone: str) -> Any:
    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))


def _next_fire(window: Window, start: datetime) -> datetime | None:
    fire: datetime | None = _trigger(window.cron, window.timezone).get_next_fire_time(None, start)
    return fire


def active_since(window: Window, now: datetime) -> datetime | None:
    """The latest-starting occurrence still running at `now`, or None if inactive."""
    fire = _next_fire(window, now - window.duration + _TICK)
    if fire is None or fire > now:
        return None
    latest = fire
    while True:  # overlapping occurrences (duration longer than the period) extend the window
        following = _next_fire(window, latest + _TICK)
        if following is None or following > now:
            return latest
        latest = following


def is_active(window: Window, now: datetime) -> bool:
    return active_since(window, now) is not None


def next_change(window: Window, now: datetime) -> datetime | None:
    """The next time after `now` at which the window may start or end."""
    following = _next_fire(window, now + _TICK)
    started = active_since(window, now)
    candidates = [t for t in (following, started + window.duration if started else None)
                  if t is not None]
    return min(candidates) if candidates else None
