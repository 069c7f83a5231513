"""Any mix of 5xx, lost answers and 429s over a trailing run: every client_order_id is one
order at most in the exchange's history, and the stops end where the plan wants them."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from submitter_support import Rig, by_cloid, stop_leg

from daemon.sim import SimConfig, run_simulator

FAULTS = st.fixed_dictionaries({
    "error_count": st.integers(0, 2),
    "lose_response_after_commit": st.integers(0, 2),
    "lose_mode": st.sampled_from(["504", "reset"]),
    "burst_429": st.integers(0, 1),
})


async def _trail(steps: list[dict[str, Any]], root: Path) -> None:
    config = SimConfig(ip_quota=Decimal(1_000_000), credit_window_ms=1_000)
    async with run_simulator(config) as sim:
        await sim.set_prices({"BTC": Decimal(60_000), "ETH": Decimal(3_000)})
        async with Rig.start(sim, root) as rig:
            btc = await rig.open_position("BTC")
            eth = await rig.open_position("ETH", n=2)
            rig.run()
            for n, faults in enumerate(steps):
                legs = [stop_leg(btc, str(58_000 + 100 * n), "0.1"),
                        stop_leg(eth, str(2_900 + 10 * n), "0.1")]
                actions = (await rig.plan(legs)).actions
                await rig.faults(**faults)
                rig.sub.submit(actions, bare=())
                await rig.settle(within=30)
                await rig.faults(reset=True)
                # What the service does after a failure: plan again from the exchange's view.
                for _ in range(3):
                    again = (await rig.plan(legs)).actions
                    if not again:
                        break
                    rig.sub.submit(again, bare=())
                    await rig.settle(within=30)
                assert (await rig.plan(legs)).actions == ()
                history = [o["client_order_id"] for o in sim.state()["orders"]
                           if o.get("client_order_id")]
                assert len(history) == len(set(history)), "an id was sent as two orders"
                resting = sorted(Decimal(o["stop_price"])
                                 for o in by_cloid(rig.open_orders()).values())
                assert resting == [Decimal(2_900 + 10 * n), Decimal(58_000 + 100 * n)]


@settings(max_examples=8, deadline=None)
@given(steps=st.lists(FAULTS, min_size=1, max_size=3))
def test_faults_never_double_an_order_and_the_stops_converge(
        steps: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(_trail(steps, Path(root)))
