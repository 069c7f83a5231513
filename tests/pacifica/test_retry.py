"""Backoff arithmetic and which failures are worth another attempt."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.pacifica.errors import (
    Ambiguous,
    AuthError,
    DuplicateOrder,
    NotFound,
    NotSent,
    RateLimited,
    Rejected,
)
from daemon.pacifica.retry import RetryPolicy, should_retry


@given(retry=st.integers(1, 60), jitter=st.floats(0, 1, exclude_max=True))
def test_full_jitter_stays_under_the_capped_ceiling(retry: int, jitter: float) -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=5.0, rng=lambda: jitter)
    delay = policy.backoff(retry)
    assert 0 <= delay <= min(5.0, 0.2 * 2 ** (retry - 1))


def test_backoff_grows_then_caps() -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=1.0, rng=lambda: 1.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_rate_limit_waits_the_header_wait_capped() -> None:
    policy = RetryPolicy(max_rate_limit_wait=10.0, rng=lambda: 0.5)
    assert policy.delay_for(RateLimited("x", retry_after=3.0), 1) == 3.0
    assert policy.delay_for(RateLimited("x", retry_after=600.0), 1) == 10.0
    assert policy.delay_for(RateLimited("x", retry_after=None), 1) == policy.backoff(1)


@pytest.mark.parametrize(("error", "idempotent", "expected"), [
    (NotSent("x"), False, True),
    (RateLimited("x", retry_after=1.0), False, True),
    (Ambiguous("x"), True, True),
    (Ambiguous("x"), False, False),  # no cloid: a retry could place a second order
    (Rejected("x"), True, False),
    (AuthError("x"), True, False),
    (DuplicateOrder("x"), True, False),
    (NotFound("x"), True, False),
])
def test_should_retry(error: Exception, idempotent: bool, expected: bool) -> None:
    assert should_retry(error, idempotent=idempotent) is expected  # type: ignore[arg-type]


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=0)
