"""What the stream's last connection failure was, and whether waiting will cure it.

The classes follow websockets' own `process_exception` (anchors.md A3), applied to the opening
handshake: a network error, a timeout, a handshake cut short (EOF) and HTTP 500/502/503/504
are retryable; any other refusal (401, 403, 404 and the rest of 4xx, an invalid URI, a server
that does not speak WebSocket) is fatal, because the same request will get the same answer.
Everything after a successful handshake (a missing ack, a dropped or silent connection) is
retryable: it worked a moment ago.

A fatal failure does not end the feed. A proxy or firewall can answer 403 for a while and then
let us through, so the feed keeps trying, slowly (`FeedConfig.fatal_retry_delay`), while
`Feed.wait_ready` raises `FeedFatal` and status shows the failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from websockets.client import process_exception


@dataclass(frozen=True, slots=True)
class FeedFailure:
    """The feed's latest failure; `at` is on the feed's monotonic clock."""

    message: str
    fatal: bool
    at: float


class FeedFatal(Exception):
    """The stream cannot connect and retrying soon will not help (see FeedFailure)."""

    def __init__(self, failure: FeedFailure) -> None:
        super().__init__(f"stream connection refused: {failure.message}")
        self.failure = failure


def is_fatal(exc: BaseException, *, handshake_done: bool) -> bool:
    """Whether `exc` ends hope of a quick reconnect (see the module docstring)."""
    if handshake_done or not isinstance(exc, Exception):
        return False
    return process_exception(exc) is not None


def describe(exc: BaseException) -> str:
    # Messages name the class and what websockets says (e.g. "HTTP 403"); never headers, so
    # an API key sent at connect never shows.
    return f"{type(exc).__name__}: {exc}"[:200]
