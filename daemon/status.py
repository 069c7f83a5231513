"""`stopd status`: the running daemon's status snapshot, read from its state file.

The daemon writes a snapshot every few seconds (daemon.service, built here by
`account_snapshot`); the command only reads it (read-only), so it works beside a running
daemon and never changes anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from daemon import ids
from daemon.account import Account
from daemon.domain import OpenOrder, Side
from daemon.engine import LegKind
from daemon.pacifica.feed import Channel
from daemon.settings import SettingsError, load_settings
from daemon.state import read_status

# Older than this, the snapshot is shown as possibly out of date (daemon stopped or stuck).
OLD_AFTER_S = 15.0


def summary_line(snapshot: Mapping[str, Any]) -> str:
    """One line for STATUS= and the top of `stopd status`."""
    accounts = snapshot.get("accounts") or []
    positions = sum(len(a.get("positions") or []) for a in accounts)
    bare = sum(1 for a in accounts for p in a.get("positions") or [] if p.get("bare"))
    stale = sum(1 for a in accounts if a.get("stale"))
    parts = [f"{len(accounts)} account(s)", f"{positions} position(s)", f"{bare} bare"]
    parts.append(f"feed stale on {stale}" if stale else "feed live")
    rules = snapshot.get("rules") or {}
    if rules.get("error"):
        parts.append("rules: reload failed, previous rules in force")
    if snapshot.get("dry_run"):
        parts.append("dry run")
    state = "degraded" if snapshot.get("degraded") else str(snapshot.get("state", "?"))
    return f"{state}: " + ", ".join(parts)


def run_status(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        print(str(error), file=sys.stderr)
        return 2
    snapshot = read_status(settings.state)
    if snapshot is None:
        print(f"stopd status: no status in {settings.state}: is `stopd run` running with "
              "this settings file?", file=sys.stderr)
        return 1
    age = time.time() - float(snapshot.get("updated_at") or 0)
    if args.json:
        document = dict(snapshot)
        document["age_s"] = round(age, 3)
        print(json.dumps(document, indent=2, sort_keys=True))
        return 0
    print(render(snapshot, age))
    return 0


def render(snapshot: Mapping[str, Any], age: float) -> str:
    lines = [summary_line(snapshot)]
    if age > OLD_AFTER_S:
        lines.append(f"  (snapshot {age:.0f} s old: the daemon may have stopped)")
    rules = snapshot.get("rules") or {}
    lines.append(f"rules: {rules.get('path')}" + (
        f"  RELOAD FAILED: {rules['error']}" if rules.get("error") else ""))
    if snapshot.get("job_errors"):
        lines.append(f"job errors: {snapshot['job_errors']} (last: "
                     f"{snapshot.get('last_job_error')})")
    for account in snapshot.get("accounts") or []:
        feed_age = account.get("feed_age_s")
        feed = "no price yet" if feed_age is None else f"last price {feed_age:.1f} s ago"
        lines.append(f"account {account.get('address')}: feed {feed}"
                     + (" DEGRADED (stale: stops frozen)" if account.get("stale") else "")
                     + (f", feed failure: {account['feed_failure']}"
                        if account.get("feed_failure") else ""))
        if account.get("last_error"):
            lines.append(f"  last error: {account['last_error']}")
        positions = account.get("positions") or []
        if not positions:
            lines.append("  no open positions")
        for p in positions:
            rule = p.get("rule") or "NO RULE (not covered)"
            lines.append(f"  {p['symbol']} {p['side']} {p['amount']} entry {p['entry_price']} "
                         f"mark {p.get('mark') or '-'}  rule {rule}"
                         + ("  BARE" if p.get("bare") else ""))
            for stop in p.get("stops") or []:
                distance = stop.get("distance_pct")
                lines.append(f"    {stop.get('leg') or '?'}: stop {stop['stop_price']} "
                             f"amount {stop['amount']}"
                             + (f" ({distance}% from the mark)" if distance is not None else ""))
            if p.get("rejected"):
                lines.append(f"    rejected: {p['rejected']}")
            for notice in p.get("notices") or []:
                lines.append(f"    note: {notice}")
    return "\n".join(lines)


def account_snapshot(account: Account) -> dict[str, Any]:
    """One account's part of the status snapshot: per position its rule, stops, distance
    to the price, what is desired; the feed's age and failure, the last error."""
    prices = dict(account.feed.prices.latest)
    if account.stale():
        prices.update(account.polled_prices)
    age = account.feed.age(Channel.PRICES)
    failure = account.feed.failure
    rows: list[dict[str, Any]] = []
    results = account.evaluation.results if account.evaluation is not None else {}
    rejected = account.submitter.rejected
    bare = account.bare()
    ours = _ours_by_position(account)
    for key, position in sorted(account.positions.items(),
                                key=lambda kv: (kv[0].symbol, kv[0].side.value)):
        result = results.get(key)
        price = prices.get(key.symbol)
        mark = price.mark if price is not None else None
        stops = []
        for order in ours.get(ids.position_tag(account.address, key), []):
            distance = None
            if mark is not None and order.stop_price is not None and mark:
                distance = format(((mark - order.stop_price) / mark * 100
                                   * (1 if key.side is Side.BID else -1)
                                   ).quantize(Decimal("0.01")), "f")
            parsed = ids.parse(order.client_order_id)
            stops.append({
                "leg": ids.leg_name(parsed.leg) if parsed else None,
                "client_order_id": order.client_order_id, "order_id": order.order_id,
                "stop_price": _fmt(order.stop_price), "amount": _fmt(order.remaining),
                "distance_pct": distance})
        desired = [{"leg": leg.leg, "kind": leg.kind.value,
                    "stop_price": _fmt(leg.stop_price), "amount": _fmt(leg.amount),
                    "component": leg.component}
                   for leg in (result.legs if result is not None else ())]
        covered = result is not None and any(
            leg.kind is LegKind.STOP for leg in result.legs)
        rows.append({
            "symbol": key.symbol, "side": "long" if key.side is Side.BID else "short",
            "created_at": key.created_at, "amount": _fmt(position.amount),
            "entry_price": _fmt(position.entry_price), "mark": _fmt(mark),
            "rule": result.rule if result is not None else None,
            "stops": stops, "desired": desired,
            "bare": key in bare and covered,
            "rejected": rejected.get(key),
            "notices": [n.message for n in (result.notices if result else ())]})
    return {
        "address": account.address,
        "feed_age_s": None if age is None else round(age, 3),
        "feed_connected": account.feed.connected,
        "feed_failure": None if failure is None else failure.message,
        "stale": account.stale(),
        "reconciles": account.reconciles,
        "last_error": account.last_error or account.submitter.last_error,
        "positions": rows,
        "orders": len(account.live),
    }

def _ours_by_position(account: Account) -> dict[int, list[OpenOrder]]:
    acct = ids.account_tag(account.address)
    out: dict[int, list[OpenOrder]] = {}
    for order in account.live:
        parsed = ids.parse(order.client_order_id)
        if parsed is not None and parsed.account == acct:
            out.setdefault(parsed.position, []).append(order)
    return out


def _fmt(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
