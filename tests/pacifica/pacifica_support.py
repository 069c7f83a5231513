"""Client-side helpers for tests against the simulator: keys, clients with a recorded sleep,
and a transport wrapper that sees (or tampers with) what goes over the wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from nacl.signing import SigningKey

from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair

if TYPE_CHECKING:
    from daemon.sim import Simulator


def keypair(n: int) -> Keypair:
    """A deterministic test key; n picks which."""
    return Keypair(SigningKey(bytes([n]) * 32))


@dataclass
class Wire(httpx.AsyncBaseTransport):
    """A real HTTP transport that records every exchange and can rewrite bodies after signing."""

    tamper: Callable[[dict[str, Any]], None] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)
    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            if self.tamper is not None:
                self.tamper(body)
                request = httpx.Request("POST", request.url, headers={
                    k: v for k, v in request.headers.items() if k.lower() != "content-length"},
                    json=body)
            self.sent.append(body)
        response = await self.inner.handle_async_request(request)
        self.answers.append(response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Harness:
    sim: Simulator
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, key: Keypair, *, wire: Wire | None = None, **kwargs: Any) -> PacificaRest:
        retry = kwargs.pop("retry", None) or RetryPolicy(
            attempts=4, max_rate_limit_wait=120.0, sleep=self.sleep, rng=lambda: 0.5)
        return PacificaRest(self.sim.base_url, keypair=key, retry=retry,
                            http_transport=wire, **kwargs)

    async def faults(self, **faults: Any) -> dict[str, Any]:
        async with httpx.AsyncClient() as control:
            answer = await control.post(f"{self.sim.root_url}/sim/faults", json=faults)
            answer.raise_for_status()
            result: dict[str, Any] = answer.json()
            return result

    def orders_with(self, cloid: str) -> list[dict[str, Any]]:
        return [o for o in self.sim.state()["orders"] if o.get("client_order_id") == cloid]
