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


class CreditLedger:
    def __init__(self, window_ms: int = 60_000) -> None:
        self._window_ms = window_ms
        self._spent: dict[str, deque[tuple[int, Decimal]]] = {}

    def _live(self, key: str, now: int) -> deque[tuple[int, Decimal]]:
        charges = self._spent.setdefault(key, deque())
        while charges and charges[0][0] + self._window_ms <= now:
            charges.popleft()
        return charges

    def charge(self, key: str, quota: Decimal, cost: Decimal, now: int) -> Verdict:
        """Spend `cost` if the window still holds it; a refused request costs nothing."""
        charges = self._live(key, now)
        spent = sum((c for _, c in charges), ZERO)
        allowed = spent + cost <= quota
        if allowed and cost > 0:
            charges.append((now, cost))
            spent += cost
        return self._verdict(charges, quota, spent, allowed, now)

    def peek(self, key: str, quota: Decimal, now: int) -> Verdict:
        charges = self._live(key, now)
        return self._verdict(charges, quota, sum((c for _, c in charges), ZERO), True, now)

    def _verdict(self, charges: deque[tuple[int, Decimal]], quota: Decimal, spent: Decimal,
                 allowed: bool, now: int) -> Verdict:
        refresh = 0
        if charges:
            refresh = max(-(-(charges[0][0] + self._window_ms - now) // 1000), 0)
        return Verdict(allowed, max(quota - spent, ZERO), quota, refresh,
                       self._window_ms // 1000)
