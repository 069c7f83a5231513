"""Builders for engine tests: markets, positions, prices, rules, and applying a plan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from daemon import ids
from daemon.domain import Market, OpenOrder, Position, Price, Side, TriggerPriceType
from daemon.engine import (
    Action,
    Cancel,
    CloseMarket,
    Memory,
    Move,
    OrderIntent,
    Place,
    Resize,
    evaluate,
    plan,
)
from daemon.rules.spec import (
    Abs,
    Anchor,
    Breakeven,
    Components,
    Distance,
    LadderLeg,
    Match,
    OrderKind,
    OrderStyle,
    Pct,
    Rule,
    RuleBook,
    SideFilter,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
    UpdatePolicy,
    Window,
)

D = Decimal
ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
OTHER_ACCOUNT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CREATED = int((NOW - timedelta(hours=1)).timestamp() * 1000)
NO_HYSTERESIS = UpdatePolicy(min_move=Abs(D(0)), min_interval=timedelta(0))
STOP_MARKET = OrderStyle()


def market(symbol: str = "BTC", tick: str = "1", lot: str = "0.001",
           min_order: str = "10") -> Market:
    return Market(symbol, D(tick), D(lot), D(tick), D("10000000"), D(min_order),
                  D("10000000"), 50)


MARKETS = {"BTC": market("BTC", "1", "0.001"), "ETH": market("ETH", "0.1", "0.01"),
           "SOL": market("SOL", "0.01", "0.1")}


def position(side: Side = Side.BID, amount: str = "1", entry: str = "100000",
             symbol: str = "BTC", liq: str | None = None, created_at: int = CREATED) -> Position:
    return Position(symbol, side, D(amount), D(entry), created_at, created_at,
                    liquidation_price=D(liq) if liq is not None else None)


def price(mark: str | Decimal, symbol: str = "BTC", ts: int = 0) -> Price:
    value = D(mark)
    return Price(symbol, value, value, value, ts, value)


def rule(name: str = "r", *, symbols: Sequence[str] | None = None,
         side: SideFilter = SideFilter.ANY, windows: Sequence[Window] = (),
         order: OrderStyle = STOP_MARKET, trigger: TriggerPriceType = TriggerPriceType.MARK,
         update: UpdatePolicy = NO_HYSTERESIS, **components: object) -> Rule:
    return Rule(name, Match(tuple(sorted(symbols)) if symbols else None, side),
                Components(**components),  # type: ignore[arg-type]
                tuple(windows), order, trigger, update)


def book(*rules: Rule) -> RuleBook:
    return RuleBook(tuple(rules))


def open_order(intent: OrderIntent, order_id: int) -> OpenOrder:
    return OpenOrder(
        order_id=order_id, client_order_id=intent.client_order_id, symbol=intent.key.symbol,
        side=intent.side,
        order_type="stop_limit" if intent.limit_price is not None else "stop_market",
        price=intent.limit_price or D(0), stop_price=intent.stop_price,
        initial_amount=intent.amount, filled_amount=D(0), cancelled_amount=D(0),
        reduce_only=True, created_at=CREATED)


def foreign_order(order_id: int, stop: str = "90000", cloid: str | None = None) -> OpenOrder:
    return OpenOrder(order_id, cloid, "BTC", Side.ASK, "stop_market", D(0), D(stop), D("1"),
                     D(0), D(0), True, CREATED)


def apply(actions: Iterable[Action], live: Sequence[OpenOrder]) -> list[OpenOrder]:
    """What the exchange holds once the submitter has carried `actions` out."""
    result = list(live)
    next_id = max((o.order_id for o in result), default=0) + 1
    for action in actions:
        if isinstance(action, Place):
            if not any(o.client_order_id == action.order.client_order_id for o in result):
                result.append(open_order(action.order, next_id))
                next_id += 1
        elif isinstance(action, Move | Resize):
            result.append(open_order(action.order, next_id))
            next_id += 1
            result = [o for o in result if o.order_id != action.replaces.order_id]
        elif isinstance(action, Cancel):
            result = [o for o in result if o.order_id != action.order.order_id]
        else:
            assert isinstance(action, CloseMarket)
    return result


def is_ours(order: OpenOrder) -> bool:
    return ids.is_ours(order.client_order_id, ACCOUNT)


# Hypothesis strategies -----------------------------------------------------------------------

def _pct(lo: str, hi: str) -> st.SearchStrategy[Pct]:
    return st.decimals(D(lo), D(hi), places=4).map(Pct)


def distances(lo: str = "0.002", hi: str = "0.2") -> st.SearchStrategy[Distance]:
    return st.one_of(_pct(lo, hi), st.decimals(D(lo), D(hi), places=4).map(
        lambda r: Abs((r * 1000).quantize(D("0.01")))))


@st.composite
def components(draw: st.DrawFn) -> Components:
    stop_loss = draw(st.one_of(
        st.none(),
        st.builds(StopLoss, distance=distances(), anchor=st.sampled_from(list(Anchor))),
        st.decimals(D("0.5"), D("1.5"), places=3).map(lambda k: StopLoss(price=k * 1000)),
    ))
    trailing = draw(st.one_of(st.none(), st.builds(
        Trailing, distances("0.002", "0.1"), st.one_of(st.none(), distances("0", "0.05")))))
    breakeven = draw(st.one_of(st.none(), st.builds(
        Breakeven, distances("0.001", "0.05"), distances("0", "0.005"))))
    ladder = draw(st.one_of(st.none(), st.lists(st.builds(
        LadderLeg, st.decimals(D("0.05"), D("0.45"), places=2), distances("0.002", "0.1")),
        min_size=1, max_size=2).map(tuple)))
    take_profit = draw(st.one_of(st.none(), st.builds(TakeProfit, distance=distances())))
    if stop_loss is None and trailing is None and breakeven is None and ladder is None:
        stop_loss = StopLoss(distance=Pct(D("0.03")))
    return Components(stop_loss, trailing, breakeven, ladder, take_profit)


@st.composite
def rules(draw: st.DrawFn, timed: bool = False) -> Rule:
    order = draw(st.one_of(st.just(STOP_MARKET),
                           _pct("0.001", "0.02").map(lambda p: OrderStyle(OrderKind.LIMIT, p))))
    comps = draw(components())
    windows: tuple[Window, ...] = ()
    if timed:
        after = draw(st.one_of(st.none(), st.integers(30, 180)))
        if after is not None:
            comps = replace(comps, time_exit=TimeExit(timedelta(minutes=after)))
        windows = tuple(draw(st.lists(st.builds(
            Window, st.just("w"), st.sampled_from(["*/20 * * * *", "0 * * * *", "5 12 * * *"]),
            st.sampled_from(["UTC", "Europe/Berlin"]),
            st.integers(1, 90).map(lambda m: timedelta(minutes=m)), components()),
            max_size=2)))
        windows = tuple(replace(win, name=f"w{i}") for i, win in enumerate(windows))
    return Rule("prop", Match(None), comps, windows, order, TriggerPriceType.MARK,
                NO_HYSTERESIS)


PROP_MARKET = market("XYZ", "0.01", "0.01", min_order="0")


@st.composite
def positions(draw: st.DrawFn, symbol: str = "XYZ", created_at: int = CREATED) -> Position:
    side = draw(st.sampled_from(list(Side)))
    entry = draw(st.decimals(D("500"), D("2000"), places=2))
    amount = draw(st.decimals(D("0.01"), D("50"), places=2))
    liq = draw(st.one_of(st.none(), st.decimals(D("0.5"), D("0.95"), places=3)))
    liq_price = None
    if liq is not None:
        liq_price = (entry * liq if side is Side.BID else entry * (2 - liq)).quantize(D("0.01"))
    return Position(symbol, side, amount, entry, created_at, created_at,
                    liquidation_price=liq_price)


def price_paths(max_size: int = 12) -> st.SearchStrategy[list[Decimal]]:
    """Trigger prices as multiples of the entry, in [0.6, 1.4] (apply with `at`)."""
    return st.lists(st.decimals(D("0.6"), D("1.4"), places=3), min_size=1, max_size=max_size)


def at(entry: Decimal, multiple: Decimal) -> Decimal:
    return (entry * multiple).quantize(D("0.01"))


# A small venue: our orders rest, fire when the price reaches them, and fill ---------------

class Venue:
    """One position on a model exchange, driven price by price through evaluate and plan.

    Each `step(mark)` first lets the exchange fire our resting orders that `mark` reaches
    (a stop fills its whole remaining amount, reduce-only), then runs the daemon's cycle at
    that mark and carries out its plan. `coverage` records, after every cycle, whether every
    unit of the position rests under one of our stops or a market close was asked for.
    """

    def __init__(self, rulebook: RuleBook, position: Position,
                 markets: dict[str, Market], now: datetime = NOW) -> None:
        self.rulebook = rulebook
        self.position: Position | None = position
        self.markets = markets
        self.now = now
        self.live: list[OpenOrder] = []
        self.memory = Memory()
        self.sold: dict[str, Decimal] = {}  # leg -> amount its fills closed
        self.fills: list[str] = []  # client_order_ids that filled, in order
        self.sent: list[str] = []  # every client_order_id placed, in order
        self.closed_at_market: list[tuple[Decimal, str]] = []  # (mark, reason)
        self.bare: list[tuple[Decimal, Decimal, Decimal]] = []  # (mark, position, covered)

    def covered(self) -> Decimal:
        pos = self.position
        if pos is None:
            return D(0)
        return sum((o.remaining for o in self.live
                    if ids.belongs_to(o.client_order_id, ACCOUNT, pos.key)
                    and ids.leg_name(ids.parse(o.client_order_id).leg) != "tp"  # type: ignore[union-attr]
                    ), D(0))

    def fire(self, mark: Decimal) -> None:
        pos = self.position
        for order in sorted(self.live, key=lambda o: o.order_id):
            if pos is None or order.stop_price is None:
                continue
            leg = ids.leg_name(ids.parse(order.client_order_id).leg)  # type: ignore[union-attr]
            down = order.side is Side.ASK  # a long's stop fires on a fall
            if leg == "tp":
                down = not down
            if not (mark <= order.stop_price if down else mark >= order.stop_price):
                continue
            self.live.remove(order)
            filled = min(order.remaining, pos.amount)
            self.sold[leg or "?"] = self.sold.get(leg or "?", D(0)) + filled
            self.fills.append(order.client_order_id or "")
            left = pos.amount - filled
            pos = replace(pos, amount=left) if left > 0 else None
        self.position = pos

    def step(self, mark: str | Decimal, *, minutes: int = 1) -> None:
        value = D(mark)
        self.now += timedelta(minutes=minutes)
        self.fire(value)
        self.cycle(value)

    def cycle(self, mark: Decimal, *, fills: Sequence[str] = (),
              spent: Sequence[str] = ()) -> None:
        """The daemon's cycle at `mark`, told of `fills` (to evaluate) and of the ids the
        exchange has already accepted, `spent` (to plan)."""
        pos = self.position
        positions = [pos] if pos is not None else []
        symbol = next(iter(self.markets))
        ev = evaluate(self.rulebook, positions, {symbol: price(mark, symbol)}, self.markets,
                      self.memory, self.now, account=ACCOUNT, live=self.live, fills=fills)
        result = plan(ev.desired, self.live, account=ACCOUNT,
                      positions=[p.key for p in positions], memory=ev.memory, now=self.now,
                      spent=frozenset(spent))
        self.memory = result.memory
        self.sent += [a.order.client_order_id for a in result.actions
                      if isinstance(a, Place | Move)]
        self.live = apply(result.actions, self.live)
        closes = [a for a in result.actions if isinstance(a, CloseMarket)]
        if closes and self.position is not None:
            self.closed_at_market.append((mark, closes[0].reason))
            self.position = None
            self.live = []
        if self.position is not None:
            need = self.markets[self.position.symbol].amount_down(self.position.amount)
            if self.covered() < need:
                self.bare.append((mark, self.position.amount, self.covered()))
