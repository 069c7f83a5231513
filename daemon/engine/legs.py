"""One position's legs, from its component levels: clamp, tick, ratchet, crossing, sizing.

`evaluate` finds the rule and the component levels; these builders turn them into desired
legs, notices and the position's band, on a scratch `Work` that never leaves the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from daemon.domain import Market, Position, PositionKey
from daemon.engine.levels import Orientation
from daemon.engine.memory import OrderMemory, RungMemory
from daemon.engine.model import (
    SL,
    TP,
    Band,
    DesiredLeg,
    EngineConfig,
    LegKind,
    Notice,
    Severity,
    ladder_leg,
)
from daemon.rules.spec import LadderLeg, OrderKind, Rule, TakeProfit


class Work:
    """Scratch state of one position's evaluation (never escapes this module).

    A plain slotted class rather than a dataclass: one is built per evaluated position on the
    price-frame hot path, and default factories cost more than the fields they fill.
    """

    __slots__ = ("adverse_edges", "changed", "config", "exit_component", "favourable_edges",
                 "floors", "key", "legs", "loosened", "market", "notices", "o", "old_floors",
                 "orders", "position", "price", "resting", "rule", "waiting")

    def __init__(self, position: Position, key: PositionKey, rule: Rule, market: Market,
                 o: Orientation, price: Decimal | None, floors: dict[str, Decimal],
                 old_floors: dict[str, Decimal], changed: bool,
                 resting: Callable[[str], Sequence[tuple[int, Decimal]]],
                 orders: tuple[tuple[str, OrderMemory], ...], config: EngineConfig) -> None:
        self.position = position
        self.key = key  # position.key, built once: the property makes a new value each call
        self.rule = rule
        self.market = market
        self.o = o
        self.price = price
        self.floors = floors  # the ratchet, updated as legs are computed
        self.old_floors = old_floors  # before a rule change reset them, to flag loosening
        self.changed = changed  # the rule's stop fingerprint differs from the floors' one
        self.resting = resting  # (revision, stop price) of our live stops on a leg
        self.orders = orders  # memory's last planned order per leg (PositionMemory.orders)
        self.config = config
        self.legs: list[DesiredLeg] = []
        self.notices: list[Notice] = []
        self.adverse_edges: list[Decimal] = []  # stops the price may cross
        self.favourable_edges: list[Decimal] = []
        self.exit_component: str | None = None
        self.loosened: dict[str, Decimal] = {}  # leg -> the tighter stop before
        # The price is stale and a fresh one would set a first price or a best price the
        # evaluation still lacks: the band cannot say when that is, so it is `always`.
        self.waiting = False

    def note(self, severity: Severity, message: str, *, bare: bool = False) -> None:
        self.notices.append(Notice(self.key, severity, message, bare))

    def what(self) -> str:
        p = self.position
        return f"{p.symbol} {'long' if p.side.is_long else 'short'}"


def _clamp(w: Work, level: Decimal, component: str) -> tuple[Decimal, str]:
    """Keep the stop inside the liquidation price by the buffer (see EngineConfig)."""
    liq = w.position.liquidation_price
    if liq is None or liq <= 0:
        return level, component
    cfg = w.config
    buffer = max(abs(w.position.entry_price - liq) * cfg.liq_buffer_ratio,
                 w.market.tick_size * cfg.liq_buffer_ticks)
    limit = w.o.up(liq, buffer)
    if w.o.above(limit, level):
        return limit, f"{component}+liquidation_clamp"
    return level, component


def _ratchet(w: Work, leg: str, stop: Decimal, component: str
             ) -> tuple[Decimal, str, Decimal | None]:
    """Never looser than the last stop on this leg, unless the rule changed (then say so)."""
    previous = w.floors.get(leg)
    if not w.changed:
        # Our resting stops that memory never planned hold the ratchet like a floor: memory
        # lost (a first sight, the state file gone) or older than the exchange (a file
        # restored from a backup, commits lost to an OS crash). One memory did plan is in its
        # floor already, or was left behind by a rule change's loosening still under way.
        resting = w.resting(leg)
        if resting:
            known = _planned_revision(w.orders, leg) if previous is not None else None
            for revision, live in resting:
                if known is None or revision > known:
                    previous = live if previous is None else w.o.best(previous, live)
    loosened: Decimal | None = None
    if previous is not None and w.o.above(previous, stop):
        stop, component = previous, f"{component} (held by ratchet)"
    elif w.changed:
        before = [live for _, live in w.resting(leg)]
        if leg in w.old_floors:
            before.append(w.old_floors[leg])
        tightest = None
        for value in before:
            tightest = value if tightest is None else w.o.best(tightest, value)
        if tightest is not None and w.o.above(tightest, stop):
            loosened = tightest
    return stop, component, loosened


def _planned_revision(orders: tuple[tuple[str, OrderMemory], ...], leg: str) -> int | None:
    for name, order in orders:
        if name == leg:
            return order.revision
    return None


def _to_tick(w: Work, level: Decimal, component: str) -> tuple[Decimal, str]:
    """Round toward the price, unless that tick is at or past the price.

    Rounding toward the price never loosens a stop, but where one tick is wider than the
    distance (a coin priced 0.00002 with tick 0.000001) it lands on the price itself, and a
    stop already crossed means a market close of a position nowhere near its stop. Then the
    nearest tick on the protective side is the tightest stop that can rest; it is crossed in
    turn only if the price is at or past it. Rounding alone never decides a crossing.

    Without a price nothing tells whether the tick toward it is already crossed (the first
    price may sit between the level and that tick), and the ratchet would hold it: the stop
    goes to the tick on the protective side, at most one tick looser, and the first price
    tightens it where it can. (A level below one tick keeps the one tick: no price is there.)
    """
    stop = w.o.tighten_to_tick(w.market, level)
    price = w.price
    if price is not None and not w.o.stop_crossed(stop, price):
        if stop != level:
            # At or past this tick the other one is taken: the evaluation changes there,
            # whether or not the leg is placed (a rung too small to rest keeps its floor).
            w.adverse_edges.append(stop)
        return stop, component
    if stop == level:
        return stop, component
    # The tick on the protective side: `loosen_to_tick(level)`, one tick from `stop` as the
    # level is off the grid (a subtraction: this runs for every crossed stop of a frame).
    away = w.o.down(stop, w.market.tick_size)
    if price is None:
        return (away, component) if away > 0 else (stop, component)
    # The evaluation changes once the price clears the tighter tick: that is a band edge.
    w.favourable_edges.append(w.o.just_beyond(stop))
    return away, f"{component}+coarse_tick"


def main_stop(w: Work, candidates: list[tuple[Decimal, str]]) -> tuple[Decimal, str] | None:
    level, component = candidates[0]
    for value, name in candidates[1:]:
        if w.o.above(value, level):
            level, component = value, name
    level, component = _clamp(w, level, component)
    stop, component = _to_tick(w, level, component)
    if stop <= 0:
        _unprotectable(w, stop, component)
        return None
    stop, component, loosened = _ratchet(w, SL, stop, component)
    w.floors[SL] = stop
    if loosened is not None:
        w.loosened[SL] = loosened
    if w.price is not None and w.o.stop_crossed(stop, w.price):
        # Placing it would fire at once (or be refused): the position is already past the
        # level its rule protects, so close it now rather than leave it bare or loosen.
        w.exit_component = f"crossed:{component}"
        w.note(Severity.WARNING, f"{w.what()}: stop {format(stop, 'f')} ({component}) already "
               f"crossed by {w.rule.trigger.value} {format(w.price, 'f')}: closing at market")
        return None
    w.adverse_edges.append(stop)  # placed or not (too small), crossing it means exit
    return stop, component


def _unprotectable(w: Work, stop: Decimal, component: str) -> None:
    """No stop above zero exists: say why and what the user can do; never a market close,
    which no component of the rule has asked for."""
    liq = w.position.liquidation_price
    if component.endswith("+liquidation_clamp") and liq is not None:
        w.note(Severity.ERROR, f"{w.what()}: its liquidation price {format(liq, 'f')} leaves "
               "no room for a stop that fires before it: NOT protected. Add margin to move "
               "the liquidation price away, or reduce or close the position", bare=True)
        return
    w.note(Severity.ERROR, f"{w.what()}: {component} gives a stop of {format(stop, 'f')}, "
           f"at or below zero (a distance larger than the price): NOT protected. Give rule "
           f"{w.rule.name!r} a smaller distance or a percentage, or close the position",
           bare=True)


def add_ladder(w: Work, ladder: Sequence[LadderLeg], main: Decimal | None,
               rungs: dict[str, RungMemory]) -> Decimal:
    """Add the rungs still armed; the amount they cover. A rung the price has reached fires
    (in `rungs`): it is never placed again for this position, whatever the price does next.

    Rungs sell their armed units; when the position is smaller than what they hold (closed
    in part by hand, or a fill not yet reported), each gets its share of what is left.
    """
    total = sum((rungs[ladder_leg(i)].units for i in range(len(ladder))), Decimal(0))
    amount = w.position.amount
    scale = amount / total if total > amount else None
    covered = Decimal(0)
    for i, step in enumerate(ladder):
        name = ladder_leg(i)
        rung = rungs[name]
        if rung.units <= 0:
            # Said on every evaluation, not once: an evaluation depends on its inputs and
            # memory alone, so the fast path and a full one give the same notices.
            w.note(Severity.INFO, f"{w.what()}: {name} has fired; it is not placed again "
                   "for this position unless the position grows")
            continue
        size = w.market.amount_down(rung.units * scale if scale is not None else rung.units)
        outcome = _add_rung(w, name, step, size, main)
        if outcome is _PLACED:
            covered += size
        elif outcome is _FIRED:
            rungs[name] = replace(rung, units=Decimal(0))
    return covered


_PLACED, _FIRED, _SKIPPED = "placed", "fired", "skipped"


def _add_rung(w: Work, name: str, rung: LadderLeg, amount: Decimal, main: Decimal | None
              ) -> str:
    """Add ladder leg `name` for `amount` if it can be placed: placed, fired or skipped."""
    if amount <= 0:
        return _SKIPPED
    entry = w.position.entry_price
    level, component = w.o.down(entry, rung.distance.of(entry)), "ladder"
    if main is not None and w.o.above(main, level):
        # A ladder rung never rests looser than the main stop: once trailing or breakeven
        # pass it, the whole position is protected at the main level.
        level, component = main, "ladder+main"
    level, component = _clamp(w, level, component)
    stop, component = _to_tick(w, level, component)
    if stop <= 0:
        return _SKIPPED
    stop, component, loosened = _ratchet(w, name, stop, component)
    w.floors[name] = stop
    if loosened is not None:
        w.loosened[name] = loosened
    if not _big_enough(w, name, stop, amount):
        return _SKIPPED  # too small to rest: the price reaching it fires nothing
    if w.price is not None and w.o.stop_crossed(stop, w.price):
        # Fired (its order, resting, fills now) or never to be placed: a rung sells once per
        # position. Its amount goes to the main stop until the position shrinks by it.
        w.note(Severity.INFO, f"{w.what()}: {name} has fired; it is not placed again for "
               "this position unless the position grows")
        return _FIRED
    add_stop(w, name, stop, amount, component)
    return _PLACED


def add_remainder(w: Work, main: tuple[Decimal, str], covered: Decimal) -> None:
    """The main stop `sl` for what the rungs do not cover."""
    market, position = w.market, w.position
    amount = market.amount_down(position.amount - covered if covered else position.amount)
    if amount <= 0:
        if covered == 0:
            w.note(Severity.WARNING, f"{w.what()}: {format(position.amount, 'f')} is less "
                   f"than one lot ({format(market.lot_size, 'f')}): no stop can cover it")
        return
    if covered and amount * main[0] < market.min_order_size:
        # Too small to rest alone (lot rounding of the rungs leaves a few lots): the deepest
        # rung placed takes it, at a stop at least as tight as the main one.
        for i in range(len(w.legs) - 1, -1, -1):
            leg = w.legs[i]
            if leg.kind is LegKind.STOP and leg.leg != SL:
                w.legs[i] = replace(leg, amount=leg.amount + amount)
                return
    add_stop(w, SL, main[0], amount, main[1])


def _limit(w: Work, trigger: Decimal) -> Decimal | None:
    style = w.rule.order
    if style.kind is OrderKind.LIMIT and style.limit_offset is not None:
        return w.o.limit_for(w.market, trigger, style.limit_offset)
    return None


def _big_enough(w: Work, leg: str, price: Decimal, amount: Decimal) -> bool:
    notional = amount * price
    if notional < w.market.min_order_size:
        w.note(Severity.WARNING, f"{w.what()}: {leg} of {format(amount, 'f')} at "
               f"{format(price, 'f')} is worth {format(notional.normalize(), 'f')} USD, below the "
               f"market minimum of {format(w.market.min_order_size, 'f')}: not placed")
        return False
    return True


def add_stop(w: Work, leg: str, stop: Decimal, amount: Decimal, component: str) -> None:
    # Inline, not _big_enough(): every evaluated position passes here (price-frame path).
    if amount * stop < w.market.min_order_size:
        _big_enough(w, leg, stop, amount)  # says why it is not placed
        return
    rule = w.rule
    limit = _limit(w, stop) if rule.order.kind is OrderKind.LIMIT else None
    w.legs.append(DesiredLeg(
        w.key, leg, LegKind.STOP, w.position.side.opposite, amount, stop, limit,
        rule.trigger, rule.name, component, rule.update,
        w.loosened.get(leg) if w.loosened else None))
    w.adverse_edges.append(stop)


def add_take_profit(w: Work, tp: TakeProfit) -> None:
    entry = w.position.entry_price
    if tp.price is not None:
        target = tp.price
    elif tp.distance is not None:
        target = w.o.up(entry, tp.distance.of(entry))
    else:
        return
    if w.price is None:
        # Toward a price not yet known could be onto it (a coarse tick): the first price
        # would find the target reached and close at market. One tick beyond never is.
        price = w.o.beyond_to_tick(w.market, target)
        if price <= 0:  # a short's target under one tick: no price is there either
            price = w.o.toward_price_to_tick(w.market, target)
    else:
        price = w.o.toward_price_to_tick(w.market, target)
    if (w.price is not None and w.o.at_or_above(w.price, price)
            and not w.o.at_or_above(w.price, target)):
        # A tick wider than the distance rounds the target onto the price itself, which
        # would close at market a position that has not reached its target: take the next
        # tick beyond the target, and look again should the price fall back below the tick.
        w.adverse_edges.append(w.o.just_short_of(price))
        price = w.o.beyond_to_tick(w.market, target)
    if price <= 0:
        # A price distance wider than a short's entry: a target no price can reach.
        w.note(Severity.ERROR, f"{w.what()}: take-profit at {format(price, 'f')} "
               f"({format(entry, 'f')} less the distance) can never be reached: not placed")
        return
    if w.price is not None and w.o.at_or_above(w.price, price):
        w.exit_component = "take_profit"
        w.note(Severity.INFO, f"{w.what()}: take-profit {format(price, 'f')} already reached by "
               f"{w.rule.trigger.value} {format(w.price, 'f')}: closing at market")
        return
    w.favourable_edges.append(price)
    amount = w.market.amount_down(w.position.amount)
    if amount > 0 and _big_enough(w, TP, price, amount):
        # It rests as a reduce-only limit order at `price` (docs/rules.md), so no stop-limit
        # offset applies: the target is the limit.
        w.legs.append(DesiredLeg(
            w.key, TP, LegKind.TAKE_PROFIT, w.position.side.opposite, amount, price,
            None, w.rule.trigger, w.rule.name, "take_profit", w.rule.update))


def band_of(w: Work, due: datetime | None) -> Band:
    symbol, trigger = w.position.symbol, w.rule.trigger
    if w.price is None or w.waiting or w.exit_component is not None:
        return Band(symbol, trigger, always=True, due=due)
    adverse: Decimal | None = None
    for stop in w.adverse_edges:
        adverse = stop if adverse is None else w.o.best(adverse, stop)
    favourable: Decimal | None = None
    for edge in w.favourable_edges:
        favourable = edge if favourable is None else w.o.worst(favourable, edge)
    if w.o.long:
        return Band(symbol, trigger, low=adverse, high=favourable, due=due)
    return Band(symbol, trigger, low=favourable, high=adverse, due=due)
