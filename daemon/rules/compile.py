"""Validated models -> spec values, plus the checks that need a whole rule.

Inheritance is resolved here: a rule takes each component, `order`, `trigger` and `windows`
from its file's `defaults` unless it sets that key itself (`false` drops an inherited
component); `update` is merged key by key. Every check reports where the offending value was
written, which for an inherited value is in `defaults`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from daemon.domain import TriggerPriceType
from daemon.rules import spec
from daemon.rules.errors import Path, Problem
from daemon.rules.model import (
    COMPONENT_KEYS,
    BreakevenModel,
    DefaultsModel,
    LadderLegModel,
    OrderModel,
    RuleFileModel,
    RuleModel,
    StopLossModel,
    TakeProfitModel,
    TimeExitModel,
    TrailingModel,
    WindowModel,
)
from daemon.rules.values import canonical
from daemon.rules.yamlsource import Document

TINY_LEG = Decimal("0.05")  # below this a leg is likely under the $10 minimum order value

_TRIGGERS = {"mark": TriggerPriceType.MARK, "mid": TriggerPriceType.MID,
             "last": TriggerPriceType.LAST}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: spec.Rule
    path: Path  # ("rules", i) in `document`
    document: Document


def compile_file(model: RuleFileModel, document: Document) -> tuple[list[CompiledRule],
                                                                   list[Problem]]:
    problems: list[Problem] = []
    if not model.rules:
        problems.append(document.problem(("rules",), "no rules in this file", warning=True))
    compiled = []
    for index, rule in enumerate(model.rules):
        checker = _RuleCompiler(document, model.defaults, rule, index)
        compiled.append(CompiledRule(checker.compile(), ("rules", index), document))
        problems.extend(checker.problems)
    return compiled, problems


class _RuleCompiler:
    def __init__(self, document: Document, defaults: DefaultsModel | None, rule: RuleModel,
                 index: int) -> None:
        self.document = document
        self.defaults = defaults
        self.model = rule
        self.path: Path = ("rules", index)
        self.problems: list[Problem] = []
        self.match = spec.Match(rule.match.symbol, rule.match.side, rule.match.min_notional)

    def _inherited(self, key: str) -> tuple[Any, Path]:
        """The value in force for `key` and where it was written; (None, ()) when unset."""
        if key in self.model.model_fields_set:
            return getattr(self.model, key), (*self.path, key)
        if self.defaults is not None and key in self.defaults.model_fields_set:
            return getattr(self.defaults, key), ("defaults", key)
        return None, ()

    def _error(self, path: Path, message: str) -> None:
        self.problems.append(self.document.problem(path, message))

    def _warn(self, path: Path, message: str) -> None:
        self.problems.append(self.document.problem(path, message, warning=True))

    def _check_breakeven_units(self, path: Path, at: spec.Distance, offset: spec.Distance
                               ) -> None:
        # In one unit the model refuses offset >= at; across units it depends on the entry,
        # and an offset past `at` puts the stop beyond the price the moment it latches.
        if type(at) is not type(offset) and offset != spec.Abs(Decimal(0)):
            self._warn(path, "`at` and `offset` are in different units (one a percentage, one "
                       "price units): wherever the offset reaches past `at`, the stop lands "
                       "beyond the price as breakeven latches and the position is closed at "
                       "market; write both in the same unit")

    def compile(self) -> spec.Rule:
        rule = self.model
        self._check_symbols()
        components = self._components(self._inherited)
        windows, windows_path = self._inherited("windows")
        compiled_windows = tuple(self._windows(windows or [], windows_path))
        order, _ = self._inherited("order")
        trigger, _ = self._inherited("trigger")
        self._check_protects(components)
        mark = self.document.locate(self.path)[1]
        return spec.Rule(
            name=rule.name,
            match=self.match,
            components=components,
            windows=compiled_windows,
            order=_order(order),
            trigger=_TRIGGERS[trigger] if trigger is not None else TriggerPriceType.MARK,
            update=self._update(),
            source=spec.Source(self.document.filename, mark.line, mark.column),
        )

    def _components(self, lookup: Callable[[str], tuple[Any, Path]]) -> spec.Components:
        values: dict[str, Any] = {}
        for key in COMPONENT_KEYS:
            model, path = lookup(key)
            if model is None or model is False:
                values[key] = None
                continue
            values[key] = self._component(key, model, path)
        return spec.Components(**values)

    def _component(self, key: str, model: Any, path: Path) -> Any:
        if isinstance(model, StopLossModel):
            if model.price is not None:
                self._check_fixed_price((*path, "price"), "stop_loss")
            anchor = spec.Anchor.ENTRY if model.anchor == "entry" else spec.Anchor.FIRST_SEEN
            return spec.StopLoss(model.distance, anchor, model.price)
        if isinstance(model, TrailingModel):
            self._check_reachable((*path, "activate_at"), model.activate_at, "an activation")
            return spec.Trailing(model.distance, model.activate_at)
        if isinstance(model, BreakevenModel):
            self._check_reachable((*path, "at"), model.at, "a breakeven threshold")
            self._check_breakeven_units(path, model.at, model.offset)
            return spec.Breakeven(model.at, model.offset)
        if isinstance(model, TakeProfitModel):
            if model.price is not None:
                self._check_fixed_price((*path, "price"), "take_profit")
            self._check_reachable((*path, "distance"), model.distance, "a take-profit")
            return spec.TakeProfit(model.distance, model.price)
        if isinstance(model, TimeExitModel):
            return spec.TimeExit(model.after)
        assert key == "ladder"
        assert isinstance(model, list)
        return tuple(self._leg(leg, (*path, i)) for i, leg in enumerate(model))

    def _leg(self, leg: LadderLegModel, path: Path) -> spec.LadderLeg:
        if leg.fraction < TINY_LEG:
            share = format(canonical(leg.fraction * 100), "f")
            self._warn((*path, "fraction"), f"a leg of {share}% of the position may fall "
                       "below the market's minimum order value ($10) and would then not be "
                       "placed")
        return spec.LadderLeg(leg.fraction, leg.distance)

    def _check_fixed_price(self, path: Path, key: str) -> None:
        match = self.match
        if match.symbols is None or len(match.symbols) != 1 or match.side is spec.SideFilter.ANY:
            self._error(path, f"a fixed {key} price only makes sense for one symbol and one "
                        f"side, but rule `{self.model.name}` matches "
                        f"{_describe(match)}")

    def _check_reachable(self, path: Path, profit: spec.Distance | None, what: str) -> None:
        """A short gains at most 100 % (price cannot fall below zero)."""
        if (isinstance(profit, spec.Pct) and profit.ratio >= 1
                and self.match.side is not spec.SideFilter.LONG):
            self._error(path, f"{what} of 100% or more can never be reached by a short "
                        "position; restrict the rule to `side: long`")

    def _check_symbols(self) -> None:
        for symbol in self.match.symbols or ():
            if symbol != symbol.upper() and not (symbol[0] == "k" and symbol[1:].isupper()):
                self._warn((*self.path, "match", "symbol"),
                           f"symbol `{symbol}` has lower-case letters; Pacifica symbols are "
                           "case-sensitive (`BTC`, `kBONK`), so it may match nothing")

    def _check_protects(self, components: spec.Components) -> None:
        if all(getattr(components, key) is None for key in COMPONENT_KEYS):
            self._error(self.path, f"rule `{self.model.name}` protects nothing: give it a "
                        "stop_loss, trailing, ladder, breakeven, take_profit or time_exit")
            return
        trailing = components.trailing
        if not (components.stop_loss or components.ladder
                or (trailing is not None and trailing.activate_at is None)):
            self._warn(self.path, f"rule `{self.model.name}` has no stop from the start "
                       "(no stop_loss, ladder or immediate trailing): a position that goes "
                       "against you stays unprotected")

    def _windows(self, windows: list[WindowModel], path: Path) -> Iterator[spec.Window]:
        seen: set[str] = set()
        for index, window in enumerate(windows):
            window_path = (*path, index)
            if window.name in seen:
                self._error((*window_path, "name"), f"window name `{window.name}` is used twice "
                            "in this rule")
            seen.add(window.name)

            def lookup(key: str, window: WindowModel = window,
                       window_path: Path = window_path) -> tuple[Any, Path]:
                return getattr(window, key), (*window_path, key)

            yield spec.Window(window.name, window.cron, window.timezone, window.duration,
                              self._components(lookup))

    def _update(self) -> spec.UpdatePolicy:
        base = spec.UpdatePolicy()
        min_move, min_interval = base.min_move, base.min_interval
        for source in (self.defaults, self.model):
            update = source.update if source is not None else None
            if update is None:
                continue
            min_move = update.min_move if update.min_move is not None else min_move
            min_interval = update.min_interval if update.min_interval is not None \
                else min_interval
        return spec.UpdatePolicy(min_move, min_interval)


def _order(model: OrderModel | None) -> spec.OrderStyle:
    if model is None or model.limit_offset is None:
        return spec.OrderStyle()
    return spec.OrderStyle(spec.OrderKind.LIMIT, model.limit_offset)


def _describe(match: spec.Match) -> str:
    symbols = "every symbol" if match.symbols is None else ", ".join(match.symbols)
    sides = {spec.SideFilter.ANY: "longs and shorts", spec.SideFilter.LONG: "longs",
             spec.SideFilter.SHORT: "shorts"}[match.side]
    return f"{sides} on {symbols}"
