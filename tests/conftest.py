"""Shared fixtures: a real simulator on a loopback port, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from daemon.sim import Simulator

# CI runs the default profile; `HYPOTHESIS_PROFILE=thorough` digs deeper locally.
settings.register_profile("default", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fresh simulator per test, REST and WebSocket on one ephemeral loopback port."""
    from daemon.sim import run_simulator

    async with run_simulator() as simulator:
        yield simulator
