"""The scalars of the rule language: percentages, distances, prices, fractions, durations.

Each parser takes what the YAML layer produced (str, int, Decimal, bool) and returns the exact
spec value, or raises a PydanticCustomError whose message is shown to the user as written.
Numbers never pass through float: YAML floats arrive here as Decimal built from their text.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from daemon.rules.errors import shorten
from daemon.rules.spec import Abs, Distance, Pct

# Generous but finite: no exchange price or notional is near 10^12, and 18 decimals is
# finer than any tick. Bounding both keeps every later Decimal operation exact.
MAX_ADJUSTED_EXPONENT = 11
MIN_EXPONENT = -18
MAX_DURATION = timedelta(days=366)

_EXACT = Context(prec=60)
_PCT_RE = re.compile(r"^([+-]?)([0-9]+(?:\.[0-9]+)?)%$")
_NUM_RE = re.compile(r"^([+-]?)([0-9]+(?:\.[0-9]+)?)$")
_DURATION_RE = re.compile(
    r"^(?:([0-9]{1,6})w)?(?:([0-9]{1,6})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,6})s)?$")

PCT_PATTERN = r"^[0-9]+(\.[0-9]+)?%$"
STOP_PCT_PATTERN = r"^(0|[1-9][0-9]?)(\.[0-9]+)?%$"  # below 100 %
NUMBER_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
DURATION_PATTERN = r"^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"


def rule_error(message: str) -> PydanticCustomError:
    """A refusal whose text reaches the user unchanged (pydantic adds no prefix)."""
    return PydanticCustomError("rule_value", message)


def shown(value: Any) -> str:
    """A user's value inside a message: `text` quoted and bounded, lists and mappings named."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"`{shorten(str(value))}`"


def canonical(value: Decimal) -> Decimal:
    """One spelling per number (3.0% and 3% must fingerprint alike), never in exponent form."""
    value = value.normalize(_EXACT)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        value = value.quantize(Decimal(1), context=_EXACT)
    return value


def _bounded(value: Decimal, what: str) -> Decimal:
    if not value.is_finite():
        raise rule_error(f"{what} must be a finite number")
    if value.is_zero():
        return Decimal(0)
    exponent = value.normalize(_EXACT).as_tuple().exponent
    if value.adjusted() > MAX_ADJUSTED_EXPONENT:
        raise rule_error(f"{what} {shown(value)} is implausibly large")
    if isinstance(exponent, int) and exponent < MIN_EXPONENT:
        raise rule_error(f"{what} has more than {-MIN_EXPONENT} decimal places")
    return canonical(value)


