"""The hot path for `prices` frames: re-evaluate only positions whose band was crossed.

Each evaluated position carries a `Band` (model.py): the trigger-price interval inside which
its evaluation cannot change (the nearest stop to cross, trailing extreme, activation and
breakeven thresholds, take-profit) and the next time of interest (window start or end, time
exit). `reevaluate` compares each position's trigger price with its band (two comparisons)
and runs the full evaluation only for those that crossed it, for new positions, and for
those whose time is due; everything else keeps its previous result. Its output equals a
full `evaluate` over the same inputs (property-tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from daemon.domain import Market, OpenOrder, Position, PositionKey, Price
from daemon.engine.evaluate import evaluate, trigger_price
from daemon.engine.model import EngineConfig, Evaluation, PositionResult
from daemon.rules.spec import RuleBook

_DEFAULT_CONFIG = EngineConfig()


def crossed(previous: Evaluation, prices: Mapping[str, Price], now: datetime,
            config: EngineConfig = _DEFAULT_CONFIG) -> list[PositionKey]:
    """Positions whose band `prices` crossed, or whose due time has come."""
    out: list[PositionKey] = []
    for key, result in previous.results.items():
        band = result.band
        if band.due is not None and now >= band.due:
            out.append(key)
            continue
        price = prices.get(band.symbol)
        if price is None:
            continue
        value = (price.by_trigger(band.trigger) if config.stale_after_ms is None
                 else trigger_price(price, band.trigger, now, config))
        if value is None:
            continue
        if band.always or (band.low is not None and value <= band.low) or (
                band.high is not None and value >= band.high):
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

    Only valid when nothing but prices and time changed since `previous` (same rulebook,
    markets, positions and live orders, as far as the kept positions go); a change to any of
    those calls for a full `evaluate`, which is also the fallback whenever in doubt.
    Positions absent from `previous` are evaluated; those absent from `positions` dropped.
    """
    todo = set(crossed(previous, prices, now, config))
    todo.update(key for key in positions if key not in previous.results)
    partial = evaluate(rulebook, (positions[key] for key in todo if key in positions), prices,
                       markets, previous.memory, now, account=account, live=live,
                       config=config)
    results: dict[PositionKey, PositionResult] = {}
    for key in positions:
        kept = partial.results.get(key) or previous.results.get(key)
        if kept is not None:
            results[key] = kept
    return Evaluation(results, partial.memory)


def by_key(positions: Iterable[Position]) -> dict[PositionKey, Position]:
    return {p.key: p for p in positions}
