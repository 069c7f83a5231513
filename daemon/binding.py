"""Is this account's agent key still bound? Asked once at start.

An agent key the account has not bound (or has revoked) gets every order refused as
"Unauthorized", so the daemon would look healthy while every position stays bare: the start
stops and says what to do. Only a definite answer stops it:
- `/agent/list` answers, and the key is not in it; or
- it is refused as unauthorised, and so is a cancel of a random id that cannot exist (which a
  bound agent gets answered "not found"). Whether live Pacifica lets an agent itself ask
  `/agent/list` is not documented (the simulator lets a bound agent ask), hence the probe:
  it tells "agents may not ask" from "this agent is not bound", and touches no order.
No answer at all is only a warning; the orders' own answers then show in the log and status.
"""

from __future__ import annotations

import uuid

import structlog

from daemon.pacifica.errors import AuthError, ExchangeError
from daemon.pacifica.rest import PacificaRest

log = structlog.get_logger(__name__)


async def agent_binding_problem(rest: PacificaRest, symbol: str) -> str | None:
    """What stops the start (None: a main key, a bound agent, or no definite answer).
    `symbol` is any listed market's, for the probe."""
    keypair = rest.keypair
    if keypair is None or not rest.is_agent:
        return None
    agent = keypair.public_key
    try:
        bound = await rest.list_agent_wallets()
        if agent in bound:
            return None
    except AuthError as refused:
        if not await _refused_as_unauthorised(rest, symbol):
            log.info("agent.list_refused", account=rest.account, agent=agent,
                     error=str(refused)[:300])
            return None
    except ExchangeError as error:
        _unknown(rest, agent, error)
        return None
    return (f"account {rest.account}: the agent key {agent} is not bound to it (never bound, "
            "or revoked): bind it once with the account's main key (docs/deploy.md), then "
            "start again")


async def _refused_as_unauthorised(rest: PacificaRest, symbol: str) -> bool:
    # A random version-4 id carries no account tag: it is not one of ours, nor (with 122
    # random bits) anyone's, so nothing can be cancelled by it.
    try:
        await rest.cancel_order(symbol, client_order_id=str(uuid.uuid4()))
    except AuthError:
        return True
    except ExchangeError as error:
        _unknown(rest, rest.keypair.public_key if rest.keypair else None, error)
    return False


def _unknown(rest: PacificaRest, agent: str | None, error: ExchangeError) -> None:
    log.warning("agent.binding_unknown", account=rest.account, agent=agent,
                error=str(error)[:300],
                hint="if orders are refused as Unauthorized, bind the agent with the main key")
