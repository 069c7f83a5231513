"""`stopd run` protects positions: new ones within 1 s, ones opened while it was down at start,
at the price the rule gives; stops of a closed position go; SIGTERM leaves the stops."""

from __future__ import annotations

import time
from decimal import Decimal

from service_support import World, eventually

from daemon.domain import Side


async def test_new_position_gets_its_stop_within_one_second(world: World) -> None:
    daemon = world.daemon()
    daemon.start()
    trader = world.trader()
    # Opened while the daemon is down: covered within one reconcile of its start.
    await world.open(trader, "ETH", Side.ASK, "1")
    await eventually(world.covered, 8, "the short opened before start is covered",
                     daemon=daemon)
    [stop] = world.our_stops()
    # everything-else: 3% above entry for a short, rounded to the tick (0.1) away from price.
    assert stop["side"] == "bid"
    assert stop["reduce_only"] is True
    assert Decimal(stop["stop_price"]) == Decimal("3090.0")
    assert Decimal(stop["initial_amount"]) == Decimal(1)

    latencies = []
    for symbol, side, amount in (("BTC", Side.BID, "0.01"), ("SOL", Side.BID, "1")):
        before = len(world.our_stops())
        await world.open(trader, symbol, side, amount)
        opened = time.monotonic()
        await eventually(lambda b=before: len(world.our_stops()) > b and world.covered(), 5,
                         f"{symbol} {side} covered", daemon=daemon)
        latencies.append(time.monotonic() - opened)
    assert max(latencies) < 1.0, latencies
    btc = [s for s in world.our_stops() if s["symbol"] == "BTC"]
    assert [Decimal(s["stop_price"]) for s in btc] == [Decimal(59_400)]  # trailing 1% of 60000
    assert world.duplicates() == []

    # A closed position's stops are cancelled (the stream shows the close; a reconcile at the
    # latest).
    await world.close(trader, "BTC", Side.BID, "0.01")
    await eventually(lambda: not any(s["symbol"] == "BTC" for s in world.our_stops()), 4,
                     "the closed position's stop cancelled", daemon=daemon)

    resting = {s["client_order_id"] for s in world.our_stops()}
    assert await daemon.stop() == 0
    # SIGTERM leaves every resting stop in place: they are the protection.
    assert {s["client_order_id"] for s in world.our_stops()} == resting
    assert world.covered()
    print(f"new position -> stop resting: {[round(x * 1000) for x in latencies]} ms")
