"""Carrying out one planned action against the exchange, so that no retry can double an order.

One `Executor.execute` call is one action: journal the intent, send, retry what is transient
with the SAME client_order_id, confirm anything uncertain by that id, journal the outcome, log
the action once. The submitter decides when and in which order actions run; this module
decides how one runs (anchors.md R1):

- every request first waits for the credit budget (`daemon.budget`), which owns every wait: a
  429's `retry_after` goes to `budget.rate_limited` and the request is tried again after it;
- a transient failure (not sent, ambiguous, unreadable answer) of a placement is settled by
  looking the order up by its id, then re-sending the same id after a jittered backoff
  (`RetryPolicy`); "Duplicate client order id" means placed, checked against the open orders;
- a Move/Resize is make-before-break: the new revision must be accepted before the old one is
  cancelled, and if placing it fails the old one stays;
- a rejection is final for that intent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from daemon import ids, journal
from daemon.budget import CreditBudget, Priority, cost_of
from daemon.domain import Market, OpenOrder, PositionKey
from daemon.engine.model import LegKind
from daemon.engine.plan import Action, Cancel, Move, OrderIntent, Place
from daemon.orderrequests import OrderRequest, cancel_request, order_request, sign_only
from daemon.pacifica.errors import (
    AuthError,
    ExchangeError,
    MalformedResponse,
    NotFound,
    RateLimited,
    Rejected,
    Transient,
)
from daemon.pacifica.models import HistoricalOrder, OrderStatus, WriteStatus
from daemon.pacifica.payloads import OrderValidationError
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.state import StateStore

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

# Outcomes reported in ActionResult.outcome and the log.
PLACED = "placed"
ALREADY_PLACED = "already_placed"
CANCELLED = "cancelled"
GONE = "gone"
REJECTED = "rejected"
FAILED = "failed"
DRY_RUN = "dry_run"

# Journal states (daemon/state.py).
DONE = "done"

# A 429 answered again and again still ends: the action fails and the service reconciles.
MAX_RATE_LIMITED = 20
# The least a 429 is waited out, whatever its header says.
MIN_RATE_LIMIT_WAIT = 0.5


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    outcome: str  # placed | already_placed | cancelled | gone | rejected | failed | dry_run
    detail: str | None = None
    # "Duplicate client order id" but no such order open: it fired or was cancelled, so the
    # service calls Memory.consumed and the leg's next order takes a fresh revision.
    duplicate_not_open: bool = False


@dataclass(frozen=True, slots=True)
class _Placed:
    outcome: str  # PLACED | ALREADY_PLACED
    resting: bool  # accepted and open: safe to cancel what it replaces
    detail: str | None = None
    not_open: bool = False  # placed once, and the open orders show it is no longer there


@dataclass(frozen=True, slots=True)
class _Lookup:
    known: bool  # False: the open orders could not be read
    order: OpenOrder | None


class FinalError(Exception):
    """The action cannot succeed as planned: rejected, or failed after every retry."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class Executor:
    def __init__(self, *, account: str, client: PacificaRest,
                 markets: Callable[[], Mapping[str, Market]], store: StateStore,
                 budget: CreditBudget, dry_run: bool, close_slippage: Decimal,
                 clock: Callable[[], float], retry: RetryPolicy,
                 sleep: Callable[[float], Awaitable[None]], read_cost: Decimal) -> None:
        if not close_slippage.is_finite() or close_slippage <= 0:
            raise ValueError(f"close_slippage must be a positive percent, not {close_slippage}")
        self.account = account
        self.client = client
        self.markets = markets
        self.store = store
        self.budget = budget
        self.dry_run = dry_run
        self.close_slippage = close_slippage
        self.clock = clock
        self.retry = retry
        self.sleep = sleep
        self.read_cost = read_cost  # one GET /orders or /positions
        # The rule that asked for an action, for the log line (the service knows it).
        self.rule_of: Callable[[Action], str | None] | None = None
        self.last_progress = clock()

    # -- one action ----------------------------------------------------------------------

    async def execute(self, action: Action, priority: Priority, *,
                      journaled: bool = False) -> ActionResult:
        """Carry out `action` and log it once; never raises for an exchange outcome.

        `journaled`: the intent is already in the journal (recovery re-sends it)."""
        cloid = journal.journal_id(action)
        try:
            if self.dry_run:
                result = self._dry_run(action)
            else:
                if not journaled:
                    self.store.journal_intent(self.account, cloid, journal.journal_name(action),
                                              _symbol(action), journal.encode(action))
                result = await self._carry_out(action, priority)
                self.store.journal_outcome(cloid, _journal_state(result.outcome), result.detail)
        except FinalError as final:
            result = ActionResult(action, final.outcome, final.detail)
            self.store.journal_outcome(cloid, _journal_state(final.outcome), final.detail)
        self.log(action, result)
        return result

    async def _carry_out(self, action: Action, priority: Priority) -> ActionResult:
        if isinstance(action, Cancel):
            return ActionResult(action, await self.cancel(action.order, priority))
        placed = await self.place(action.order, priority)
        if not isinstance(action, Move):
            return ActionResult(action, placed.outcome, placed.detail,
                                duplicate_not_open=placed.not_open)
        old = _order_name(action.replaces)
        if not placed.resting:
            # The new revision is not seen open (it fired, was cancelled by hand, or the
            # lookup failed): cancelling the old one now could leave the position bare.
            return ActionResult(action, placed.outcome,
                                f"{placed.detail or 'not seen open'}; kept {old}",
                                duplicate_not_open=placed.not_open)
        try:
            gone = await self.cancel(action.replaces, priority)
        except FinalError as final:
            # Both revisions rest: over-covered, never bare; the next plan cancels the old one.
            return ActionResult(action, placed.outcome,
                                f"cancelling {old} {final.outcome}: {final.detail}")
        return ActionResult(action, placed.outcome, f"{old} {gone}")

    # -- placements and cancels ------------------------------------------------------------

    def _market(self, symbol: str) -> Market:
        market = self.markets().get(symbol)
        if market is None:
            raise FinalError(FAILED, f"no market data for {symbol}")
        return market

    async def place(self, intent: OrderIntent, priority: Priority) -> _Placed:
        try:
            request = order_request(intent, self._market(intent.key.symbol), self.close_slippage)
        except OrderValidationError as error:
            raise FinalError(REJECTED, f"refused before sending: {error}") from None
        cost = cost_of(Place(intent, ""))
        cloid = intent.client_order_id
        # A market close never rests: only a re-send (answered "duplicate" if it landed) can
        # tell whether it went through, so it is never looked up among the open orders.
        resting = intent.kind is not LegKind.CLOSE
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                outcome = await self._request(priority, cost, lambda: request.send(self.client))
            except (Transient, MalformedResponse) as error:
                settled = await self._settle_ambiguous(cloid, resting, priority, error)
                if settled is not None:
                    return settled
                if last:
                    raise FinalError(FAILED, f"{error} (after {attempt} attempts)") from None
                await self.sleep(self.retry.backoff(attempt))
                continue
            except ExchangeError as error:
                raise _final(error, closing=not resting) from None
            if outcome.status is WriteStatus.PLACED:
                return _Placed(PLACED, resting)
            if not resting:
                return _Placed(ALREADY_PLACED if outcome.status is WriteStatus.ALREADY_PLACED
                               else PLACED, False, "market close")
            found = await self._find(cloid, priority)
            if found.order is not None:
                if outcome.status is WriteStatus.ALREADY_PLACED:
                    return _Placed(ALREADY_PLACED, True)
                return _Placed(PLACED, True, "accepted without an order id; confirmed by id")
            if outcome.status is WriteStatus.ALREADY_PLACED:
                if not found.known:
                    return _Placed(ALREADY_PLACED, False, "duplicate id; open orders unreadable")
                return _Placed(ALREADY_PLACED, False, "duplicate id, not open", not_open=True)
            # UNCONFIRMED (accepted without an order_id) and not seen: the same id again; a
            # duplicate answer then says it exists.
            if last:
                return _Placed(PLACED, False, "accepted, never seen open")
            await self.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _settle_ambiguous(self, cloid: str, resting: bool, priority: Priority,
                                error: ExchangeError) -> _Placed | None:
        """Did the order whose answer was lost land? Open orders first (cheap to ask, and what
        a resting order shows in), then the order history: where "Duplicate client order id"
        covers only open orders, a re-send of an order that landed and already fired (or a
        market close that filled) would be a second order. None: not seen anywhere, so the
        same id goes again."""
        if resting:
            found = await self._find(cloid, priority)
            if found.order is not None:
                return _Placed(PLACED, True, f"confirmed by id after: {error}")
        landed = await self.in_history(cloid, priority)
        if landed is None or landed.status is OrderStatus.REJECTED:
            return None
        if landed.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED) and resting:
            return _Placed(PLACED, True, f"confirmed in the order history after: {error}")
        return _Placed(PLACED, False, f"landed, {landed.status.value}, after: {error}",
                       not_open=resting)

    async def cancel(self, order: OpenOrder, priority: Priority) -> str:
        """CANCELLED or GONE (a cancel of an order that is not there is done)."""
        request = cancel_request(order)
        cost = cost_of(Cancel(order, ""))
        for attempt in range(1, self.retry.attempts + 1):
            try:
                outcome = await self._request(priority, cost, lambda: request.send(self.client))
            except (Transient, MalformedResponse) as error:
                # A repeated cancel cannot do harm: the second finds nothing to cancel.
                if attempt == self.retry.attempts:
                    raise FinalError(FAILED, f"{error} (after {attempt} attempts)") from None
                await self.sleep(self.retry.backoff(attempt))
                continue
            except ExchangeError as error:
                raise _final(error) from None
            return GONE if outcome.status is WriteStatus.GONE else CANCELLED
        raise AssertionError("unreachable")  # pragma: no cover

    async def _find(self, client_order_id: str, priority: Priority) -> _Lookup:
        """The open order with this id; `known` False when the lookup itself failed."""
        try:
            found = await self._request(priority, self.read_cost,
                                        lambda: self.client.find_order(client_order_id))
        except ExchangeError as error:
            log.warning("submitter.confirm_failed", account=self.account,
                        client_order_id=client_order_id, error=str(error))
            return _Lookup(False, None)
        return _Lookup(True, found)

    async def in_history(self, client_order_id: str,
                          priority: Priority) -> HistoricalOrder | None:
        """The newest history page's order with this id; None also when it cannot be read (the
        same id then goes again, which the exchange deduplicates)."""
        try:
            return await self._request(priority, self.read_cost, lambda: (
                self.client.find_order_in_history(client_order_id)))
        except ExchangeError as error:
            log.warning("submitter.history_failed", account=self.account,
                        client_order_id=client_order_id, error=str(error))
            return None

    async def history(self, priority: Priority) -> dict[str, HistoricalOrder]:
        """The newest page of the order history by client_order_id; empty when it cannot be
        read (what it would have shown then goes again with its id, which the exchange
        deduplicates)."""
        try:
            page = await self._request(priority, self.read_cost, self.client.order_history)
        except ExchangeError as error:
            log.warning("submitter.history_failed", account=self.account, error=str(error))
            return {}
        return {o.client_order_id: o for o in page.orders if o.client_order_id}

    async def open_orders(self, priority: Priority) -> list[OpenOrder]:
        return await self._request(priority, self.read_cost, self.client.open_orders)

    async def positions(self, priority: Priority) -> set[PositionKey]:
        found = await self._request(priority, self.read_cost, self.client.positions)
        return {position.key for position in found}

    # -- the budget owns every wait ---------------------------------------------------------

    async def gate(self, priority: Priority, cost: Decimal) -> None:
        while True:
            wait = self.budget.delay(priority, cost, self.clock())
            if wait <= 0:
                self.budget.spend(cost, self.clock())
                return
            await self.sleep(wait)

    async def _request(self, priority: Priority, cost: Decimal,
                       call: Callable[[], Awaitable[_T]]) -> _T:
        for _ in range(MAX_RATE_LIMITED):
            await self.gate(priority, cost)
            try:
                result = await call()
            except RateLimited as limited:
                wait = limited.retry_after
                # A 429 that states no wait (or none) still waits a little: never a tight loop.
                self.budget.rate_limited(max(MIN_RATE_LIMIT_WAIT, wait or 0.0), self.clock())
                continue
            finally:
                # Any answer, or a failure to get one, is the worker moving: the watchdog's
                # question is whether it hangs, not whether the exchange says yes.
                self.last_progress = self.clock()
                state = self.client.rate_limit
                if state is not None:
                    self.budget.observe(state, self.clock())
            return result
        raise FinalError(FAILED, f"rate limited {MAX_RATE_LIMITED} times in a row")

    # -- dry run and the log -----------------------------------------------------------------

    def _dry_run(self, action: Action) -> ActionResult:
        """Build and sign every request the action would send (the signing path runs), send
        none."""
        requests: list[OrderRequest] = []
        try:
            if isinstance(action, Cancel):
                requests.append(cancel_request(action.order))
            else:
                requests.append(order_request(action.order, self._market(action.order.key.symbol),
                                              self.close_slippage))
                if isinstance(action, Move):
                    requests.append(cancel_request(action.replaces))
        except OrderValidationError as error:
            return ActionResult(action, REJECTED, f"refused before sending: {error}")
        if not all([sign_only(self.client, request) for request in requests]):
            return ActionResult(action, DRY_RUN, "not signed: the client has no key")
        return ActionResult(action, DRY_RUN, "signed, not sent")

    def log(self, action: Action, result: ActionResult) -> None:
        """The one log line of an order action: who, what, why, and how it ended."""
        fields: dict[str, Any] = {
            "account": self.account, "symbol": _symbol(action),
            "action": journal.journal_name(action), "reason": action.reason,
            "outcome": result.outcome, "client_order_id": journal.journal_id(action)}
        rule = self.rule_of(action) if self.rule_of is not None else None
        if rule is not None:
            fields["rule"] = rule
        if isinstance(action, Cancel):
            parsed = ids.parse(action.order.client_order_id)
            fields.update(side=action.order.side.value, order_id=action.order.order_id,
                          leg=ids.leg_name(parsed.leg) if parsed is not None else None)
        else:
            fields.update(side=action.order.side.value, leg=action.order.leg,
                          amount=str(action.order.amount),
                          price=_opt_str(action.order.stop_price))
            if isinstance(action, Move):
                fields.update(replaces=action.replaces.client_order_id)
        if result.detail is not None:
            fields["detail"] = result.detail
        if result.duplicate_not_open:
            fields["duplicate_not_open"] = True
        if result.outcome == REJECTED:
            log.warning("order.rejected", **fields)
        elif result.outcome == FAILED:
            log.warning("order.failed", **fields)
        else:
            log.info("order.done", **fields)


