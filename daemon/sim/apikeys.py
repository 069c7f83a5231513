"""API config keys (pacifica-api.md §5): list, create and revoke, signed by the main key only.

Hummingbot's connector lists the account's keys at start and creates one when there is none,
so these must answer in Pacifica's shapes: `{"active_api_keys": [...], "api_key_limit": 5}`
and `{"api_key": "..."}`. An agent key may not manage them (§1.2: 400 "Verification failed").
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import base58

from daemon.pacifica.signing import SignatureProblem
from daemon.sim.errors import bad_request
from daemon.sim.host import SimHost

API_KEY_LIMIT = 5


def main_key_only(body: Mapping[str, Any]) -> None:
    if body.get("agent_wallet") is not None:
        raise bad_request(SignatureProblem.VERIFICATION_FAILED.value)


def list_keys(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    main_key_only(body)
    keys = sim.exchange.account(account, now).api_keys
    return {"active_api_keys": list(keys), "api_key_limit": API_KEY_LIMIT}


def create_key(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    main_key_only(body)
    keys = sim.exchange.account(account, now).api_keys
    if len(keys) >= API_KEY_LIMIT:
        raise bad_request(f"API key limit reached: at most {API_KEY_LIMIT} per account")
    # The shape of live keys (Hummingbot's sample): two base58 runs joined by an underscore.
    key = (f"{base58.b58encode(secrets.token_bytes(6)).decode()}_"
           f"{base58.b58encode(secrets.token_bytes(16)).decode()}")
    keys.append(key)
    return {"api_key": key}


def revoke_key(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    main_key_only(body)
    remove_named(sim.exchange.account(account, now).api_keys, body.get("api_key"),
                 "API key not found")
    return None


def remove_named(names: list[str] | set[str], name: object, missing: str) -> None:
    """Drop `name` from an account's keys or agents, or refuse with `missing` (400)."""
    if not isinstance(name, str) or name not in names:
        raise bad_request(missing)
    names.remove(name)
