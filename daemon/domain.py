"""Domain values shared by the exchange layer, the engine and the simulator.

These are the engine's inputs, kept free of wire details: the exchange layer
(`daemon.pacifica.models`) parses Pacifica's JSON into them. Money is always
`Decimal`; exchange times stay integer milliseconds because position identity
is built from them and must round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum


class Side(StrEnum):
    """Pacifica's order and position side. A position on `bid` is long, on `ask` short."""

    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID

    @property
    def is_long(self) -> bool:
        return self is Side.BID


class TriggerPriceType(StrEnum):
    """The price that fires a stop; always sent explicitly (see pacifica-api.md §2.1)."""

    MARK = "mark_price"
    MID = "mid_price"
    LAST = "last_trade_price"


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_tick: Decimal
    max_tick: Decimal
    min_order_size: Decimal  # USD notional
    max_order_size: Decimal  # USD notional
    max_leverage: int
    isolated_only: bool = False

    def price_down(self, price: Decimal) -> Decimal:
        """Largest tick multiple <= price."""
        return _to_step(price, self.tick_size, ROUND_FLOOR)

    def price_up(self, price: Decimal) -> Decimal:
        """Smallest tick multiple >= price."""
        return _to_step(price, self.tick_size, ROUND_CEILING)

    def amount_down(self, amount: Decimal) -> Decimal:
        """Largest lot multiple <= amount (never round a reduce-only size up)."""
        return _to_step(amount, self.lot_size, ROUND_DOWN)

    def is_tick_multiple(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def is_lot_multiple(self, amount: Decimal) -> bool:
        return amount % self.lot_size == 0


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step)


@dataclass(frozen=True, slots=True)
class PositionKey:
    """Position identity: a closed and reopened position is a new position."""

    symbol: str
    side: Side
    created_at: int  # ms, as the exchange reports it


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: Side
    amount: Decimal  # unsigned
    entry_price: Decimal
    created_at: int  # ms
    updated_at: int  # ms
    liquidation_price: Decimal | None = None
    isolated: bool = False
    margin: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.symbol, self.side, self.created_at)


@dataclass(frozen=True, slots=True)
class Price:
    symbol: str
    mark: Decimal
    mid: Decimal
    oracle: Decimal
    timestamp: int  # ms
    last: Decimal | None = None  # last trade price, when a trades feed supplies it

    def by_trigger(self, trigger: TriggerPriceType) -> Decimal | None:
        if trigger is TriggerPriceType.MARK:
            return self.mark
        if trigger is TriggerPriceType.MID:
            return self.mid
        return self.last


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An open order as GET /orders or the `account_orders` stream reports it, stops included."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    order_type: str  # limit, market, stop_limit, stop_market, take_profit_*, stop_loss_*
    price: Decimal  # limit price; 0 for market-type orders
    stop_price: Decimal | None
    initial_amount: Decimal
    filled_amount: Decimal
    cancelled_amount: Decimal
    reduce_only: bool
    created_at: int  # ms
    updated_at: int = 0
    stop_parent_order_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.initial_amount - self.filled_amount - self.cancelled_amount

    @property
    def is_stop(self) -> bool:
        return self.stop_price is not None
