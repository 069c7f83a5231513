"""Rate-limit credits over a rolling window: headers on every answer, 429 when spent."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sim_support import MAIN, Trader, ok, refused

from daemon.sim import SimConfig, run_simulator
from daemon.sim.credits import CreditLedger

HEADER = re.compile(r'^"credits";r=(\d+);t=(\d+)$')


def remaining(response: httpx.Response) -> int:
    found = HEADER.match(response.headers["ratelimit"])
    assert found, response.headers["ratelimit"]
    return int(found.group(1))


async def test_credits_run_out_and_429_carries_the_headers() -> None:
    config = SimConfig(ip_quota=Decimal(20), api_key_quota=Decimal(5))
    async with run_simulator(config) as sim, httpx.AsyncClient(base_url=sim.base_url) as client:
        keyed = Trader(client, MAIN)
        first = await keyed.market("BTC", "bid", "0.01")
        ok(first)
        assert remaining(first) == 40
        assert first.headers["ratelimit-policy"] == '"credits";q=50;w=60'
        stop = await keyed.cancel_stop("BTC", order_id=1)  # a cancel costs half a credit
        assert remaining(stop) == 35
        for _ in range(3):
            ok(await keyed.market("BTC", "bid", "0.01"))
        spent = await keyed.market("BTC", "bid", "0.01")
        refused(spent, 429, "Rate limit exceeded")
        assert remaining(spent) == 5
        refresh = int(HEADER.match(spent.headers["ratelimit"]).group(2))  # type: ignore[union-attr]
        assert 0 < refresh <= 60
        # Unkeyed callers are counted by IP with their own quota; heavy GETs cost 12 there.
        info = await client.get("/info")
        assert remaining(info) == 80
        assert info.headers["ratelimit-policy"] == '"credits";q=200;w=60'
        # Half a credit is left for the key: a cancel fits, a heavy GET (4 with a key) does not.
        refused(await keyed.get("/positions"), 429, "Rate limit exceeded")
        refused(await keyed.cancel_stop("BTC", order_id=1), 400, "Stop order not found", 6)
        refused(await keyed.cancel_stop("BTC", order_id=1), 429, "Rate limit exceeded")


def test_the_window_rolls() -> None:
    ledger = CreditLedger(window_ms=60_000)
    quota = Decimal(2)
    assert ledger.charge("k", quota, Decimal(1), now=0).allowed
    assert ledger.charge("k", quota, Decimal(1), now=30_000).allowed
    refused_ = ledger.charge("k", quota, Decimal(1), now=59_999)
    assert not refused_.allowed
    assert refused_.refresh_seconds == 1
    again = ledger.charge("k", quota, Decimal(1), now=60_000)
    assert again.allowed
    assert again.remaining == 0
    assert again.refresh_seconds == 30
    assert ledger.charge("other", quota, Decimal(2), now=60_000).allowed


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=30_000),
                          st.sampled_from([Decimal("0.5"), Decimal(1), Decimal(4),
                                           Decimal(12)])), max_size=200))
def test_no_window_ever_holds_more_than_the_quota(steps: list[tuple[int, Decimal]]) -> None:
    ledger, quota, window = CreditLedger(window_ms=60_000), Decimal(20), 60_000
    now, allowed = 0, []
    for gap, cost in steps:
        now += gap
        verdict = ledger.charge("k", quota, cost, now)
        if verdict.allowed:
            allowed.append((now, cost))
        spent = sum((c for t, c in allowed if t > now - window), Decimal(0))
        assert spent <= quota
        assert verdict.remaining == quota - spent


async def test_both_candle_endpoints_are_heavy_reads() -> None:
    """ccxt prices /kline and /kline/mark alike (12 credits per IP)."""
    async with run_simulator() as sim, httpx.AsyncClient(base_url=sim.base_url) as client:
        params = {"symbol": "BTC", "interval": "1m", "start_time": 0}
        trades = await client.get("/kline", params=params)
        marks = await client.get("/kline/mark", params=params)
        assert remaining(trades) - remaining(marks) == 120


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.booleans(),
                          st.integers(min_value=0, max_value=40_000),
                          st.sampled_from([Decimal("0.5"), Decimal(1), Decimal(12)])),
                max_size=150))
def test_the_running_sum_matches_the_window_added_up(
        steps: list[tuple[str, bool, int, Decimal]]) -> None:
    """The ledger keeps a running sum per caller; a model adds the window up every time."""
    ledger, quota, window = CreditLedger(window_ms=60_000), Decimal(30), 60_000
    model: dict[str, list[tuple[int, Decimal]]] = {"a": [], "b": []}
    now = 0
    for key, peek, gap, cost in steps:
        now += gap
        live = [(t, c) for t, c in model[key] if t > now - window]
        spent = sum((c for _, c in live), Decimal(0))
        verdict = (ledger.peek(key, quota, now) if peek
                   else ledger.charge(key, quota, cost, now))
        if not peek and spent + cost <= quota:
            live.append((now, cost))
            spent += cost
        model[key] = live
        assert verdict.remaining == quota - spent
        assert verdict.refresh_seconds == (-(-(live[0][0] + window - now) // 1000)
                                           if live else 0)
