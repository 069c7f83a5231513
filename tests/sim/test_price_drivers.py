"""Market files and price drivers: loading, located errors, the seeded walk, replays."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sim_support import prices_of
from websockets.asyncio.client import connect

from daemon.sim import SimConfig, run_simulator
from daemon.sim.markets import MarketFileError, default_markets, load_markets, parse_markets
from daemon.sim.pricepaths import PricePathError, Step, load_path, parse_csv, walk_step

SYMBOLS = frozenset({"BTC", "ETH"})


def test_the_default_markets_are_realistic() -> None:
    markets = {m.symbol: m for m in default_markets()}
    assert {"BTC", "ETH", "SOL", "kBONK"} <= set(markets)
    btc = markets["BTC"].market
    assert (btc.tick_size, btc.lot_size, btc.min_order_size) == (
        Decimal(1), Decimal("0.00001"), Decimal(10))
    assert markets["SOL-USDC"].tradable is False


@pytest.mark.parametrize(("text", "error"), [
    ("{", "m.json: not valid JSON"),
    ("[]", "m.json: expected a non-empty JSON array of markets"),
    ('[{"symbol": "X", "tick_size": "0.1", "lot_size": "1", "price": "10.05"}]',
     "m.json[0].price: 10.05 is not a multiple of tick 0.1"),
    ('[{"symbol": "X", "tick_size": 0.1, "lot_size": "1", "price": "10"}]',
     "m.json[0].tick_size: expected a decimal string, got 0.1"),
    ('[{"symbol": "X", "tick_size": "0.1", "lot_size": "1"}]', "m.json[0].price: required"),
    ('[{"symbol": "X", "tick_size": "1", "lot_size": "1", "price": "1"},'
     ' {"symbol": "X", "tick_size": "1", "lot_size": "1", "price": "1"}]',
     "m.json: symbol 'X' appears twice"),
])
def test_a_bad_market_file_names_the_place(text: str, error: str) -> None:
    with pytest.raises(MarketFileError) as refused:
        parse_markets(text, origin="m.json")
    assert str(refused.value).startswith(error)


def test_a_missing_market_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MarketFileError, match="cannot read the market file"):
        load_markets(tmp_path / "absent.json")


def test_the_walk_is_seeded_and_stays_on_the_tick() -> None:
    markets = {m.symbol: m.market for m in default_markets()}
    start = {m.symbol: m.price for m in default_markets()}

    def path(seed: int) -> list[dict[str, Decimal]]:
        rng, current, out = random.Random(seed), dict(start), []
        for _ in range(50):
            current = walk_step(rng, markets, current, volatility_bps=50)
            out.append(current)
        return out

    first = path(7)
    assert first == path(7)
    assert first != path(8)
    for step in first:
        for symbol, price in step.items():
            assert markets[symbol].is_tick_multiple(price)
            assert markets[symbol].min_tick <= price <= markets[symbol].max_tick


def test_csv_rows_sharing_a_time_form_one_step() -> None:
    text = "time,symbol,price\n0,BTC,60000\n0,ETH,3000\n1.5,BTC,59000\n"
    assert parse_csv(text, SYMBOLS, origin="p.csv") == [
        Step(0.0, {"BTC": Decimal(60000), "ETH": Decimal(3000)}),
        Step(1.5, {"BTC": Decimal(59000)}),
    ]


@pytest.mark.parametrize(("name", "text", "error"), [
    ("p.csv", "when,symbol,price\n", "p.csv:1: expected the header time,symbol,price"),
    ("p.csv", "time,symbol,price\n0,DOGE,1\n", "p.csv:2: unknown symbol 'DOGE'"),
    ("p.csv", "time,symbol,price\n2,BTC,1\n1,BTC,1\n", "p.csv:3: times must be finite"),
    ("p.csv", "time,symbol,price\n0,BTC,abc\n",
     "p.csv:2: the price of BTC: 'abc' is not a decimal number"),
    ("p.json", '[{"wait": -1, "prices": {}}]', "p.json[0].wait: expected a number"),
    ("p.json", '[{"prices": {"BTC": 1}}]',
     "p.json[0].prices: the price of BTC: expected a decimal string, got 1"),
])
def test_a_bad_price_file_names_the_place(tmp_path: Path, name: str, text: str,
                                          error: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PricePathError) as refused:
        load_path(path, SYMBOLS)
    assert str(refused.value).startswith(f"{tmp_path}/{error}")


async def test_a_scripted_path_replays_over_the_stream(tmp_path: Path) -> None:
    script = tmp_path / "path.json"
    script.write_text(json.dumps([{"wait": 0, "prices": {"BTC": "60100"}},
                                  {"wait": 0.01, "prices": {"BTC": "60200"}}]))
    async with run_simulator(SimConfig(prices=str(script))) as sim, connect(sim.ws_url) as ws:
        marks = await prices_of(ws, "BTC", until=Decimal(60200))
        assert marks[-1] == Decimal(60200)
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            rows = (await client.get("/info/prices")).json()["data"]
        assert {r["symbol"]: r["mark"] for r in rows}["BTC"] == "60200"


async def test_the_walk_moves_prices() -> None:
    config = SimConfig(prices="walk", walk_interval=0.01, walk_volatility_bps=100, seed=3)
    async with run_simulator(config) as sim, connect(sim.ws_url) as ws:
        marks = await prices_of(ws, "BTC", frames=5)
        assert len(set(marks)) > 1
