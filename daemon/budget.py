"""Credits and priorities: which request may go now, and how long the others wait. Pure.

Pacifica meters every account in credits over a rolling 60 s window (pacifica-api.md §5): 100
a minute for an unidentified IP, 300 with an API config key, more by fee tier, shared with the
account's sub-accounts. A standard request costs 1, a cancel 0.5, a heavy GET (positions,
orders, prices) 3-12 without a key and 1-4 with one. Out of credits the answer is HTTP 429;
every answer carries `ratelimit: "credits";r=..;t=..` (remaining, seconds until refresh).

The budget keeps a log of what we spent and, from each answer's headers, counts what the
exchange has spent beyond it (a sub-account shares the credits). Whoever asks says how
urgent the request is: a stop for a bare position or a market close (PROTECT) may spend the
last credit; everything else leaves `protect_reserve` untouched, so trailing moves can never
starve a bare position (anchors Part 0, "Rate limits"); reconcile reads (READ) leave a larger
`read_reserve`, and `suggested_reconcile_interval` stretches them when credits are short.

Times are float seconds on the caller's monotonic clock, passed in; credits are Decimal.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from enum import IntEnum
from typing import Final, Protocol

from daemon.engine.model import LegKind
from daemon.engine.plan import Action, Cancel, CloseMarket, Move, Resize

# Costs in credits (pacifica-api.md §5, "Rate limits").
CREATE_COST: Final = Decimal(1)  # a standard request: create a stop/market order, set TP/SL
CANCEL_COST: Final = Decimal("0.5")
HEAVY_READ_COST: Final = Decimal(12)  # GET /positions or /orders, unidentified IP
HEAVY_READ_COST_WITH_KEY: Final = Decimal(4)  # the same with a PF-API-KEY


class Priority(IntEnum):
    """Lower goes first."""

    PROTECT = 0  # a stop for a bare position; a market close
    RESIZE = 1  # the stop's amount follows the position; more coverage
    MOVE = 2  # trailing, breakeven, a take-profit
    CLEANUP = 3  # cancels: orphans of closed positions, legs no longer wanted
    READ = 4  # reconciliation and price polling


def priority_of(action: Action, *, bare: bool) -> Priority:
    """`bare`: the position has no resting stop now. Only a stop can end that, so a
    take-profit for a bare position is not PROTECT."""
    if isinstance(action, CloseMarket):
        return Priority.PROTECT
    if isinstance(action, Cancel):
        return Priority.CLEANUP
    stop = action.order.kind is LegKind.STOP
    if bare and stop:
        return Priority.PROTECT
    if isinstance(action, Resize):  # before Move: a Resize is a Move
        return Priority.RESIZE
    if isinstance(action, Move):
        return Priority.MOVE
    return Priority.RESIZE if stop else Priority.MOVE  # Place: another leg's coverage


def cost_of(action: Action) -> Decimal:
    """Credits the action spends if nothing is retried: a Move/Resize places n+1 and cancels
    n (1 + 0.5, the 1.5 of anchors Part 0)."""
    if isinstance(action, Cancel):
        return CANCEL_COST
    if isinstance(action, Move):
        return CREATE_COST + CANCEL_COST
    return CREATE_COST  # Place, CloseMarket


# Added to every wait: `now + (moment - now)` can round to just before `moment`, and a
# caller that slept as told must then find the request allowed, not 1e-15 s early.
_MARGIN_S: Final = 1e-6


def _after(moment: float, now: float) -> float:
    return moment - now + _MARGIN_S if moment > now else 0.0


class RateLimitHeaders(Protocol):
    """What `observe` reads; `daemon.pacifica.errors.RateLimitState` is one. A protocol, so
    the pure core needs no import of the exchange layer."""

    @property
    def remaining(self) -> Decimal: ...
    @property
    def reset_after(self) -> float: ...  # seconds until the oldest charge leaves the window
    @property
    def quota(self) -> Decimal | None: ...
    @property
    def window(self) -> int | None: ...  # seconds


class CreditBudget:
    """The credits one rate-limit scope (an account and its sub-accounts) may spend.

    The exchange's window rolls (pacifica-api.md §5; the simulator's ledger too), so its `t`
    says when the OLDEST charge leaves, not when all do. What we spent, and when, is in our
    log; what the exchange counts beyond it (a sub-account's spending, a retry we did not
    log) is `_excess`, kept for a whole window from the answer that showed it, since we do
    not know when it was spent; except for PROTECT, which tries again once `t` has passed
    (some credits are back then, perhaps enough: a refused request costs nothing, and a bare
    position should not wait a minute on a guess). When the exchange counts less than our
    log (requests still in flight, or a window that refreshed), the log stands: waiting a
    little too long is safe, a 429 is not."""

    def __init__(self, *, quota: Decimal = Decimal(100), window_s: float = 60.0,
                 protect_reserve: Decimal = Decimal(10), read_reserve: Decimal = Decimal(30),
                 reconcile_cost: Decimal = 2 * HEAVY_READ_COST) -> None:
        """`protect_reserve`: credits only PROTECT may spend (10 = ten bare positions'
        stops). `read_reserve` (larger): credits reads leave to writes. `reconcile_cost`: one
        reconcile's reads (positions + orders: 24 without an API key, 8 with one)."""
        if not Decimal(0) <= protect_reserve <= read_reserve:
            raise ValueError("need 0 <= protect_reserve <= read_reserve")
        if quota <= 0 or window_s <= 0:
            raise ValueError("quota and window_s must be positive")
        self.quota = quota
        self.window_s = window_s
        self.protect_reserve = protect_reserve
        self.read_reserve = read_reserve
        self.reconcile_cost = reconcile_cost
        self._spent: deque[tuple[float, Decimal]] = deque()  # (when, credits), oldest first
        self._excess = Decimal(0)
        self._excess_until = float("-inf")
        self._excess_protect_until = float("-inf")
        self._blocked_until = float("-inf")

    # -- what the exchange says -----------------------------------------------------------

    def observe(self, state: RateLimitHeaders, now: float) -> None:
        """An answer's `ratelimit` headers: adopt its quota and window, and count whatever
        it has spent beyond our log for the next window."""
        if state.quota is not None and state.quota > 0:
            self.quota = state.quota
        if state.window is not None and state.window > 0:
            self.window_s = float(state.window)
        self._trim(now)
        theirs = self.quota - state.remaining
        ours = self._logged(now)
        self._excess = max(Decimal(0), theirs - ours)
        self._excess_until = now + self.window_s
        self._excess_protect_until = min(self._excess_until, now + max(0.0, state.reset_after))

    def rate_limited(self, retry_after: float, now: float) -> None:
        """A 429: nothing goes until `retry_after` has passed. The answer's own headers, if
        any, go to `observe`; a 429 without them adds nothing the wait does not cover."""
        self._blocked_until = max(self._blocked_until, now + max(0.0, retry_after))

    # -- what we do -----------------------------------------------------------------------

    def spend(self, cost: Decimal, now: float) -> None:
        """Count a request as it is sent (a retry is another request: count it again)."""
        self._spent.append((now, cost))
        self._trim(now)

    def remaining(self, now: float) -> Decimal:
        if now < self._blocked_until:
            return Decimal(0)
        return max(Decimal(0), self.quota - self._used(now, self._excess_until))

    def delay(self, priority: Priority, cost: Decimal, now: float) -> float:
        """Seconds until a request of `priority` costing `cost` may be sent; 0.0 = now.
        `inf` if it costs more than the whole quota: the exchange would refuse it too."""
        if cost > self.quota:
            return float("inf")
        start = max(now, self._blocked_until)
        # What this priority must leave to more urgent ones. A request dearer than that
        # waits for an empty window rather than forever.
        limit = max(self.quota - self._reserve(priority), cost)
        excess_until = self._excess_until_for(priority)
        used = self._used(start, excess_until)
        if used + cost <= limit:
            return _after(start, now)
        # Walk forward through the moments when `used` falls: one of our spends leaves the
        # window, or the excess does.
        expiries = [(t + self.window_s, c) for t, c in self._spent if t + self.window_s > start]
        excess = self._excess if start < excess_until else Decimal(0)
        if excess:
            expiries.append((excess_until, excess))
            expiries.sort(key=lambda e: e[0])
        for moment, freed in expiries:
            used -= freed
            if used + cost <= limit:
                return _after(moment, now)
        return _after(expiries[-1][0] if expiries else start, now)  # not reached: used is 0

    def suggested_reconcile_interval(self, base: float, now: float) -> float:
        """How long to wait before the next reconcile: `base`, stretched so that reconciles
        take at most half of the credits above the read reserve per window, and no sooner
        than their reads could be sent."""
        share = (self.quota - self.read_reserve) / 2
        sustainable = (float(Decimal(repr(self.window_s)) * self.reconcile_cost / share)
                       if share > 0 else self.window_s)
        return max(base, sustainable, self.delay(Priority.READ, self.reconcile_cost, now))

    # -- accounting -----------------------------------------------------------------------

    def _reserve(self, priority: Priority) -> Decimal:
        if priority is Priority.PROTECT:
            return Decimal(0)
        if priority is Priority.READ:
            return self.read_reserve
        return self.protect_reserve

    def _logged(self, now: float) -> Decimal:
        # A spend counts while t + window > now: the same sum everywhere (and in the
        # simulator's ledger), so no rounding can count it in one place and not another.
        return sum((c for t, c in self._spent if t + self.window_s > now), Decimal(0))

    def _excess_until_for(self, priority: Priority) -> float:
        if priority is Priority.PROTECT:
            return self._excess_protect_until
        return self._excess_until

    def _used(self, now: float, excess_until: float) -> Decimal:
        """Credits counted against the window at `now` (no spend after `now` is known)."""
        excess = self._excess if now < excess_until else Decimal(0)
        return self._logged(now) + excess

    def _trim(self, now: float) -> None:
        """Forget spends out of the window: they never count again."""
        while self._spent and self._spent[0][0] + self.window_s <= now:
            self._spent.popleft()
