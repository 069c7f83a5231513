"""Simulator settings. Defaults follow Pacifica's published numbers (pacifica-api.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from daemon.sim.markets import SimMarket, default_markets


class DedupeScope(StrEnum):
    """Which earlier client_order_ids make a new one a duplicate (anchors.md R1).

    `ever`: any id this account ever used (the stricter choice, and the default);
    `open`: only ids of orders still open, as Binance futures does.
    """

    EVER = "ever"
    OPEN = "open"


class TpslMode(StrEnum):
    """What a second `POST /positions/tpsl` on a position does to the legs it already has.

    `replace` (the default): the position's TP/SL legs, both kinds, are cancelled and the new
    ones placed; the evidence points there (issue 11: ocean-agent keeps its own map of
    take-profits "so the TP isn't erased when only the SL moves"; another client notes that
    `/orders/stop/create` "creates a separate stop order without overwriting existing TP/SL
    orders" unlike `set_position_tpsl`). `add`: the new legs join the old ones.
    """

    REPLACE = "replace"
    ADD = "add"


@dataclass(frozen=True, slots=True)
class CreditCosts:
    standard: Decimal = Decimal(1)
    cancel: Decimal = Decimal("0.5")
    heavy_get_ip: Decimal = Decimal(12)  # heavy GETs as HB prices them for unkeyed callers
    heavy_get_key: Decimal = Decimal(4)


@dataclass(frozen=True, slots=True)
class SimConfig:
    markets: tuple[SimMarket, ...] = field(default_factory=default_markets)
    collateral: Decimal = Decimal(100_000)  # USD credited to an account on its first request
    taker_fee: Decimal = Decimal("0.0004")
    maker_fee: Decimal = Decimal("0.00015")
    dedupe_scope: DedupeScope = DedupeScope.EVER
    tpsl: TpslMode = TpslMode.REPLACE
    # Price driver: "static" (prices move only when told), "walk", or a path to a CSV/JSON script.
    prices: str = "static"
    seed: int = 0
    walk_interval: float = 1.0  # seconds between random-walk steps
    walk_volatility_bps: int = 10  # standard deviation of one step, in basis points
    # Seconds between `prices` frames sent whether or not a price moved (0: only on change).
    # Live Pacifica's oracle moves every 3 s, so its stream is never silent for long; a
    # client's staleness check must see the same here even while prices are static.
    price_interval: float = 2.0
    # Rolling 60 s credit budgets (§5); an API config key is sent as header PF-API-KEY.
    ip_quota: Decimal = Decimal(100)
    api_key_quota: Decimal = Decimal(300)
    credit_costs: CreditCosts = field(default_factory=CreditCosts)
    credit_window_ms: int = 60_000
    ws_idle_timeout: float = 60.0  # seconds without a client message before the server closes
    ws_max_lifetime: float = 24 * 3600.0
    clock_skew_ms: int = 0  # added to the server clock, to rehearse expiry-window trouble
