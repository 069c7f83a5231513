"""Revoking agent wallets (pacifica-api.md §1.2-1.3), signed by the main key only.

`/agent/revoke` carries the agent as its signed payload (`agent_wallet`, verified against
`account`, as a bind is), so an agent's own signature fails verification. `/agent/revoke_all`
has an empty payload; a body naming an `agent_wallet` signer is refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from daemon.sim.apikeys import main_key_only
from daemon.sim.errors import bad_request

if TYPE_CHECKING:
    from daemon.sim.server import Simulator


def revoke(sim: Simulator, account: str, body: Mapping[str, Any], now: int) -> Any:
    agents = sim.exchange.account(account, now).agents
    agent = body.get("agent_wallet")
    if not isinstance(agent, str) or agent not in agents:
        raise bad_request("Agent wallet not found")
    agents.discard(agent)
    return None


def revoke_all(sim: Simulator, account: str, body: Mapping[str, Any], now: int) -> Any:
    main_key_only(body)
    sim.exchange.account(account, now).agents.clear()
    return None
