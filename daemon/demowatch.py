"""What `make demo` sees of the exchange: it polls the simulator's `GET /sim/state` and prints
a timestamped line for every change to the account's positions and to the stops the daemon
made (placed, moved, cancelled, fired), and measures how long any position went without a
stop, as an outsider would, with no access to the daemon's own view.

The daemon's ids say which orders are its own (daemon.ids), so hand-made orders never count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from daemon import ids

# Seconds between two looks at the exchange: the resolution of the bare-stretch measure.
POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class Stop:
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # the order's side: "ask" protects a long
    stop_price: Decimal
    amount: Decimal
    leg: str


@dataclass(frozen=True, slots=True)
class Held:
    symbol: str
    side: str  # "long" | "short"
    amount: Decimal
    entry: Decimal


def _side(wire_side: str) -> str:
    return "long" if wire_side == "bid" else "short"


def _closing(side: str) -> str:
    return "ask" if side == "long" else "bid"


@dataclass
class Watch:
    """The latest view of one account, updated by `observe(state)` from each poll."""

    owner: str
    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    positions: dict[str, Held] = field(default_factory=dict)
    stops: dict[int, Stop] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    # Per symbol, when it was first seen bare while the daemon was meant to be protecting.
    bare_since: dict[str, float] = field(default_factory=dict)
    longest_bare: float = 0.0
    longest_bare_symbol: str | None = None
    measuring: bool = False  # off until the daemon first covered the book it found
    history: dict[str, list[str]] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    by_hand: set[int] = field(default_factory=set)  # order ids the trader cancelled
    replaced: set[int] = field(default_factory=set)  # order ids a move superseded
    hand_cancelled: dict[tuple[str, str], Stop] = field(default_factory=dict)  # not yet back

    # -- reading the exchange ------------------------------------------------------------

    def observe(self, state: Mapping[str, Any]) -> None:
        now = time.monotonic()
        account = (state.get("accounts") or {}).get(self.owner) or {}
        self.prices = {row["symbol"]: Decimal(row["mark"]) for row in state.get("prices") or []}
        self.orders = {o["order_id"]: o for o in state.get("orders") or []
                       if o.get("account") == self.owner}
        positions = {p["symbol"]: Held(p["symbol"], _side(p["side"]), Decimal(p["amount"]),
                                       Decimal(p["entry_price"]))
                     for p in account.get("positions") or []}
        stops = {}
        for o in account.get("open_orders") or []:
            parsed = ids.parse(o.get("client_order_id"))
            if o.get("stop_price") is None or not ids.is_ours(o.get("client_order_id"),
                                                               self.owner):
                continue
            leg = (ids.leg_name(parsed.leg) if parsed is not None else None) or "?"
            remaining = (Decimal(o["initial_amount"]) - Decimal(o["filled_amount"])
                         - Decimal(o["cancelled_amount"]))
            stops[o["order_id"]] = Stop(o["order_id"], o["client_order_id"], o["symbol"],
                                        o["side"], Decimal(o["stop_price"]), remaining, leg)
        self._report(positions, stops)
        self.positions, self.stops = positions, stops
        self._measure(now)

    def _report(self, positions: dict[str, Held], stops: dict[int, Stop]) -> None:
        for symbol, held in positions.items():
            if symbol not in self.positions:
                self.say(f"position  {symbol} {held.side} {held.amount} at {held.entry}")
        for symbol, held in self.positions.items():
            if symbol not in positions:
                self.say(f"position  {symbol} {held.side} closed (mark "
                         f"{self.prices.get(symbol, '?')})")
        gone = [s for oid, s in self.stops.items() if oid not in stops]
        new = [s for oid, s in stops.items() if oid not in self.stops]
        for stop in new:
            # A move is a new stop for the same leg and the old one cancelled, in either
            # order and maybe a poll apart: pair the new one with a cancelled or still
            # resting older one.
            old = next((g for g in gone if g.symbol == stop.symbol and g.leg == stop.leg
                        and self._status(g) == "cancelled"), None) or next(
                (s for s in stops.values() if s.symbol == stop.symbol and s.leg == stop.leg
                 and s.order_id < stop.order_id and s.order_id in self.stops), None) or (
                self.hand_cancelled.pop((stop.symbol, stop.leg), None))
            if old is not None and old.order_id in self.by_hand:
                if old in gone:
                    gone.remove(old)
                self._note(stop.symbol, f"cancelled by hand, put back at {stop.stop_price}")
                self.say(f"stop      {stop.symbol} {stop.leg} at {old.stop_price} cancelled by "
                         f"hand; put back at {stop.stop_price}")
            elif old is not None:
                if old in gone:
                    gone.remove(old)
                self.replaced.add(old.order_id)
                self._note(stop.symbol, f"moved {old.stop_price} -> {stop.stop_price}")
                self.say(f"stop      {stop.symbol} {stop.leg} moved {old.stop_price} -> "
                         f"{stop.stop_price}")
            else:
                self._note(stop.symbol, f"placed {stop.stop_price}")
                self.say(f"stop      {stop.symbol} {stop.leg} placed: {stop.side} "
                         f"{stop.amount} at {stop.stop_price} (reduce-only)")
        gone = [g for g in gone if g.order_id not in self.replaced]
        for stop in gone:
            status = self._status(stop)
            if status == "filled" or self.orders.get(stop.order_id, {}).get("triggered_at"):
                self.fired.add(stop.symbol)
                self._note(stop.symbol, f"FIRED at {stop.stop_price}")
                self.say(f"stop      {stop.symbol} {stop.leg} FIRED at {stop.stop_price} "
                         f"(mark {self.prices.get(stop.symbol, '?')})")
            else:
                if stop.order_id in self.by_hand:
                    self.hand_cancelled[(stop.symbol, stop.leg)] = stop
                how = " by hand" if stop.order_id in self.by_hand else (
                    " (an orphan: its position is gone)"
                    if status == "cancelled" and stop.symbol not in positions else "")
                self._note(stop.symbol, f"{stop.stop_price} {status}{how}")
                self.say(f"stop      {stop.symbol} {stop.leg} at {stop.stop_price} "
                         f"{status}{how}")

    def _status(self, stop: Stop) -> str:
        return str(self.orders.get(stop.order_id, {}).get("order_status", "gone"))

    def _note(self, symbol: str, what: str) -> None:
        self.history.setdefault(symbol, []).append(what)

    # -- protection ----------------------------------------------------------------------

    def covered(self, symbol: str) -> bool:
        held = self.positions.get(symbol)
        if held is None:
            return True
        mine = [s for s in self.stops.values()
                if s.symbol == symbol and s.side == _closing(held.side)]
        return sum((s.amount for s in mine), Decimal(0)) >= held.amount

    def all_covered(self) -> bool:
        return all(self.covered(symbol) for symbol in self.positions)

    def exposed(self, symbol: str, at: float) -> None:
        """The exchange just answered a request that leaves `symbol` without a stop (a new
        position, a stop cancelled by hand): its bare stretch starts at that answer, not at
        the next poll, so a put-back quicker than one poll still counts."""
        if self.measuring:
            self.bare_since.setdefault(symbol, at)

    def _measure(self, now: float) -> None:
        if not self.measuring:
            return
        for symbol in list(self.positions) + list(self.bare_since):
            bare = not self.covered(symbol)
            since = self.bare_since.get(symbol)
            if bare and since is None:
                self.bare_since[symbol] = now
                self.say(f"BARE      {symbol}: no stop of ours covers the position")
            elif not bare and since is not None:
                del self.bare_since[symbol]
                stretch = now - since
                if symbol in self.positions:
                    self.say(f"covered   {symbol} after {stretch:.2f} s bare")
                self._longest(symbol, stretch)
        for symbol, since in self.bare_since.items():
            self._longest(symbol, now - since)

    def _longest(self, symbol: str, stretch: float) -> None:
        if stretch > self.longest_bare:
            self.longest_bare, self.longest_bare_symbol = stretch, symbol

    def stop_of(self, symbol: str) -> Stop | None:
        mine = sorted((s for s in self.stops.values() if s.symbol == symbol),
                      key=lambda s: s.order_id)
        return mine[-1] if mine else None
