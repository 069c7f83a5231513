"""Pacifica's REST API under /api/v1: routes, envelopes, credits and injected faults.

Handlers only translate: JSON in, a call on the pure `Exchange`, an envelope out
(`{"success","data","error","code"}`, pacifica-api.md §2). Every signed POST is verified
before its fields are looked at.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from daemon.sim.actions import SIGNED_ROUTES, Action, run_batch
from daemon.sim.auth import authenticate
from daemon.sim.errors import ExchangeError, bad_request

if TYPE_CHECKING:
    from daemon.sim.server import Simulator

_log = logging.getLogger("daemon.sim")

PREFIX = "/api/v1"
# Heavy GETs as Hummingbot's connector prices them (pacifica-api.md §5), and /kline/mark as
# ccxt prices it.
HEAVY_GETS = frozenset({"/positions", "/account", "/info", "/info/prices", "/kline",
                        "/kline/mark", "/book",
                        "/orders/history_by_id", "/trades/history", "/funding/history",
                        "/account/builder_codes/approvals"})
CANCELS = frozenset({"/orders/cancel", "/orders/stop/cancel", "/orders/cancel_all"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def envelope(data: Any = None, status: int = 200, **extra: Any) -> web.Response:
    body = {"success": True, "data": data, "error": None, "code": None, **extra}
    return web.json_response(body, status=status, dumps=_dumps)


def failure(status: int, message: str, code: int | None = None) -> web.Response:
    body = {"success": False, "data": None, "error": message,
            "code": status if code is None else code}
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def credit_account(sim: Simulator, api_key: str | None, remote: str | None
                   ) -> tuple[str, Decimal]:
    """Whose credits a request spends, and their quota: the API config key's, else the IP's
    (REST and WebSocket trading share them, pacifica-api.md §5)."""
    if api_key:
        return f"key:{api_key}", sim.config.api_key_quota
    return f"ip:{remote}", sim.config.ip_quota


def make_middleware(sim: Simulator) -> Any:
    @web.middleware
    async def api(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
            return await handler(request)
        faults = sim.faults
        key = request.headers.get("PF-API-KEY")
        ident, quota = credit_account(sim, key, request.remote)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        now = sim.now_ms()
        if faults.take_429():
            verdict = sim.credits.peek(ident, quota, now)
            response: web.StreamResponse = failure(429, "Rate limit exceeded")
        else:
            verdict = sim.credits.charge(ident, quota, _cost(sim, request, bool(key)), now)
            if not verdict.allowed:
                response = failure(429, "Rate limit exceeded")
            elif faults.take_server_error():
                response = failure(500, "Internal server error")
            else:
                response = await _answer(request, handler)
                if (request.method == "POST" and response.status == 200
                        and faults.take_lost_response()):
                    response = _lose(request, faults.lose_mode)
        response.headers.update(verdict.headers())
        return response

    return api


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return failure(404, "Not found")
    except web.HTTPMethodNotAllowed:
        return failure(405, "Method not allowed")
    except Exception:
        # A simulator bug must still answer in Pacifica's envelope, and loudly in the log.
        _log.exception("unhandled error answering %s %s", request.method, request.path)
        return failure(500, "Internal server error")


def _lose(request: web.Request, mode: str) -> web.StreamResponse:
    """The order is committed; its answer never arrives."""
    if mode == "reset" and request.transport is not None:
        request.transport.abort()
    return failure(504, "Gateway Timeout")


def _cost(sim: Simulator, request: web.Request, keyed: bool) -> Decimal:
    costs = sim.config.credit_costs
    path = request.path[len(PREFIX):]
    if request.method == "GET" and path in HEAVY_GETS:
        return costs.heavy_get_key if keyed else costs.heavy_get_ip
    if request.method == "POST" and path in CANCELS:
        return costs.cancel
    return costs.standard


def signed(sim: Simulator, operation: str, action: Action) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return failure(400, "Invalid message")
        now = sim.now_ms()
        try:
            account = authenticate(sim.exchange, body, operation, now)
            data = action(sim, account, body, now)
        except ExchangeError as refused:
            sim.flush()  # a TP/SL whose second leg failed still placed its first
            return failure(refused.status, refused.message, refused.code)
        sim.flush()
        return envelope(data)

    return handle


def batch(sim: Simulator) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return failure(400, "Invalid message")
        try:
            results = run_batch(sim, body, sim.now_ms())
        except ExchangeError as refused:
            return failure(refused.status, refused.message, refused.code)
        finally:
            sim.flush()
        return envelope(results)

    return handle


def add_routes(app: web.Application, sim: Simulator) -> None:
    from daemon.sim import reads

    for path, operation, action in SIGNED_ROUTES:
        app.router.add_post(PREFIX + path, signed(sim, operation, action))
    app.router.add_post(PREFIX + "/orders/batch", batch(sim))
    for path, read in reads.READ_ROUTES:
        app.router.add_get(PREFIX + path, _reader(sim, read))
    app.router.add_route("*", PREFIX + "/{tail:.*}", _not_found)


async def _not_found(request: web.Request) -> web.StreamResponse:
    return failure(404, "Not found")


def _reader(sim: Simulator, read: Callable[[Simulator, Mapping[str, str]], web.Response]
            ) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return read(sim, request.query)
        except ExchangeError as refused:
            return failure(refused.status, refused.message, refused.code)

    return handle


def account_param(query: Mapping[str, str]) -> str:
    account = query.get("account")
    if not account:
        raise bad_request("missing field `account`")
    return account


def int_param(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Invalid {name}: {raw[:40]!r} is not an integer") from None


