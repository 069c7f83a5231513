"""A submitter wired to a live simulator, a real state file and a credit budget, with the
helpers the tests share: open a position the way a trader does, plan with the real engine,
run the worker, read what the exchange holds."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from nacl.signing import SigningKey

from daemon.budget import CreditBudget
from daemon.domain import Market, OpenOrder, PositionKey, Side, TriggerPriceType
from daemon.engine.memory import Memory
from daemon.engine.model import SL, DesiredLeg, LegKind
from daemon.engine.plan import Action, Plan, plan
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair
from daemon.rules.spec import UpdatePolicy
from daemon.sim import Simulator
from daemon.state import StateStore
from daemon.submitter import ActionResult, Submitter

SEED = bytes([1]) * 32
MAIN = Keypair(SigningKey(SEED))
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def trader_cloid(n: int) -> str:
    """An id that is not the daemon's (no account tag): a trader's own order."""
    return str(uuid.UUID(int=0xBEEF << 96 | n, version=4))


# Tests move stops at once: no hysteresis in time.
EAGER = UpdatePolicy(min_interval=timedelta(0))


def stop_leg(key: PositionKey, price: str, amount: str, *, leg: str = SL,
             kind: LegKind = LegKind.STOP, rule: str = "guard") -> DesiredLeg:
    return DesiredLeg(key, leg, kind, key.side.opposite, Decimal(amount),
                      None if kind is LegKind.CLOSE else Decimal(price), None,
                      TriggerPriceType.MARK, rule, "stop_loss" if kind is LegKind.STOP
                      else kind.value, EAGER)


@dataclass
class Rig:
    sim: Simulator
    path: Path
    client: PacificaRest
    store: StateStore
    markets: dict[str, Market]
    budget: CreditBudget = field(default_factory=CreditBudget)
    results: list[ActionResult] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)
    submitter: Submitter | None = None
    _task: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, sim: Simulator, tmp_path: Path) -> AsyncIterator[Rig]:
        client = new_client(sim)
        store = StateStore.open(tmp_path / "state" / "stopd.db")
        try:
            markets = await client.markets()
            rig = cls(sim, tmp_path, client, store, markets)
            yield rig
            await rig.stop()
        finally:
            store.close()
            await client.aclose()

    @property
    def account(self) -> str:
        return MAIN.public_key

    def make(self, *, dry_run: bool = False, store: StateStore | None = None,
             client: PacificaRest | None = None, **kwargs: Any) -> Submitter:
        submitter = Submitter(account=self.account, client=client or self.client,
                              markets=lambda: self.markets, store=store or self.store,
                              budget=self.budget, dry_run=dry_run, retry=FAST_RETRY, **kwargs)
        submitter.on_result = self.results.append
        self.submitter = submitter
        return submitter

    @property
    def sub(self) -> Submitter:
        if self.submitter is None:
            self.make()
        assert self.submitter is not None
        return self.submitter

    def run(self) -> None:
        self._task = asyncio.create_task(self.sub.run())

    async def stop(self) -> None:
        if self._task is not None and self.submitter is not None:
            await self.submitter.stop()
            await asyncio.wait_for(self._task, 5)
            self._task = None

    async def settle(self, within: float = 15.0) -> None:
        """Wait until the worker has nothing queued or running."""
        deadline = time.monotonic() + within
        await asyncio.sleep(0)
        while not self.sub.idle:
            assert time.monotonic() < deadline, "the submitter never went idle"
            await asyncio.sleep(0.01)

    # -- the exchange, as a trader and as the test's eyes --------------------------------

    async def open_position(self, symbol: str = "BTC", side: Side = Side.BID,
                            amount: str = "0.1", n: int = 1) -> PositionKey:
        await self.client.create_market_order(
            self.markets[symbol], side, amount=Decimal(amount), slippage_percent=Decimal(1),
            client_order_id=trader_cloid(n))
        (position,) = [p for p in await self.client.positions()
                       if p.symbol == symbol and p.side is side]
        return position.key

    def open_orders(self) -> list[dict[str, Any]]:
        account = self.sim.state()["accounts"].get(self.account, {})
        orders: list[dict[str, Any]] = account.get("open_orders", [])
        return orders

    def orders_with(self, cloid: str) -> list[dict[str, Any]]:
        """Every order the exchange ever took with this id (its order history)."""
        return [o for o in self.sim.state()["orders"] if o.get("client_order_id") == cloid]

    def history_size(self) -> int:
        return len(self.sim.state()["orders"])

    async def plan(self, legs: Iterable[DesiredLeg],
                   positions: Iterable[PositionKey] | None = None) -> Plan:
        """The real planner over the exchange's open orders; `positions` default to the
        exchange's (a position left out is gone, and its stops are orphans)."""
        live: list[OpenOrder] = await self.client.open_orders()
        if positions is None:
            positions = [p.key for p in await self.client.positions()]
        result = plan(legs, live, account=self.account, positions=list(positions),
                      memory=self.memory, now=datetime.now(UTC))
        self.memory = result.memory
        return result

    async def protect(self, key: PositionKey, price: str, amount: str = "0.1", *,
                      faults: dict[str, Any] | None = None, **kw: Any) -> tuple[Action, ...]:
        """Plan `key`'s stop at `price` and carry it out to the end; `faults` are switched
        on after planning, just before the actions go."""
        actions = (await self.plan([stop_leg(key, price, amount, **kw)])).actions
        if faults:
            await self.faults(**faults)
        self.sub.submit(actions, bare={key})
        await self.settle()
        return actions

    async def faults(self, **faults: Any) -> None:
        async with httpx.AsyncClient() as control:
            answer = await control.post(f"{self.sim.root_url}/sim/faults", json=faults)
            answer.raise_for_status()


def new_client(sim: Simulator, **kwargs: Any) -> PacificaRest:
    """A client that does not retry by itself and never waits out a 429: the submitter's
    retries and budget are what is under test."""
    return PacificaRest(sim.base_url, keypair=MAIN, retry=RetryPolicy(attempts=1),
                        wait_on_rate_limit=False, **kwargs)


def by_cloid(orders: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["client_order_id"]: o for o in orders if o.get("client_order_id")}

