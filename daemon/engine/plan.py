"""`plan`: the actions that make the exchange's live orders match the desired legs.

Effects as data: the submitter executes them. Rules the planner keeps:
- Only our orders are touched: an order is ours iff its client_order_id carries this
  account's tag (`daemon.ids`), so no local state is needed to tell.
- A move is make-before-break: `Move`/`Resize` place revision n+1, and the submitter cancels
  revision n only once n+1 is confirmed, so the position is never bare.
- No churn: a live set equal to the desired set yields no action; `min_move` and
  `min_interval` hold back small or frequent moves (never a first placement or a resize,
  which are about coverage).
- Client order ids are reused while an order is in flight: a leg whose last planned order
  was never seen resting is planned again with the same id (a retry that Pacifica
  deduplicates); once seen and gone, the next order takes a new revision. Having seen an
  order resting is not the only way to know its id is spent: an id in `spent` (the exchange
  accepted it: journal, fills, order history) is never sent again, resting or not.
- A protective leg of a position that still exists is cancelled only when the position keeps
  another desired stop; our orders for a position that is gone are cancelled as orphans.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from daemon import ids
from daemon.domain import OpenOrder, PositionKey, Side, TriggerPriceType
from daemon.engine.memory import Memory, OrderMemory, PositionMemory
from daemon.engine.model import TP, DesiredLeg, LegKind


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order as the submitter sends it (always reduce-only, explicit trigger type).

    A TAKE_PROFIT is a GTC limit order at `stop_price` (its target; `limit_price` None), so it
    shows on the exchange with that `price` and no `stop_price` and cancels on /orders/cancel.
    """

    client_order_id: str
    key: PositionKey
    leg: str
    kind: LegKind
    side: Side
    amount: Decimal
    stop_price: Decimal | None
    limit_price: Decimal | None
    trigger: TriggerPriceType
    revision: int


@dataclass(frozen=True, slots=True)
class Place:
    order: OrderIntent
    reason: str


@dataclass(frozen=True, slots=True)
class Move:
    """Place `order` (revision n+1), confirm it, then cancel `replaces` (revision n)."""

    order: OrderIntent
    replaces: OpenOrder
    reason: str
    loosens: bool = False


@dataclass(frozen=True, slots=True)
class Resize(Move):
    """The position's amount changed: make-before-break like `Move`, as a new revision.

    A subclass of `Move` because it is carried out the same way; match `Resize` first when
    the difference matters (e.g. resizes go before moves when credits are short)."""


@dataclass(frozen=True, slots=True)
class Cancel:
    order: OpenOrder
    reason: str


@dataclass(frozen=True, slots=True)
class CloseMarket:
    """Reduce-only market close of `order.amount` (time exit, or a stop already crossed)."""

    order: OrderIntent
    reason: str


Action = Place | Move | Resize | Cancel | CloseMarket


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    memory: Memory  # records the revisions and times planned, and the orders seen resting


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else format(value, "f")


def _live_limit(order: OpenOrder) -> Decimal | None:
    return order.price if order.price else None


def _live_prices(order: OpenOrder) -> tuple[Decimal | None, Decimal | None]:
    """(level, limit) of a live order, as a `DesiredLeg` states them: a stop's level is its
    stop price; a plain limit order (how a take-profit rests) has only its price, its level."""
    if order.stop_price is None:
        return _live_limit(order), None
    return order.stop_price, _live_limit(order)


