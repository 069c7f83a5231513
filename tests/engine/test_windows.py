"""Windows: now - duration < fire <= now, in the window's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.engine.windows import is_active, next_change
from daemon.rules.spec import Components, Window


def window(cron: str, hours: float, tz: str = "UTC") -> Window:
    return Window("w", cron, tz, timedelta(hours=hours), Components())


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKEND = window("0 20 * * FRI", 52)  # Friday 20:00 to Monday 00:00


@pytest.mark.parametrize(("now", "active"), [
    ("2026-11-27T19:59:59", False),
    ("2026-11-27T20:00:00", True),  # a fire time at now counts
    ("2026-11-29T23:59:59", True),
    ("2026-11-30T00:00:00", False),  # fire + duration is already outside
    ("2026-11-25T12:00:00", False),
])
def test_bounds(now: str, active: bool) -> None:
    assert is_active(WEEKEND, utc(now)) is active


def test_next_change_is_start_or_end() -> None:
    assert next_change(WEEKEND, utc("2026-11-25T12:00:00")) == utc("2026-11-27T20:00:00")
    assert next_change(WEEKEND, utc("2026-11-28T12:00:00")) == utc("2026-11-30T00:00:00")


def test_time_zone_is_the_windows_own_across_dst() -> None:
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    berlin = window("0 9 * * *", 1, "Europe/Berlin")
    assert is_active(berlin, utc("2026-01-15T08:30:00"))
    assert not is_active(berlin, utc("2026-01-15T07:30:00"))
    assert is_active(berlin, utc("2026-07-15T07:30:00"))
    assert not is_active(berlin, utc("2026-07-15T08:30:00"))


def test_overlapping_occurrences_keep_it_active_and_are_looked_at_again_in_time() -> None:
    every_minute_for_two_days = window("* * * * *", 48)
    now = utc("2026-11-25T12:30:00")
    assert is_active(every_minute_for_two_days, now)
    # The first running occurrence (one fired at 12:31 two days ago) ends first: look again
    # then, without walking the 2,880 fires in between.
    change = next_change(every_minute_for_two_days, now)
    assert change == utc("2026-11-25T12:31:00")
    assert change is not None
    assert is_active(every_minute_for_two_days, change)


def test_a_window_is_inactive_until_its_next_fire() -> None:
    assert next_change(WEEKEND, utc("2026-11-30T00:00:00")) == utc("2026-12-04T20:00:00")


# A duration is elapsed time, not wall-clock time: 52 hours from Friday 20:00 Berlin end at
# Monday 00:00 on an ordinary weekend, at 01:00 when the clocks go forward in the night to
# Sunday (only 51 wall-clock hours pass by Monday 00:00), and at Sunday 23:00 when they go back.
BERLIN_WEEKEND = window("0 20 * * FRI", 52, "Europe/Berlin")


@pytest.mark.parametrize(("now", "active"), [
    ("2026-03-27T18:59:59", False),  # Friday 19:59:59 CET
    ("2026-03-27T19:00:00", True),   # Friday 20:00 CET opens it
    ("2026-03-29T22:59:59", True),   # Monday 00:59:59 CEST: 51h59m59s elapsed
    ("2026-03-29T23:00:00", False),  # Monday 01:00 CEST: 52 hours elapsed
    ("2026-10-23T17:59:59", False),  # Friday 19:59:59 CEST
    ("2026-10-23T18:00:00", True),   # Friday 20:00 CEST
    ("2026-10-25T21:59:59", True),   # Sunday 22:59:59 CET
    ("2026-10-25T22:00:00", False),  # Sunday 23:00 CET: 52 hours elapsed
])
def test_a_duration_is_elapsed_time_across_dst(now: str, active: bool) -> None:
    assert is_active(BERLIN_WEEKEND, utc(now)) is active


@pytest.mark.parametrize(("now", "end"), [
    ("2026-03-28T12:00:00", "2026-03-29T23:00:00"),
    ("2026-10-24T12:00:00", "2026-10-25T22:00:00"),
])
def test_next_change_of_an_open_window_is_its_exact_end_across_dst(now: str, end: str) -> None:
    # Wall-clock arithmetic in the window's zone would say an hour early (or late): the
    # engine would look again at a moment when nothing changes, or miss the close.
    assert next_change(BERLIN_WEEKEND, utc(now)) == utc(end)
