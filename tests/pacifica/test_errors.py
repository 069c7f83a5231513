"""Failed answers map to the error class whose remedy fits, by status and by text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from daemon.pacifica.errors import (
    Ambiguous,
    AuthError,
    DuplicateOrder,
    ExchangeError,
    NotFound,
    RateLimited,
    Rejected,
    error_from_response,
    ratelimit_from_headers,
)


@pytest.mark.parametrize(("status", "text", "code", "expected"), [
    (400, "Invalid signature", None, AuthError),
    (400, "Invalid message", None, AuthError),
    (400, "Invalid public key", None, AuthError),
    (400, "Verification failed", None, AuthError),
    (400, "Unauthorized", None, AuthError),
    (400, "X is unauthorized to sign on behalf of X", None, AuthError),
    (403, "Signer not whitelisted", None, AuthError),
    (403, "restricted region", None, AuthError),
    (400, "Duplicate client order id: d25ac10b", 36, DuplicateOrder),
    (422, "Duplicate client order id: d25ac10b", None, DuplicateOrder),
    (400, "some new wording", 36, DuplicateOrder),
    (400, "Stop order not found", None, NotFound),
    (400, "Unused client order id: abc", 37, NotFound),
    (404, "Order history not found for order ID: 5", 404, NotFound),
    (400, "Position not found", None, NotFound),
    # What Hummingbot saw live for cancelling an order that is gone (pacifica-api.md §5).
    (400, "Failed to cancel order", 5, NotFound),
    (422, "Failed to cancel order", 6, NotFound),
    (400, "Stop price 60000.5 is not a multiple of tick size 1", None, Rejected),
    (422, "Invalid stop order side", None, Rejected),
    # code 5 means "order not found" in one doc version, "insufficient balance" in another.
    (400, "Insufficient balance", 5, Rejected),
    (500, "Internal server error", None, Ambiguous),
    (503, "Service unavailable", None, Ambiguous),
    (504, "Gateway timeout", None, Ambiguous),
])
def test_classification(status: int, text: str, code: int | None,
                        expected: type[ExchangeError]) -> None:
    error = error_from_response(status, text, code, {}, operation="create_stop_order")
    assert type(error) is expected
    assert error.status == status
    assert error.message == text
    assert text in str(error)
    assert "create_stop_order" in str(error)


def test_rate_limited_carries_the_wait_and_remaining_credits() -> None:
    headers = {"ratelimit": '"credits";r=15;t=32', "ratelimit-policy": '"credits";q=1250;w=60'}
    error = error_from_response(429, "Too many requests", None, headers, operation="x")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 32.0
    assert error.remaining == Decimal("1.5")


def test_rate_limited_without_header_has_no_wait() -> None:
    error = error_from_response(429, None, None, {}, operation="x")
    assert isinstance(error, RateLimited)
    assert error.retry_after is None
    assert "429" in error.message


def test_ratelimit_header_parsing() -> None:
    state = ratelimit_from_headers(
        {"ratelimit": '"credits";r=1200;t=32', "ratelimit-policy": '"credits";q=1250;w=60'})
    assert state is not None
    assert state.remaining == Decimal(120)
    assert state.reset_after == 32.0
    assert state.quota == Decimal(125)
    assert state.window == 60
    assert ratelimit_from_headers({}) is None
    assert ratelimit_from_headers({"ratelimit": "garbage"}) is None
