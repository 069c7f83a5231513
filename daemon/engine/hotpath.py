"""The hot path for `prices` frames: re-evaluate only positions whose band was crossed.

Each evaluated position carries a `Band` (model.py): the trigger-price interval inside which
its evaluation cannot change (the nearest stop to cross, trailing extreme, activation and
breakeven thresholds, take-profit) and the next time of interest (window start or end, time
exit). `reevaluate` finds the positions whose band the frame's trigger prices crossed (by
bisection over the band edges of each symbol and trigger type, bands.py) and runs the full
evaluation only for those, for new positions, and for those whose time is due; everything
else keeps its previous result. Its output equals a full `evaluate` over the same inputs
(property-tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from daemon.domain import Market, OpenOrder, Position, PositionKey, Price
from daemon.engine.bands import BandIndex, Group, GroupKey, edges, index_of
from daemon.engine.evaluate import evaluate, evaluate_keyed
from daemon.engine.model import EngineConfig, Evaluation, PositionResult
from daemon.rules.spec import RuleBook

_DEFAULT_CONFIG = EngineConfig()


def _index(evaluation: Evaluation) -> BandIndex:
    if evaluation.band_index is not None:
        return evaluation.band_index
    # An Evaluation built by hand rather than by `evaluate`.
    index = index_of(evaluation.results.items())
    object.__setattr__(evaluation, "band_index", index)  # a cache: not part of the value
    return index


def crossed(previous: Evaluation, prices: Mapping[str, Price], now: datetime,
            config: EngineConfig = _DEFAULT_CONFIG) -> list[PositionKey]:
    """Positions whose band `prices` crossed, or whose due time has come (a key may repeat)."""
    index = _index(previous)
    out: list[PositionKey] = []
    for (symbol, trigger), group in index.groups.items():
        price = prices.get(symbol)
        # A stale price counts here as in `evaluate`: it crosses bands like a fresh one (an
        # evaluation on it moves nothing, but protects against it, see `trigger_price`).
        value = None if price is None else price.by_trigger(trigger)
        if value is not None:
            group.crossed_by(value, out)
        else:
            # No price at all (never one, or it left the frame): an evaluation without one
            # differs from one with it, and the band cannot tell which these had.
            out.extend(group.low_keys)
    out.extend(key for key, due in index.due.items() if now >= due)
    return out


def reevaluate(
    previous: Evaluation,
    rulebook: RuleBook,
    positions: Mapping[PositionKey, Position],
    prices: Mapping[str, Price],
    markets: Mapping[str, Market],
    now: datetime,
    *,
    account: str | None = None,
    live: Sequence[OpenOrder] = (),
    config: EngineConfig = _DEFAULT_CONFIG,
) -> Evaluation:
    """`evaluate` for a new price frame, given the evaluation these positions last had.

    Only valid when nothing but prices and time changed since `previous`: the same
    positions, rulebook, markets and live orders. A change to any of those calls for a full
    `evaluate` (the fallback whenever in doubt); a different number of positions falls back
    to it here.
    """
    old = previous.results
    todo = [(key, positions.get(key))
            for key in dict.fromkeys(crossed(previous, prices, now, config))]
    if len(positions) != len(old) or any(p is None for _, p in todo):
        return evaluate(rulebook, positions.values(), prices, markets, previous.memory, now,
                        account=account, live=live, config=config)
    partial = evaluate_keyed(rulebook, ((k, p) for k, p in todo if p is not None), prices,
                             markets, previous.memory, now, account=account, live=live,
                             config=config)
    results = dict(old)
    results.update(partial.results)
    index = _updated(_index(previous), old, partial.results)
    return Evaluation(results, partial.memory, band_index=index)


def _updated(index: BandIndex, old: Mapping[PositionKey, PositionResult],
             changed: Mapping[PositionKey, PositionResult]) -> BandIndex:
    """The index after `changed` replaced `old`'s results; groups it touches are copied."""
    groups = dict(index.groups)
    fresh: dict[GroupKey, Group] = {}  # the groups copied for this frame, changed in place
    due: dict[PositionKey, datetime] | None = None  # a copy, once a due time changes
    for key, result in changed.items():
        band = result.band
        before = old.get(key)
        was = None if before is None else before.band
        if (None if was is None else was.due) != band.due:
            if due is None:
                due = dict(index.due)
            if band.due is None:
                due.pop(key, None)
            else:
                due[key] = band.due
        low, high = edges(band.always, band.low, band.high)
        group_key = (band.symbol, band.trigger)
        if was is not None:
            was_low, was_high = edges(was.always, was.low, was.high)
            was_key = (was.symbol, was.trigger)
            if was_key == group_key:
                if was_low != low or was_high != high:
                    _fresh(groups, fresh, group_key).move(key, was_low, was_high, low, high)
                continue
            _fresh(groups, fresh, was_key).remove(key, was_low, was_high)
        _fresh(groups, fresh, group_key).add(key, low, high)
    return BandIndex(groups, index.due if due is None else due)


def _fresh(groups: dict[GroupKey, Group], fresh: dict[GroupKey, Group], key: GroupKey
           ) -> Group:
    """The group to change in place: a copy of the shared one, made once per frame."""
    group = fresh.get(key)
    if group is None:
        shared = groups.get(key)
        group = groups[key] = fresh[key] = (
            Group([], [], [], []) if shared is None else shared.copy())
    return group


def by_key(positions: Iterable[Position]) -> dict[PositionKey, Position]:
    return {p.key: p for p in positions}
