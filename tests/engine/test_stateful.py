"""A day in the life: positions open, grow, shrink and close, stops fire, rules reload.

A hypothesis state machine drives evaluate and plan against a small model of the exchange
(our plan's actions carried out, stops that fire when the price reaches them, market closes
that fill) and checks the design's invariants after every cycle.
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
from hypothesis.stateful import RuleBasedStateMachine, invariant
from hypothesis.stateful import rule as step

from daemon import ids
from daemon.domain import OpenOrder, Position, PositionKey, Side
from daemon.engine import CloseMarket, Memory, Move, Place, evaluate, plan
from daemon.rules.spec import (
    Breakeven,
    LadderLeg,
    Pct,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
)

MARKETS = {"XYZ": PROP_MARKET}
RULES = [
    rule("wide", stop_loss=StopLoss(distance=Pct(D("0.05"))),
         trailing=Trailing(Pct(D("0.03")), Pct(D("0.02"))),
         take_profit=TakeProfit(distance=Pct(D("0.2"))),
         ladder=(LadderLeg(D("0.3"), Pct(D("0.02"))),)),
    rule("tight", stop_loss=StopLoss(distance=Pct(D("0.02"))),
         breakeven=Breakeven(Pct(D("0.01")), Pct(D("0.001"))),
         time_exit=TimeExit(timedelta(hours=3))),
]


class Day(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[Side, Position] = {}
        self.live: list[OpenOrder] = [foreign_order(-1, "900", None)]
        self.memory = Memory()
        self.rule_index = 0
        self.mark = D("1000")
        self.now = NOW
        self.opened = 0
        self.reloaded = False
        self.stops: dict[tuple[PositionKey, str], Decimal] = {}  # last stop we rested
        self.sent: set[str] = set()  # every client_order_id ever sent to the exchange
        self.state_lost = False

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

    @step()
    def reload(self) -> None:
        self.rule_index = 1 - self.rule_index
        self.reloaded = True
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
        self.state_lost = True
        self.cycle()

    @step(stop=st.decimals(D("500"), D("1500"), places=2))
    def someone_else_places_a_stop(self, stop: Decimal) -> None:
        # Negative ids never meet the positive ones `apply` hands our orders.
        self.live.append(foreign_order(-len(self.live) - 1, str(stop), None))
        self.cycle()

    def _fire_stops(self) -> None:
        """The exchange: our stops that the price reached fire (reduce-only)."""
        for order in list(self.live):
            if not is_ours(order) or order.stop_price is None:
                continue
            fires = (self.mark <= order.stop_price if order.side is Side.ASK
                     else self.mark >= order.stop_price)
            # A take-profit (profit side) fires the other way round.
            pos = self.positions.get(order.side.opposite)
            if pos is None:
                continue
            is_tp = ids.belongs_to(order.client_order_id, ACCOUNT, pos.key, "tp")
            if is_tp:
                fires = (self.mark >= order.stop_price if order.side is Side.ASK
                         else self.mark <= order.stop_price)
            if fires:
                self.live.remove(order)
                left = pos.amount - order.remaining
                if left <= 0:
                    del self.positions[pos.side]
                else:
                    self.positions[pos.side] = replace(pos, amount=left)

    def cycle(self) -> None:
        """The daemon after each event: evaluate, plan, and the exchange carries it out."""
        rulebook = book(RULES[self.rule_index])
        positions = list(self.positions.values())
        prices = {"XYZ": price(self.mark, "XYZ")}
        ev = evaluate(rulebook, positions, prices, MARKETS, self.memory, self.now,
                      account=ACCOUNT, live=self.live)
        live_ids = {o.client_order_id for o in self.live}
        memory = ev.memory
        for _ in range(50):
            result = plan(ev.desired, self.live, account=ACCOUNT,
                          positions=[p.key for p in positions], memory=memory, now=self.now)
            # Pacifica may refuse an id it has ever seen ("Duplicate client order id"); an order
            # planned under a spent id would leave its leg bare. Only a daemon whose state was
            # lost can do that: the submitter then finds no such open order and marks the id
            # consumed, and the leg is planned again.
            spent = [a.order for a in result.actions if isinstance(a, Place | Move)
                     and a.order.client_order_id in self.sent - live_ids]
            if not spent:
                break
            assert self.state_lost, f"spent id reused: {spent[0]}"
            memory = result.memory
            for order in spent:
                memory = memory.consumed(order.key, order.leg)
        else:
            raise AssertionError("the leg never found an unspent id")
        self.sent.update(a.order.client_order_id for a in result.actions
                         if isinstance(a, Place | Move))
        foreign = [o for o in self.live if not is_ours(o)]
        self.live = apply(result.actions, self.live)
        self.memory = result.memory.prune(p.key for p in positions)
        assert all(o in self.live for o in foreign), "a foreign order was touched"
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


Day.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestDay = Day.TestCase