class _Planner:
    def __init__(self, account: str, memory: Memory, now: datetime,
                 spent: Collection[str]) -> None:
        self.account = account
        self.spent_ids = spent
        self.account_tag = ids.account_tag(account)
        self.memory = memory
        self.now = now
        self.changes: dict[PositionKey, PositionMemory] = {}
        self.position_tags: dict[PositionKey, int] = {}
        self.actions: list[Action] = []

    def position_memory(self, key: PositionKey) -> PositionMemory:
        return self.changes.get(key) or self.memory.get(key) or PositionMemory()

    def remember(self, key: PositionKey, leg: str, order: OrderMemory) -> None:
        self.changes[key] = self.position_memory(key).with_order(leg, order)

    def cloid(self, d: DesiredLeg, revision: int) -> str:
        tag = self.position_tags.get(d.key)
        if tag is None:
            tag = self.position_tags[d.key] = ids.position_tag(self.account, d.key)
        return ids.compose(self.account_tag, tag, ids.leg_tag(d.leg), revision)

    def intent(self, d: DesiredLeg, revision: int) -> OrderIntent:
        return OrderIntent(self.cloid(d, revision), d.key, d.leg, d.kind, d.side, d.amount,
                           d.stop_price, d.limit_price, d.trigger, revision)

    def planned(self, d: DesiredLeg, revision: int) -> OrderIntent:
        self.remember(d.key, d.leg, OrderMemory(revision, False, d.stop_price, d.amount,
                                                d.limit_price, self.now, d.trigger))
        return self.intent(d, revision)

    def next_revision(self, d: DesiredLeg, live_revision: int | None) -> int:
        last = self.position_memory(d.key).order(d.leg)
        if (last is not None and not last.seen
                and (live_revision is None or last.revision > live_revision)
                and last.same_intent(d.stop_price, d.amount, d.limit_price)
                and not (self.spent_ids and self.cloid(d, last.revision) in self.spent_ids)):
            return last.revision  # still in flight: the retry keeps its id
        floor = -1 if last is None else last.revision
        if live_revision is not None:
            floor = max(floor, live_revision)
        revision = floor + 1
        while self.spent_ids and self.cloid(d, revision) in self.spent_ids:
            revision += 1  # memory lost or behind: the exchange has seen this one already
        return revision

    def spent(self, key: PositionKey, leg: str, revision: int, order: OpenOrder) -> None:
        """Our order of `revision` on this leg rests and is being cancelled: its id is spent
        (Pacifica may refuse any id it has seen), so the leg's next order must not reuse it,
        even when the leg is dropped now and desired again later."""
        last = self.position_memory(key).order(leg)
        if last is None or last.revision <= revision:
            level, limit = _live_prices(order)
            self.remember(key, leg, OrderMemory(revision, True, level, order.remaining, limit,
                                                self.now))

    def close(self, d: DesiredLeg) -> None:
        last = self.position_memory(d.key).order(d.leg)
        same = last is not None and last.same_intent(None, d.amount, None)
        if same and last is not None and self.now - last.planned_at < d.update.min_interval:
            return
        revision = self.next_revision(d, None)
        self.actions.append(CloseMarket(self.planned(d, revision),
                                        f"close {_fmt(d.amount)} at market: {d.component}"))

    def stop(self, d: DesiredLeg, lives: list[tuple[int, OpenOrder]]) -> None:
        lives.sort(key=lambda item: item[0])
        for _, extra in lives[:-1]:
            self.actions.append(Cancel(extra, f"{d.leg}: superseded by a newer revision"))
        what = "take-profit" if d.kind is LegKind.TAKE_PROFIT else "stop"
        if not lives:
            revision = self.next_revision(d, None)
            self.actions.append(Place(self.planned(d, revision), (
                f"{d.leg}: place {what} {_fmt(d.amount)} at {_fmt(d.stop_price)} "
                f"({d.rule}: {d.component})")))
            return
        revision, current = lives[-1]
        level, limit = _live_prices(current)
        last = self.position_memory(d.key).order(d.leg)
        if last is None or last.revision < revision:
            # Adopted: planned before a restart or a lost state. Recorded as seen, so that if
            # it disappears the next order takes a fresh id; a move may follow at once.
            self.remember(d.key, d.leg, OrderMemory(
                revision, True, level, current.remaining, limit, self.now))
        elif last.revision == revision and not last.seen:
            self.remember(d.key, d.leg, replace(last, seen=True))
        same_price = level == d.stop_price and limit == d.limit_price
        same_amount = current.remaining == d.amount
        # A take-profit rests as a plain limit order at its target (docs/rules.md): it has no
        # trigger price type, so a change of the rule's `trigger` does not move it.
        known = (last.trigger if last is not None and last.revision == revision
                 and d.kind is not LegKind.TAKE_PROFIT else None)
        if same_price and same_amount and known in (None, d.trigger):
            return
        if known is not None and known is not d.trigger:
            # No hysteresis: a stop watching the wrong price is not a small difference.
            order = self.planned(d, self.next_revision(d, revision))
            self.actions.append(Move(order, current, (
                f"{d.leg}: re-place {what} at {_fmt(d.stop_price)} to trigger on "
                f"{d.trigger.value} instead of {known.value} ({d.rule})")))
            return
        old = level
        loosens = (d.kind is LegKind.STOP and old is not None and d.stop_price is not None
                   and (d.stop_price < old if d.side is Side.ASK else d.stop_price > old))
        change = f"{_fmt(old)} -> {_fmt(d.stop_price)}"
        flag = f" LOOSENS the stop: rule {d.rule!r} changed" if loosens else ""
        if not same_amount:
            order = self.planned(d, self.next_revision(d, revision))
            self.actions.append(Resize(order, current, (
                f"{d.leg}: resize {what} {_fmt(current.remaining)} -> {_fmt(d.amount)}, "
                f"price {change} ({d.component}){flag}"), loosens))
            return
        if old is not None and d.stop_price is not None:
            if abs(d.stop_price - old) < d.update.min_move.of(old):
                return
            planned_at = last.planned_at if last is not None else None
            if planned_at is not None and self.now - planned_at < d.update.min_interval:
                return
        order = self.planned(d, self.next_revision(d, revision))
        verb = "move" if loosens or d.kind is not LegKind.STOP else "tighten"
        self.actions.append(Move(order, current, (
            f"{d.leg}: {verb} {what} {change} ({d.rule}: {d.component}){flag}"), loosens))


