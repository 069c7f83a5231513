"""A Pacifica-compatible exchange on loopback: REST under /api/v1, streams at /ws.

`run_simulator()` starts one on an ephemeral port for tests and the demo; `stopd sim` runs one
from the command line. See docs/simulator.md.

The server parts load on first use, so `import daemon.sim.cli` (done by every `stopd`
command) works where the optional aiohttp dependency is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daemon.sim.config import SimConfig

if TYPE_CHECKING:
    from daemon.sim.server import Simulator, run_simulator

__all__ = ["SimConfig", "Simulator", "run_simulator"]


def __getattr__(name: str) -> Any:
    if name in ("Simulator", "run_simulator"):
        from daemon.sim import server

        return getattr(server, name)
    raise AttributeError(f"module 'daemon.sim' has no attribute {name!r}")
