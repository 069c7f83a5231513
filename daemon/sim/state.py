"""The simulated exchange's records: quotes, accounts, positions, orders, fills and events.

Plain mutable dataclasses owned by `Exchange`; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from daemon.domain import Side, TriggerPriceType
from daemon.sim.requests import Leg

ZERO = Decimal(0)


class Status(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# Order types whose trigger direction is reversed: a take-profit closes into a favourable move.
TAKE_PROFIT_TYPES = frozenset({"take_profit_market", "take_profit_limit"})
# Legs attached to a position; they go when the position goes (pacifica-api.md §2.3).
POSITION_LEG_TYPES = TAKE_PROFIT_TYPES | {"stop_loss_market", "stop_loss_limit"}
STOP_TYPES = POSITION_LEG_TYPES | {"stop_market", "stop_limit"}


@dataclass(slots=True)
class Quote:
    symbol: str
    mark: Decimal
    mid: Decimal
    oracle: Decimal
    last: Decimal
    yesterday: Decimal
    funding: Decimal
    next_funding: Decimal
    timestamp: int

    def by_trigger(self, trigger: TriggerPriceType | None) -> Decimal:
        # A stop sent without trigger_price_type follows the mid, as MCP saw on testnet (§2.1).
        if trigger is TriggerPriceType.MARK:
            return self.mark
        if trigger is TriggerPriceType.LAST:
            return self.last
        return self.mid


@dataclass(slots=True)
class SimPosition:
    symbol: str
    side: Side
    amount: Decimal
    entry_price: Decimal
    created_at: int
    updated_at: int
    funding: Decimal = ZERO


@dataclass(slots=True)
class SimOrder:
    order_id: int
    account: str
    symbol: str
    side: Side
    order_type: str
    client_order_id: str | None
    price: Decimal  # limit price; 0 for market-type orders
    stop_price: Decimal | None
    amount: Decimal | None  # None: the whole position when it fires
    reduce_only: bool
    trigger: TriggerPriceType | None
    tif: str | None
    created_at: int
    updated_at: int
    filled: Decimal = ZERO
    cancelled: Decimal = ZERO
    fill_value: Decimal = ZERO  # sum of amount x price over fills, for the average price
    status: Status = Status.OPEN
    reason: str | None = None  # Pacifica's reason enum: cancel, force_cancel, ...
    detail: str | None = None  # why, in words (the simulator's own log only)
    stop_parent_order_id: int | None = None
    triggered_at: int | None = None
    last_event: str = ""
    last_fill_price: Decimal = ZERO
    pending_legs: tuple[tuple[str, Leg], ...] = ()  # TP/SL riding on a resting limit order

    @property
    def is_open(self) -> bool:
        return self.status in (Status.OPEN, Status.PARTIALLY_FILLED)

    @property
    def is_stop(self) -> bool:
        return self.order_type in STOP_TYPES

    @property
    def is_resting_stop(self) -> bool:
        return self.is_open and self.is_stop and self.triggered_at is None

    @property
    def average_price(self) -> Decimal:
        return self.fill_value / self.filled if self.filled else ZERO

    def initial_amount(self, position: SimPosition | None) -> Decimal:
        """What Pacifica shows as initial_amount; a whole-position leg follows the position."""
        if self.amount is not None:
            return self.amount
        return position.amount if position is not None else ZERO

    def remaining(self, position: SimPosition | None) -> Decimal:
        return self.initial_amount(position) - self.filled - self.cancelled


@dataclass(frozen=True, slots=True)
class Fill:
    history_id: int
    account: str
    order_id: int
    client_order_id: str | None
    symbol: str
    side: str  # open_long, close_long, open_short, close_short
    amount: Decimal
    price: Decimal
    entry_price: Decimal
    fee: Decimal
    pnl: Decimal
    cause: str  # always "normal" here (the others are liquidations and settlement)
    maker: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One row of an order's history and one `account_order_updates` item."""

    li: int
    account: str
    order_id: int
    event: str  # Pacifica's `oe`: make, stop_created, fulfill_market, cancel, ...
    status: Status
    amount: Decimal
    filled: Decimal
    cancelled: Decimal
    price: Decimal  # the price of this event's fill, 0 when none
    average: Decimal  # the order's average fill price after this event
    at: int


@dataclass(slots=True)
class Account:
    address: str
    balance: Decimal
    created_at: int
    updated_at: int
    agents: set[str] = field(default_factory=set)
    leverage: dict[str, int] = field(default_factory=dict)
    isolated: dict[str, bool] = field(default_factory=dict)  # margin mode set by /account/margin
    # Markets whose leverage or margin mode the account changed: (created, updated) ms.
    setting_times: dict[str, tuple[int, int]] = field(default_factory=dict)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    cloids: set[str] = field(default_factory=set)  # every client_order_id ever used
    api_keys: list[str] = field(default_factory=list)  # API config keys, oldest first


@dataclass(slots=True)
class Outbox:
    """What changed since the shell last looked: it turns these into stream frames."""

    events: list[OrderEvent] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)  # positions or balances changed
    order_accounts: set[str] = field(default_factory=set)  # open orders changed
    prices: bool = False
