"""SIGKILL at random moments of a busy run (prices moving, positions opening and closing),
each followed by a restart, then once more with the state file deleted: the exchange's order
log shows no order placed twice, the trailing extreme survives (with state), and every
position is covered afterwards."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

from conftest import MARKS, finish, make_world
from service_support import AccountSpec, eventually, seed_key

from daemon import ids
from daemon.domain import Side
from daemon.sim import SimConfig, run_simulator
from daemon.state import StateStore

KILLS = 20


async def test_sigkill_restarts_never_duplicate(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    # Deduplication on open orders only, as Pacifica may do: an id sent twice after its
    # first order closed would be accepted again, and show in the log.
    # A quota for the test, not for production: 22 starts in 40 s read far more than the
    # 300 credits a minute an API key buys (a crash loop that fast would be rate limited).
    async with run_simulator(SimConfig(prices="static", dedupe_scope="open",
                                       api_key_quota=Decimal(3_000))) as sim:
        await sim.set_prices(MARKS)
        world = await make_world(sim, tmp_path, [AccountSpec(seed_key(31))])
        try:
            trader = world.trader()
            await world.open(trader, "BTC", Side.BID, "0.01")
            daemon = world.daemon()
            # A peak the daemon sees and trails to before the kills start.
            daemon.start()
            peak = Decimal(60_600)
            await eventually(world.covered, 8, "covered", daemon=daemon)
            await sim.set_prices({"BTC": peak})
            want = peak * Decimal("0.99")
            await eventually(lambda: [Decimal(s["stop_price"]) for s in world.our_stops()]
                             == [want], 5, "trailed to the peak", daemon=daemon)
            daemon.kill()
            btc = Decimal(60_300)
            sol_open = False
            for n in range(KILLS):
                daemon.start()
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                # Busy: the price walks under the peak, a SOL position opens and closes.
                btc = min(btc + rng.choice((-60, -20, 40, 80)), peak - 10)
                await sim.set_prices({"BTC": btc})
                if n % 3 == 0:
                    if sol_open:
                        await world.close(trader, "SOL", Side.BID, "1")
                    else:
                        await world.open(trader, "SOL", Side.BID, "1")
                    sol_open = not sol_open
                await asyncio.sleep(rng.uniform(0.0, 0.6))
                daemon.kill()
            daemon.start()
            await eventually(lambda: world.covered() and [
                Decimal(s["stop_price"]) for s in world.our_stops() if s["symbol"] == "BTC"]
                == [want], 15, f"covered, BTC stop still at {want}", daemon=daemon)
            assert await daemon.stop() == 0
            store = StateStore.open(world.state)
            try:
                memory = store.load_memory(world.accounts[0].owner)
            finally:
                store.close()
            extremes = [m.extreme for k, m in memory.positions.items() if k.symbol == "BTC"]
            assert extremes == [peak], "the trailing extreme survived every kill"
            # The SOL positions opened and closed on the way were pruned once a reconcile
            # confirmed them gone: memory holds the open positions only.
            open_now = {(p["symbol"], p["created_at"]) for p in world.positions()}
            assert {(k.symbol, k.created_at) for k in memory.positions} == open_now

            # Once more with the state file gone: live stops adopted from their ids.
            for suffix in ("", "-wal", "-shm"):
                Path(str(world.state) + suffix).unlink(missing_ok=True)  # noqa: ASYNC240
            daemon.start()
            await asyncio.sleep(2.5)
            await eventually(world.covered, 8, "covered after losing the state", daemon=daemon)
            assert "state.new" in daemon.current_log()  # says what was lost, what it does
            btc_stops = [s for s in world.our_stops() if s["symbol"] == "BTC"]
            assert [Decimal(s["stop_price"]) for s in btc_stops] == [want]  # adopted, kept
            assert await daemon.stop() == 0

            assert world.duplicates() == []
            log = world.order_log()
            owner = world.accounts[0].owner
            legs: Counter[tuple[int, int, int]] = Counter()
            for order in log:
                parsed = ids.parse(order["client_order_id"])
                if parsed is not None and parsed.account == ids.account_tag(owner):
                    legs[(parsed.position, parsed.leg, parsed.revision)] += 1
            assert max(legs.values()) == 1
            assert set(world.live_per_leg().values()) == {1}
        finally:
            await finish(world)
