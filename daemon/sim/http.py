"""HTTP helpers every REST handler shares: Pacifica's envelope, query parameters, and whose
credits a request spends."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from daemon.sim.config import SimConfig
from daemon.sim.errors import bad_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def envelope(data: Any = None, status: int = 200, **extra: Any) -> web.Response:
    body = {"success": True, "data": data, "error": None, "code": None, **extra}
    return web.json_response(body, status=status, dumps=dumps)


def failure(status: int, message: str, code: int | None = None) -> web.Response:
    body = {"success": False, "data": None, "error": message,
            "code": status if code is None else code}
    return web.json_response(body, status=status, dumps=dumps)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def credit_account(config: SimConfig, api_key: str | None, remote: str | None
                   ) -> tuple[str, Decimal]:
    """Whose credits a request spends, and their quota: the API config key's, else the IP's
    (REST and WebSocket trading share them, pacifica-api.md §5)."""
    if api_key:
        return f"key:{api_key}", config.api_key_quota
    return f"ip:{remote}", config.ip_quota


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
