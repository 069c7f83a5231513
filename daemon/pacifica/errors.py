"""What went wrong talking to Pacifica, classed by what the caller should do about it.

    ExchangeError            anything the exchange layer raises on purpose
    ├── Rejected             a final 4xx: understood and refused; do not retry
    ├── DuplicateOrder       "Duplicate client order id" (code 36): already placed
    ├── NotFound             the order/position is not there ("Stop order not found",
    │                        code 37 "Unused client order id", "Failed to cancel
    │                        order", 404): a cancel is done
    ├── AuthError            signature, expiry, key or permission refused: fix config
    ├── RateLimited          429: wait `retry_after` seconds (the `ratelimit` header);
    │                        raised at once by a client built with wait_on_rate_limit=False
    ├── Transient            may clear by itself; retry with the SAME client_order_id
    │   ├── NotSent          never left (connect error/timeout): retry freely
    │   └── Ambiguous        may have been applied (read timeout, 5xx, protocol
    │                        error): retry only what a client_order_id makes idempotent
    └── MalformedResponse    an answer we cannot parse (a read); a write answered this way
                             returns WriteOutcome UNCONFIRMED instead of raising

Pacifica's numeric codes differ between documentation versions (pacifica-api.md §5), so
classification looks at the HTTP status and the error text first and trusts only the codes
whose meaning never moved (36, 37).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class ExchangeError(Exception):
    """Base of every deliberate exchange-layer error. Messages never carry request bodies."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 operation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.operation = operation
        self.attempts = 1  # how many signed attempts the transport made before giving up

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        detail = []
        if self.status is not None:
            detail.append(f"HTTP {self.status}")
        if self.code is not None:
            detail.append(f"code {self.code}")
        suffix = f" ({', '.join(detail)})" if detail else ""
        return f"{where}{self.message}{suffix}"


class Rejected(ExchangeError):
    """A final refusal: sending the same request again gets the same answer."""


class DuplicateOrder(ExchangeError):
    """The client_order_id is already known to the exchange: the order was placed earlier."""


class NotFound(ExchangeError):
    """The order or position the request names does not exist (any more)."""


class AuthError(ExchangeError):
    """The exchange did not accept who signed or when: a configuration or clock problem."""


class RateLimited(ExchangeError):
    """Out of credits; `retry_after` seconds until the window refreshes (None if unknown).

    `state` is the refusal's own `ratelimit` headers (with `observed_at` set by the transport),
    so a caller that owns the waiting can feed its credit budget from the very answer.
    """

    def __init__(self, message: str, *, retry_after: float | None,
                 remaining: Decimal | None = None, status: int | None = 429,
                 code: int | None = None, operation: str | None = None,
                 state: RateLimitState | None = None) -> None:
        super().__init__(message, status=status, code=code, operation=operation)
        self.retry_after = retry_after
        self.remaining = remaining
        self.state = state


class Transient(ExchangeError):
    """A failure that may clear by itself."""


class NotSent(Transient):
    """The request never reached the exchange, so retrying cannot double anything."""


class Ambiguous(Transient):
    """The request may or may not have been applied."""


class MalformedResponse(ExchangeError):
    """The exchange answered with something we cannot read as the documented shape."""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The latest `ratelimit` / `ratelimit-policy` headers, in credits (the wire sends ×10)."""

    remaining: Decimal
    reset_after: float  # seconds until the window refreshes, counted from observed_at
    quota: Decimal | None = None
    window: int | None = None  # seconds
    observed_at: float = 0.0  # monotonic seconds when the answer arrived (set by the client)


_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*([0-9.]+)")


def _header_params(value: str) -> dict[str, str]:
    return dict(_PARAM.findall(value))


def ratelimit_from_headers(headers: Mapping[str, str]) -> RateLimitState | None:
    """Parse `ratelimit: "credits";r=1200;t=32` (+ policy `q=..;w=..`); None if absent or odd."""
    raw = headers.get("ratelimit")
    if raw is None:
        return None
    params = _header_params(raw)
    try:
        remaining = Decimal(params["r"]) / 10
        reset_after = float(Decimal(params.get("t", "0")))
    except (KeyError, InvalidOperation):
        return None
    quota: Decimal | None = None
    window: int | None = None
    policy = headers.get("ratelimit-policy")
    if policy is not None:
        pparams = _header_params(policy)
        try:
            quota = Decimal(pparams["q"]) / 10 if "q" in pparams else None
            window = int(Decimal(pparams["w"])) if "w" in pparams else None
        except InvalidOperation:
            quota, window = None, None
    return RateLimitState(remaining=remaining, reset_after=reset_after, quota=quota,
                          window=window)


_AUTH_TEXTS = ("invalid signature", "invalid message", "invalid public key",
               "verification failed", "unauthorized", "not authorized", "not whitelisted")
_DUPLICATE_CODE = 36
_UNUSED_CLOID_CODE = 37
# Pacifica's answer to cancelling an order that is no longer open (Hummingbot saw it live).
_CANCEL_MISSED = "failed to cancel order"


def error_from_response(status: int, message: str | None, code: int | None,
                        headers: Mapping[str, str], *, operation: str) -> ExchangeError:
    """Map one failed HTTP answer to the class whose remedy fits it."""
    text = message or f"HTTP {status} without an error text"
    lowered = text.lower()
    if status == 429:
        state = ratelimit_from_headers(headers)
        return RateLimited(text, retry_after=state.reset_after if state else None,
                           remaining=state.remaining if state else None, code=code,
                           operation=operation, state=state)
    if status >= 500:
        return Ambiguous(text, status=status, code=code, operation=operation)
    cls: type[ExchangeError] = Rejected
    if "duplicate client order id" in lowered or code == _DUPLICATE_CODE:
        cls = DuplicateOrder
    elif status in (401, 403) or any(t in lowered for t in _AUTH_TEXTS):
        cls = AuthError
    elif (status == 404 or code == _UNUSED_CLOID_CODE or "not found" in lowered
            or "unused client order id" in lowered or _CANCEL_MISSED in lowered):
        cls = NotFound
    return cls(text, status=status, code=code, operation=operation)
