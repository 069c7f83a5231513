"""Revoking agent wallets (pacifica-api.md §1.2-1.3), signed by the main key only.

`/agent/revoke` carries the agent as its signed payload (`agent_wallet`, verified against
`account`, as a bind is), so an agent's own signature fails verification. `/agent/revoke_all`
has an empty payload; a body naming an `agent_wallet` signer is refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.sim.apikeys import main_key_only, remove_named
from daemon.sim.host import SimHost


def revoke(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    remove_named(sim.exchange.account(account, now).agents, body.get("agent_wallet"),
                 "Agent wallet not found")
    return None


def revoke_all(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    main_key_only(body)
    sim.exchange.account(account, now).agents.clear()
    return None
