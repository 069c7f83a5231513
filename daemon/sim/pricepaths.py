"""Where simulated prices come from: a seeded random walk, or a path read from a file.

A path is a list of steps, each "wait this long, then set these marks". Files:
- CSV with header `time,symbol,price`: `time` in seconds from the start; rows sharing a time
  form one step.
- JSON script: `[{"wait": 1.5, "prices": {"BTC": "61000"}}, ...]`.
Bad files fail at load with the file and the line or index.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from daemon.domain import Market
from daemon.sim.decimals import decimal_or_reason


class PricePathError(ValueError):
    """A price path file that cannot be used; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class Step:
    wait: float  # seconds after the previous step
    prices: dict[str, Decimal]


def walk_step(rng: random.Random, markets: Mapping[str, Market],
              current: Mapping[str, Decimal], volatility_bps: int) -> dict[str, Decimal]:
    """One step of the walk, in whole ticks so every price stays on its market's tick."""
    moved = {}
    for symbol, market in markets.items():
        price = current[symbol]
        sigma_ticks = float(price * volatility_bps / 10_000 / market.tick_size)
        ticks = round(rng.gauss(0.0, sigma_ticks))
        candidate = market.price_down(price) + ticks * market.tick_size
        moved[symbol] = min(max(candidate, market.min_tick), market.max_tick)
    return moved


def load_path(path: Path, symbols: frozenset[str]) -> list[Step]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricePathError(f"{path}: cannot read the price file ({exc.strerror})") from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, symbols, origin=str(path))
    return parse_script(text, symbols, origin=str(path))


def _price(raw: object, symbols: frozenset[str], symbol: object, where: str) -> Decimal:
    if not isinstance(symbol, str) or symbol not in symbols:
        raise PricePathError(f"{where}: unknown symbol {symbol!r}")
    price = decimal_or_reason(raw)
    if isinstance(price, str):
        raise PricePathError(f"{where}: the price of {symbol}: {price}")
    if price <= 0:
        raise PricePathError(f"{where}: the price of {symbol} must be a positive number")
    return price


def parse_csv(text: str, symbols: frozenset[str], *, origin: str) -> list[Step]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != ["time", "symbol", "price"]:
        raise PricePathError(f"{origin}:1: expected the header time,symbol,price")
    steps: list[Step] = []
    last_time = Decimal(0)
    for line, row in enumerate(reader, start=2):
        where = f"{origin}:{line}"
        if not row:
            continue
        if len(row) != 3:
            raise PricePathError(f"{where}: expected 3 columns, found {len(row)}")
        try:
            at = Decimal(row[0].strip())
        except InvalidOperation:
            raise PricePathError(f"{where}: time {row[0]!r} is not a number") from None
        if not at.is_finite() or at < last_time:
            raise PricePathError(f"{where}: times must be finite and never go back")
        price = _price(row[2].strip(), symbols, row[1].strip(), where)
        if steps and at == last_time:
            steps[-1].prices[row[1].strip()] = price
        else:
            steps.append(Step(float(at - last_time), {row[1].strip(): price}))
        last_time = at
    return steps


def parse_script(text: str, symbols: frozenset[str], *, origin: str) -> list[Step]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise PricePathError(f"{origin}: not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise PricePathError(f"{origin}: expected a JSON array of steps")
    steps = []
    for index, item in enumerate(items):
        where = f"{origin}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("prices"), dict):
            raise PricePathError(f"{where}: expected {{\"wait\": seconds, \"prices\": {{...}}}}")
        wait = item.get("wait", 0)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
            raise PricePathError(f"{where}.wait: expected a number of seconds >= 0")
        prices = {sym: _price(raw, symbols, sym, f"{where}.prices")
                  for sym, raw in item["prices"].items()}
        steps.append(Step(float(wait), prices))
    return steps