def _final(error: ExchangeError, *, closing: bool = False) -> FinalError:
    """A refusal that sending again cannot change. An auth or clock problem is a failure (it
    may be fixed, and the plan asks again), anything else the exchange understood and refused
    (a 4xx, "Position not found" included) is a rejection of this intent; except a market
    close refused because there is no position left: what it wanted has happened (typically
    our stop fired on a gap while the engine, seeing the price through it, asked to close)."""
    if isinstance(error, AuthError):
        return FinalError(FAILED, str(error))
    if closing and isinstance(error, Rejected | NotFound) and _no_position(error.message):
        return FinalError(GONE, f"position already closed: {error}")
    return FinalError(REJECTED, str(error))


def _no_position(message: str) -> bool:
    # The simulator's text is "No position to reduce on BTC"; live Pacifica's is not
    # documented, so any refusal that says the position is not there counts.
    text = message.lower()
    return "position" in text and ("no position" in text or "not found" in text
                                   or "does not exist" in text)


def _journal_state(outcome: str) -> str:
    if outcome in (REJECTED, FAILED):
        return outcome
    return DONE


def _symbol(action: Action) -> str:
    return action.order.symbol if isinstance(action, Cancel) else action.order.key.symbol


def _order_name(order: OpenOrder) -> str:
    return f"order {order.order_id} ({order.client_order_id})"


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

