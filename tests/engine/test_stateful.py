"""A day in the life: positions open, grow, shrink and close, stops fire, rules reload.

A hypothesis state machine drives evaluate and plan against a small model of the exchange
(our plan's actions carried out, stops that fire when the price reaches them, in whole or in
part, also between two frames the daemon sees; market closes that fill) and checks the
design's invariants after every cycle: every unit of a covered position rests under one of
our stops or is being closed at market (issue 9), no client_order_id is ever sent twice, no
stop loosens without a reload, no foreign order is touched.

The daemon is told what a shell knows: the fills of our orders (when the machine's drawn
`tells_fills` says the shell hears them) and the ids the exchange has accepted (journal,
order history), also after a restart that lost its memory.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from engine_support import (
    ACCOUNT,
    CREATED,
    NOW,
    PROP_MARKET,
    D,
    apply,
    book,
    foreign_order,
    is_ours,
    price,
    rule,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant
from hypothesis.stateful import rule as step

from daemon import ids
from daemon.domain import OpenOrder, Position, PositionKey, Side
from daemon.engine import CloseMarket, Memory, Move, Place, evaluate, plan
from daemon.rules.spec import (
    Breakeven,
    LadderLeg,
    Match,
    Pct,
    Rule,
    RuleBook,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
)

MARKETS = {"XYZ": PROP_MARKET}
_LADDER_ONLY = rule("rungs", ladder=(LadderLeg(D("0.25"), Pct(D("0.01"))),
                                     LadderLeg(D("0.25"), Pct(D("0.02"))),
                                     LadderLeg(D("0.5"), Pct(D("0.035")))))
RULEBOOKS: list[RuleBook] = [
    book(rule("wide", stop_loss=StopLoss(distance=Pct(D("0.05"))),
              trailing=Trailing(Pct(D("0.03")), Pct(D("0.02"))),
              take_profit=TakeProfit(distance=Pct(D("0.2"))),
              ladder=(LadderLeg(D("0.3"), Pct(D("0.02"))),))),
    book(rule("tight", stop_loss=StopLoss(distance=Pct(D("0.02"))),
              breakeven=Breakeven(Pct(D("0.01")), Pct(D("0.001"))),
              time_exit=TimeExit(timedelta(hours=3)))),
    book(_LADDER_ONLY),
    # A ladder under 100 % with a trailing stop that waits for +1 %: until then the rest
    # rests at the deepest rung.
    book(rule("part", ladder=(LadderLeg(D("0.3"), Pct(D("0.015"))),
                              LadderLeg(D("0.3"), Pct(D("0.03")))),
              trailing=Trailing(Pct(D("0.02")), Pct(D("0.01"))))),
    # min_notional tiers: big positions scale out, small ones have one tight stop, already
    # crossed where the ladder's deeper rungs are not.
    book(Rule("big", Match(None, min_notional=D(5000)), _LADDER_ONLY.components,
              update=_LADDER_ONLY.update),
         rule("small", stop_loss=StopLoss(distance=Pct(D("0.008"))))),
]


class Day(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[Side, Position] = {}
        self.live: list[OpenOrder] = [foreign_order(-1, "900", None)]
        self.memory = Memory()
        self.rule_index = 0
        self.fills: list[str] = []  # our orders that filled, wholly or in part
        self.tells_fills = True
        self.mark = D("1000")
        self.now = NOW
        self.opened = 0
        self.reloaded = False
        self.stops: dict[tuple[PositionKey, str], Decimal] = {}  # last stop we rested
        self.sent: set[str] = set()  # every client_order_id ever sent to the exchange

    @initialize(rulebook=st.integers(0, len(RULEBOOKS) - 1), tells_fills=st.booleans())
    def start(self, rulebook: int, tells_fills: bool) -> None:
        self.rule_index = rulebook
        self.tells_fills = tells_fills

    @step(side=st.sampled_from(list(Side)), amount=st.decimals(D("0.5"), D("20"), places=2))
    def open_position(self, side: Side, amount: Decimal) -> None:
        if side in self.positions:
            return
        self.opened += 1
        created = CREATED + self.opened
        self.positions[side] = Position("XYZ", side, amount, self.mark, created, created)
        self.cycle()

    @step(side=st.sampled_from(list(Side)), factor=st.sampled_from([D("0.5"), D("1.5")]))
    def resize(self, side: Side, factor: Decimal) -> None:
        pos = self.positions.get(side)
        if pos is None:
            return
        amount = PROP_MARKET.amount_down(pos.amount * factor) or PROP_MARKET.lot_size
        entry = pos.entry_price
        if amount > pos.amount:  # added at the mark: the entry moves to the average
            entry = ((pos.amount * entry + (amount - pos.amount) * self.mark) / amount
                     ).quantize(D("0.01"))
        self.positions[side] = replace(pos, amount=amount, entry_price=entry)
        self.cycle()

    @step(side=st.sampled_from(list(Side)))
    def close_by_hand(self, side: Side) -> None:
        self.positions.pop(side, None)
        self.cycle()

    @step(change=st.decimals(D("-0.04"), D("0.04"), places=3))
    def move_price(self, change: Decimal) -> None:
        self.mark = (self.mark * (1 + change)).quantize(D("0.01"))
        self._fire_stops()
        self.cycle()

    @step(minutes=st.integers(1, 120))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.cycle()

    @step(change=st.decimals(D("-0.06"), D("0.06"), places=3))
    def spike(self, change: Decimal) -> None:
        # The price goes there and back between two frames: the exchange fires what it
        # reaches, the daemon only sees the price it came back to.
        self._fire_stops((self.mark * (1 + change)).quantize(D("0.01")))
        self.cycle()

    @step(data=st.data())
    def partial_fill(self, data: st.DataObject) -> None:
        ours = [o for o in self.live if is_ours(o) and o.stop_price is not None
                and o.side.opposite in self.positions]
        if not ours:
            return
        order = data.draw(st.sampled_from(sorted(ours, key=lambda o: o.order_id)))
        pos = self.positions[order.side.opposite]
        part = PROP_MARKET.amount_down(min(order.remaining, pos.amount) / 2)
        if part <= 0:
            return
        self.live[self.live.index(order)] = replace(order,
                                                    filled_amount=order.filled_amount + part)
        self.fills.append(order.client_order_id or "")
        self.positions[pos.side] = replace(pos, amount=pos.amount - part)
        self.cycle()

    @step(index=st.integers(0, len(RULEBOOKS) - 1))
    def reload(self, index: int) -> None:
        self.rule_index = index
        self.reloaded = True
        self.cycle()

    @step()
    def restart_with_state_kept(self) -> None:
        # The state file is read back: nothing may change but what a fresh start re-reads.
        self.memory = Memory.from_json(self.memory.to_json())
        self.cycle()

    @step()
    def restart_with_state_lost(self) -> None:
        # kill -9 and the state file gone: only the exchange's orders (and their ids) remain.
        # The ratchet then holds against what rests on the exchange: a leg that fired or was
        # cancelled before the loss has no level left to hold.
        self.stops.clear()
        self.reloaded = True
        self._check_ratchet()
        self.reloaded = False
        self.memory = Memory()
        self.cycle()

    @step(stop=st.decimals(D("500"), D("1500"), places=2))
    def someone_else_places_a_stop(self, stop: Decimal) -> None:
        # Negative ids never meet the positive ones `apply` hands our orders.
        self.live.append(foreign_order(-len(self.live) - 1, str(stop), None))
        self.cycle()

    def _fire_stops(self, mark: Decimal | None = None) -> None:
        """The exchange: our stops that the price reached fire (reduce-only)."""
        mark = self.mark if mark is None else mark
        for order in sorted(self.live, key=lambda o: o.order_id):
            if not is_ours(order) or order.stop_price is None:
                continue
            fires = (mark <= order.stop_price if order.side is Side.ASK
                     else mark >= order.stop_price)
            # A take-profit (profit side) fires the other way round.
            pos = self.positions.get(order.side.opposite)
            if pos is None:
                continue
            is_tp = ids.belongs_to(order.client_order_id, ACCOUNT, pos.key, "tp")
            if is_tp:
                fires = (mark >= order.stop_price if order.side is Side.ASK
                         else mark <= order.stop_price)
            if fires:
                self.live.remove(order)
                self.fills.append(order.client_order_id or "")
                left = pos.amount - order.remaining
                if left <= 0:
                    del self.positions[pos.side]
                else:
                    self.positions[pos.side] = replace(pos, amount=left)

    def cycle(self) -> None:
        """The daemon after each event: evaluate, plan, and the exchange carries it out."""
        rulebook = RULEBOOKS[self.rule_index]
        positions = list(self.positions.values())
        prices = {"XYZ": price(self.mark, "XYZ")}
        ev = evaluate(rulebook, positions, prices, MARKETS, self.memory, self.now,
                      account=ACCOUNT, live=self.live,
                      fills=self.fills if self.tells_fills else ())
        # The ids the exchange has accepted: the journal, or its order history once the
        # state is lost. Pacifica refuses any of them again ("Duplicate client order id").
        result = plan(ev.desired, self.live, account=ACCOUNT,
                      positions=[p.key for p in positions], memory=ev.memory, now=self.now,
                      spent=self.sent)
        placed = [a.order.client_order_id for a in result.actions if isinstance(a, Place | Move)]
        reused = set(placed) & self.sent
        assert not reused, f"a spent client_order_id was sent again: {reused}"
        assert len(placed) == len(set(placed))
        self.sent.update(placed)
        foreign = [o for o in self.live if not is_ours(o)]
        self.live = apply(result.actions, self.live)
        self.memory = result.memory.prune(p.key for p in positions)
        assert all(o in self.live for o in foreign), "a foreign order was touched"
        closing = {a.order.key for a in result.actions if isinstance(a, CloseMarket)}
        closing |= {leg.key for leg in ev.desired if leg.stop_price is None}  # a close resent
        for pos in positions:
            if pos.key in closing:
                continue
            # Every unit of a covered position under one of our stops (issue 9).
            covered = sum((o.remaining for o in self.live
                           if ids.belongs_to(o.client_order_id, ACCOUNT, pos.key)
                           and not ids.belongs_to(o.client_order_id, ACCOUNT, pos.key, "tp")),
                          D(0))
            assert covered >= PROP_MARKET.amount_down(pos.amount), (
                f"{pos.amount} of {pos.side} under stops for only {covered}",
                ev.results[pos.key].notices)
        for action in result.actions:
            if isinstance(action, CloseMarket):
                self.positions.pop(action.order.key.side, None)
        # Converged: every desired order rests, exactly once.
        for leg in ev.desired:
            if leg.stop_price is None or leg.key.side not in self.positions:
                continue
            mine = [o for o in self.live
                    if ids.belongs_to(o.client_order_id, ACCOUNT, leg.key, leg.leg)]
            assert len(mine) == 1, (leg, mine)
            assert mine[0].stop_price == leg.stop_price
            assert mine[0].remaining == leg.amount
        self._check_ratchet()
        self.reloaded = False

    def _check_ratchet(self) -> None:
        for order in self.live:
            parsed = ids.parse(order.client_order_id)
            if parsed is None or not is_ours(order) or order.stop_price is None:
                continue
            leg = ids.leg_name(parsed.leg)
            pos = self.positions.get(order.side.opposite)
            if pos is None or leg is None or leg == "tp":
                continue
            key = (pos.key, leg)
            before = self.stops.get(key)
            if before is not None and not self.reloaded:
                looser = (order.stop_price < before if pos.side is Side.BID
                          else order.stop_price > before)
                assert not looser, f"{leg} loosened {before} -> {order.stop_price}"
            self.stops[key] = order.stop_price

    @invariant()
    def at_most_one_of_ours_per_leg(self) -> None:
        seen = set()
        for order in self.live:
            parsed = ids.parse(order.client_order_id)
            if parsed is not None and is_ours(order):
                assert (parsed.position, parsed.leg) not in seen
                seen.add((parsed.position, parsed.leg))

    def teardown(self) -> None:
        # A last cycle after positions are gone leaves no orders of ours behind.
        self.positions.clear()
        self.cycle()
        assert not [o for o in self.live if is_ours(o)]


Day.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestDay = Day.TestCase