def plan(
    desired: Iterable[DesiredLeg],
    live: Iterable[OpenOrder],
    *,
    account: str,
    positions: Iterable[PositionKey],
    memory: Memory,
    now: datetime,
    spent: Collection[str] = frozenset(),
) -> Plan:
    """Actions that take `live` to `desired`. `positions` are the positions that exist now
    (desired or not): our orders for any other position are orphans and get cancelled.

    `spent`: client_order_ids the exchange has already accepted, whether or not they still
    rest (the submitter's placed and already-placed outcomes, the journal's done entries,
    fills, order history). None of them is ever sent again: Pacifica answers a reused id
    "Duplicate client order id" and the leg would stay bare. A set makes the lookup cheap."""
    planner = _Planner(account, memory, now, spent)
    wanted = list(desired)
    current = planner.position_tags
    for existing in positions:
        current[existing] = ids.position_tag(account, existing)
    for d in wanted:
        if d.key not in current:
            current[d.key] = ids.position_tag(account, d.key)
    by_tag = {tag: key for key, tag in current.items()}

    ours: dict[tuple[PositionKey, int], list[tuple[int, OpenOrder]]] = {}
    for order in live:
        parsed = ids.parse(order.client_order_id)
        if parsed is None or parsed.account != planner.account_tag:
            continue  # not ours: never touched
        key = by_tag.get(parsed.position)
        if key is None:
            planner.actions.append(Cancel(order, (
                f"orphan: {order.symbol} {order.side.value} order {order.order_id} belongs to "
                "a position that is gone")))
            continue
        ours.setdefault((key, parsed.leg), []).append((parsed.revision, order))

    protected: set[PositionKey] = set()
    for d in wanted:
        if d.kind is LegKind.CLOSE:
            planner.close(d)
            continue
        lives = ours.pop((d.key, ids.leg_tag(d.leg)), [])
        if d.kind is LegKind.STOP and lives:
            protected.add(d.key)  # a desired stop rests: it covers while others go
        planner.stop(d, lives)

    for (key, leg_tag), orders in ours.items():
        name = ids.leg_name(leg_tag)
        # A stop no longer desired is dropped only while another desired stop of the position
        # rests (make-before-break across legs: the one replacing it may yet be refused); when
        # none is desired (uncovered, crossed, no price) the resting stop stays.
        if name is None or (name != TP and key not in protected):
            continue
        for revision, order in orders:
            planner.spent(key, name, revision, order)
            planner.actions.append(Cancel(order, f"{name}: no longer desired for {key.symbol}"))
    return Plan(tuple(planner.actions), memory.updated(planner.changes))
