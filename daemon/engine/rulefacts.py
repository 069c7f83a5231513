"""What an evaluation knows of a rule before looking at any position.

Computed once per rule (or per symbol and side) and call, not once per position: the stop
fingerprint hashes the whole rule, and on a price frame every re-evaluated position of a rule
without an open window reads the same layers.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal

from daemon.domain import Position, Side
from daemon.rules.spec import Components, LadderLeg, Rule, RuleBook, TakeProfit, TimeExit

Layers = list[tuple[str, Components]]  # ("" or "window:NAME/", components), rule first
Selected = dict[tuple[str, Side], tuple[Rule | None, str | None]]


def stop_fingerprint(rule: Rule) -> str:
    """Changes exactly when what decides the rule's stop levels changes; the ratchet resets
    (and a stop may loosen, shown by `plan`) only then.

    An edit of the take-profit, time exit, order style, update policy, match or a window's
    name is no reason to let go of a stop the ratchet holds. Reprs of these frozen values
    are exact and stable across processes.
    """
    def stops(comp: Components) -> Components:
        return replace(comp, take_profit=None, time_exit=None)

    windows = tuple((win.cron, win.timezone, win.duration, stops(win.overrides))
                    for win in rule.windows)
    text = repr((stops(rule.components), windows, rule.trigger))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RuleFacts:
    """What one rule's evaluation of every position shares."""

    __slots__ = ("fingerprint", "plain_has_stop", "plain_ladder", "plain_layers",
                 "plain_take_profit", "plain_time_exit", "tracks")

    def __init__(self, rule: Rule) -> None:
        self.fingerprint = stop_fingerprint(rule)
        self.tracks = tracks(rule.components)
        # The layers, and what they give, while no window is open (always, without windows).
        self.plain_layers: Layers = [("", rule.components)]
        self.plain_has_stop = has_stop(self.plain_layers)
        self.plain_ladder = ladder_of(self.plain_layers)
        self.plain_take_profit = take_profit_of(self.plain_layers)
        self.plain_time_exit = time_exit_of(self.plain_layers)


def select_rule(rulebook: RuleBook, position: Position, selected: Selected | None,
                armed: Decimal | None = None) -> tuple[Rule | None, str | None]:
    """The position's rule, or the reason none can be picked.

    The notional is that of the size the position was armed at (`armed`, from memory) when
    larger: a position shrinking through its own fills stays in its min_notional tier.
    Without a `min_notional` in the book the choice depends on symbol and side alone
    (`selected` is then a cache for them); the notional is computed regardless, so numbers
    too large for it fail here as they always did.
    """
    size = position.amount if armed is None or armed < position.amount else armed
    notional = size * position.entry_price
    group = (position.symbol, position.side)
    if selected is not None:
        found = selected.get(group)
        if found is not None:
            return found
    try:
        found = rulebook.select(position.symbol, position.side, notional), None
    except ValueError as exc:  # AmbiguousMatch: validation should have refused the book
        found = None, str(exc)
    if selected is not None:
        selected[group] = found
    return found


def has_stop(layers: Layers) -> bool:
    return any(c.stop_loss is not None or c.trailing is not None for _, c in layers)


def tracks(comp: Components) -> bool:
    return comp.trailing is not None or comp.breakeven is not None


# Ladder, take-profit and time exit are replaced (not combined) by an active window's value.
def ladder_of(layers: Layers) -> tuple[LadderLeg, ...] | None:
    found: tuple[LadderLeg, ...] | None = None
    for _, comp in layers:
        found = comp.ladder if comp.ladder is not None else found
    return found


def take_profit_of(layers: Layers) -> TakeProfit | None:
    found: TakeProfit | None = None
    for _, comp in layers:
        found = comp.take_profit if comp.take_profit is not None else found
    return found


def time_exit_of(layers: Layers) -> TimeExit | None:
    found: TimeExit | None = None
    for _, comp in layers:
        found = comp.time_exit if comp.time_exit is not None else found
    return found
