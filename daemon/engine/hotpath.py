"""The hot path for `prices` frames: re-evaluate only positions whose band was crossed.

Each evaluated position carries a `Band` (model.py): the trigger-price interval inside which
its evaluation cannot change (the nearest stop to cross, trailing extreme, activation and
breakeven thresholds, take-profit) and the next time of interest (window start or end, time
exit). `reevaluate` compares each position's trigger price with its band (two comparisons
over a list grouped by symbol and trigger type) and runs the full evaluation only for those
that crossed it, for new positions, and for those whose time is due; everything else keeps
its previous result. Its output equals a full `evaluate` over the same inputs
(property-tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from daemon.domain import Market, OpenOrder, Position, PositionKey, Price
from daemon.engine.evaluate import evaluate, evaluate_keyed, trigger_price
from daemon.engine.model import BandIndex, EngineConfig, Evaluation, band_entry
from daemon.rules.spec import RuleBook

_DEFAULT_CONFIG = EngineConfig()


def _index(evaluation: Evaluation) -> BandIndex:
    if evaluation.band_index is not None:
        return evaluation.band_index
    index: BandIndex = {}
    for key, result in evaluation.results.items():
        band = result.band
        index.setdefault((band.symbol, band.trigger), {})[key] = band_entry(key, band)
    object.__setattr__(evaluation, "band_index", index)  # a cache: not part of the value
    return index


def crossed(previous: Evaluation, prices: Mapping[str, Price], now: datetime,
            config: EngineConfig = _DEFAULT_CONFIG) -> list[PositionKey]:
    """Positions whose band `prices` crossed, or whose due time has come."""
    out: list[PositionKey] = []
    for (symbol, trigger), entries in _index(previous).items():
        price = prices.get(symbol)
        if price is None:
            continue
        value = (price.by_trigger(trigger) if config.stale_after_ms is None
                 else trigger_price(price, trigger, now, config))
        if value is None:
            continue
        out.extend(key for low, high, key in entries.values() if value <= low or value >= high)
    for key, result in previous.results.items():
        due = result.band.due
        if due is not None and now >= due:
            out.append(key)
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

    index = dict(_index(previous))
    touched: set[tuple[str, object]] = set()
    for key, result in partial.results.items():
        before = old.get(key)
        band = result.band
        if before is not None and before.band == band:
            continue
        for b in ((before.band,) if before is not None else ()) + (band,):
            group = (b.symbol, b.trigger)
            if group not in touched:
                index[group] = dict(index.get(group, {}))
                touched.add(group)
        if before is not None:
            index[(before.band.symbol, before.band.trigger)].pop(key, None)
        index[(band.symbol, band.trigger)][key] = band_entry(key, band)
    return replace(partial, results=results, band_index=index)


def by_key(positions: Iterable[Position]) -> dict[PositionKey, Position]:
    return {p.key: p for p in positions}
