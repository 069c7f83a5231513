"""Simulator tests share signed-client helpers from `sim_support` (importlib mode needs the
directory on sys.path for that)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sim_support import MAIN, MARKS, Trader  # noqa: E402

if TYPE_CHECKING:
    from daemon.sim import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    from daemon.sim import run_simulator

    async with run_simulator() as simulator:
        await simulator.set_prices(MARKS)
        yield simulator


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def trader(http: httpx.AsyncClient) -> Trader:
    """The main account, trading with its own key and an API config key's credit budget."""
    return Trader(http, MAIN)
