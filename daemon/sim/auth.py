"""Who sent a signed POST: signature, expiry and agent binding, checked before anything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.pacifica.signing import AGENT_PAYLOAD_OPERATIONS, inspect_request
from daemon.sim.errors import bad_request
from daemon.sim.exchange import Exchange


def authenticate(exchange: Exchange, body: object, operation: str, now: int) -> str:
    """Return the account a verified body acts for, or raise Pacifica's 400 (§1.5, §1.2).

    An agent wallet must have been bound to the account by its main key; an unbound one gets
    "Unauthorized", as MCP saw on testnet. Accounts come to exist on their first signed request.
    """
    if not isinstance(body, Mapping):
        raise bad_request("Invalid message")
    problem = inspect_request(body, operation, now_ms=now)
    if problem is not None:
        raise bad_request(problem.value)
    account = _address(body, "account")
    agent = body.get("agent_wallet")
    if operation not in AGENT_PAYLOAD_OPERATIONS and agent is not None and (
            not isinstance(agent, str) or not exchange.is_bound(account, agent)):
        raise bad_request("Unauthorized")
    exchange.account(account, now)
    return account


def _address(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request("Invalid public key")
    return value
