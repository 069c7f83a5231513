"""A trailing stop follows a rising price make-before-break: sampled every 50 ms, the
position is never without a resting stop, and after each move exactly one daemon stop rests
per leg; a stop cancelled by hand is put back; an order not ours is never touched."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from service_support import World, eventually

from daemon.domain import Side, TriggerPriceType


async def test_trailing_make_before_break_and_hands_off(world: World) -> None:
    trader = world.trader()
    await world.open(trader, "BTC", Side.BID, "0.01")
    markets = await trader.markets()
    # Someone else's order on the same position: no tag of ours, so never touched.
    foreign = str(uuid.uuid4())
    await trader.create_stop_order(markets["BTC"], Side.ASK, stop_price=Decimal(50_000),
                                   amount=Decimal("0.005"), client_order_id=foreign,
                                   trigger_price_type=TriggerPriceType.MARK)
    daemon = world.daemon()
    daemon.start()
    await eventually(world.covered, 8, "covered at start", daemon=daemon)

    samples = 0
    bare: list[int] = []
    price = Decimal(60_000)
    for _step in range(6):
        price += 100
        await world.sim.set_prices({"BTC": price})
        for _ in range(8):  # 400 ms per step, sampled every 50 ms
            samples += 1
            if not world.our_stops():
                bare.append(samples)
            await asyncio.sleep(0.05)
    want = Decimal(60_600) * Decimal("0.99")  # 59994: 1% under the best mark
    await eventually(lambda: [Decimal(s["stop_price"]) for s in world.our_stops()] == [want],
                     5, "the stop trailed to 59994", daemon=daemon)
    assert bare == [], f"bare at samples {bare} of {samples}"
    assert set(world.live_per_leg().values()) == {1}
    assert world.duplicates() == []

    # Cancelled by hand: put back (a new revision: the old id is spent).
    [stop] = world.our_stops()
    await trader.cancel_stop_order("BTC", order_id=stop["order_id"])
    await eventually(lambda: len(world.our_stops()) == 1
                     and world.our_stops()[0]["order_id"] != stop["order_id"], 3,
                     "the stop cancelled by hand is put back", daemon=daemon)
    assert Decimal(world.our_stops()[0]["stop_price"]) == want

    # The foreign order rests untouched through all of it.
    open_ids = [o["client_order_id"] for o in world.account_state()["open_orders"]]
    assert foreign in open_ids
    touched = [o for o in world.order_log() if o["client_order_id"] == foreign]
    assert [o["order_status"] for o in touched] == ["open"]
    assert await daemon.stop() == 0
