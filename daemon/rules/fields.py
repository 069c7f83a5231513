"""Single-value fields that are not numbers: names, symbols, cron expressions, time zones and
the file version. Each parser returns the value to keep or raises a message for the user."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PlainValidator, WithJsonSchema

from daemon.rules.errors import shorten
from daemon.rules.values import rule_error

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
_NAME_RE = re.compile(NAME_PATTERN)
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,3}$")
_CRON_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_SYMBOLS = 500


def _validate_symbols(value: Any) -> tuple[str, ...] | None:
    if value == "*":
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise rule_error("symbol must be a symbol such as `BTC`, a list of symbols, or `\"*\"`")
    if len(items) > MAX_SYMBOLS:
        raise rule_error(f"more than {MAX_SYMBOLS} symbols in one match")
    for item in items:
        if item == "*":
            raise rule_error("`\"*\"` matches every symbol on its own; it cannot sit in a list")
        if not isinstance(item, str) or not _SYMBOL_RE.match(item):
            shown = f"`{shorten(str(item))}`" if isinstance(item, str | int) else "a non-symbol"
            raise rule_error(f"{shown} is not a market symbol such as `BTC` or `kBONK`")
    return tuple(sorted(set(items)))


_SYMBOL_SCHEMA = {"type": "string", "pattern": SYMBOL_PATTERN}
Symbols = Annotated[
    tuple[str, ...] | None,
    PlainValidator(_validate_symbols),
    WithJsonSchema({"anyOf": [{"const": "*"}, _SYMBOL_SCHEMA,
                              {"type": "array", "items": _SYMBOL_SCHEMA, "minItems": 1}]}),
]


def _validate_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise rule_error("a name is 1-64 letters, digits, `_`, `.` or `-`, starting with a letter "
                         "or digit")
    return value


Name = Annotated[str, PlainValidator(_validate_name),
                 WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})]


def _validate_cron(value: Any) -> str:
    # Imported here: APScheduler costs ~40 ms to import and only windows need it.
    from apscheduler.triggers.cron import CronTrigger

    if not isinstance(value, str) or len(value) > 200:
        raise rule_error("cron must be a quoted five-field crontab expression such as "
                         "`\"0 20 * * FRI\"`")
    fields = value.split()
    if len(fields) != 5:
        raise rule_error(f"cron `{shorten(value)}` has {len(fields)} fields; write five: "
                         "minute hour day-of-month month day-of-week")
    if any(ch.isdigit() for ch in fields[4]):
        raise rule_error("write the day of week by name (MON-FRI, SAT, SUN): APScheduler counts "
                         "0 as Monday while crontab counts 0 as Sunday, so numbers are ambiguous")
    day, weekday = fields[2], fields[4]
    if day not in ("*", "?") and weekday not in ("*", "?"):
        # Vixie cron fires when either field matches; APScheduler when both do. `0 0 1 * MON`
        # would open on a Monday that is the 1st (one to two times a year) instead of about
        # fifteen times: refused rather than guessed, since only the user knows which was meant.
        minute_hour = " ".join(fields[:2])
        raise rule_error(
            f"cron `{shorten(value)}` restricts both day of month and day of week: crontab "
            "fires when EITHER matches, APScheduler (which runs windows) only when BOTH match, "
            "so it would open far less often than a crontab reader expects; write two windows, "
            f"one on `{minute_hour} {day} {fields[3]} *` and one on "
            f"`{minute_hour} * {fields[3]} {weekday}`")
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone="UTC")
    except Exception as exc:  # any refusal by APScheduler is the user's cron
        raise rule_error(f"invalid cron `{shorten(value)}`: {exc}") from None
    # `0 0 31 2 *` parses but never fires; APScheduler then scans to year 9999 on every
    # lookup (~0.2 s), which the engine must never pay. A fixed start keeps this pure.
    if trigger.get_next_fire_time(None, _CRON_EPOCH) is None:
        raise rule_error(f"cron `{shorten(value)}` never fires (no such date)")
    return " ".join(fields)


Cron = Annotated[str, PlainValidator(_validate_cron),
                 WithJsonSchema({"type": "string", "minLength": 9})]


def _validate_timezone(value: Any) -> str:
    if not isinstance(value, str) or not _TZ_RE.match(value) or value in (
            "localtime", "posixrules", "Factory"):
        raise rule_error("timezone must be an IANA name such as `UTC` or `Europe/Berlin`")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise rule_error(f"unknown time zone `{shorten(value)}` (names are case-sensitive, e.g. "
                         "`Europe/Berlin`)") from None
    return value


TimeZone = Annotated[str, PlainValidator(_validate_timezone),
                     WithJsonSchema({"type": "string", "pattern": _TZ_RE.pattern})]


def _validate_version(value: Any) -> int:
    if value == 1 and type(value) is int:
        return 1
    raise rule_error(f"unsupported version `{shorten(str(value))}`: this stopd reads `version: 1`")


Version = Annotated[int, PlainValidator(_validate_version), WithJsonSchema({"const": 1})]
