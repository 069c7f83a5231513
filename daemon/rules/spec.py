"""The compiled rule language: what the engine reads.

`daemon.rules` parses and validates YAML into these frozen values; `daemon.engine` evaluates
them. Every number is already a `Decimal` or `timedelta` here: nothing downstream parses text.
Percentages are stored as ratios (``"1.5%"`` -> ``Pct(Decimal("0.015"))``); absolute
distances are in quote-currency price units.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from daemon.domain import Side, TriggerPriceType


@dataclass(frozen=True, slots=True)
class Pct:
    ratio: Decimal  # 0.015 for "1.5%"

    def of(self, price: Decimal) -> Decimal:
        return price * self.ratio


@dataclass(frozen=True, slots=True)
class Abs:
    amount: Decimal  # price units

    def of(self, price: Decimal) -> Decimal:
        return self.amount


Distance = Pct | Abs


class SideFilter(StrEnum):
    LONG = "long"
    SHORT = "short"
    ANY = "any"


class Anchor(StrEnum):
    """Where a stop-loss distance is measured from."""

    ENTRY = "entry"  # the position's entry price
    FIRST_SEEN = "first_seen"  # the trigger price when the daemon first saw the position


@dataclass(frozen=True, slots=True)
class Match:
    symbols: tuple[str, ...] | None  # sorted, unique; None means every symbol ("*")
    side: SideFilter = SideFilter.ANY
    min_notional: Decimal | None = None  # USD, amount * price

    @property
    def specificity(self) -> tuple[int, Decimal]:
        """symbol+side > symbol > side-only > "*", then a higher `min_notional` is more specific.

        Two rules that could both match one position with equal specificity are a validation
        error (never a silent pick), so a validated RuleBook has one most specific match.
        """
        rank = 2 if self.symbols is not None else 0
        rank += 1 if self.side is not SideFilter.ANY else 0
        return rank, self.min_notional or Decimal(0)

    def accepts(self, symbol: str, side: Side, notional: Decimal) -> bool:
        if self.symbols is not None and symbol not in self.symbols:
            return False
        if self.side is SideFilter.LONG and side is not Side.BID:
            return False
        if self.side is SideFilter.SHORT and side is not Side.ASK:
            return False
        return self.min_notional is None or notional >= self.min_notional

    def overlaps(self, other: Match) -> bool:
        """Could one position satisfy both matches (ignoring min_notional, which nests)?"""
        symbols_meet = (self.symbols is None or other.symbols is None
                        or bool(set(self.symbols) & set(other.symbols)))
        sides_meet = (SideFilter.ANY in (self.side, other.side) or self.side is other.side)
        return symbols_meet and sides_meet


@dataclass(frozen=True, slots=True)
class StopLoss:
    """Exactly one of `distance` (from `anchor`) and `price` is set."""

    distance: Distance | None = None
    anchor: Anchor = Anchor.ENTRY
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Trailing:
    distance: Distance  # behind the best trigger price seen since activation
    activate_at: Distance | None = None  # profit from entry before trailing starts; None = at once


@dataclass(frozen=True, slots=True)
class Breakeven:
    at: Distance  # favourable move from entry that latches breakeven
    offset: Distance = Abs(Decimal(0))  # beyond entry on the profit side (fees)


@dataclass(frozen=True, slots=True)
class LadderLeg:
    fraction: Decimal  # of the position, (0, 1]
    distance: Distance  # from entry


@dataclass(frozen=True, slots=True)
class TakeProfit:
    """Exactly one of `distance` (from entry, on the profit side) and `price` is set.

    Placed as a reduce-only GTC limit order at the target: a `/positions/tpsl` leg may erase
    a user's own TP/SL legs, and an `ask` stop order fires on a fall, so it cannot take a
    long's profit; see docs/rules.md, "How a take-profit is placed".
    """

    distance: Distance | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TimeExit:
    after: timedelta  # close with a reduce-only market order once open this long


class OrderKind(StrEnum):
    MARKET = "market"  # stop-market (default)
    LIMIT = "limit"  # stop-limit, needs a slippage cap


@dataclass(frozen=True, slots=True)
class OrderStyle:
    kind: OrderKind = OrderKind.MARKET
    limit_offset: Distance | None = None  # slippage cap beyond the stop price; only for LIMIT


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    min_move: Distance = Pct(Decimal("0.001"))  # smaller moves are not worth a cancel/replace
    min_interval: timedelta = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Components:
    """The protective parts of a rule; a window overrides some of them while it is active.

    In a window's `Components`, None means "keep the rule's own value".
    """

    stop_loss: StopLoss | None = None
    trailing: Trailing | None = None
    breakeven: Breakeven | None = None
    ladder: tuple[LadderLeg, ...] | None = None
    take_profit: TakeProfit | None = None
    time_exit: TimeExit | None = None


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    cron: str  # APScheduler 3.x CronTrigger.from_crontab syntax
    timezone: str  # IANA name
    duration: timedelta
    overrides: Components


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule was written, for messages that point the user at it."""

    file: str
    line: int  # 1-based
    column: int = 1


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    components: Components
    windows: tuple[Window, ...] = ()
    order: OrderStyle = OrderStyle()
    trigger: TriggerPriceType = TriggerPriceType.MARK
    update: UpdatePolicy = UpdatePolicy()
    source: Source | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        """Changes exactly when the rule's meaning changes.

        The ratchet resets on a narrower one (`daemon.engine.evaluate.stop_fingerprint`): only
        an edit of what decides the stop levels may loosen a stop.
        """
        # Dataclass reprs of Decimal/timedelta/enums/tuples are exact and stable across
        # processes (no sets: their order follows the per-process string hash seed).
        text = repr((self.name, self.match, self.components, self.windows, self.order,
                     self.trigger, self.update))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class AmbiguousMatch(ValueError):
    """Two equally specific rules match one position; validation should have refused the book."""


@dataclass(frozen=True, slots=True)
class RuleBook:
    rules: tuple[Rule, ...]
    version: int = 1

    def select(self, symbol: str, side: Side, notional: Decimal) -> Rule | None:
        """The most specific rule that covers this position, or None when none does."""
        best: Rule | None = None
        tied = False
        for rule in self.rules:
            if not rule.match.accepts(symbol, side, notional):
                continue
            if best is None or rule.match.specificity > best.match.specificity:
                best, tied = rule, False
            elif rule.match.specificity == best.match.specificity:
                tied = True
        if tied and best is not None:
            raise AmbiguousMatch(
                f"{symbol} {side}: more than one rule as specific as {best.name!r}")
        return best
