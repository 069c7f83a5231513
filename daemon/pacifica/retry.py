"""When and how long to wait before trying a request again (anchors.md R1).

The policy is data plus two injectable effects (sleep, random) so tests run it without waiting.
Which failures are retried is decided by `should_retry`; the transport owns the loop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from daemon.pacifica.errors import (
    Ambiguous,
    ExchangeError,
    NotSent,
    RateLimited,
)


def _system_random() -> float:
    # Jitter only spreads retries; it protects nothing, so a non-crypto RNG is right here.
    return random.random()  # noqa: S311


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter capped exponential backoff with a bounded number of attempts.

    `attempts` counts every try, the first included. A 429 waits the header's `t` seconds
    (capped by `max_rate_limit_wait`) instead of the backoff.
    """

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_rate_limit_wait: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    rng: Callable[[], float] = field(default=_system_random)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_rate_limit_wait < 0:
            raise ValueError("retry delays cannot be negative")

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1 for the first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry_number - 1))
        jitter: float = self.rng()
        return jitter * ceiling

    def delay_for(self, error: ExchangeError, retry_number: int) -> float:
        if isinstance(error, RateLimited):
            if error.retry_after is None:
                return self.backoff(retry_number)
            return min(max(error.retry_after, 0.0), self.max_rate_limit_wait)
        return self.backoff(retry_number)


NO_RETRY = RetryPolicy(attempts=1)


def should_retry(error: ExchangeError, *, idempotent: bool) -> bool:
    """Whether sending the same request again is safe and might help.

    A 429 and a request that never left are safe for anything; an ambiguous failure only for
    requests a client_order_id (or their nature, like reads and cancels) makes idempotent.
    """
    if isinstance(error, RateLimited | NotSent):
        return True
    if isinstance(error, Ambiguous):
        return idempotent
    return False