def number(value: Any, what: str) -> Decimal:
    """A plain number (YAML int, YAML float as Decimal, or a quoted decimal string)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise rule_error(f"{what} must be a number, got {shown(value)}")
    if isinstance(value, str):
        found = _NUM_RE.match(value.strip())
        if found is None:
            raise rule_error(f"{what} must be a number, got {shown(value)}")
        value = Decimal(value.strip())
    try:
        return _bounded(Decimal(value), what)
    except InvalidOperation:
        raise rule_error(f"{what} must be a number, got {shown(value)}") from None


def percentage(value: Any, what: str) -> Decimal | None:
    """"1.5%" -> Decimal("0.015"); None when `value` is not written as a percentage."""
    if not isinstance(value, str):
        return None
    found = _PCT_RE.match(value.strip())
    if found is None:
        if value.strip().endswith("%"):
            raise rule_error(f"{what} {shown(value)} is not a percentage like `1.5%`")
        return None
    if found.group(1) == "-":
        raise rule_error(f"{what} must be positive, got {shown(value)}")
    return _bounded(Decimal(found.group(2)).scaleb(-2, _EXACT), what)


def positive_number(value: Any, what: str) -> Decimal:
    if isinstance(value, str) and value.strip().endswith("%"):
        raise rule_error(f"{what} is a number, not a percentage (got {shown(value)})")
    result = number(value, what)
    if result <= 0:
        raise rule_error(f"{what} must be greater than zero, got {shown(value)}")
    return result


def distance(value: Any, what: str, *, allow_zero: bool = False,
             below_100_pct: bool = True) -> Distance:
    """`1.5%` of the reference price, or a plain number in price units."""
    ratio = percentage(value, what)
    if ratio is not None:
        if ratio == 0 and not allow_zero:
            raise rule_error(f"{what} must be greater than 0%")
        if below_100_pct and ratio >= 1:
            raise rule_error(f"{what} {shown(value)} must be below 100%")
        return Pct(ratio)
    amount = number(value, what)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise rule_error(f"{what} must be greater than zero, got {shown(value)}")
    return Abs(amount)


def fraction(value: Any, what: str) -> Decimal:
    """A share of the position: `25%` or `0.25`, in (0, 1]."""
    ratio = percentage(value, what)
    if ratio is None:
        ratio = number(value, what)
        if ratio > 1:
            raise rule_error(f"{what} must be at most 1 (write `{format(ratio, 'f')}%` "
                             "for a percentage)")
    if ratio <= 0:
        raise rule_error(f"{what} must be greater than zero, got {shown(value)}")
    if ratio > 1:
        raise rule_error(f"{what} must be at most 100%, got {shown(value)}")
    return ratio


def duration(value: Any, what: str, *, allow_zero: bool = False) -> timedelta:
    """`30s`, `5m`, `2h`, `3d`, `1w`, or a combination such as `1d12h`."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise rule_error(f"expected a duration with a unit such as `30s`, `5m`, `2h` or `3d`, "
                         f"got {shown(value)}")
    found = _DURATION_RE.match(value.strip())
    if not value.strip() or found is None:
        raise rule_error(f"{shown(value)} is not a duration like `30s`, `5m`, `2h`, `3d` or "
                         "`1d12h`")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    total = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds) \
        if weeks + days < 10_000 else MAX_DURATION * 2
    if total > MAX_DURATION:
        raise rule_error(f"{what} {shown(value)} is longer than {MAX_DURATION.days} days")
    if total == timedelta(0) and not allow_zero:
        raise rule_error(f"{what} must be longer than zero")
    return total


def _schema(*alternatives: dict[str, Any], description: str = "") -> WithJsonSchema:
    schema: dict[str, Any] = {"anyOf": list(alternatives)} if len(alternatives) > 1 \
        else dict(alternatives[0])
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)


_POSITIVE_NUMBER = {"type": "number", "exclusiveMinimum": 0}
_NUMBER_TEXT = {"type": "string", "pattern": NUMBER_PATTERN}


def _validator(func: Any, what: str, **kwargs: Any) -> PlainValidator:
    return PlainValidator(lambda value: func(value, what, **kwargs))


StopDistance = Annotated[
    Distance,
    _validator(distance, "distance"),
    _schema({"type": "string", "pattern": STOP_PCT_PATTERN}, _POSITIVE_NUMBER, _NUMBER_TEXT),
]
ProfitDistance = Annotated[
    Distance,
    _validator(distance, "distance", below_100_pct=False),
    _schema({"type": "string", "pattern": PCT_PATTERN}, _POSITIVE_NUMBER, _NUMBER_TEXT),
]
OffsetDistance = Annotated[
    Distance,
    _validator(distance, "offset", allow_zero=True),
    _schema({"type": "string", "pattern": STOP_PCT_PATTERN}, {"type": "number", "minimum": 0},
            _NUMBER_TEXT),
]
Price = Annotated[
    Decimal,
    _validator(positive_number, "price"),
    _schema(_POSITIVE_NUMBER, _NUMBER_TEXT),
]
Notional = Annotated[
    Decimal,
    _validator(positive_number, "notional"),
    _schema(_POSITIVE_NUMBER, _NUMBER_TEXT),
]
Fraction = Annotated[
    Decimal,
    _validator(fraction, "fraction"),
    _schema({"type": "string", "pattern": PCT_PATTERN},
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
]
Duration = Annotated[
    timedelta,
    _validator(duration, "duration"),
    _schema({"type": "string", "pattern": DURATION_PATTERN, "minLength": 2}),
]
Interval = Annotated[
    timedelta,
    _validator(duration, "interval", allow_zero=True),
    _schema({"type": "string", "pattern": DURATION_PATTERN, "minLength": 2}),
]
