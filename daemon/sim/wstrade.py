"""Trading over the WebSocket (pacifica-api.md §4): `{"id", "params": {"<op>": <signed body>}}`.

The same signed bodies and actions as REST; answers carry WS codes: 200 ok, 400 invalid
request, 401 invalid signature, 402 invalid signer, 403 unauthorized, 420 engine error.
Stops and TP/SL are not offered here, as on Pacifica.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.pacifica.signing import SignatureProblem
from daemon.sim import actions
from daemon.sim.auth import authenticate
from daemon.sim.errors import ExchangeError
from daemon.sim.host import SimHost
from daemon.sim.http import credit_account

WS_ACTIONS: dict[str, actions.Action] = {
    "create_market_order": actions.create_market,
    "create_order": actions.create_limit,
    "edit_order": actions.edit,
    "cancel_order": actions.cancel,
    "cancel_all_orders": actions.cancel_all,
}
WS_OPERATIONS = frozenset({*WS_ACTIONS, "batch_orders"})


def ws_code(refused: ExchangeError) -> int:
    if refused.status == 422:
        return 420
    if refused.message == "Unauthorized":
        return 403
    if refused.message == SignatureProblem.INVALID_PUBLIC_KEY:
        return 402
    if refused.message in (SignatureProblem.INVALID_SIGNATURE,
                           SignatureProblem.VERIFICATION_FAILED):
        return 401
    return refused.status if refused.status in (429, 500) else 400


# Cancels cost half a credit over the socket as over REST (pacifica-api.md §5).
WS_CANCELS = frozenset({"cancel_order", "cancel_all_orders"})


def reply(sim: SimHost, operation: str, body: object, request_id: object,
          caller: tuple[str | None, str | None]) -> dict[str, Any]:
    """Run one WS trading request and build its answer frame, `rl` included (§4)."""
    now = sim.now_ms()
    ident, quota = credit_account(sim.config, *caller)
    costs = sim.config.credit_costs
    verdict = sim.credits.charge(ident, quota, costs.cancel if operation in WS_CANCELS
                                 else costs.standard, now)
    # The same tenths as the REST `ratelimit` header carries.
    rl = {"r": int(verdict.remaining * 10), "q": int(verdict.quota * 10),
          "t": verdict.refresh_seconds}
    base = {"id": request_id, "t": now, "type": operation, "rl": rl}
    if not verdict.allowed:
        return {"code": 429, "err": "Rate limit exceeded", **base}
    try:
        if operation == "batch_orders":
            data: Any = actions.run_batch(sim, body, now)
        else:
            account = authenticate(sim.exchange, body, operation, now)
            assert isinstance(body, Mapping)
            data = _summary(sim, body, WS_ACTIONS[operation](sim, account, body, now))
    except ExchangeError as refused:
        return {"code": ws_code(refused), "err": refused.message, **base}
    finally:
        sim.flush()
    return {"code": 200, "data": data, **base}


def _summary(sim: SimHost, body: Mapping[str, Any], out: Any) -> Any:
    """`{"I": cloid, "i": order_id, "s": symbol}` for what the request touched."""
    if isinstance(out, dict) and "order_id" in out:
        order = sim.exchange.orders[out["order_id"]]
        return {"I": order.client_order_id, "i": order.order_id, "s": order.symbol}
    if out is None:
        return {"I": body.get("client_order_id"), "i": body.get("order_id"),
                "s": body.get("symbol")}
    return out
