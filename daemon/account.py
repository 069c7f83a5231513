"""One account's live book and the loop that keeps its stops in line with the rules.

The book (positions, open orders, prices, markets) is fed by the streams and corrected by REST
reconciles: the exchange is the source of truth. Every change wakes one `act` step: a full
`evaluate` when positions, orders, rules or markets changed, the engine's hot path
(`reevaluate`) when only prices or time moved; then `plan`, the plan's memory committed to the
state store, and only then the actions handed to the submitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog

from daemon import ids
from daemon.budget import CreditBudget, Priority
from daemon.dispatch import Dispatch
from daemon.domain import Market, OpenOrder, Position, PositionKey, Price
from daemon.engine import (
    TP,
    Action,
    Cancel,
    CloseMarket,
    EngineConfig,
    Evaluation,
    Memory,
    Move,
    evaluate,
    plan,
    reevaluate,
)
from daemon.journal import journal_id, journal_name
from daemon.pacifica.errors import ExchangeError, RateLimited
from daemon.pacifica.feed import Channel, Feed, FeedFatal, PositionsFrame
from daemon.pacifica.models import OrderEvent, OrderUpdate
from daemon.pacifica.rest import PacificaRest
from daemon.rules.spec import RuleBook
from daemon.state import StateStore
from daemon.submitter import ActionResult, Submitter

log = structlog.get_logger(__name__)

FAILURE_RECONCILE_EVERY_S = 2.0  # after failed actions, the exchange's view at most this often
FATAL_RECHECK_S = 5.0  # a stream refused at the handshake: how often to look again


def _position_tag_of(cloid: str) -> int | None:
    parsed = ids.parse(cloid)
    return None if parsed is None else parsed.position


def action_position(action: Action) -> PositionKey | None:
    return None if isinstance(action, Cancel) else action.order.key


class Account:
    def __init__(
        self, *, address: str, rest: PacificaRest, feed: Feed, submitter: Submitter,
        store: StateStore, budget: CreditBudget, rulebook: Callable[[], RuleBook],
        reconcile_interval: float, stale_after: float, read_cost: Decimal,
        dry_run: bool = False,
        config: EngineConfig | None = None,
        on_due: Callable[[Account, datetime | None], None] | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.address = address
        self.rest = rest
        self.feed = feed
        self.submitter = submitter
        self.store = store
        self.budget = budget
        self.rulebook = rulebook
        self.reconcile_interval = reconcile_interval
        self.read_cost = read_cost  # credits of one heavy read (positions, orders, prices)
        self.stale_after = stale_after
        self.dry_run = dry_run
        self.config = config or EngineConfig()
        self.on_due = on_due
        self.on_progress = on_progress or (lambda: None)
        # Observers (daemon.operations: metrics and alerts); they change nothing here.
        self.on_submit: Callable[[Account, Sequence[Action]], None] | None = None
        self.on_order_update: Callable[[Account, OrderUpdate], None] | None = None
        self.on_action: Callable[[Account, ActionResult], None] | None = None
        self.log = log.bind(account=address)

        self.markets: dict[str, Market] = {}
        self.positions: dict[PositionKey, Position] = {}
        self.live: tuple[OpenOrder, ...] = ()
        self.memory = Memory()
        self.evaluation: Evaluation | None = None
        self.polled_prices: dict[str, Price] = {}
        self.polled_at: float | None = None
        self.started_at = time.monotonic()
        self.reconciles = 0  # completed REST reconciles
        self.last_reconcile: float | None = None
        self.last_error: str | None = None
        self.placements_answered = False  # the first plan's placements were all answered
        self.due: datetime | None = None

        self.dispatch = Dispatch(dry_run=dry_run)
        self.fills: set[str] = set()  # our ids that filled: a rung fires once (engine)
        self._full = True
        self._wake = asyncio.Event()
        self._last_failure_reconcile = float("-inf")
        self._tags: dict[PositionKey, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pending_frame: PositionsFrame | None = None
        # The stream's (epoch, connected) when the last successful REST read began.
        self._confirmed_view: tuple[int, bool] | None = None
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_soon: Callable[[str], None] = lambda reason: None
        submitter.on_result = self._on_result
        submitter.rule_of = self._rule_of

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, reconcile_soon: Callable[[str], None]) -> None:
        """Load memory, read markets, recover the journal, start the streams and watchers."""
        self._reconcile_soon = reconcile_soon
        self.memory = self.store.load_memory(self.address)
        self.started_at = time.monotonic()
        self.markets = await self.rest.markets()
        try:
            await self.poll_prices()
        except ExchangeError as error:
            self.log.warning("prices.unavailable", error=str(error)[:300])
        await self.submitter.recover()
        if not self.memory.positions:
            await self._learn_spent()
        self.feed.start()
        for name, coro in (("submitter", self.submitter.run()), ("act", self._act_loop()),
                           ("prices", self._watch_prices()),
                           ("positions", self._watch_positions()),
                           ("orders", self._watch_orders()),
                           ("updates", self._watch_updates()),
                           ("connects", self._watch_connects())):
            self._tasks.append(asyncio.create_task(self._guard(name, coro),
                                                   name=f"{name}:{self.address[:8]}"))

    async def _learn_spent(self) -> None:
        """No memory (a first start, or the state file lost): the revisions our ids reached
        are unknown, and a leg with no order resting would start again at revision 0, an id
        the exchange may have seen (where it deduplicates only open orders, a second order
        under one id). The newest page of the order history names the ids already used."""
        try:
            self.budget.spend(self.read_cost, time.monotonic())
            page = await self.rest.order_history()
        except ExchangeError as error:
            self.log.warning("history.unavailable", error=str(error)[:300],
                             kept="ids already used may be tried again; the exchange refuses "
                                  "those it still holds")
            return
        acct = ids.account_tag(self.address)
        seen = [o.client_order_id for o in page.orders if o.client_order_id
                and (parsed := ids.parse(o.client_order_id)) is not None
                and parsed.account == acct]
        self.dispatch.learn_spent(seen)
        for order in page.orders:
            self._note_fill(order.client_order_id, order.filled_amount)
        self.log.info("history.ids_learned", count=len(seen))

    async def stop(self) -> None:
        """Stop watching and sending; resting stops stay on the exchange (the protection)."""
        with contextlib.suppress(Exception):
            await self.submitter.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.feed.stop()
        await self.rest.aclose()

    async def _guard(self, name: str, coro: Any) -> None:
        """A watcher that fails is logged and restarted, never silently lost."""
        while True:
            try:
                await coro
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{name}: {type(exc).__name__}: {exc}"[:300]
                self.log.exception("account.task_failed", task=name)
                await asyncio.sleep(1.0)
                coro = self._restart(name)
                if coro is None:
                    return

    def _restart(self, name: str) -> Any:
        return {"act": self._act_loop, "prices": self._watch_prices,
                "positions": self._watch_positions, "orders": self._watch_orders,
                "updates": self._watch_updates, "connects": self._watch_connects,
                "submitter": self.submitter.run}.get(name, lambda: None)()

    # -- the book ------------------------------------------------------------------------

    def request(self, *, full: bool) -> None:
        """Ask for an act step; `full` when more than prices or time changed."""
        self._full = self._full or full
        self._wake.set()

    async def reconcile(self, reason: str) -> None:
        """Positions and open orders over REST; the exchange is the source of truth."""
        async with self._reconcile_lock:
            now = time.monotonic()
            view = self._stream_view()
            if reason == "schedule" and self.last_reconcile is not None:
                # The budget stretches the interval when credits are short; the streams keep
                # the book live meanwhile.
                due = self.budget.suggested_reconcile_interval(self.reconcile_interval, now)
                if now - self.last_reconcile < due - 0.5:
                    if due > self.reconcile_interval:
                        self.log.info("reconcile.deferred", reason="credits short",
                                      next_in_s=round(due - (now - self.last_reconcile), 1))
                    return
            try:
                self.budget.spend(self.read_cost, time.monotonic())
                positions = await self.rest.positions()
                self.budget.spend(self.read_cost, time.monotonic())
                live = await self.rest.open_orders()
            except ExchangeError as error:
                # Logged and shown, not raised: the next scheduled reconcile tries again.
                if isinstance(error, RateLimited):
                    self.budget.rate_limited(error.retry_after or 1.0, time.monotonic())
                self.last_error = f"reconcile: {error}"[:300]
                self.log.warning("reconcile.failed", reason=reason, error=str(error)[:300])
                self._apply_pending_frame()
                return
            finally:
                state = self.rest.rate_limit
                if state is not None:
                    self.budget.observe(state, time.monotonic())
            self._pending_frame = None
            self._confirmed_view = view
            self.feed.seed_positions(positions)
            self.positions = {p.key: p for p in positions}
            self.live = tuple(live)
            pruned = self.memory.prune(self.positions)
            if pruned.positions.keys() != self.memory.positions.keys():
                self.memory = pruned
                self.store.save_memory(self.address, self.memory)
                if self.evaluation is not None:
                    self.evaluation = None  # memory changed under it: evaluate afresh
            self.reconciles += 1
            self.last_reconcile = time.monotonic()
            tags = {self._tag(key) for key in self.positions}
            self.dispatch.settled(now, lambda cloid: _position_tag_of(cloid) in tags)
            self.fills = {c for c in self.fills if _position_tag_of(c) in tags}
            self.log.info("reconcile.done", reason=reason, positions=len(positions),
                          orders=len(live))
            self.request(full=True)

    async def refresh_markets(self) -> None:
        markets = await self.rest.markets()
        if markets != self.markets:
            self.markets = markets
            self.request(full=True)

    async def poll_prices(self) -> None:
        """REST prices: at start (before the stream's first frame) and, at a low rate and
        within the budget, while the stream is stale."""
        now = time.monotonic()
        if self.budget.delay(Priority.READ, self.read_cost, now) > 0:
            return
        self.budget.spend(self.read_cost, now)
        self.polled_prices = await self.rest.prices()
        self.polled_at = time.monotonic()
        state = self.rest.rate_limit
        if state is not None:
            self.budget.observe(state, time.monotonic())
        self.request(full=False)

    def polled_recently(self, within: float) -> bool:
        """The REST price fallback worked within `within` seconds."""
        return self.polled_at is not None and time.monotonic() - self.polled_at <= within

    def stale(self) -> bool:
        """No price frame for stale_after (this process's monotonic clock); from start, the
        stream has stale_after to deliver its first one."""
        age = self.feed.age(Channel.PRICES)
        if age is None:
            return time.monotonic() - self.started_at > self.stale_after
        return age > self.stale_after

    # -- watchers ------------------------------------------------------------------------

    async def _watch_prices(self) -> None:
        async for _ in self.feed.prices.updates():
            self.request(full=False)

    async def _watch_positions(self) -> None:
        async for frame in self.feed.positions.updates():
            if {p.key for p in frame.positions} - self.positions.keys():
                # A new position, or one whose open time the stream does not know (after a
                # reconnect the feed forgets them: a position closed and reopened during the
                # gap is a new one, never judged by the old one's memory). The stream carries
                # no open time, and our ids depend on it: one REST read gives it (and the act
                # step follows the reconcile); should that read fail, see _apply_pending_frame.
                self._pending_frame = frame
                self._reconcile_soon("new position")
                continue
            self._pending_frame = None
            self.positions = {p.key: p for p in frame.positions}
            self.request(full=True)

    def _apply_pending_frame(self) -> None:
        """REST could not say when a new position opened: protect it under the identity the
        stream gives (its first `t`). A later reconcile may correct the open time; the stop
        placed meanwhile is then an orphan and replaced, which beats leaving it bare."""
        frame, self._pending_frame = self._pending_frame, None
        if frame is not None:
            self.log.warning("position.identity_from_stream",
                             why="REST positions unavailable; open time from the stream")
            # A (symbol, side) already known keeps its identity (and so its stops and memory).
            known = {(k.symbol, k.side): k.created_at for k in self.positions}
            positions = [replace(p, created_at=known.get((p.symbol, p.side), p.created_at))
                         for p in frame.positions]
            self.feed.seed_positions(positions)
            self.positions = {p.key: p for p in positions}
            self.request(full=True)

    async def _watch_orders(self) -> None:
        async for orders in self.feed.orders:
            self.live = orders
            self.request(full=True)

    async def _watch_updates(self) -> None:
        async for update in self.feed.order_updates:
            self._note_update(update)

    def _note_update(self, update: OrderUpdate) -> None:
        if self.on_order_update is not None:
            self.on_order_update(self, update)
        self._note_fill(update.client_order_id, update.filled_amount)
        if update.event in (OrderEvent.CANCEL, OrderEvent.FORCE_CANCEL,
                            OrderEvent.STOP_TRIGGERED):
            # The full set arrives on account_orders too; dropping the order here at once
            # lets the next act step see a stop cancelled by hand without waiting for it.
            before = len(self.live)
            self.live = tuple(o for o in self.live if o.order_id != update.order_id)
            if len(self.live) != before:
                self.request(full=True)

    def _note_fill(self, cloid: str | None, filled: Decimal) -> None:
        """An order of ours that filled, wholly or in part: the engine learns that its leg
        fired (a rung fires once, even one it never saw the price cross, e.g. a spike between
        two frames), and its id is spent. Forgotten with its position (reconcile)."""
        if filled <= 0 or cloid is None or cloid in self.fills:
            return
        if not ids.is_ours(cloid, self.address):
            return
        self.fills.add(cloid)
        self.dispatch.learn_spent((cloid,))
        self.request(full=True)

    async def _watch_connects(self) -> None:
        epoch = 0
        while True:
            try:
                epoch = await self.feed.wait_ready(epoch)
            except FeedFatal:
                # Refused at the handshake (a bad URL, a refused key): the feed retries
                # slowly, status shows the failure (service.check_feeds); look again later.
                await asyncio.sleep(FATAL_RECHECK_S)
                continue
            # After every (re)connect: the streams were resubscribed; resync over REST, then act.
            self._reconcile_soon("connect")

    # -- acting --------------------------------------------------------------------------

    async def _act_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.reconciles == 0:
                continue  # nothing is acted on before the first REST read
            self.act()
            # Let the watchers and the submitter run between steps.
            await asyncio.sleep(0)

    def engine_inputs(self) -> tuple[Mapping[str, Price], EngineConfig]:
        """The prices the engine sees, and how it must judge them.

        Staleness is judged here, on this process's monotonic clock (the exchange's price
        timestamps come from its own clock, which may be off by seconds). While the stream is
        stale the engine gets the last prices known (the stream's, or REST's polled since)
        marked stale: they still protect (a crossed stop is still seen) but move nothing,
        so trailing freezes and resting stops stay (design.md §5.6).
        """
        if not self.stale():
            if self.feed.age(Channel.PRICES) is None:
                # Starting: the prices read over REST stand in until the stream's first frame,
                # so the first plan trails from a price rather than placing a wider stop it
                # replaces a moment later.
                return self.polled_prices, self.config
            return self.feed.prices.latest, self.config
        # The newer source wins: the REST prices read at start (or in an earlier stale spell)
        # are older than the stream's last frame, and judging a stop that trailed on the stream
        # against them would see it "crossed" and close the position at market.
        age = self.feed.age(Channel.PRICES)
        stream_at = None if age is None else time.monotonic() - age
        older, newer = self.feed.prices.latest, self.polled_prices
        if self.polled_at is None or (stream_at is not None and stream_at > self.polled_at):
            older, newer = newer, older
        known = {**older, **newer}
        return ({symbol: replace(price, timestamp=0) for symbol, price in known.items()},
                replace(self.config, stale_after_ms=0))

    def act(self) -> None:
        rulebook = self.rulebook()
        now = datetime.now(UTC)
        prices, config = self.engine_inputs()
        previous = self.evaluation
        if self._full or previous is None:
            self._full = False
            evaluation = evaluate(rulebook, self.positions.values(), prices, self.markets,
                                  self.memory, now, account=self.address, live=self.live,
                                  config=config, fills=self.fills)
        else:
            evaluation = reevaluate(previous, rulebook, self.positions, prices, self.markets,
                                    now, account=self.address, live=self.live, config=config)
        result = plan(evaluation.desired, self.live, account=self.address,
                      positions=self.positions.keys(), memory=evaluation.memory, now=now,
                      spent=self.dispatch.spent(time.monotonic()))
        # The memory first, then the orders it names: a crash between the two re-sends the
        # same ids, never new ones.
        if result.memory is not self.memory:
            self.memory = result.memory
            self.store.save_memory(self.address, self.memory)
        self.evaluation = Evaluation(evaluation.results, self.memory,
                                     band_index=evaluation.band_index)
        self._note_due(evaluation)
        actions = self.dispatch.fresh(self._confirmed(result.actions), time.monotonic())
        self.dispatch.submitted(actions)
        if not actions:
            self._check_ready()
            return
        for action in actions:
            if isinstance(action, Move) and action.loosens:
                # Only a rule change may loosen a stop (design.md §5.2): say so loudly.
                self.log.warning("stop.loosened", rule=self._rule_of(action),
                                 reason=action.reason)
            self.log.debug("order.planned", rule=self._rule_of(action),
                          action=journal_name(action), client_order_id=journal_id(action),
                          reason=action.reason)
        self.submitter.submit(actions, bare=self.bare())
        if self.on_submit is not None:
            self.on_submit(self, actions)

    def _stream_view(self) -> tuple[int, bool]:
        return self.feed.epoch, self.feed.connected

    def _confirmed(self, actions: Sequence[Action]) -> Sequence[Action]:
        """Leave out market closes while the positions known may be out of date: the stream
        (re)connected since the last REST read began, or it showed news that read is still to
        settle. A position may have closed and reopened on the same side unseen, and a close
        planned from the old one's memory (a trailing extreme far above the new entry) would
        close the new one at market. Resting stops protect meanwhile; the plan after the read
        asks again if the close still holds."""
        if self._pending_frame is None and self._stream_view() == self._confirmed_view:
            return actions
        return [a for a in actions if not isinstance(a, CloseMarket)]

    def _note_due(self, evaluation: Evaluation) -> None:
        due = min((r.band.due for r in evaluation.results.values() if r.band.due is not None),
                  default=None)
        if due != self.due:
            self.due = due
            if self.on_due is not None:
                self.on_due(self, due)

    def bare(self) -> set[PositionKey]:
        """Positions with no resting stop of ours (a take-profit rests, but protects nothing)."""
        covered = set()
        acct = ids.account_tag(self.address)
        take_profit = ids.leg_tag(TP)
        for order in self.live:
            parsed = ids.parse(order.client_order_id)
            if parsed is not None and parsed.account == acct and parsed.leg != take_profit:
                covered.add(parsed.position)
        return {key for key in self.positions if self._tag(key) not in covered}

    def _tag(self, key: PositionKey) -> int:
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = ids.position_tag(self.address, key)
        return tag

    def _rule_of(self, action: Action) -> str | None:
        key = action_position(action)
        if key is None or self.evaluation is None:
            return None
        result = self.evaluation.results.get(key)
        return None if result is None else result.rule

    def _on_result(self, result: ActionResult) -> None:
        if self.on_action is not None:
            self.on_action(self, result)
        now = time.monotonic()
        answer = self.dispatch.answered(result, now)
        what = f"{journal_id(result.action)} ({journal_name(result.action)})"
        if answer.rejected:
            self.last_error = f"{what} rejected: {result.detail}"[:300]
        elif answer.retry_in is not None:
            # The submitter gave up after its own retries: the exchange's view first (at
            # most every couple of seconds), and the action again after a backoff.
            self.last_error = f"{what} failed: {result.detail}"[:300]
            asyncio.get_running_loop().call_later(answer.retry_in,
                                                  lambda: self.request(full=False))
            if now - self._last_failure_reconcile >= FAILURE_RECONCILE_EVERY_S:
                self._last_failure_reconcile = now
                self._reconcile_soon("failed action")
        if result.duplicate_not_open and not isinstance(result.action, Cancel):
            # "Duplicate client order id" for an order that is not open: that id is spent.
            order = result.action.order
            self.memory = self.memory.consumed(order.key, order.leg)
            self.store.save_memory(self.address, self.memory)
            self.evaluation = None
        self._check_ready()
        self.request(full=isinstance(result.action, Cancel) or result.outcome != "placed")

    def _check_ready(self) -> None:
        if not self.placements_answered and self.dispatch.first_answered:
            self.placements_answered = True
            self.on_progress()

    @property
    def ready(self) -> bool:
        """Read by a reconcile, and the first plan's placements all answered."""
        return self.reconciles > 0 and self.placements_answered
