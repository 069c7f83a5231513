"""Pacifica's REST API under /api/v1: routes, envelopes, credits and injected faults.

Handlers only translate: JSON in, a call on the pure `Exchange`, an envelope out
(`{"success","data","error","code"}`, pacifica-api.md §2). Every signed POST is verified
before its fields are looked at.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from daemon.sim import reads
from daemon.sim.actions import SIGNED_ROUTES, Action, run_batch
from daemon.sim.auth import authenticate
from daemon.sim.errors import ExchangeError
from daemon.sim.host import SimHost
from daemon.sim.http import Handler, credit_account, envelope, failure

log = structlog.get_logger(__name__)

PREFIX = "/api/v1"
# Heavy GETs as Hummingbot's connector prices them (pacifica-api.md §5), and /kline/mark as
# ccxt prices it.
HEAVY_GETS = frozenset({"/positions", "/account", "/info", "/info/prices", "/kline",
                        "/kline/mark", "/book",
                        "/orders/history_by_id", "/trades/history", "/funding/history",
                        "/account/builder_codes/approvals"})
CANCELS = frozenset({"/orders/cancel", "/orders/stop/cancel", "/orders/cancel_all"})


def make_middleware(sim: SimHost) -> Any:
    @web.middleware
    async def api(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
            return await handler(request)
        faults = sim.faults
        key = request.headers.get("PF-API-KEY")
        ident, quota = credit_account(sim.config, key, request.remote)
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
        log.exception("sim.request_failed", method=request.method, path=request.path)
        return failure(500, "Internal server error")


def _lose(request: web.Request, mode: str) -> web.StreamResponse:
    """The order is committed; its answer never arrives."""
    if mode == "reset" and request.transport is not None:
        request.transport.abort()
    return failure(504, "Gateway Timeout")


def _cost(sim: SimHost, request: web.Request, keyed: bool) -> Decimal:
    costs = sim.config.credit_costs
    path = request.path[len(PREFIX):]
    if request.method == "GET" and path in HEAVY_GETS:
        return costs.heavy_get_key if keyed else costs.heavy_get_ip
    if request.method == "POST" and path in CANCELS:
        return costs.cancel
    return costs.standard


def signed(sim: SimHost, operation: str, action: Action) -> Handler:
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


def batch(sim: SimHost) -> Handler:
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


def add_routes(app: web.Application, sim: SimHost) -> None:
    for path, operation, action in SIGNED_ROUTES:
        app.router.add_post(PREFIX + path, signed(sim, operation, action))
    app.router.add_post(PREFIX + "/orders/batch", batch(sim))
    for path, read in reads.READ_ROUTES:
        app.router.add_get(PREFIX + path, _reader(sim, read))
    app.router.add_route("*", PREFIX + "/{tail:.*}", _not_found)


async def _not_found(request: web.Request) -> web.StreamResponse:
    return failure(404, "Not found")


def _reader(sim: SimHost, read: Callable[[SimHost, Mapping[str, str]], web.Response]
            ) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return read(sim, request.query)
        except ExchangeError as refused:
            return failure(refused.status, refused.message, refused.code)

    return handle
