"""Fixtures for the end-to-end tests: a simulator per test and a `world` that writes the
settings, key, rule and state files and ends every daemon and client it started."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from service_support import (  # noqa: E402
    RULES,
    AccountSpec,
    World,
    secret_text,
    seed_key,
    settings_text,
    write_private,
)

if TYPE_CHECKING:
    from daemon.sim import Simulator

MARKS = {"BTC": Decimal(60_000), "ETH": Decimal(3_000), "SOL": Decimal(150)}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    from daemon.sim import SimConfig, run_simulator

    async with run_simulator(SimConfig(prices="static")) as simulator:
        await simulator.set_prices(MARKS)
        yield simulator


async def make_world(sim: Simulator, tmp: Path, accounts: list[AccountSpec], *,
                     reconcile: str = "2s", stale: str = "6s") -> World:
    keys = []
    for n, spec in enumerate(accounts):
        keys.append((spec, write_private(tmp / f"account{n}.key", secret_text(spec.key))))
    rules = tmp / "rules.yaml"
    rules.write_text(RULES)
    api_key = write_private(tmp / "api.key", "daemon-config-key\n")
    state = tmp / "state" / "stopd.db"
    config = tmp / "stopd.yaml"
    config.write_text(settings_text(sim, accounts=keys, rules=rules, state=state,
                                    api_key_file=api_key, reconcile=reconcile, stale=stale))
    return World(sim, tmp, accounts, config, rules, state, api_key)


@pytest.fixture
async def world(sim: Simulator, tmp_path: Path) -> AsyncIterator[World]:
    built = await make_world(sim, tmp_path, [AccountSpec(seed_key(11))])
    try:
        yield built
    finally:
        await finish(built)


async def finish(world: World) -> None:
    for daemon in world.daemons:
        daemon.kill()
    for trader in world.traders:
        await trader.aclose()
