"""The hot path's index of bands, so that a price frame finds the crossed ones by bisection.

Per (symbol, trigger type), every position's lower band edges sit in one sorted list and its
upper edges in another, each beside a parallel list of position keys: the positions a price
crosses are a suffix of the first (price <= low) and a prefix of the second (price >= high).
A frame that crosses nothing costs two bisections per group instead of two comparisons per
position. Due times (window changes, time exits) are kept apart, since few positions have one.

`evaluate` builds an index with each full evaluation (the fallback, off the price-frame path);
an index never changes once built, and `reevaluate` derives the next one copying only the
groups a frame touched.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from daemon.domain import PositionKey, TriggerPriceType
from daemon.engine.model import PositionResult

INF = Decimal("Infinity")
_NO_LOW = -INF

GroupKey = tuple[str, TriggerPriceType]


class Group:
    """One (symbol, trigger type)'s band edges, each kind sorted, beside their keys."""

    __slots__ = ("high_keys", "highs", "low_keys", "lows")

    def __init__(self, lows: list[Decimal], low_keys: list[PositionKey],
                 highs: list[Decimal], high_keys: list[PositionKey]) -> None:
        self.lows = lows
        self.low_keys = low_keys
        self.highs = highs
        self.high_keys = high_keys

    @staticmethod
    def of(keys: list[PositionKey], lows: list[Decimal], highs: list[Decimal]) -> Group:
        """A group from parallel lists in any order. Sorting positions rather than (edge, key)
        pairs allocates no tuple per position: thousands of them at once set off the
        garbage collector's full passes over the daemon's heap."""
        by_low = sorted(range(len(keys)), key=lows.__getitem__)
        by_high = sorted(range(len(keys)), key=highs.__getitem__)
        return Group(list(map(lows.__getitem__, by_low)), list(map(keys.__getitem__, by_low)),
                     list(map(highs.__getitem__, by_high)),
                     list(map(keys.__getitem__, by_high)))

    def copy(self) -> Group:
        return Group(self.lows.copy(), self.low_keys.copy(), self.highs.copy(),
                     self.high_keys.copy())

    def add(self, key: PositionKey, low: Decimal, high: Decimal) -> None:
        _put(self.lows, self.low_keys, key, low)
        _put(self.highs, self.high_keys, key, high)

    def remove(self, key: PositionKey, low: Decimal, high: Decimal) -> None:
        _drop(self.lows, self.low_keys, key, low)
        _drop(self.highs, self.high_keys, key, high)

    def move(self, key: PositionKey, was_low: Decimal, was_high: Decimal, low: Decimal,
             high: Decimal) -> None:
        """`remove` then `add`, leaving an unchanged edge where it is."""
        if was_low != low:
            _drop(self.lows, self.low_keys, key, was_low)
            _put(self.lows, self.low_keys, key, low)
        if was_high != high:
            _drop(self.highs, self.high_keys, key, was_high)
            _put(self.highs, self.high_keys, key, high)

    def crossed_by(self, value: Decimal, out: list[PositionKey]) -> None:
        """Append the keys whose band `value` crosses (value <= low or value >= high)."""
        out.extend(self.low_keys[bisect_left(self.lows, value):])
        out.extend(self.high_keys[:bisect_right(self.highs, value)])


def _put(values: list[Decimal], keys: list[PositionKey], key: PositionKey,
         value: Decimal) -> None:
    i = bisect_right(values, value)
    values.insert(i, value)
    keys.insert(i, key)


def _drop(values: list[Decimal], keys: list[PositionKey], key: PositionKey,
          value: Decimal) -> None:
    i = bisect_left(values, value)
    # Equal edges are common (stops on one tick); the key is among them.
    while keys[i] is not key and keys[i] != key:
        i += 1
    del values[i]
    del keys[i]


def edges(always: bool, low: Decimal | None, high: Decimal | None) -> tuple[Decimal, Decimal]:
    """A band's (low, high) as numbers: no bound is an infinity; `always` is crossed by all."""
    if always:
        return INF, INF
    return (-INF if low is None else low, INF if high is None else high)


@dataclass(frozen=True, slots=True)
class BandIndex:
    groups: Mapping[GroupKey, Group]
    due: Mapping[PositionKey, datetime]  # only positions with a due time


def index_of(results: Iterable[tuple[PositionKey, PositionResult]]) -> BandIndex:
    lists: dict[GroupKey, tuple[list[PositionKey], list[Decimal], list[Decimal]]] = {}
    due: dict[PositionKey, datetime] = {}
    # Over every position of a full evaluation: `edges` written out, as it is the bulk.
    for key, result in results:
        band = result.band
        group = lists.get((band.symbol, band.trigger))
        if group is None:
            group = lists[(band.symbol, band.trigger)] = ([], [], [])
        group[0].append(key)
        if band.always:
            group[1].append(INF)
            group[2].append(INF)
        else:
            group[1].append(_NO_LOW if band.low is None else band.low)
            group[2].append(INF if band.high is None else band.high)
        if band.due is not None:
            due[key] = band.due
    return BandIndex({g: Group.of(*parts) for g, parts in lists.items()}, due)
