"""Which planned actions go to the submitter now: the service's side of submission.

Every act step plans afresh, and a plan repeats an action until the book shows its effect
(an order resting, an order gone). `Dispatch` keeps those repeats from the submitter: an
action in flight, one answered moments ago (the stream shows its order within milliseconds),
one the exchange refused for good, one that failed and waits out its backoff, and the cancel
of an order a move in flight replaces anyway. It also tells when the first plan's actions
were all answered (READY=1 waits for that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from daemon.engine import Action, Cancel, Move
from daemon.pacifica.retry import RetryPolicy
from daemon.submitter import ActionResult

# An action answered "done" is not planned again until the book shows its order or this long
# has passed.
SETTLE_S = 3.0
# After the submitter gave up on an action: full jitter, capped so protection resumes within
# a few seconds of a fault ending.
FAILURE_BACKOFF = RetryPolicy(base_delay=0.5, max_delay=4.0)
DONE = frozenset(("placed", "already_placed", "cancelled", "gone", "dry_run"))


def action_key(action: Action) -> str:
    """What identifies an action across plans: the order it places, or the one it cancels."""
    if isinstance(action, Cancel):
        return f"cancel:{action.order.order_id}"
    return action.order.client_order_id


@dataclass(frozen=True, slots=True)
class Answer:
    """What one result means for the account: `retry_in` seconds when it failed."""

    done: bool
    rejected: bool
    retry_in: float | None


class Dispatch:
    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self._inflight: set[str] = set()
        self._replacing: set[int] = set()  # order ids an in-flight move will cancel
        self._sent: dict[str, float] = {}  # action key -> when it was answered done
        self._final: set[str] = set()  # refused: final for that intent
        self._held: dict[str, float] = {}  # action key -> not before
        self._failures: dict[str, int] = {}  # action key -> failures in a row
        self._first: set[str] | None = None  # the first plan's actions not yet answered
        self._accepted: dict[str, float] = {}  # client_order_id -> when the exchange took it
        self._spent: set[str] = set()  # accepted, and had time to show in the book

    @property
    def first_answered(self) -> bool:
        return self._first is not None and not self._first

    def fresh(self, actions: Iterable[Action], now: float) -> list[Action]:
        """The actions worth sending now."""
        out: list[Action] = []
        for action in actions:
            key = action_key(action)
            if key in self._inflight or key in self._final or self._held.get(key, 0.0) > now:
                continue
            if isinstance(action, Cancel) and action.order.order_id in self._replacing:
                continue  # the move in flight cancels it once its successor rests
            sent = self._sent.get(key)
            # A dry run never sees its orders rest: once is enough.
            if sent is not None and (self.dry_run or now - sent < SETTLE_S):
                continue
            out.append(action)
        return out

    def submitted(self, actions: Sequence[Action]) -> None:
        keys = {action_key(a) for a in actions}
        if self._first is None:
            self._first = set(keys)
        self._inflight |= keys
        self._replacing.update(a.replaces.order_id for a in actions if isinstance(a, Move))

    def answered(self, result: ActionResult, now: float) -> Answer:
        key = action_key(result.action)
        self._inflight.discard(key)
        if isinstance(result.action, Move):
            self._replacing.discard(result.action.replaces.order_id)
        if self._first:
            self._first.discard(key)
        if result.duplicate_not_open:
            self._sent.pop(key, None)  # its id is spent: the next plan takes a new one
        if result.outcome in ("placed", "already_placed") and not isinstance(
                result.action, Cancel):
            self._accepted[result.action.order.client_order_id] = now
        if result.outcome in DONE:
            if not result.duplicate_not_open:
                self._sent[key] = now
            self._failures.pop(key, None)
            return Answer(True, False, None)
        if result.outcome == "rejected":
            self._final.add(key)
            return Answer(False, True, None)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        wait = FAILURE_BACKOFF.backoff(failures)
        self._held[key] = now + wait
        return Answer(False, False, wait)

    def spent(self, now: float) -> set[str]:
        """Ids the exchange accepted (for `plan(spent=...)`: never sent again), once the book
        had time to show them: an id just answered and not yet seen resting must keep its
        leg's revision, or the next plan would place a second stop beside it."""
        ripe = [c for c, at in self._accepted.items() if now - at >= SETTLE_S]
        for cloid in ripe:
            del self._accepted[cloid]
        self._spent.update(ripe)
        return self._spent

    def learn_spent(self, cloids: Iterable[str]) -> None:
        """Ids the exchange's order history shows (a start without memory): never sent again."""
        self._spent.update(cloids)

    def settled(self, read_started: float, keep: Callable[[str], bool]) -> None:
        """A reconcile read the exchange (its reads began at `read_started`): what it shows
        replaces the answers before it. Ids of positions that are gone are forgotten."""
        self._sent.clear()
        for cloid, at in list(self._accepted.items()):
            if at < read_started:
                del self._accepted[cloid]
                self._spent.add(cloid)
        self._spent = {c for c in self._spent if keep(c)}
