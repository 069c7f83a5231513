"""Control endpoints under /sim (never /api/v1): prices, faults, state, funding, reset.

Their answers are the simulator's own plain JSON, not Pacifica's envelope.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from daemon.sim import wire
from daemon.sim.decimals import decimal_or_reason
from daemon.sim.faults import FaultError
from daemon.sim.host import PriceUpdate, SimHost

QUOTE_FIELDS = ("mark", "mid", "oracle", "last")


class ControlError(ValueError):
    pass


def _reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status,
                             dumps=lambda v: json.dumps(v, separators=(",", ":")))


def _refuse(message: str) -> web.Response:
    return _reply({"error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except ValueError:
        raise ControlError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _decimal(raw: object, where: str) -> Decimal:
    value = decimal_or_reason(raw)
    if isinstance(value, str):
        raise ControlError(f"{where}: {value}")
    if value <= 0:
        raise ControlError(f"{where}: must be a positive number")
    return value


def parse_prices(body: dict[str, Any], symbols: set[str]) -> dict[str, PriceUpdate]:
    """`{"BTC": "61000.5"}` moves every price of BTC; `{"BTC": {"mid": "61001"}}` only some."""
    updates: dict[str, PriceUpdate] = {}
    for symbol, raw in body.items():
        if symbol not in symbols:
            raise ControlError(f"{symbol}: unknown symbol")
        if isinstance(raw, dict):
            unknown = set(raw) - set(QUOTE_FIELDS)
            if unknown or not raw:
                raise ControlError(f"{symbol}: expected some of {', '.join(QUOTE_FIELDS)}")
            updates[symbol] = {k: _decimal(v, f"{symbol}.{k}") for k, v in raw.items()}
        else:
            updates[symbol] = _decimal(raw, symbol)
    return updates


def add_routes(app: web.Application, sim: SimHost) -> None:
    def guarded(handler: Callable[[web.Request], Awaitable[web.Response]]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except (ControlError, FaultError) as bad:
                return _refuse(str(bad))

        return run

    async def prices(request: web.Request) -> web.Response:
        updates = parse_prices(await _body(request), set(sim.exchange.quotes))
        await sim.set_prices(updates)
        return _reply(wire.prices(sim.exchange))

    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST" and sim.faults.update(await _body(request)):
            sim.hub.drop_all()
        return _reply(sim.faults.as_dict())

    async def state(request: web.Request) -> web.Response:
        return _reply(sim.state())

    async def fund(request: web.Request) -> web.Response:
        body = await _body(request)
        account = body.get("account")
        if not isinstance(account, str) or not account:
            raise ControlError("account: expected an account address")
        sim.fund(account, _decimal(body.get("collateral"), "collateral"))
        return _reply(wire.account_info(sim.exchange, sim.exchange.accounts[account]))

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        sim.faults.clear()
        return _reply({"reset": True})

    app.router.add_post("/sim/prices", guarded(prices))
    app.router.add_post("/sim/faults", guarded(faults))
    app.router.add_get("/sim/faults", guarded(faults))
    app.router.add_get("/sim/state", guarded(state))
    app.router.add_post("/sim/fund", guarded(fund))
    app.router.add_post("/sim/reset", guarded(reset))
