"""Money arithmetic of one account: fills against positions, margin, equity, liquidation.

Cross margin only. Positions are valued at the mark; initial margin is notional / leverage and
maintenance margin half of the initial margin at maximum leverage. Liquidations are reported
(`liquidation_price`) but not executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from daemon.domain import Market, Side
from daemon.sim.errors import business
from daemon.sim.state import ZERO, Account, Quote, SimPosition

USD = Decimal("0.000001")
ENTRY = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class FillPart:
    """One side effect of a fill on a position: a close and/or an open."""

    kind: str  # open_long, close_long, open_short, close_short
    amount: Decimal
    entry_price: Decimal
    pnl: Decimal
    fee: Decimal


def direction(side: Side) -> int:
    return 1 if side is Side.BID else -1


def apply_fill(account: Account, symbol: str, side: Side, amount: Decimal, price: Decimal,
               fee_rate: Decimal, now: int) -> list[FillPart]:
    """Trade `amount` on `side` at `price`; close the opposite position first, then open."""
    parts: list[FillPart] = []
    remaining = amount
    position = account.positions.get(symbol)
    if position is not None and position.side is not side:
        closed = min(remaining, position.amount)
        pnl = (closed * (price - position.entry_price) * direction(position.side)).quantize(USD)
        fee = (closed * price * fee_rate).quantize(USD)
        account.balance += pnl - fee
        parts.append(FillPart(f"close_{'long' if position.side.is_long else 'short'}", closed,
                              position.entry_price, pnl, fee))
        position.amount -= closed
        position.updated_at = now
        remaining -= closed
        if position.amount == 0:
            del account.positions[symbol]
            position = None
    if remaining > 0:
        fee = (remaining * price * fee_rate).quantize(USD)
        account.balance -= fee
        if position is None:
            position = SimPosition(symbol, side, remaining, price, now, now)
            account.positions[symbol] = position
        else:
            total = position.amount + remaining
            position.entry_price = ((position.amount * position.entry_price + remaining * price)
                                    / total).quantize(ENTRY)
            position.amount = total
            position.updated_at = now
        parts.append(FillPart(f"open_{'long' if side.is_long else 'short'}", remaining,
                              price, ZERO, fee))
    account.updated_at = now
    return parts


def leverage(account: Account, market: Market) -> int:
    return account.leverage.get(market.symbol, market.max_leverage)


def unrealized(position: SimPosition, mark: Decimal) -> Decimal:
    return position.amount * (mark - position.entry_price) * direction(position.side)


@dataclass(frozen=True, slots=True)
class Balances:
    balance: Decimal
    equity: Decimal
    margin_used: Decimal
    maintenance: Decimal

    @property
    def available(self) -> Decimal:
        return max(self.equity - self.margin_used, ZERO)


def balances(account: Account, markets: Mapping[str, Market],
             quotes: Mapping[str, Quote]) -> Balances:
    upnl = margin = maintenance = ZERO
    for position in account.positions.values():
        market = markets[position.symbol]
        mark = quotes[position.symbol].mark
        notional = position.amount * mark
        upnl += unrealized(position, mark)
        margin += notional / leverage(account, market)
        maintenance += notional * maintenance_rate(market)
    return Balances(account.balance, account.balance + upnl, margin, maintenance)


def maintenance_rate(market: Market) -> Decimal:
    return Decimal(1) / (2 * market.max_leverage)


def added_exposure(account: Account, symbol: str, side: Side, amount: Decimal) -> Decimal:
    """How much of an order would grow exposure rather than close it."""
    position = account.positions.get(symbol)
    if position is None or position.side is side:
        return amount
    return max(amount - position.amount, ZERO)


def liquidation_price(account: Account, position: SimPosition, markets: Mapping[str, Market],
                      quotes: Mapping[str, Quote]) -> Decimal | None:
    """The mark at which equity meets maintenance margin, the other positions held still.

    Below zero for a long whose collateral covers more than its notional: live Pacifica
    sends such values too (Hummingbot's recorded frames show `"l":"-95166.79"`).
    """
    market = markets[position.symbol]
    cushion = account.balance
    for other in account.positions.values():
        if other is position:
            continue
        mark = quotes[other.symbol].mark
        cushion += unrealized(other, mark) - other.amount * mark * maintenance_rate(
            markets[other.symbol])
    rate = maintenance_rate(market)
    size = position.amount
    if size == 0:
        return None
    if position.side.is_long:
        return market.price_up((size * position.entry_price - cushion) / (size * (1 - rate)))
    return market.price_down((cushion + size * position.entry_price) / (size * (1 + rate)))


def require_margin(account: Account, market: Market, markets: Mapping[str, Market],
                   quotes: Mapping[str, Quote], side: Side, amount: Decimal,
                   price: Decimal) -> None:
    """Refuse an order whose added exposure needs more margin than is available."""
    needed = added_exposure(account, market.symbol, side, amount) * price / leverage(
        account, market)
    if needed > balances(account, markets, quotes).available:
        raise business("Insufficient balance", code=5)
