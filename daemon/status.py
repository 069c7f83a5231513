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


def render(snapshot: Mapping[str, Any], age: float, now: float | None = None) -> str:
    """The snapshot as a person reads it: a summary line, then per account one table of its
    positions (a row per stop beyond the first), then its feed, credits, the last reload
    and the last error. `--json` prints the snapshot itself, for machines."""
    now = time.time() if now is None else now
    lines = [summary_line(snapshot)]
    if age > OLD_AFTER_S:
        lines.append(f"  (snapshot {age:.0f} s old: the daemon may have stopped)")
    rules = snapshot.get("rules") or {}
    for account in snapshot.get("accounts") or []:
        lines += ["", f"account {account.get('address')}"]
        positions = account.get("positions") or []
        if positions:
            lines += ["  " + row for row in _table(_position_rows(positions))]
        else:
            lines.append("  no open positions")
        for p in positions:
            for notice in p.get("notices") or []:
                lines.append(f"  note: {p['symbol']} {p['side']}: {notice}")
            if p.get("rejected"):
                lines.append(f"  rejected: {p['symbol']} {p['side']}: {p['rejected']}")
        lines.append(f"  feed:        {_feed(account)}")
        lines.append(f"  credits:     {_credits(account)}")
        lines.append(f"  last reload: {_reload(rules, now)}")
        lines.append(f"  last error:  {account.get('last_error') or 'none'}")
    if snapshot.get("job_errors"):
        lines += ["", f"job errors: {snapshot['job_errors']} (last: "
                  f"{snapshot.get('last_job_error')})"]
    return "\n".join(lines)


_HEADER = ("SYMBOL", "SIDE", "SIZE", "ENTRY", "PRICE", "RULE", "STOP", "DISTANCE", "STATE")


def _position_rows(positions: list[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [_HEADER]
    for p in positions:
        stops = p.get("stops") or []
        first = stops[0] if stops else None
        rows.append((p["symbol"], p["side"], p["amount"], p["entry_price"],
                     p.get("mark") or "-", p.get("rule") or "-",
                     *_stop_cells(first), _state(p)))
        rows += [("", "", "", "", "", "", *_stop_cells(stop), "") for stop in stops[1:]]
    return rows


def _stop_cells(stop: Mapping[str, Any] | None) -> tuple[str, str]:
    if stop is None:
        return "-", "-"
    distance = stop.get("distance_pct")
    return (f"{stop.get('leg') or '?'} {stop['stop_price']} x {stop['amount']}",
            "-" if distance is None else f"{distance}%")


def _state(p: Mapping[str, Any]) -> str:
    if p.get("rule") is None:
        return "no rule"
    if p.get("bare"):
        return "BARE"
    if p.get("rejected"):
        return "rejected"
    if p.get("stops"):
        return "protected"
    return "no stop due"  # e.g. below the minimum order size, or a crossed stop closing


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _feed(account: Mapping[str, Any]) -> str:
    feed_age = account.get("feed_age_s")
    text = "no price yet" if feed_age is None else f"last price {feed_age:.1f} s ago"
    if account.get("stale"):
        text += ", STALE: stops frozen (degraded)"
    if account.get("feed_failure"):
        text += f", failure: {account['feed_failure']}"
    return text


def _credits(account: Mapping[str, Any]) -> str:
    remaining, quota = account.get("credits_remaining"), account.get("credits_quota")
    if remaining is None:
        return "unknown"
    return f"{remaining} of {quota} left in the current minute"


def _reload(rules: Mapping[str, Any], now: float) -> str:
    loaded = rules.get("loaded_at")
    when = "never" if loaded is None else (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(loaded)))
        + f" ({max(0.0, now - float(loaded)):.0f} s ago)")
    text = f"{when}, {rules.get('path')}"
    if rules.get("error"):
        text += f"; RELOAD FAILED, previous rules in force: {rules['error']}"
    return text


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
        "credits_remaining": _fmt(account.budget.remaining(time.monotonic())),
        "credits_quota": _fmt(account.budget.quota),
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
