"""Fixtures for client tests against the simulator; helpers live in `pacifica_support`.

The suite runs in importlib mode, where sibling modules are not importable by name; this
directory goes on sys.path so test modules can `import pacifica_support`.
"""

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

from pacifica_support import Harness  # noqa: E402

if TYPE_CHECKING:
    from daemon.sim import Simulator


@pytest.fixture
async def roomy_sim() -> AsyncIterator[Simulator]:
    """A simulator whose credit budget never runs out unless a test asks for a 429."""
    from daemon.sim import SimConfig, run_simulator

    async with run_simulator(SimConfig(ip_quota=Decimal(1_000_000))) as simulator:
        await simulator.set_prices({"BTC": Decimal(60_000), "ETH": Decimal(3_000)})
        yield simulator


@pytest.fixture
def harness(roomy_sim: Simulator) -> Harness:
    return Harness(roomy_sim)
