"""Fixtures for the submitter against the simulator on a real loopback port and a real SQLite
state file; helpers live in `submitter_support`.

The suite runs in importlib mode, where sibling modules are not importable by name; this
directory goes on sys.path so test modules can `import submitter_support`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from submitter_support import Rig  # noqa: E402

from daemon.sim import SimConfig, run_simulator  # noqa: E402
from daemon.sim.config import DedupeScope  # noqa: E402


@contextlib.asynccontextmanager
async def _rig(tmp_path: Path, **config: Any) -> AsyncIterator[Rig]:
    # A 2 s credit window keeps a 429's stated wait (seconds until the window refreshes) short.
    sim_config = SimConfig(ip_quota=Decimal(1_000_000), credit_window_ms=2_000, **config)
    async with run_simulator(sim_config) as simulator:
        await simulator.set_prices({"BTC": Decimal(60_000), "ETH": Decimal(3_000)})
        async with Rig.start(simulator, tmp_path) as ready:
            yield ready


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with _rig(tmp_path) as ready:
        yield ready


@pytest.fixture
async def open_scope_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """An exchange that answers "Duplicate client order id" only while that order is open."""
    async with _rig(tmp_path, dedupe_scope=DedupeScope.OPEN) as ready:
        yield ready
