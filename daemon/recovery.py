"""After a restart: every intent the journal holds as pending is settled before new work.

A pending row means the process died between committing an intent and recording its outcome
(design.md §5.7, anchors.md R1/R3). The exchange is the source of truth: the order is looked up
by its client_order_id among the open orders, then in the order history, and is adopted if it
exists; only an intent that never landed is sent again, with the same id, and only while its
position still exists. A cancel of an order that is gone is done.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import structlog

from daemon import ids, journal
from daemon.budget import Priority
from daemon.domain import OpenOrder, PositionKey
from daemon.engine.plan import Action, Cancel, CloseMarket, Move
from daemon.execute import (
    ALREADY_PLACED,
    DONE,
    FAILED,
    GONE,
    ActionResult,
    Executor,
    FinalError,
)
from daemon.pacifica.errors import ExchangeError
from daemon.pacifica.models import HistoricalOrder, OrderStatus
from daemon.state import JournalEntry, StateStore

log = structlog.get_logger(__name__)

# How the submitter learns each settled entry: (position or None for a cancel, result).
Settle = Callable[[PositionKey | None, ActionResult], None]


async def recover_pending(executor: Executor, store: StateStore, account: str, *,
                          dry_run: bool, settle: Settle) -> str | None:
    """Settle `account`'s pending entries; the error that kept it from looking, if any (the
    entries then stay pending: the plan asks for the same intents with the same ids, which
    settles their rows when they are carried out, and the next start looks again)."""
    entries = store.pending(account)
    if not entries:
        return None
    if dry_run:
        log.info("submitter.recover_skipped_dry_run", account=account, pending=len(entries))
        return None
    try:
        orders = await executor.open_orders(Priority.PROTECT)
        positions = await executor.positions(Priority.PROTECT)
    except (ExchangeError, FinalError) as error:
        log.warning("submitter.recover_unavailable", account=account, pending=len(entries),
                    error=str(error))
        return str(error)
    open_by_id = {o.client_order_id: o for o in orders if o.client_order_id}
    history = _History(executor)
    for entry in entries:
        await _recover_one(executor, store, account, entry, open_by_id, positions, history,
                           settle)
    return None


class _History:
    """The order history's newest page, read once, and only if an entry needs it (a heavy
    read: a kill storm must not spend the credits its restarts need)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._page: dict[str, HistoricalOrder] | None = None

    async def find(self, client_order_id: str) -> HistoricalOrder | None:
        if self._page is None:
            self._page = await self._executor.history(Priority.PROTECT)
        return self._page.get(client_order_id)


async def _recover_one(executor: Executor, store: StateStore, account: str,
                       entry: JournalEntry, open_by_id: Mapping[str, OpenOrder],
                       positions: Collection[PositionKey], history: _History,
                       settle: Settle) -> None:
    cloid = entry.client_order_id
    try:
        action = journal.decode(entry.action, cloid, entry.symbol, entry.params)
    except journal.JournalFormatError as error:
        # The id alone still tells whether the order exists; the plan re-creates the rest.
        state, detail = ((DONE, "adopted at restart") if cloid in open_by_id
                         else (FAILED, f"unreadable, not re-sent: {error}"))
        store.journal_outcome(cloid, state, detail)
        log.warning("submitter.recover_unreadable", account=account,
                    client_order_id=cloid, error=str(error), outcome=detail)
        return
    if isinstance(action, Cancel):
        if cloid in open_by_id:
            result = await executor.execute(action, Priority.CLEANUP, journaled=True)
        else:
            result = _recovered(executor, store, action, GONE, "not open at restart")
    elif cloid in open_by_id:
        detail = "adopted at restart"
        if isinstance(action, Move) and action.replaces.client_order_id in open_by_id:
            # n+1 landed before the crash: finish the make-before-break.
            try:
                gone = await executor.cancel(action.replaces, Priority.PROTECT)
            except FinalError as final:
                gone = f"{final.outcome}: {final.detail}"
            detail += f"; replaced order {action.replaces.order_id} {gone}"
        result = _recovered(executor, store, action, ALREADY_PLACED, detail)
    elif _superseded(cloid, open_by_id):
        # The leg moved on while this row stayed pending (a start that could not look): its
        # price is from then, and the later revision rests. Sent now, it would be a second
        # stop of the leg (or, where the exchange forgot the id, a second order under it).
        result = _recovered(executor, store, action, GONE,
                            "superseded: a later revision of its leg rests; not re-sent")
    elif action.order.key not in positions:
        # Nothing left to protect (or, for a close, to close): sending it could only fail.
        result = _recovered(executor, store, action, GONE,
                            "position gone at restart: not re-sent")
    elif (landed := await history.find(cloid)) is not None \
            and landed.status is not OrderStatus.REJECTED:
        # It went out before the crash and is no longer open (it fired, filled or was
        # cancelled): sending the id again could be a second order where the exchange
        # deduplicates only open ones.
        resting = landed.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
        result = _recovered(
            executor, store, action, ALREADY_PLACED,
            f"landed before the restart, {landed.status.value}",
            duplicate_not_open=not resting and not isinstance(action, CloseMarket))
    else:
        result = await executor.execute(action, Priority.PROTECT, journaled=True)
    settle(None if isinstance(action, Cancel) else action.order.key, result)


def _superseded(cloid: str, open_by_id: Mapping[str, OpenOrder]) -> bool:
    """An order of ours for the same position and leg, of a later revision, is open."""
    mine = ids.parse(cloid)
    if mine is None:
        return False
    for other in open_by_id:
        theirs = ids.parse(other)
        if (theirs is not None and theirs.account == mine.account
                and theirs.position == mine.position and theirs.leg == mine.leg
                and theirs.revision > mine.revision):
            return True
    return False


def _recovered(executor: Executor, store: StateStore, action: Action, outcome: str,
               detail: str, *, duplicate_not_open: bool = False) -> ActionResult:
    """Settled without sending it again: journaled and logged like any action."""
    store.journal_outcome(journal.journal_id(action), DONE, detail)
    result = ActionResult(action, outcome, detail, duplicate_not_open)
    executor.log(action, result)
    return result
