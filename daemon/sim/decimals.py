"""Decimal strings from untrusted JSON, for requests, control calls and files alike."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def decimal_or_reason(raw: object) -> Decimal | str:
    """The number `raw` spells, or why it is not one (for the caller's error message)."""
    if not isinstance(raw, str):
        shown = repr(raw)
        return f"expected a decimal string, got {shown[:40]}"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return f"{raw[:40]!r} is not a decimal number"
    if not value.is_finite():
        return f"{raw[:40]!r} is not a finite number"
    return value
