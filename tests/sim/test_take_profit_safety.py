"""Issue 11 acceptance: the daemon's take-profit never touches a user's own TP/SL leg.

A user protects a long by hand with a stop-loss leg through `/positions/tpsl`. The daemon's
engine plans a take-profit and a stop, its submitter and exchange client carry the plan out
(a real state file, credit budget and worker), then the
rule's target moves and the take-profit moves with it. The user's leg must be exactly as the
user left it, whether a second `/positions/tpsl` replaces a position's legs (`--tpsl replace`,
the default) or adds to them (`--tpsl add`): the take-profit rests as a reduce-only limit
order, so it never goes through `/positions/tpsl` at all (docs/rules.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sim_support import MAIN, MARKS, Trader, cloid, ok

from daemon import ids
from daemon.budget import HEAVY_READ_COST_WITH_KEY, CreditBudget
from daemon.domain import OpenOrder, Side
from daemon.engine import (
    TP,
    Action,
    LegKind,
    Memory,
    Move,
    Place,
    evaluate,
    plan,
)
from daemon.pacifica.payloads import TpslLeg
from daemon.pacifica.rest import PacificaRest
from daemon.rules.loader import load_text
from daemon.sim import SimConfig, Simulator, run_simulator
from daemon.sim.config import TpslMode
from daemon.state import StateStore
from daemon.submitter import Submitter

API_KEY = "test-config-key"  # the key's credit quota: heavy reads cost 4, not 12
USER_LEG = cloid(900)  # the user's own client_order_id: not the daemon's


def rules(take_profit: str) -> str:
    return f"""version: 1
rules:
  - name: btc
    match: {{symbol: BTC}}
    stop_loss: 5%
    take_profit: {take_profit}
    update: {{min_move: 0%, min_interval: 0s}}
"""


@pytest.fixture(params=[TpslMode.REPLACE, TpslMode.ADD])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    async with run_simulator(SimConfig(tpsl=request.param)) as simulator:
        await simulator.set_prices(MARKS)
        yield simulator


@contextlib.asynccontextmanager
async def daemon_for(sim: Simulator, state: Path) -> AsyncIterator[Daemon]:
    async with PacificaRest(sim.base_url, keypair=MAIN, api_key=API_KEY) as rest:
        store = StateStore.open(state / "stopd.db")
        markets = await rest.markets()
        submitter = Submitter(account=MAIN.public_key, client=rest, markets=lambda: markets,
                              store=store, budget=CreditBudget(),
                              read_cost=HEAVY_READ_COST_WITH_KEY)
        worker = asyncio.create_task(submitter.run())
        try:
            yield Daemon(rest, submitter)
        finally:
            await submitter.stop()
            await asyncio.wait_for(worker, 5)
            store.close()


@dataclass
class Daemon:
    """The daemon's engine, exchange client and submitter, one pass at a time."""

    rest: PacificaRest
    submitter: Submitter
    memory: Memory = field(default_factory=Memory)

    async def run_pass(self, yaml: str) -> list[Action]:
        """Evaluate and plan over what the exchange shows; the submitter carries it out."""
        rest, account = self.rest, MAIN.public_key
        positions, prices, live = (await rest.positions(), await rest.prices(),
                                   await rest.open_orders())
        now = datetime.now(UTC)
        evaluation = evaluate(load_text(yaml), positions, prices, await rest.markets(),
                              self.memory, now, account=account, live=live)
        planned = plan(evaluation.desired, live, account=account,
                       positions=[p.key for p in positions], memory=evaluation.memory, now=now)
        self.memory = planned.memory
        ours = {p.key for p in positions if any(leg_of(o) is not None for o in live)}
        self.submitter.submit(planned.actions, bare=[p.key for p in positions
                                                     if p.key not in ours])
        deadline = time.monotonic() + 15
        await asyncio.sleep(0)
        while not self.submitter.idle:
            assert time.monotonic() < deadline, "the submitter never went idle"
            await asyncio.sleep(0.01)
        assert not self.submitter.rejected
        return list(planned.actions)


def leg_of(order: OpenOrder) -> str | None:
    """The daemon's leg name of one of its orders (None: not the daemon's)."""
    parsed = ids.parse(order.client_order_id)
    if parsed is None or parsed.account != ids.account_tag(MAIN.public_key):
        return None
    return ids.leg_name(parsed.leg)


async def long_with_users_own_leg(trader: Trader) -> None:
    """A long BTC 0.5 at 60000 that the user protects by hand with a stop-loss leg."""
    ok(await trader.market("BTC", "bid", "0.5"))
    ok(await trader.send("/positions/tpsl", "set_position_tpsl", {
        "symbol": "BTC", "side": "ask",
        "stop_loss": {"stop_price": "55000", "client_order_id": USER_LEG,
                      "trigger_price_type": "mark_price"}}))


async def user_leg(trader: Trader) -> dict[str, object]:
    [leg] = [o for o in await trader.data("/orders") if o["client_order_id"] == USER_LEG]
    return leg  # type: ignore[no-any-return]


async def test_the_daemons_take_profit_leaves_the_users_own_leg_alone(
        sim: Simulator, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http, \
            daemon_for(sim, tmp_path) as daemon:
        trader = Trader(http, MAIN)
        await long_with_users_own_leg(trader)
        before = await user_leg(trader)
        assert before["order_type"] == "stop_loss_market"

        actions = await daemon.run_pass(rules("8%"))
        kinds = sorted(a.order.kind.value for a in actions if isinstance(a, Place))
        assert kinds == ["stop", "take_profit"]
        [tp] = [o for o in await daemon.rest.open_orders() if leg_of(o) == TP]
        assert (tp.order_type, tp.price, tp.stop_price, tp.reduce_only) == (
            "limit", Decimal(64800), None, True)  # 8 % above the 60000 entry, resting
        assert await user_leg(trader) == before

        [move] = await daemon.run_pass(rules("10%"))
        assert isinstance(move, Move)
        assert move.order.kind is LegKind.TAKE_PROFIT
        mine = [o for o in await daemon.rest.open_orders() if o.client_order_id != USER_LEG]
        assert sorted((o.order_type, o.price) for o in mine) == [
            ("limit", Decimal(66000)), ("stop_market", Decimal(0))]
        assert await user_leg(trader) == before  # same id, price, amount, type: untouched

        # And the take-profit does its job: the price trades up through the target.
        await sim.set_prices({"BTC": Decimal(66500)})
        assert await trader.data("/positions") == []
        [fill] = [f for f in await trader.data("/trades/history")
                  if f["client_order_id"] == move.order.client_order_id]
        assert (fill["price"], fill["side"]) == ("66000", "close_long")


async def test_the_old_mechanism_would_have_erased_the_users_leg() -> None:
    """The hazard is real under the replace reading: a take_profit-only /positions/tpsl."""
    async with run_simulator(SimConfig(tpsl=TpslMode.REPLACE)) as sim, \
            httpx.AsyncClient(base_url=sim.base_url, timeout=10) as http, \
            PacificaRest(sim.base_url, keypair=MAIN, api_key=API_KEY) as rest:
        await sim.set_prices(MARKS)
        trader = Trader(http, MAIN)
        await long_with_users_own_leg(trader)
        btc = (await rest.markets())["BTC"]
        await rest.set_position_tpsl(btc, Side.ASK, take_profit=TpslLeg(
            Decimal(64800), client_order_id=cloid(901)))
        assert [o["client_order_id"] for o in await trader.data("/orders")] == [cloid(901)]
