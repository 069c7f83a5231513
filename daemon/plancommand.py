"""`stopd plan`: what the daemon would do now, per position, sending nothing.

One shot per account: read markets, prices, positions and open orders over REST, evaluate
the rules and plan, then print each position's rule, its current and desired stops and the
actions the daemon would take (with `--json`, only the JSON document on stdout; logs go to
stderr). No order is signed or sent, and the state file is not opened: the engine starts from
empty memory, adopting the resting stops as the daemon does after losing its state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from daemon import ids
from daemon.domain import OpenOrder, Position, Side
from daemon.engine import Action, Cancel, CloseMarket, Memory, Move, Place, evaluate, plan
from daemon.logs import configure_logging
from daemon.pacifica.errors import ExchangeError
from daemon.pacifica.rest import PacificaRest
from daemon.service import Credentials, StartError, load_credentials, load_rules
from daemon.settings import Settings, SettingsError, load_settings


def run_plan(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        print(str(error), file=sys.stderr)
        return 2
    configure_logging(level="warning")
    try:
        document = asyncio.run(plan_document(settings, os.environ))
    except StartError as error:
        print(f"stopd plan: {error}", file=sys.stderr)
        return error.code
    except ExchangeError as error:
        print(f"stopd plan: the exchange did not answer: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(render(document))
    return 0


async def plan_document(settings: Settings, env: Any) -> dict[str, Any]:
    credentials = load_credentials(settings, env)
    book, problems = load_rules(settings.rules)
    if book is None:
        raise StartError("the rules do not load:\n" + "\n".join(problems), code=2)
    api_key = None
    if settings.exchange.api_key_file is not None:
        from daemon.keys import KeyLoadError, load_api_key
        try:
            api_key = load_api_key(settings.exchange.api_key_file)
        except KeyLoadError as error:
            raise StartError(str(error)) from None
    accounts = [await _account(settings, book, cred, api_key) for cred in credentials]
    return {"generated_at": datetime.now(UTC).isoformat(), "rules": str(settings.rules),
            "accounts": accounts}


async def _account(settings: Settings, book: Any, cred: Credentials, api_key: str | None
                   ) -> dict[str, Any]:
    # Reads only: the client gets no keypair, so it could not sign even by mistake.
    async with PacificaRest(settings.exchange.rest_url, account=cred.address,
                            api_key=api_key) as rest:
        markets = await rest.markets()
        prices = await rest.prices()
        positions = await rest.positions()
        live = await rest.open_orders()
    now = datetime.now(UTC)
    evaluation = evaluate(book, positions, prices, markets, Memory(), now,
                          account=cred.address, live=live)
    result = plan(evaluation.desired, live, account=cred.address,
                  positions=[p.key for p in positions], memory=evaluation.memory, now=now)
    rows = []
    for position in positions:
        outcome = evaluation.results.get(position.key)
        price = prices.get(position.symbol)
        rows.append({
            "symbol": position.symbol,
            "side": "long" if position.side is Side.BID else "short",
            "amount": _fmt(position.amount), "entry_price": _fmt(position.entry_price),
            "created_at": position.created_at,
            "mark": _fmt(price.mark) if price is not None else None,
            "rule": outcome.rule if outcome is not None else None,
            "current": [_order(o) for o in _ours(cred.address, position, live)],
            "desired": [{"leg": leg.leg, "kind": leg.kind.value,
                         "stop_price": _fmt(leg.stop_price), "amount": _fmt(leg.amount),
                         "component": leg.component,
                         "loosened_from": _fmt(leg.loosened_from)}
                        for leg in (outcome.legs if outcome is not None else ())],
            "actions": [_action(a) for a in result.actions
                        if _belongs(cred.address, a, position)],
            "notices": [n.message for n in (outcome.notices if outcome is not None else ())],
        })
    orphans = [_action(a) for a in result.actions if isinstance(a, Cancel)
               and not any(_belongs(cred.address, a, p) for p in positions)]
    foreign = [o.order_id for o in live if not ids.is_ours(o.client_order_id, cred.address)]
    return {"address": cred.address, "positions": rows, "orphans": orphans,
            "foreign_orders": foreign}


def _ours(address: str, position: Position, live: Sequence[OpenOrder]) -> list[OpenOrder]:
    return [o for o in live if ids.belongs_to(o.client_order_id, address, position.key)]


def _belongs(address: str, action: Action, position: Position) -> bool:
    if isinstance(action, Cancel):
        return ids.belongs_to(action.order.client_order_id, address, position.key)
    return action.order.key == position.key


def _order(order: OpenOrder) -> dict[str, Any]:
    parsed = ids.parse(order.client_order_id)
    return {"leg": ids.leg_name(parsed.leg) if parsed else None, "order_id": order.order_id,
            "client_order_id": order.client_order_id, "stop_price": _fmt(order.stop_price),
            "amount": _fmt(order.remaining)}


def _action(action: Action) -> dict[str, Any]:
    kind = ("cancel" if isinstance(action, Cancel) else "close"
            if isinstance(action, CloseMarket) else type(action).__name__.lower()
            if isinstance(action, Move) else "place")
    assert isinstance(action, (Cancel, CloseMarket, Move, Place))
    out: dict[str, Any] = {"action": kind, "reason": action.reason,
                           "client_order_id": action.order.client_order_id}
    if isinstance(action, Move):
        out["loosens"] = action.loosens
    return out


def _fmt(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def render(document: dict[str, Any]) -> str:
    lines = [f"rules: {document['rules']}  (nothing is sent: this is a plan)"]
    for account in document["accounts"]:
        lines.append(f"account {account['address']}")
        if not account["positions"]:
            lines.append("  no open positions")
        for p in account["positions"]:
            rule = p["rule"] or "NO RULE (not covered)"
            lines.append(f"  {p['symbol']} {p['side']} {p['amount']} entry {p['entry_price']} "
                         f"mark {p['mark'] or '-'}: rule {rule}")
            for order in p["current"]:
                lines.append(f"    current {order['leg']}: stop {order['stop_price']} "
                             f"amount {order['amount']}")
            for leg in p["desired"]:
                lines.append(f"    desired {leg['leg']}: {leg['kind']} "
                             f"{leg['stop_price'] or 'at market'} amount {leg['amount']} "
                             f"({leg['component']})")
            for action in p["actions"]:
                lines.append(f"    action: {action['reason']}")
            if not p["actions"]:
                lines.append("    action: none (in line with the rule)")
            for notice in p["notices"]:
                lines.append(f"    note: {notice}")
        for action in account["orphans"]:
            lines.append(f"  action: {action['reason']}")
        if account["foreign_orders"]:
            lines.append(f"  {len(account['foreign_orders'])} order(s) not ours: left alone")
    return "\n".join(lines)
