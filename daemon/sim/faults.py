"""Faults the simulator injects on request (POST /sim/faults), deterministic enough to test.

Counts ("the next n requests") give certainty; `error_rate` draws from a seeded RNG so a run
repeats exactly for the same seed and request sequence.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOSE_MODES = ("504", "reset")


class FaultError(ValueError):
    """A fault request that cannot be applied; the message names the field."""


@dataclass(slots=True)
class Faults:
    seed: int = 0
    latency_ms: int = 0  # added before every /api/v1 answer
    error_rate: float = 0.0  # share of /api/v1 requests answered 500, before any effect
    error_count: int = 0  # the next n /api/v1 requests answer 500, before any effect
    burst_429: int = 0  # the next n /api/v1 requests answer 429
    lose_response_after_commit: int = 0  # the next n successful POSTs commit, answer is lost
    lose_mode: str = "504"  # "504": Gateway Timeout; "reset": the connection is cut
    duplicate_frames: bool = False  # every stream frame is sent twice
    stall_ws: bool = False  # half-open: sockets stay up but nothing is sent, pings unanswered
    clock_skew_ms: int = 0  # the server clock runs this far ahead (negative: behind)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - fault dice, not cryptography

    def update(self, request: Mapping[str, Any]) -> bool:
        """Apply a POST /sim/faults body; returns True when `drop_ws` asks for a drop now."""
        unknown = set(request) - {*self.as_dict(), "drop_ws", "reset"}
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if request.get("reset") is True:
            self.clear()
        for name in ("latency_ms", "error_count", "burst_429", "lose_response_after_commit"):
            if name in request:
                setattr(self, name, _count(request[name], name))
        if "clock_skew_ms" in request:
            skew = request["clock_skew_ms"]
            if isinstance(skew, bool) or not isinstance(skew, int):
                raise FaultError("clock_skew_ms: expected a whole number of milliseconds")
            self.clock_skew_ms = skew
        if "error_rate" in request:
            rate = request["error_rate"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise FaultError("error_rate: expected a number from 0 to 1")
            self.error_rate = float(rate)
        if "lose_mode" in request:
            if request["lose_mode"] not in LOSE_MODES:
                raise FaultError("lose_mode: expected \"504\" or \"reset\"")
            self.lose_mode = str(request["lose_mode"])
        for name in ("duplicate_frames", "stall_ws", "drop_ws", "reset"):
            if name in request and not isinstance(request[name], bool):
                raise FaultError(f"{name}: expected true or false")
        for name in ("duplicate_frames", "stall_ws"):
            if name in request:
                setattr(self, name, request[name])
        return request.get("drop_ws") is True

    def clear(self) -> None:
        self.latency_ms = self.error_count = self.burst_429 = 0
        self.lose_response_after_commit = self.clock_skew_ms = 0
        self.error_rate = 0.0
        self.lose_mode = "504"
        self.duplicate_frames = self.stall_ws = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms, "error_rate": self.error_rate,
            "error_count": self.error_count, "burst_429": self.burst_429,
            "lose_response_after_commit": self.lose_response_after_commit,
            "lose_mode": self.lose_mode, "duplicate_frames": self.duplicate_frames,
            "stall_ws": self.stall_ws, "clock_skew_ms": self.clock_skew_ms,
        }

    def take_server_error(self) -> bool:
        if self.error_count > 0:
            self.error_count -= 1
            return True
        return self.error_rate > 0 and self._rng.random() < self.error_rate

    def take_429(self) -> bool:
        if self.burst_429 > 0:
            self.burst_429 -= 1
            return True
        return False

    def take_lost_response(self) -> bool:
        if self.lose_response_after_commit > 0:
            self.lose_response_after_commit -= 1
            return True
        return False


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{name}: expected a whole number >= 0")
    return value
