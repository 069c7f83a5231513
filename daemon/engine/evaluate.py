"""`evaluate`: rules + positions + prices -> the stop legs each position should have.

Per position: pick the rule; compute each active component's stop level; take the tightest;
clamp it inside the liquidation price; round it to the tick toward the price; ratchet it
against the last stop (memory, else our resting order); then check it is still on the
protective side of the price (if not, the position is already past its stop: desire a
reduce-only market close). Ladder legs, take-profit and time exit follow. See docs/rules.md,
"Worked examples", for the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from daemon import ids
from daemon.domain import Market, OpenOrder, Position, PositionKey, Price, Side, TriggerPriceType
from daemon.engine.bands import index_of
from daemon.engine.ladder import arm_rungs, deepest, fill_lookup, filled_revisions, no_fill
from daemon.engine.legs import (
    Work,
    add_ladder,
    add_remainder,
    add_take_profit,
    band_of,
    main_stop,
)
from daemon.engine.levels import LONG, SHORT, Orientation
from daemon.engine.memory import Memory, PositionMemory, RungMemory, Sizing
from daemon.engine.model import (
    EXIT,
    Band,
    DesiredLeg,
    EngineConfig,
    Evaluation,
    LegKind,
    Notice,
    PositionResult,
    Severity,
)
from daemon.engine.rulefacts import (
    RuleFacts,
    Selected,
    has_stop,
    ladder_of,
    select_rule,
    take_profit_of,
    time_exit_of,
    tracks,
)

# Re-exported: spec.py names it here.
from daemon.engine.rulefacts import stop_fingerprint as stop_fingerprint
from daemon.engine.windows import is_active, next_change, opened_at
from daemon.rules.spec import (
    Anchor,
    Components,
    RuleBook,
    StopLoss,
    Window,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DEFAULT_CONFIG = EngineConfig()


def evaluate(
    rulebook: RuleBook,
    positions: Iterable[Position],
    prices: Mapping[str, Price],
    markets: Mapping[str, Market],
    memory: Memory,
    now: datetime,
    *,
    account: str | None = None,
    live: Sequence[OpenOrder] = (),
    config: EngineConfig = _DEFAULT_CONFIG,
    fills: Collection[str] = (),
) -> Evaluation:
    """The desired legs of every position in `positions`, and the memory that follows.

    `live` (with `account`) lets the ratchet adopt our resting stops when memory has no floor
    for a leg, e.g. after the state file was lost. `fills` (with `account`) are the
    client_order_ids of our orders that have filled, wholly or in part (account stream,
    order history, journal): a ladder rung whose order filled has fired, even if the price
    was never seen reaching it. Passing a fill again is harmless; a fill comes with a
    position change, so it goes to a full `evaluate`, not to `reevaluate`. Memory of
    positions not passed here is kept.
    """
    full = evaluate_keyed(rulebook, ((p.key, p) for p in positions), prices, markets, memory,
                          now, account=account, live=live, config=config, fills=fills)
    # The hot path's index comes with it, so the first price frame after a reload or a
    # position change does not pay for sorting every band.
    return Evaluation(full.results, full.memory, band_index=index_of(full.results.items()))


def evaluate_keyed(
    rulebook: RuleBook,
    keyed: Iterable[tuple[PositionKey, Position]],
    prices: Mapping[str, Price],
    markets: Mapping[str, Market],
    memory: Memory,
    now: datetime,
    *,
    account: str | None = None,
    live: Sequence[OpenOrder] = (),
    config: EngineConfig = _DEFAULT_CONFIG,
    fills: Collection[str] = (),
) -> Evaluation:
    """`evaluate` of positions given with their keys (the hot path has them already), without
    the band index (the hot path derives its own)."""
    resting = _resting_stops(account, live) if account else {}
    filled = filled_revisions(account, fills) if account and fills else {}
    results: dict[PositionKey, PositionResult] = {}
    changes: dict[PositionKey, PositionMemory] = {}
    # What depends on the rule alone (its fingerprint hashes the whole rule) and which rule a
    # position gets: once per rule, or per symbol and side, and call; not once per position.
    facts: dict[int, RuleFacts] = {}
    selected: Selected | None = (
        None if any(r.match.min_notional is not None for r in rulebook.rules) else {})
    known = memory.positions
    for key, position in keyed:
        before = known.get(key)
        try:
            result, after = _evaluate_position(
                position, key, rulebook, selected, facts, prices, markets,
                _EMPTY if before is None else before, now, config,
                _lookup(resting, ids.position_tag(account, key)) if account and resting
                else _no_resting,
                fill_lookup(filled, ids.position_tag(account, key)) if account and filled
                else no_fill)
        except ArithmeticError:
            # Numbers from the exchange beyond what Decimal's 28 digits hold on the tick
            # (quantize raises): one position's bad numbers must not stop the others.
            results[key] = _unusable(position)
            continue
        results[key] = result
        if after is not before and after != before:
            changes[key] = after
    return Evaluation(results, memory.updated(changes))


_EMPTY = PositionMemory()
_ZERO = Decimal(0)
_NO_RUNGS: dict[str, RungMemory] = {}  # shared, never changed: only a ladder's rungs are


def _no_resting(leg: str) -> Sequence[tuple[int, Decimal]]:
    return ()


def _unusable(position: Position) -> PositionResult:
    side = "long" if position.side.is_long else "short"
    notice = Notice(position.key, Severity.ERROR, (
        f"{position.symbol} {side}: its numbers (amount {position.amount}, entry "
        f"{position.entry_price}, liquidation {position.liquidation_price}) or its market's "
        "are out of range for exact arithmetic; not protected"), bare=True)
    # `always`: a later frame with saner numbers is evaluated again at once.
    return PositionResult(position.key, None, (), (notice,),
                          Band(position.symbol, TriggerPriceType.MARK, always=True))


def _resting_stops(account: str, live: Sequence[OpenOrder]
                   ) -> dict[tuple[int, int], list[tuple[int, Decimal]]]:
    """(revision, stop price) of our resting stops, by (position tag, leg tag)."""
    acct = ids.account_tag(account)
    out: dict[tuple[int, int], list[tuple[int, Decimal]]] = {}
    for order in live:
        parsed = ids.parse(order.client_order_id)
        if parsed is None or parsed.account != acct or order.stop_price is None:
            continue
        out.setdefault((parsed.position, parsed.leg), []).append(
            (parsed.revision, order.stop_price))
    return out


def _lookup(resting: Mapping[tuple[int, int], Sequence[tuple[int, Decimal]]], position: int
            ) -> Callable[[str], Sequence[tuple[int, Decimal]]]:
    def stops(leg: str) -> Sequence[tuple[int, Decimal]]:
        return resting.get((position, ids.leg_tag(leg)), ())
    return stops


def trigger_price(price: Price | None, trigger: TriggerPriceType, now: datetime,
                  config: EngineConfig) -> tuple[Decimal | None, bool]:
    """The trigger price, and whether it is fresh (not older than `config.stale_after_ms`).

    A stale price is still the last word on where the price is, so everything that protects
    reads it (a stop at or past it is not placed, a crossed rung is skipped, a take-profit it
    reached closes, a coarse tick is rounded against it), exactly as when it was fresh; but
    nothing moves on it: the best prices, first_seen and with them trailing, latches and
    window measures stay frozen until a fresh price comes. So a price going stale with time
    alone changes no evaluation, and the hot path, which sees no band crossed then, agrees.
    """
    if price is None:
        return None, False
    value = price.by_trigger(trigger)
    if value is None or config.stale_after_ms is None:
        return value, value is not None
    now_ms = (now - _EPOCH) // timedelta(milliseconds=1)
    return value, now_ms - price.timestamp <= config.stale_after_ms


def created_time(position: Position) -> datetime:
    return _EPOCH + timedelta(milliseconds=position.created_at)


def _evaluate_position(
    position: Position, key: PositionKey, rulebook: RuleBook,
    selected: Selected | None,
    facts: dict[int, RuleFacts], prices: Mapping[str, Price],
    markets: Mapping[str, Market], pm: PositionMemory, now: datetime, config: EngineConfig,
    resting: Callable[[str], Sequence[tuple[int, Decimal]]], filled: Callable[[str], int],
) -> tuple[PositionResult, PositionMemory]:
    # Armed at first sight and again on growth; a position shrinking (through its own rungs
    # or by hand) keeps the size it was armed at for its rule's min_notional tier.
    amount, sizing, growth = position.amount, pm.sizing, None
    if sizing is None:
        armed = amount
    elif amount is sizing.amount or not amount > sizing.amount:  # `is`: unchanged, cheaply
        armed = sizing.armed
    else:
        growth, armed = amount - sizing.amount, amount
    # Only a book with a min_notional tier looks at the size (`selected` is None then).
    rule, ambiguous = select_rule(rulebook, position, selected,
                                  armed if selected is None else None)
    if rule is None:
        side = "long" if position.side.is_long else "short"
        # Two rules at once (a book validation refuses) leave it bare: an error to surface.
        notice = Notice(key, Severity.ERROR, ambiguous, bare=True) if ambiguous is not None \
            else Notice(key, Severity.WARNING, f"{position.symbol} {side}: no rule covers "
                        "this position")
        return PositionResult(key, None, (), (notice,),
                              Band(position.symbol, TriggerPriceType.MARK)), pm
    market = markets.get(position.symbol)
    if market is None or market.tick_size <= 0 or market.lot_size <= 0:
        side = "long" if position.side.is_long else "short"
        what = "no market info" if market is None else (
            f"unusable market info (tick {market.tick_size}, lot {market.lot_size})")
        notice = Notice(key, Severity.ERROR, f"{position.symbol} {side}: {what} for this "
                        "symbol; not protected", bare=True)
        return PositionResult(key, rule.name, (), (notice,),
                              Band(position.symbol, TriggerPriceType.MARK)), pm

    o = LONG if position.side is Side.BID else SHORT
    price, fresh = trigger_price(prices.get(position.symbol), rule.trigger, now, config)
    seen = price if fresh else None  # what may move the best prices and first_seen
    fact = facts.get(id(rule))
    if fact is None:
        fact = facts[id(rule)] = RuleFacts(rule)
    fingerprint = fact.fingerprint
    # Only an edit of the rule that set the floors may loosen them. Another rule taking the
    # position over (a resize across `min_notional`, a new more specific rule) is not a
    # change of that rule: the stop it set stays, and the new rule can only tighten it.
    changed = pm.rule == rule.name and pm.fingerprint not in (None, fingerprint)
    old_floors = dict(pm.floors)
    w = Work(position, key, rule, market, o, price, {} if changed else dict(old_floors),
             old_floors, changed, resting, pm.orders, config)
    entry = position.entry_price
    first_seen = pm.first_seen if pm.first_seen is not None else seen

    tracks = fact.tracks
    extreme = _best(o, pm.extreme, seen) if tracks else pm.extreme
    active = [win for win in rule.windows if is_active(win, now)] if rule.windows else ()
    window_extremes: dict[str, tuple[datetime, Decimal]]
    if active:
        layers: list[tuple[str, Components]] = [("", rule.components)]
        layers += [(f"window:{win.name}/", win.overrides) for win in active]
        # Each open window that trails or latches measures from its own opening: a peak from
        # before it must not put its stop beyond today's price (a market close as it opens).
        window_extremes = _window_extremes(o, pm, active, now, seen)
        extremes = [extreme if tracks else None]
        extremes += [window_extremes[win.name][1] if win.name in window_extremes else None
                     for win in active]
    else:
        layers = fact.plain_layers  # shared: read, never changed
        window_extremes = {}
        extremes = [extreme if tracks else None]
    for best in extremes:
        if best is not None:
            # Only a strictly better price moves an extreme; the band's edges are inclusive,
            # so the edge is the next number past it (exact for prices of up to 28 digits).
            w.favourable_edges.append(o.just_beyond(best))
    # A latch is judged at every evaluation from the best prices kept, under the rule now in
    # force: never carried from an edited rule, another rule the position passed from, or a
    # window's earlier occurrence (each starts afresh, from its own best price). The best
    # price only improves, so the latch still holds when the price falls back.
    latched: list[str] = []

    candidates: list[tuple[Decimal, str]] = []
    for (prefix, comp), best in zip(layers, extremes, strict=True):
        if comp.stop_loss is not None:
            level = _stop_loss_level(comp.stop_loss, o, entry, first_seen)
            if level is not None:
                candidates.append((level, prefix + "stop_loss"))
        if comp.trailing is not None and best is not None:
            act = comp.trailing.activate_at
            threshold = None if act is None else o.up(entry, act.of(entry))
            if threshold is None or o.at_or_above(best, threshold):
                distance = comp.trailing.distance.of(best)
                candidates.append((o.down(best, distance), prefix + "trailing"))
            else:
                w.favourable_edges.append(threshold)
        if comp.breakeven is not None:
            name = prefix + "breakeven"
            threshold = o.up(entry, comp.breakeven.at.of(entry))
            if best is not None and o.at_or_above(best, threshold):
                latched.append(name)
                candidates.append((o.up(entry, comp.breakeven.offset.of(entry)), name))
            else:
                w.favourable_edges.append(threshold)

    ladder = ladder_of(layers) if active else fact.plain_ladder
    if ladder and not any(name.endswith("stop_loss") for _, name in candidates):
        # What the rungs do not cover (a ladder under 100 %, lot rounding, a rung fired but
        # not yet filled) rests at the deepest rung when no stop_loss gives a level.
        candidates.append((deepest(o, entry, ladder), "ladder"))
    main = main_stop(w, candidates) if candidates else None
    # Something measured from a price still lacks its first one: first_seen, the best price,
    # or an open window's. Said of the memory, not of the price's age, so that a price
    # merely going stale changes nothing (the hot path sees no band crossed then).
    lacking = (first_seen is None or (tracks and extreme is None)
               or (active and _window_waits(active, window_extremes)))
    if not candidates and lacking and (has_stop(layers) if active else fact.plain_has_stop):
        # A stop from the first price seen, or trailing at once, needs a price; until one
        # arrives the position is bare, and that must be said, not left to be noticed.
        w.note(Severity.WARNING, f"{w.what()}: no fresh {rule.trigger.value} seen yet, and "
               "every stop of its rule is measured from one: not protected until one arrives")
    if lacking and price is not None and not fresh:
        # A fresh price would set what this evaluation lacks, even at the same value: look
        # again on every frame until one does (as without any price).
        w.waiting = True
    kept = () if sizing is None else sizing.rungs
    rungs = (arm_rungs(kept, ladder, amount, growth, filled, resting) if ladder or kept
             else _NO_RUNGS)
    if w.exit_component is None:
        covered = add_ladder(w, ladder, main[0] if main else None, rungs) if ladder else _ZERO
        if main is not None:
            add_remainder(w, main, covered)
        take_profit = take_profit_of(layers) if active else fact.plain_take_profit
        if take_profit is not None:
            add_take_profit(w, take_profit)

    due: list[datetime] = []
    time_exit = time_exit_of(layers) if active else fact.plain_time_exit
    if time_exit is not None:
        deadline = created_time(position) + time_exit.after
        if now >= deadline:
            w.exit_component = w.exit_component or "time_exit"
            w.note(Severity.INFO, f"{w.what()}: open since {created_time(position).isoformat()}"
                   f", longer than time_exit {time_exit.after}: closing at market")
        else:
            due.append(deadline)
    for win in rule.windows:
        change = next_change(win, now)
        if change is not None:
            due.append(change)

    if w.exit_component is not None:
        amount = market.amount_down(position.amount)
        if amount > 0:
            w.legs.append(DesiredLeg(
                key, EXIT, LegKind.CLOSE, position.side.opposite, amount, None, None,
                rule.trigger, rule.name, w.exit_component, rule.update))
        else:  # an order of zero would be refused, or worse, accepted and mean nothing
            w.note(Severity.WARNING, f"{w.what()}: {format(position.amount, 'f')} is less than "
                   f"one lot ({format(market.lot_size, 'f')}): cannot close it "
                   f"({w.exit_component})")

    if w.loosened:
        # `loosened_from` tells of the edit that let the stop go, in this evaluation only: the
        # next one, on the memory this one leaves, no longer sees the edit. Due now, so the
        # hot path evaluates it again on its next call, as a full evaluation would.
        due.append(now)
    band = band_of(w, min(due) if due else None)
    latches = tuple(sorted(latched)) if latched else ()
    floors = tuple(sorted(w.floors.items()))
    windows = tuple(sorted((name, *value) for name, value in window_extremes.items())
                    ) if window_extremes else ()
    rung_memory = tuple(sorted(rungs.items())) if rungs else ()
    if sizing is None:
        # Sizes matter to a ladder and to min_notional tiers only: a position is armed when
        # first seen under either, and the others pay nothing for it.
        if ladder or selected is None:
            sizing = Sizing(amount, armed, rung_memory)
    elif (growth is not None or rung_memory != sizing.rungs
            or (amount is not sizing.amount and amount != sizing.amount)):
        sizing = Sizing(amount, armed, rung_memory)
    if (first_seen == pm.first_seen and extreme == pm.extreme and latches == pm.latched
            and fingerprint == pm.fingerprint and rule.name == pm.rule and floors == pm.floors
            and windows == pm.windows and sizing is pm.sizing):
        after = pm  # nothing moved: the caller sees the very value it passed in
    else:
        after = PositionMemory(
            first_seen=first_seen, extreme=extreme, latched=latches,
            fingerprint=fingerprint, rule=rule.name, floors=floors, orders=pm.orders,
            windows=windows, sizing=sizing)
    return PositionResult(key, rule.name, tuple(w.legs), tuple(w.notices), band), after


def _best(o: Orientation, extreme: Decimal | None, price: Decimal | None) -> Decimal | None:
    if price is None:
        return extreme
    return price if extreme is None else o.best(extreme, price)


def _window_extremes(o: Orientation, pm: PositionMemory, active: Sequence[Window],
                     now: datetime, price: Decimal | None
                     ) -> dict[str, tuple[datetime, Decimal]]:
    """The best price since each open, trailing or latching window opened; closed ones drop."""
    before = {name: (opened, extreme) for name, opened, extreme in pm.windows}
    out: dict[str, tuple[datetime, Decimal]] = {}
    for win in active:
        opened = opened_at(win, now)
        if opened is None or not tracks(win.overrides):
            continue
        seen = before.get(win.name)
        best = _best(o, seen[1] if seen is not None and seen[0] == opened else None, price)
        if best is not None:
            out[win.name] = (opened, best)
    return out


def _window_waits(active: Sequence[Window],
                  window_extremes: Mapping[str, tuple[datetime, Decimal]]) -> bool:
    """Does an open window that trails or latches still lack its first best price?"""
    return any(win.name not in window_extremes and tracks(win.overrides) for win in active)


def _stop_loss_level(sl: StopLoss, o: Orientation, entry: Decimal,
                     first_seen: Decimal | None) -> Decimal | None:
    if sl.price is not None:
        return sl.price
    if sl.distance is None:
        return None
    anchor = entry if sl.anchor is Anchor.ENTRY else first_seen
    if anchor is None:  # first_seen before any price: wait for one
        return None
    return o.down(anchor, sl.distance.of(anchor))
