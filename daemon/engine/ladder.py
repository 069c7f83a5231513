"""Ladder rungs as memory: armed on a position's size, grown with it, spent once they fire.

The arithmetic of what each rung still has to sell, apart from the legs built from it
(legs.py), and the reading of reported fills into the revisions they spend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from daemon import ids
from daemon.engine.levels import Orientation
from daemon.engine.memory import RungMemory
from daemon.engine.model import ladder_leg
from daemon.rules.spec import LadderLeg


def arm_rungs(before: tuple[tuple[str, RungMemory], ...],
              ladder: Sequence[LadderLeg] | None, amount: Decimal, growth: Decimal | None,
              filled: Callable[[str], int],
              resting: Callable[[str], Sequence[tuple[int, Decimal]]]) -> dict[str, RungMemory]:
    """The position's rungs now: armed on its size, grown with it, spent by reported fills.

    Growth re-arms every rung for the added size only: a rung that fired sells its share of
    what was added, one still armed sells its share of both. A rung the ladder in force has
    and memory does not (or with another fraction, after a reload) is armed on the size now.
    """
    rungs = dict(before)
    if growth is not None:
        for leg, rung in before:
            rungs[leg] = replace(rung, units=rung.units + rung.fraction * growth)
    for i, step in enumerate(ladder or ()):
        leg = ladder_leg(i)
        was = rungs.get(leg)
        if was is None or was.fraction != step.fraction:
            counted = -1 if was is None else was.filled
            if was is None:
                newest = max((revision for revision, _ in resting(leg)), default=-1)
                counted = max(counted, min(filled(leg), newest - 1))
            rungs[leg] = RungMemory(step.fraction, step.fraction * amount, counted)
    for leg, rung in rungs.items():
        revision = filled(leg)
        if revision > rung.filled:  # a fill not counted yet: the rung fired
            rungs[leg] = RungMemory(rung.fraction, Decimal(0), revision)
    return rungs


def deepest(o: Orientation, entry: Decimal, ladder: Sequence[LadderLeg]) -> Decimal:
    """The level of the rung farthest from the entry: where a ladder without a stop_loss
    keeps what its rungs do not cover."""
    levels = [o.down(entry, rung.distance.of(entry)) for rung in ladder]
    found = levels[0]
    for level in levels[1:]:
        found = o.worst(found, level)
    return found


def filled_revisions(account: str, fills: Collection[str]) -> dict[tuple[int, int], int]:
    """(position tag, leg tag) -> the highest revision of this account's orders that filled."""
    acct = ids.account_tag(account)
    out: dict[tuple[int, int], int] = {}
    for cloid in fills:
        parsed = ids.parse(cloid)
        if parsed is not None and parsed.account == acct:
            where = (parsed.position, parsed.leg)
            out[where] = max(out.get(where, -1), parsed.revision)
    return out


def fill_lookup(filled: Mapping[tuple[int, int], int], position: int) -> Callable[[str], int]:
    def revision(leg: str) -> int:
        return filled.get((position, ids.leg_tag(leg)), -1)
    return revision


def no_fill(leg: str) -> int:
    return -1
