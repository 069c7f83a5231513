"""What each signed operation does, apart from HTTP: shared by REST, /orders/batch and
trading over the WebSocket. Every action gets a verified account and returns `data`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import base58

from daemon.pacifica.signing import SignatureProblem
from daemon.sim import agents, apikeys
from daemon.sim.auth import authenticate
from daemon.sim.errors import ExchangeError, bad_request
from daemon.sim.host import SimHost

Action = Callable[[SimHost, str, Mapping[str, Any], int], Any]


def create_market(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    order = sim.exchange.place_order(account, sim.parser.order(body, limit=False), now)
    return {"order_id": order.order_id}


def create_limit(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    order = sim.exchange.place_order(account, sim.parser.order(body, limit=True), now)
    return {"order_id": order.order_id}


def create_stop(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    order = sim.exchange.place_stop(account, sim.parser.stop(body), now)
    return {"order_id": order.order_id}


def cancel_stop(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    sim.exchange.cancel(account, sim.parser.cancel(body), now, stop=True)
    return None


def cancel(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    sim.exchange.cancel(account, sim.parser.cancel(body), now, stop=False)
    return None


def edit(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    return {"order_id": sim.exchange.edit(account, sim.parser.edit(body), now).order_id}


def cancel_all(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    return {"cancelled_count": sim.exchange.cancel_all(account, sim.parser.cancel_all(body), now)}


def tpsl(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    sim.exchange.set_tpsl(account, sim.parser.tpsl(body), now)
    return None


def bind(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    agent = body.get("agent_wallet")
    try:
        valid = isinstance(agent, str) and len(base58.b58decode(agent)) == 32
    except ValueError:
        valid = False
    if not valid:
        raise bad_request("Invalid public key")
    assert isinstance(agent, str)
    sim.exchange.bind_agent(account, agent, now)
    return None


def leverage(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    market = sim.parser.market(body)
    leverage = body.get("leverage")
    if isinstance(leverage, bool) or not isinstance(leverage, int):
        raise bad_request("Invalid leverage: expected an integer")
    sim.exchange.set_leverage(account, market.symbol, leverage, now)
    return None


def margin_mode(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    """`update_margin_mode`, `{symbol, is_isolated}` (the Rust SDK's and blackcubeio's
    payload); it shows in /account/settings."""
    market = sim.parser.market(body)
    isolated = body.get("is_isolated")
    if not isinstance(isolated, bool):
        raise bad_request("Invalid is_isolated: expected true or false")
    sim.exchange.set_margin_mode(account, market.symbol, isolated, now)
    return None


def list_agents(sim: SimHost, account: str, body: Mapping[str, Any], now: int) -> Any:
    """`{"agent_wallets": [<pubkey>, ...]}` (blackcubeio/pacifica-sdk list-agent-wallets.ts);
    a bound agent may ask too, so a daemon can check at start that it is still bound (an
    unbound one gets "Unauthorized" before it gets here)."""
    return {"agent_wallets": sorted(sim.exchange.account(account, now).agents)}


SIGNED_ROUTES: tuple[tuple[str, str, Action], ...] = (
    ("/orders/create_market", "create_market_order", create_market),
    ("/orders/create", "create_order", create_limit),
    ("/orders/stop/create", "create_stop_order", create_stop),
    ("/orders/stop/cancel", "cancel_stop_order", cancel_stop),
    ("/orders/cancel", "cancel_order", cancel),
    ("/orders/cancel_all", "cancel_all_orders", cancel_all),
    ("/orders/edit", "edit_order", edit),
    ("/positions/tpsl", "set_position_tpsl", tpsl),
    ("/agent/bind", "bind_agent_wallet", bind),
    ("/account/leverage", "update_leverage", leverage),
    ("/account/margin", "update_margin_mode", margin_mode),
    ("/agent/list", "list_agent_wallets", list_agents),
    ("/account/api_keys", "list_api_keys", apikeys.list_keys),
    ("/account/api_keys/create", "create_api_key", apikeys.create_key),
    ("/account/api_keys/revoke", "revoke_api_key", apikeys.revoke_key),
    ("/agent/revoke", "revoke_agent_wallet", agents.revoke),
    ("/agent/revoke_all", "revoke_all_agent_wallets", agents.revoke_all),
)


# /orders/batch action types; each action's `data` is a fully signed body of its own type.
BATCH_ACTIONS: dict[str, tuple[str, Action]] = {
    "Create": ("create_order", create_limit),
    "CreateMarket": ("create_market_order", create_market),
    "Cancel": ("cancel_order", cancel),
    "CancelStopOrder": ("cancel_stop_order", cancel_stop),
    "SetPositionTpsl": ("set_position_tpsl", tpsl),
    "Edit": ("edit_order", edit),
}
MAX_BATCH = 10


def run_batch(sim: SimHost, body: object, now: int) -> dict[str, Any]:
    """Up to 10 actions run in order; a failing one does not stop the rest, but one bad
    signature refuses the whole batch before anything runs (pacifica-api.md §2.4)."""
    actions = body.get("actions") if isinstance(body, dict) else None
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_BATCH:
        raise bad_request(f"A batch takes 1 to {MAX_BATCH} actions")
    verified = []
    for item in actions:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in BATCH_ACTIONS or not isinstance(item.get("data"), dict):
            raise bad_request(f"Invalid batch action: {str(kind)[:40]!r}")
        operation, action = BATCH_ACTIONS[kind]
        try:
            account = authenticate(sim.exchange, item["data"], operation, now)
        except ExchangeError as refused:
            # A batch answers a signature that does not verify with "Invalid signature"
            # (what MCP saw, pacifica-api.md §2.4), not the single request's text.
            if refused.message == SignatureProblem.VERIFICATION_FAILED:
                raise bad_request(SignatureProblem.INVALID_SIGNATURE.value) from None
            raise
        verified.append((account, item["data"], action))
    results = []
    for account, data, action in verified:
        try:
            out = action(sim, account, data, now)
        except ExchangeError as refused:
            results.append({"success": False, "order_id": None, "error": refused.message})
            continue
        order_id = out.get("order_id") if isinstance(out, dict) else None
        results.append({"success": True, "order_id": order_id, "error": None})
    return {"results": results}
