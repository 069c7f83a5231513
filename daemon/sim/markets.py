"""The simulator's market list: Pacifica's `/info` rows plus a starting price.

The defaults ship as `markets.json` beside this module; `--markets FILE` replaces them with a
file of the same shape. Every value is checked here so a bad file fails at start with its
path and row, never later inside a request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from daemon.domain import Market
from daemon.sim.decimals import decimal_or_reason

PERPETUAL = "perpetual"
SPOT = "spot"


class MarketFileError(ValueError):
    """A market list that cannot be used; the message names the file and the row."""


@dataclass(frozen=True, slots=True)
class SimMarket:
    market: Market
    instrument_type: str
    price: Decimal  # the starting mark
    base_asset: str
    funding_rate: Decimal
    next_funding_rate: Decimal
    created_at: int

    @property
    def symbol(self) -> str:
        return self.market.symbol

    @property
    def tradable(self) -> bool:
        # Spot rows appear in /info and the price feed only; orders on them are refused.
        return self.instrument_type == PERPETUAL


def default_markets() -> tuple[SimMarket, ...]:
    text = resources.files("daemon.sim").joinpath("markets.json").read_text(encoding="utf-8")
    return parse_markets(text, origin="daemon/sim/markets.json")


def load_markets(path: Path) -> tuple[SimMarket, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MarketFileError(f"{path}: cannot read the market file ({exc.strerror})") from None
    return parse_markets(text, origin=str(path))


def parse_markets(text: str, *, origin: str) -> tuple[SimMarket, ...]:
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise MarketFileError(f"{origin}: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not rows:
        raise MarketFileError(f"{origin}: expected a non-empty JSON array of markets")
    markets = [_parse_row(row, f"{origin}[{index}]") for index, row in enumerate(rows)]
    seen: set[str] = set()
    for market in markets:
        if market.symbol in seen:
            raise MarketFileError(f"{origin}: symbol {market.symbol!r} appears twice")
        seen.add(market.symbol)
    return tuple(markets)


def _parse_row(row: object, where: str) -> SimMarket:
    if not isinstance(row, Mapping):
        raise MarketFileError(f"{where}: expected an object")
    symbol = row.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise MarketFileError(f"{where}.symbol: expected a non-empty string")
    tick = _positive(row, "tick_size", where)
    lot = _positive(row, "lot_size", where)
    price = _positive(row, "price", where)
    min_tick = _decimal(row, "min_tick", where, default=Decimal(0))
    if min_tick < 0:
        raise MarketFileError(f"{where}.min_tick: must not be negative")
    max_tick = _positive(row, "max_tick", where, default=Decimal("1e9"))
    leverage = row.get("max_leverage", 10)
    if not isinstance(leverage, int) or isinstance(leverage, bool) or leverage < 1:
        raise MarketFileError(f"{where}.max_leverage: expected a positive integer")
    instrument = row.get("instrument_type", PERPETUAL)
    if instrument not in (PERPETUAL, SPOT):
        raise MarketFileError(f"{where}.instrument_type: expected 'perpetual' or 'spot'")
    market = Market(
        symbol=symbol,
        tick_size=tick,
        lot_size=lot,
        min_tick=min_tick,
        max_tick=max_tick,
        min_order_size=_positive(row, "min_order_size", where, default=Decimal(10)),
        max_order_size=_positive(row, "max_order_size", where, default=Decimal(5_000_000)),
        max_leverage=leverage,
        isolated_only=bool(row.get("isolated_only", False)),
    )
    for label, value in (("price", price), ("min_tick", min_tick), ("max_tick", max_tick)):
        if not market.is_tick_multiple(value):
            raise MarketFileError(f"{where}.{label}: {value} is not a multiple of tick {tick}")
    if not min_tick <= price <= max_tick:
        raise MarketFileError(f"{where}.price: {price} is outside [{min_tick}, {max_tick}]")
    created_at = row.get("created_at", 0)
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise MarketFileError(f"{where}.created_at: expected integer milliseconds")
    return SimMarket(
        market=market,
        instrument_type=str(instrument),
        price=price,
        base_asset=str(row.get("base_asset") or symbol.split("-")[0]),
        funding_rate=_decimal(row, "funding_rate", where, default=Decimal(0)),
        next_funding_rate=_decimal(row, "next_funding_rate", where, default=Decimal(0)),
        created_at=created_at,
    )


def _decimal(row: Mapping[str, Any], key: str, where: str, *, default: Decimal) -> Decimal:
    value = row.get(key)
    if value is None:
        return default
    number = decimal_or_reason(value)
    if isinstance(number, str):
        raise MarketFileError(f"{where}.{key}: {number}")
    return number


def _positive(row: Mapping[str, Any], key: str, where: str,
              default: Decimal | None = None) -> Decimal:
    if row.get(key) is None:
        if default is None:
            raise MarketFileError(f"{where}.{key}: required")
        return default
    number = _decimal(row, key, where, default=Decimal(0))
    if number <= 0:
        raise MarketFileError(f"{where}.{key}: must be greater than zero")
    return number


def by_symbol(markets: Sequence[SimMarket]) -> dict[str, SimMarket]:
    return {m.symbol: m for m in markets}
