"""`stopd status` as a person reads it: one table per account (symbol, side, size, entry,
price, rule, each stop with its distance in %, state), then feed age, credits, last reload
and last error. The snapshot here has the shape `account_snapshot` writes (the end-to-end
test in test_plan_status.py reads a real one)."""

from __future__ import annotations

from typing import Any

from daemon.status import render

NOW = 1_800_000_000.0


def position(symbol: str, side: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "symbol": symbol, "side": side, "amount": "0.5", "entry_price": "3000",
        "mark": "3010", "rule": "eth-trailing", "stops": [], "desired": [], "bare": False,
        "rejected": None, "notices": []}
    row.update(over)
    return row


def stop(leg: str, price: str, amount: str, distance: str | None) -> dict[str, Any]:
    return {"leg": leg, "client_order_id": "x", "order_id": 1, "stop_price": price,
            "amount": amount, "distance_pct": distance}


def snapshot() -> dict[str, Any]:
    ladder = [stop("ladder.0", "2940", "0.25", "2.33"), stop("ladder.1", "2910", "0.25", "3.32")]
    first = {
        "address": "Acct1", "feed_age_s": 0.4, "feed_connected": True, "feed_failure": None,
        "stale": False, "reconciles": 3, "last_error": None, "orders": 3,
        "credits_remaining": "287.5", "credits_quota": "300",
        "positions": [
            position("BTC", "long", amount="0.01", entry_price="60000", mark="62200",
                     rule="btc-longs", stops=[stop("sl", "60956", "0.01", "2.00")]),
            position("ETH", "long", stops=ladder, rule="eth-ladder"),
            position("SOL", "short", rule="sol-x", bare=True, mark=None),
            position("kBONK", "long", rule=None),
        ]}
    second = {
        "address": "Acct2", "feed_age_s": 12.5, "feed_connected": False,
        "feed_failure": "HTTP 403 at the handshake", "stale": True, "reconciles": 1,
        "last_error": "place rejected: Insufficient balance", "orders": 0,
        "credits_remaining": "0", "credits_quota": "100", "positions": []}
    return {"state": "running", "degraded": True, "dry_run": False, "updated_at": NOW,
            "rules": {"path": "/etc/stopd/rules", "error": None, "loaded_at": NOW - 75},
            "job_errors": 0, "last_job_error": None, "accounts": [first, second]}


def table_rows(text: str, account: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(f"account {account}") + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("  ") or line.startswith("  feed:"):
            break
        rows.append(line.split())
    return rows


def test_one_table_per_account_then_feed_credits_reload_error() -> None:
    text = render(snapshot(), age=0.5, now=NOW)
    rows = table_rows(text, "Acct1")
    assert rows[0] == ["SYMBOL", "SIDE", "SIZE", "ENTRY", "PRICE", "RULE", "STOP", "DISTANCE",
                       "STATE"]
    assert rows[1] == ["BTC", "long", "0.01", "60000", "62200", "btc-longs", "sl", "60956",
                       "x", "0.01", "2.00%", "protected"]
    # Each stop of a ladder on its own row, with its own distance.
    assert rows[2] == ["ETH", "long", "0.5", "3000", "3010", "eth-ladder", "ladder.0", "2940",
                       "x", "0.25", "2.33%", "protected"]
    assert rows[3] == ["ladder.1", "2910", "x", "0.25", "3.32%"]
    assert rows[4] == ["SOL", "short", "0.5", "3000", "-", "sol-x", "-", "-", "BARE"]
    assert rows[5] == ["kBONK", "long", "0.5", "3000", "3010", "-", "-", "-", "no", "rule"]
    # The columns line up: every value starts where its header does.
    lines = [line for line in text.splitlines() if line.startswith("  ")]
    header = next(line for line in lines if "SYMBOL" in line)
    ladder_row = next(line for line in lines if "ladder.1" in line)
    assert ladder_row.index("ladder.1") == header.index("STOP")
    assert ladder_row.index("3.32%") == header.index("DISTANCE")
    assert "  feed:        last price 0.4 s ago" in text
    assert "  credits:     287.5 of 300 left in the current minute" in text
    assert "  last reload: 2027-01-15 07:58:45 UTC (75 s ago), /etc/stopd/rules" in text
    assert "  last error:  none" in text


def test_a_troubled_account_says_why() -> None:
    text = render(snapshot(), age=0.5, now=NOW)
    after = text.split("account Acct2", 1)[1]
    assert "no open positions" in after
    assert "last price 12.5 s ago, STALE: stops frozen (degraded), failure: HTTP 403" in after
    assert "credits:     0 of 100 left" in after
    assert "last error:  place rejected: Insufficient balance" in after
    assert text.splitlines()[0].startswith("degraded: 2 account(s), 4 position(s), 1 bare")


def test_a_failed_reload_and_an_old_snapshot_show() -> None:
    document = snapshot()
    document["rules"]["error"] = "rules/x.yaml:3:5: rules.0.stop_loss: not a percentage"
    text = render(document, age=60, now=NOW)
    assert "(snapshot 60 s old: the daemon may have stopped)" in text
    assert ("RELOAD FAILED, previous rules in force: rules/x.yaml:3:5: rules.0.stop_loss: "
            "not a percentage") in text
    document["rules"]["loaded_at"] = None
    del document["accounts"][0]["credits_remaining"]  # a snapshot from an older daemon
    text = render(document, age=0.5, now=NOW)
    assert "last reload: never" in text
    assert "credits:     unknown" in text
