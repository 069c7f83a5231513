"""The submission worker: planned actions, carried out per position, most urgent first.

    submitter = Submitter(account=..., client=rest, markets=lambda: markets, store=store,
                          budget=budget)
    await submitter.recover()          # pending journal entries: adopt or re-send, same ids
    task = asyncio.create_task(submitter.run())
    submitter.submit(plan.actions, bare=bare_positions)   # never blocks
    ...
    await submitter.stop()

Scheduling rules (issue 10, design.md §5):
- One lane per position (its 36-bit tag from the client_order_id, so an orphan cancel and a
  placement of the same position share it): a lane runs one action at a time; different
  positions run in parallel, at most `concurrency` at once.
- A newer action for the same (position, leg) supersedes a queued, not-yet-started one; a
  cancel is keyed by the order it cancels, so it is superseded only by a cancel of that order.
- The next action to start is the most urgent (`daemon.budget.Priority`: protect a bare
  position > resize > move > cleanup) among every lane's queue, and it starts only when the
  credit budget lets it: when credits are short a bare position is served before trailing
  moves.
- A rejection is final for its intent: the same client_order_id is not sent again by this
  process, and the position shows in `rejected` until an action with another id arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from daemon import ids, journal
from daemon.budget import HEAVY_READ_COST, CreditBudget, Priority, cost_of, priority_of
from daemon.domain import Market, PositionKey
from daemon.engine.plan import Action, Cancel, CloseMarket, Move, Place
from daemon.execute import (
    FAILED,
    REJECTED,
    ActionResult,
    Executor,
)
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.recovery import recover_pending
from daemon.state import StateStore

__all__ = ["ActionResult", "Submitter"]

log = structlog.get_logger(__name__)

DEFAULT_CONCURRENCY = 4
# A placement just answered is not sent again for this long, even if a plan made before the
# order showed up on the stream asks for it again: it would only earn a duplicate answer.
# Short: an order cancelled by hand before the plan ever saw it is put back after this.
RECENTLY_DONE_S = 10.0
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=0.2, max_delay=5.0)

_Lane = tuple[str, int]  # (symbol, position tag)
_Slot = tuple[str, str | int]  # ("leg", name) or ("order", order_id)


@dataclass(slots=True)
class _Item:
    action: Action
    priority: Priority
    seq: int
    key: PositionKey | None  # None: an orphan cancel, whose position is gone
    lane: _Lane
    slot: _Slot


@dataclass(slots=True)
class _LaneState:
    queued: dict[_Slot, _Item] = field(default_factory=dict)
    running: _Item | None = None


def _lane_and_slot(account: str, action: Action) -> tuple[_Lane, _Slot]:
    if isinstance(action, Cancel):
        parsed = ids.parse(action.order.client_order_id)
        lane = (action.order.symbol, parsed.position if parsed else -action.order.order_id)
        return lane, ("order", action.order.order_id)
    key = action.order.key
    return (key.symbol, ids.position_tag(account, key)), ("leg", action.order.leg)


def _first_cost(action: Action) -> Decimal:
    """Credits of the action's first request (a Move's cancel is paid when it is sent)."""
    if isinstance(action, Move):
        return cost_of(Place(action.order, action.reason))
    return cost_of(action)


class Submitter:
    def __init__(self, *, account: str, client: PacificaRest,
                 markets: Callable[[], Mapping[str, Market]], store: StateStore,
                 budget: CreditBudget, dry_run: bool = False,
                 close_slippage: Decimal = Decimal("0.5"),
                 clock: Callable[[], float] = time.monotonic,
                 concurrency: int = DEFAULT_CONCURRENCY,
                 retry: RetryPolicy = DEFAULT_RETRY,
                 read_cost: Decimal = HEAVY_READ_COST) -> None:
        """`read_cost`: credits of one heavy read (a lookup of open orders by id):
        `HEAVY_READ_COST_WITH_KEY` when the client sends an API config key."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.account = account
        self.dry_run = dry_run
        self.budget = budget
        self.store = store
        self.clock = clock
        self.concurrency = concurrency
        self.executor = Executor(account=account, client=client, markets=markets, store=store,
                                 budget=budget, dry_run=dry_run, close_slippage=close_slippage,
                                 clock=clock, retry=retry, sleep=retry.sleep,
                                 read_cost=read_cost)
        self.last_error: str | None = None
        self.on_result: Callable[[ActionResult], None] | None = None
        self._rejected: dict[PositionKey, str] = {}
        self._rejected_ids: dict[PositionKey, str] = {}
        self._final_ids: set[str] = set()  # rejected intents: never sent again
        self._recent: dict[str, float] = {}  # cloid -> when its placement was answered
        self._lanes: dict[_Lane, _LaneState] = {}
        # Every queued item by (priority, seq); superseded ones stay until popped (a lane's
        # queue says which is current), so choosing the next costs log n, not n.
        self._heap: list[tuple[Priority, int, _Item]] = []
        self._queued = 0  # items in the lanes' queues
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._wake = asyncio.Event()
        self._stopping = False

    # -- what the service reads ---------------------------------------------------------

    @property
    def rule_of(self) -> Callable[[Action], str | None] | None:
        """Names the rule behind an action, for its log line (set by the service)."""
        return self.executor.rule_of

    @rule_of.setter
    def rule_of(self, lookup: Callable[[Action], str | None] | None) -> None:
        self.executor.rule_of = lookup

    @property
    def idle(self) -> bool:
        return not self._lanes

    @property
    def last_progress(self) -> float:
        """Monotonic time the last request ended, answered or not (for a watchdog); the
        construction time before any."""
        return self.executor.last_progress

    @property
    def rejected(self) -> Mapping[PositionKey, str]:
        """Positions whose last intent the exchange refused, with its text: bare until a new
        plan for them arrives."""
        return self._rejected

    @property
    def backlog(self) -> int:
        """Actions queued or running (for status and metrics)."""
        return self._queued + len(self._tasks)

    def forget(self, keys: Collection[PositionKey]) -> None:
        """Positions a reconcile found gone: nothing of theirs is bare any more."""
        for key in keys:
            self._rejected.pop(key, None)
            self._rejected_ids.pop(key, None)

    # -- input ----------------------------------------------------------------------------

    def submit(self, actions: Sequence[Action], *, bare: Collection[PositionKey]) -> None:
        """Queue `actions` (never blocks). `bare`: positions without any resting stop now."""
        if self._stopping:
            log.warning("submitter.stopping_dropped", account=self.account, count=len(actions))
            return
        now = self.clock()
        for action in actions:
            key = None if isinstance(action, Cancel) else action.order.key
            cloid = journal.journal_id(action)
            if key is not None:
                if self._settled(cloid, now):
                    continue
                if key in self._rejected and self._rejected_ids.get(key) != cloid:
                    del self._rejected[key]  # a new plan for this position: try again
            lane_key, slot = _lane_and_slot(self.account, action)
            lane = self._lanes.get(lane_key)
            running = lane.running if lane is not None else None
            if running is not None and journal.journal_id(running.action) == cloid \
                    and type(running.action) is type(action):
                continue  # already on its way
            if lane is None:
                lane = self._lanes[lane_key] = _LaneState()
            self._seq += 1
            priority = priority_of(action, bare=key is not None and key in bare)
            superseded = lane.queued.pop(slot, None)
            if superseded is not None:
                log.debug("submitter.superseded", account=self.account,
                          client_order_id=journal.journal_id(superseded.action),
                          by=cloid)
            item = lane.queued[slot] = _Item(action, priority, self._seq, key, lane_key, slot)
            heapq.heappush(self._heap, (priority, self._seq, item))
            if superseded is None:
                self._queued += 1
            elif len(self._heap) > 2 * self._queued + 64:
                self._compact()
        self._prune_recent(now)
        self._wake.set()

    def _settled(self, cloid: str, now: float) -> bool:
        """A placement not worth sending: refused already (the same answer would come), a
        market close sent once, or answered a moment ago."""
        if cloid in self._final_ids:
            return True
        answered = self._recent.get(cloid)
        return answered is not None and now - answered < RECENTLY_DONE_S

    def _prune_recent(self, now: float) -> None:
        if len(self._recent) > 256:
            self._recent = {c: t for c, t in self._recent.items() if t > now - RECENTLY_DONE_S}

    # -- the worker ------------------------------------------------------------------------

    def _compact(self) -> None:
        """Drop superseded entries from the heap (they pile up while nothing is chosen)."""
        self._heap = [(i.priority, i.seq, i) for lane in self._lanes.values()
                      for i in lane.queued.values()]
        heapq.heapify(self._heap)

    def _next(self) -> _Item | None:
        """The most urgent queued item of a lane that is not busy, taken off the heap."""
        busy: list[tuple[Priority, int, _Item]] = []
        chosen: _Item | None = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            item = entry[2]
            lane = self._lanes.get(item.lane)
            if lane is None or lane.queued.get(item.slot) is not item:
                continue  # superseded, or dropped by stop
            if lane.running is not None:
                busy.append(entry)  # its lane runs one action at a time
                continue
            chosen = item
            break
        for entry in busy:
            heapq.heappush(self._heap, entry)
        return chosen

    async def run(self) -> None:
        """Start queued actions until `stop`; the budget decides when."""
        while not self._stopping:
            self._wake.clear()
            item = self._next() if len(self._tasks) < self.concurrency else None
            if item is None:
                await self._wake.wait()
                continue
            wait = self.budget.delay(item.priority, _first_cost(item.action), self.clock())
            if wait > 0:
                heapq.heappush(self._heap, (item.priority, item.seq, item))
                # Something more urgent may arrive meanwhile: look again when it does.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            lane = self._lanes[item.lane]
            del lane.queued[item.slot]
            self._queued -= 1
            if item.key is not None and self._settled(journal.journal_id(item.action),
                                                      self.clock()):
                # Settled while it waited (the same order went with an action ahead of it).
                if not lane.queued:
                    del self._lanes[item.lane]
                continue
            lane.running = item
            task = asyncio.create_task(self._run_one(item))
            self._tasks.add(task)

    async def _run_one(self, item: _Item) -> None:
        try:
            result = await self.executor.execute(item.action, item.priority)
        except Exception as error:
            # An unexpected failure (the journal, a bad answer): the action failed, the
            # worker lives on and the service reconciles.
            log.exception("submitter.action_crashed", account=self.account,
                          client_order_id=journal.journal_id(item.action))
            result = ActionResult(item.action, FAILED, f"{type(error).__name__}: {error}")
        finally:
            lane = self._lanes.get(item.lane)
            if lane is not None:
                lane.running = None
                if not lane.queued:
                    del self._lanes[item.lane]
            current = asyncio.current_task()
            if current is not None:
                self._tasks.discard(current)
            self._wake.set()
        self._settle(item.key, result)

    def _settle(self, key: PositionKey | None, result: ActionResult) -> None:
        action = result.action
        cloid = journal.journal_id(action)
        if result.outcome == REJECTED:
            self.last_error = f"{cloid}: {result.detail}"
            if key is not None:
                self._final_ids.add(cloid)
                self._rejected[key] = f"{action.reason}: {result.detail}"
                self._rejected_ids[key] = cloid
        elif result.outcome == FAILED:
            self.last_error = f"{cloid}: {result.detail}"
        elif key is not None and not isinstance(action, Cancel):
            self._recent[cloid] = self.clock()
            if isinstance(action, CloseMarket):
                self._final_ids.add(cloid)  # a market close is sent once
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # the service's bug must not stop the worker
                log.exception("submitter.on_result_failed", account=self.account)

    async def stop(self, grace: float = 5.0) -> None:
        """Take no more actions, drop what is queued, let what runs finish (up to `grace` seconds,
        then cancel it: its journal entry stays pending and `recover` settles it)."""
        self._stopping = True
        dropped = sum(len(lane.queued) for lane in self._lanes.values())
        self._lanes = {k: lane for k, lane in self._lanes.items() if lane.running is not None}
        self._heap.clear()
        self._queued = 0
        for lane in self._lanes.values():
            lane.queued.clear()
        if dropped:
            log.info("submitter.stopped_with_queue", account=self.account, dropped=dropped)
        self._wake.set()
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # -- after a restart -----------------------------------------------------------------

    async def recover(self) -> None:
        """Settle every pending journal entry (daemon.recovery): an order found by its id is
        adopted, one not found is sent again with the same id while it still makes sense, a
        cancel of an order that is gone is done. Call before `run`."""
        error = await recover_pending(self.executor, self.store, self.account,
                                      dry_run=self.dry_run, settle=self._settle)
        if error is not None:
            self.last_error = f"recover: {error}"
