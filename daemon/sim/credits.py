"""Rate-limit credits over a rolling window (pacifica-api.md §5), pure: `now` is passed in.

Headers carry tenths: `ratelimit: "credits";r=<remaining x 10>;t=<seconds to refresh>` and
`ratelimit-policy: "credits";q=<quota x 10>;w=<window seconds>`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: Decimal
    quota: Decimal
    refresh_seconds: int
    window_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "ratelimit": f'"credits";r={int(self.remaining * 10)};t={self.refresh_seconds}',
            "ratelimit-policy": f'"credits";q={int(self.quota * 10)};w={self.window_seconds}',
        }


class _Window:
    """One caller's live charges, oldest first, and their running sum: a request costs the
    same whether 100 or 10,000 charges are live (adding them up on each request slowed the
    simulator down as a benchmark ran). Decimal sums are exact, so the running total never
    drifts from the charges it holds."""

    __slots__ = ("charges", "spent")

    def __init__(self) -> None:
        self.charges: deque[tuple[int, Decimal]] = deque()
        self.spent = ZERO

    def expire(self, cutoff: int) -> None:
        charges = self.charges
        while charges and charges[0][0] <= cutoff:
            self.spent -= charges.popleft()[1]
        if not charges:
            self.spent = ZERO


class CreditLedger:
    def __init__(self, window_ms: int = 60_000) -> None:
        self._window_ms = window_ms
        self._windows: dict[str, _Window] = {}

    def _live(self, key: str, now: int) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        window.expire(now - self._window_ms)
        return window

    def charge(self, key: str, quota: Decimal, cost: Decimal, now: int) -> Verdict:
        """Spend `cost` if the window still holds it; a refused request costs nothing."""
        window = self._live(key, now)
        allowed = window.spent + cost <= quota
        if allowed and cost > 0:
            window.charges.append((now, cost))
            window.spent += cost
        return self._verdict(window, quota, allowed, now)

    def peek(self, key: str, quota: Decimal, now: int) -> Verdict:
        return self._verdict(self._live(key, now), quota, True, now)

    def _verdict(self, window: _Window, quota: Decimal, allowed: bool, now: int) -> Verdict:
        refresh = 0
        if window.charges:
            refresh = max(-(-(window.charges[0][0] + self._window_ms - now) // 1000), 0)
        return Verdict(allowed, max(quota - window.spent, ZERO), quota, refresh,
                       self._window_ms // 1000)
