"""What the engine remembers between evaluations, as one immutable value.

`Memory` is never mutated: `evaluate` and `plan` return a new one. The state layer persists it
through `to_json`/`from_json` (plain JSON types; Decimals and datetimes as strings) so that
trailing extremes, breakeven latches and order revisions survive a restart. Positions are
never forgotten implicitly (a brief gap in the position feed must not erase a trailing
extreme): the shell calls `prune` once a reconcile confirms which positions are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.domain import PositionKey, Side, TriggerPriceType

FORMAT_VERSION = 1


class MemoryFormatError(ValueError):
    """Persisted memory that cannot be read; the message names the offending path."""


@dataclass(frozen=True, slots=True)
class OrderMemory:
    """The last order `plan` asked for on one leg, so retries reuse its client_order_id."""

    revision: int
    seen: bool  # observed resting: once it disappears, the next order needs a new revision
    stop_price: Decimal | None
    amount: Decimal
    limit_price: Decimal | None
    planned_at: datetime
    # The exchange does not report an open stop's trigger type, so it is remembered here: a
    # reload that changes it must replace the order. None when adopted without memory.
    trigger: TriggerPriceType | None = None

    def same_intent(self, stop: Decimal | None, amount: Decimal, limit: Decimal | None) -> bool:
        return self.stop_price == stop and self.amount == amount and self.limit_price == limit


@dataclass(frozen=True, slots=True)
class RungMemory:
    """One ladder rung of one position: how much of the position it still has to sell.

    A rung is armed with `fraction` of the position's size when the position is first seen
    (or the ladder first applies, or its fraction changes), gains `fraction` of every later
    growth, and drops to 0 units once it fired: the price reached it, or a fill of its order
    was reported. `filled` is the highest revision of its orders whose fill has been counted,
    so a fill reported again does not fire a rung that growth re-armed since.
    """

    fraction: Decimal
    units: Decimal
    filled: int = -1


@dataclass(frozen=True, slots=True)
class Sizing:
    """A position's size as last evaluated and as armed, and its ladder's rungs.

    Armed means first seen, or last grown: the rule's min_notional tier is judged on the
    armed size, so a position shrinking through its own fills keeps the rule it was armed
    under. One value, kept as it is while the amount is unchanged, so that a price frame pays
    for one field rather than three.
    """

    amount: Decimal  # when last evaluated: a larger one is growth
    armed: Decimal
    rungs: tuple[tuple[str, RungMemory], ...] = ()  # ladder leg -> its rung, sorted


@dataclass(frozen=True, slots=True)
class PositionMemory:
    first_seen: Decimal | None = None  # trigger price when the daemon first saw the position
    extreme: Decimal | None = None  # best trigger price seen (high for longs, low for shorts)
    # Breakeven components latched at the last evaluation, sorted: judged afresh each time
    # from the best prices (`extreme`, `windows`) under the rule in force, so a record here
    # never carries into an edited rule or a later window occurrence.
    latched: tuple[str, ...] = ()
    fingerprint: str | None = None  # stop fingerprint of the rule that produced the floors
    rule: str | None = None
    floors: tuple[tuple[str, Decimal], ...] = ()  # leg -> last desired stop (the ratchet)
    orders: tuple[tuple[str, OrderMemory], ...] = ()  # leg -> last planned order
    # Open windows that trail or latch: (name, occurrence start, best price since then). A
    # window measures from its own opening, never from a peak reached before it.
    windows: tuple[tuple[str, datetime, Decimal], ...] = ()
    sizing: Sizing | None = None

    def floor(self, leg: str) -> Decimal | None:
        return dict(self.floors).get(leg)

    def order(self, leg: str) -> OrderMemory | None:
        return dict(self.orders).get(leg)

    def with_order(self, leg: str, order: OrderMemory) -> PositionMemory:
        orders = dict(self.orders)
        orders[leg] = order
        return replace(self, orders=tuple(sorted(orders.items())))


@dataclass(frozen=True, slots=True)
class Memory:
    positions: Mapping[PositionKey, PositionMemory] = field(default_factory=dict)

    def get(self, key: PositionKey) -> PositionMemory | None:
        return self.positions.get(key)

    def updated(self, changes: Mapping[PositionKey, PositionMemory]) -> Memory:
        if not changes:
            return self
        merged = dict(self.positions)
        merged.update(changes)
        return Memory(merged)

    def prune(self, keep: Iterable[PositionKey]) -> Memory:
        """Forget every position not in `keep` (call once a reconcile confirms they are gone)."""
        wanted = set(keep)
        return Memory({k: v for k, v in self.positions.items() if k in wanted})

    def consumed(self, key: PositionKey, leg: str) -> Memory:
        """The leg's last order is gone for good (e.g. "Duplicate client order id" but no such
        order is open): the next order on this leg takes a fresh revision."""
        memory = self.positions.get(key)
        order = memory.order(leg) if memory else None
        if memory is None or order is None:
            return self
        return self.updated({key: memory.with_order(leg, replace(order, seen=True))})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "positions": [_position_to_json(k, v) for k, v in sorted(
                self.positions.items(),
                key=lambda kv: (kv[0].symbol, kv[0].side.value, kv[0].created_at))],
        }

    @staticmethod
    def from_json(data: object) -> Memory:
        if not isinstance(data, dict):
            raise MemoryFormatError("memory: expected an object")
        if data.get("version") != FORMAT_VERSION:
            raise MemoryFormatError(
                f"memory.version: expected {FORMAT_VERSION}, got {data.get('version')!r}")
        items = data.get("positions")
        if not isinstance(items, list):
            raise MemoryFormatError("memory.positions: expected a list")
        positions: dict[PositionKey, PositionMemory] = {}
        for i, item in enumerate(items):
            key, value = _position_from_json(item, f"memory.positions[{i}]")
            positions[key] = value
        return Memory(positions)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _position_to_json(key: PositionKey, m: PositionMemory) -> dict[str, Any]:
    return {
        "symbol": key.symbol,
        "side": key.side.value,
        "created_at": key.created_at,
        "first_seen": _dec(m.first_seen),
        "extreme": _dec(m.extreme),
        "latched": list(m.latched),
        "fingerprint": m.fingerprint,
        "rule": m.rule,
        "floors": {leg: format(price, "f") for leg, price in m.floors},
        "orders": {leg: {
            "revision": o.revision,
            "seen": o.seen,
            "stop_price": _dec(o.stop_price),
            "amount": format(o.amount, "f"),
            "limit_price": _dec(o.limit_price),
            "planned_at": o.planned_at.isoformat(),
            "trigger": None if o.trigger is None else o.trigger.value,
        } for leg, o in m.orders},
        "windows": {name: {"opened": opened.isoformat(), "extreme": format(extreme, "f")}
                    for name, opened, extreme in m.windows},
        "amount": None if m.sizing is None else format(m.sizing.amount, "f"),
        "armed": None if m.sizing is None else format(m.sizing.armed, "f"),
        "rungs": {} if m.sizing is None else {
            leg: {"fraction": format(r.fraction, "f"), "units": format(r.units, "f"),
                  "filled": r.filled} for leg, r in m.sizing.rungs},
    }


def _field(obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str,
           optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    # bool is an int: a revision or timestamp given as true/false is refused.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind)):
        raise MemoryFormatError(f"{where}.{name}: expected {_names(kind)}, got {value!r}")
    return value


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _types(kind))


def _decimal(text: Any, where: str) -> Decimal:
    try:
        value = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise MemoryFormatError(f"{where}: expected a decimal string, got {text!r}")
    return value


def _opt_decimal(obj: Mapping[str, Any], name: str, where: str) -> Decimal | None:
    value = obj.get(name)
    return None if value is None else _decimal(value, f"{where}.{name}")


def _position_from_json(item: Any, where: str) -> tuple[PositionKey, PositionMemory]:
    if not isinstance(item, dict):
        raise MemoryFormatError(f"{where}: expected an object")
    side_text = _field(item, "side", str, where)
    try:
        side = Side(side_text)
    except ValueError:
        raise MemoryFormatError(f"{where}.side: expected bid or ask, got {side_text!r}") from None
    key = PositionKey(_field(item, "symbol", str, where), side,
                      _field(item, "created_at", int, where))
    latched = _field(item, "latched", list, where)
    if not all(isinstance(x, str) for x in latched):
        raise MemoryFormatError(f"{where}.latched: expected a list of strings")
    floors_raw = _field(item, "floors", dict, where)
    floors = tuple(sorted((str(leg), _decimal(v, f"{where}.floors.{leg}"))
                          for leg, v in floors_raw.items()))
    orders_raw = _field(item, "orders", dict, where)
    orders = tuple(sorted((str(leg), _order_from_json(v, f"{where}.orders.{leg}"))
                          for leg, v in orders_raw.items()))
    windows_raw = _field(item, "windows", dict, where, optional=True) or {}
    windows = tuple(sorted(_window_from_json(str(name), v, f"{where}.windows.{name}")
                           for name, v in windows_raw.items()))
    # Written since ladders are armed; memory from before reads as never armed.
    rungs_raw = _field(item, "rungs", dict, where, optional=True) or {}
    rungs = tuple(sorted((str(leg), _rung_from_json(v, f"{where}.rungs.{leg}"))
                         for leg, v in rungs_raw.items()))
    amount = _opt_decimal(item, "amount", where)
    armed = _opt_decimal(item, "armed", where)
    sizing = None if amount is None else Sizing(amount, amount if armed is None else armed,
                                                rungs)
    memory = PositionMemory(
        first_seen=_opt_decimal(item, "first_seen", where),
        extreme=_opt_decimal(item, "extreme", where),
        latched=tuple(sorted(latched)),
        fingerprint=_field(item, "fingerprint", str, where, optional=True),
        rule=_field(item, "rule", str, where, optional=True),
        floors=floors,
        orders=orders,
        windows=windows,
        sizing=sizing,
    )
    return key, memory


def _rung_from_json(item: Any, where: str) -> RungMemory:
    if not isinstance(item, dict):
        raise MemoryFormatError(f"{where}: expected an object")
    return RungMemory(_decimal(item.get("fraction"), f"{where}.fraction"),
                      _decimal(item.get("units"), f"{where}.units"),
                      _field(item, "filled", int, where))


def _time(item: Mapping[str, Any], name: str, where: str) -> datetime:
    text = _field(item, name, str, where)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise MemoryFormatError(
            f"{where}.{name}: expected an ISO 8601 time, got {text!r}") from None
    if value.tzinfo is None:
        raise MemoryFormatError(f"{where}.{name}: expected a time zone, got {text!r}")
    return value


def _window_from_json(name: str, item: Any, where: str) -> tuple[str, datetime, Decimal]:
    if not isinstance(item, dict):
        raise MemoryFormatError(f"{where}: expected an object")
    return name, _time(item, "opened", where), _decimal(item.get("extreme"), f"{where}.extreme")


def _order_from_json(item: Any, where: str) -> OrderMemory:
    if not isinstance(item, dict):
        raise MemoryFormatError(f"{where}: expected an object")
    planned_at = _time(item, "planned_at", where)
    trigger_text = _field(item, "trigger", str, where, optional=True)
    try:
        trigger = None if trigger_text is None else TriggerPriceType(trigger_text)
    except ValueError:
        raise MemoryFormatError(f"{where}.trigger: expected one of "
                                f"{', '.join(t.value for t in TriggerPriceType)}, "
                                f"got {trigger_text!r}") from None
    return OrderMemory(
        revision=_field(item, "revision", int, where),
        seen=_field(item, "seen", bool, where),
        stop_price=_opt_decimal(item, "stop_price", where),
        amount=_decimal(item.get("amount"), f"{where}.amount"),
        limit_price=_opt_decimal(item, "limit_price", where),
        planned_at=planned_at,
        trigger=trigger,
    )


def position_to_json(key: PositionKey, memory: PositionMemory) -> dict[str, Any]:
    """One position's entry of `Memory.to_json()["positions"]`, for a store that keeps a row
    per position (so that a price frame rewrites only the positions it changed)."""
    return _position_to_json(key, memory)


def position_from_json(data: object, where: str = "position") -> tuple[PositionKey, PositionMemory]:
    """Read back one `position_to_json` entry; `MemoryFormatError` names `where` on failure.
    The entry carries no version of its own: the caller stores `FORMAT_VERSION` beside it."""
    return _position_from_json(data, where)
