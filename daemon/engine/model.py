"""The engine's outputs: desired legs, notices, price bands and the evaluation that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from daemon.domain import PositionKey, Side, TriggerPriceType
from daemon.engine.memory import Memory
from daemon.rules.spec import UpdatePolicy

if TYPE_CHECKING:  # bands.py builds the index from the Bands defined here
    from daemon.engine.bands import BandIndex

SL = "sl"
TP = "tp"
EXIT = "exit"


def ladder_leg(index: int) -> str:
    return f"ladder.{index}"


class LegKind(StrEnum):
    STOP = "stop"  # protective stop (sl, ladder.N): ratcheted, never loosens without a reload
    TAKE_PROFIT = "take_profit"  # reduce-only, fires on a favourable move; not ratcheted
    CLOSE = "close"  # reduce-only market close now (time_exit, or a stop already crossed)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine settings that are not part of a rule.

    The liquidation buffer is the larger of a fraction of the entry-to-liquidation distance and
    a number of ticks: the stop must fire early enough that the fill lands before liquidation.
    """

    liq_buffer_ratio: Decimal = Decimal("0.1")
    liq_buffer_ticks: int = 2
    # A price older than this (Price.timestamp against `now`) is stale: it still counts for
    # protection (crossing, rungs, take-profit, tick rounding) but moves nothing (best
    # prices, first_seen, trailing, latches freeze); see evaluate.trigger_price. None trusts
    # the caller to pass only fresh prices.
    stale_after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DesiredLeg:
    """One order the position should have: what `plan` makes true on the exchange."""

    key: PositionKey
    leg: str  # "sl", "ladder.N", "tp", "exit"
    kind: LegKind
    side: Side  # the closing side: ask for a long, bid for a short
    amount: Decimal  # lot multiple, never above the position
    # Tick multiple; None for a CLOSE. A TAKE_PROFIT's target: it rests as a reduce-only
    # limit order at this price (docs/rules.md), not as a stop.
    stop_price: Decimal | None
    limit_price: Decimal | None  # stop-limit only
    trigger: TriggerPriceType
    rule: str
    component: str  # what produced the price, e.g. "trailing", "window:weekend/stop_loss"
    update: UpdatePolicy = field(default_factory=UpdatePolicy, compare=False)
    # A looser stop than before, allowed by an edit of the rule: set in the evaluation that
    # first sees the edit only (its band is due at once, so the hot path agrees).
    loosened_from: Decimal | None = None


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Notice:
    key: PositionKey
    severity: Severity
    message: str
    # An ERROR that leaves (part of) a covered position under no stop for a reason only the
    # user can fix: a distance wider than the price, a liquidation price leaving no room, no
    # market info. The message says what to do. Not for what passes by itself (no price yet).
    bare: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    """When this position's evaluation can change: outside (low, high) or at `due`.

    A price frame re-evaluates the position iff its trigger price is <= low or >= high
    (None = no bound on that side), or `always`; a clock tick does so once now >= due.
    """

    symbol: str
    trigger: TriggerPriceType
    low: Decimal | None = None
    high: Decimal | None = None
    always: bool = False
    due: datetime | None = None

    def crossed_by(self, price: Decimal) -> bool:
        if self.always:
            return True
        return ((self.low is not None and price <= self.low)
                or (self.high is not None and price >= self.high))


@dataclass(frozen=True, slots=True)
class PositionResult:
    key: PositionKey
    rule: str | None  # None: no rule covers the position
    legs: tuple[DesiredLeg, ...]
    notices: tuple[Notice, ...]
    band: Band

    @property
    def unprotected(self) -> bool:
        """The engine cannot protect this position: the service shows it as bare (a notice
        that says `bare` says why and what to do). Computed, so a price frame pays nothing."""
        return any(notice.bare for notice in self.notices)


@dataclass(frozen=True, slots=True)
class Evaluation:
    results: dict[PositionKey, PositionResult]  # never mutated once built
    memory: Memory
    # The hot path's view of the bands (bands.py): built with a full `evaluate`, derived
    # incrementally from the previous evaluation's by `reevaluate`.
    band_index: BandIndex | None = field(default=None, compare=False, repr=False)

    @property
    def desired(self) -> tuple[DesiredLeg, ...]:
        return tuple(leg for result in self.results.values() for leg in result.legs)

    @property
    def notices(self) -> tuple[Notice, ...]:
        return tuple(n for result in self.results.values() for n in result.notices)

    @property
    def uncovered(self) -> tuple[PositionKey, ...]:
        return tuple(key for key, result in self.results.items() if result.rule is None)

    @property
    def unprotected(self) -> tuple[PositionKey, ...]:
        """Positions the engine cannot protect (the service shows them as bare): see
        `PositionResult.unprotected` and the position's ERROR notice."""
        return tuple(key for key, result in self.results.items() if result.unprotected)
