"""StateStore keeps memory, journal and status across restarts, writing only what changed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from state_support import ACCOUNT, OTHER, key, memory, position

from daemon.engine.memory import Memory, position_from_json, position_to_json
from daemon.state import JournalEntry, StateStore, read_status

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "stopd.db"


def _poke(path: Path, sql: str, *args: object) -> None:
    """Change the file behind the store's back, as a second writer would."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(sql, args)
    finally:
        db.close()


def test_per_position_json_is_the_entry_of_memory_to_json() -> None:
    m = memory(3)
    entries = [position_to_json(k, v) for k, v in sorted(
        m.positions.items(), key=lambda kv: (kv[0].symbol, kv[0].side.value, kv[0].created_at))]
    assert entries == m.to_json()["positions"]
    assert dict(position_from_json(json.loads(json.dumps(e))) for e in entries) == m.positions


def test_memory_survives_a_reopen_per_account(path: Path) -> None:
    store = StateStore.open(path)
    assert store.load_memory(ACCOUNT) == Memory()
    store.save_memory(ACCOUNT, memory(5))
    store.save_memory(OTHER, Memory({key(1): position(1, extreme=7)}))
    store.close()

    again = StateStore.open(path)
    assert again.load_memory(ACCOUNT) == memory(5)
    assert again.load_memory(OTHER) == Memory({key(1): position(1, extreme=7)})
    assert again.recovered == []
    again.close()


def test_save_writes_only_the_objects_that_changed(path: Path) -> None:
    store = StateStore.open(path)
    first = memory(3)
    store.save_memory(ACCOUNT, first)
    keys = sorted(first.positions, key=lambda k: k.created_at)
    # Mark every row behind the store's back: a row the next save writes loses its mark.
    _poke(path, "UPDATE memory SET body = replace(body, '\"btc-longs\"', '\"marked\"')")
    changed = replace(first.positions[keys[1]], extreme=Decimal(123_456))
    # keys[2] gets an equal but new object: identity, not equality, decides.
    equal_copy = replace(first.positions[keys[2]])
    store.save_memory(ACCOUNT, first.updated({keys[1]: changed, keys[2]: equal_copy}))
    store.close()

    loaded = StateStore.open(path).load_memory(ACCOUNT)
    rules = {k: loaded.positions[k].rule for k in keys}
    assert rules == {keys[0]: "marked", keys[1]: "btc-longs", keys[2]: "btc-longs"}
    assert loaded.positions[keys[1]].extreme == Decimal(123_456)


def test_pruned_positions_are_deleted(path: Path) -> None:
    store = StateStore.open(path)
    full = memory(4)
    store.save_memory(ACCOUNT, full)
    keep = sorted(full.positions, key=lambda k: k.created_at)[:2]
    store.save_memory(ACCOUNT, full.prune(keep))
    store.close()
    assert set(StateStore.open(path).load_memory(ACCOUNT).positions) == set(keep)


def test_a_save_before_any_load_still_deletes_what_the_file_held(path: Path) -> None:
    store = StateStore.open(path)
    store.save_memory(ACCOUNT, memory(4))
    store.close()
    fresh = StateStore.open(path)  # the service may save before it loads
    fresh.save_memory(ACCOUNT, Memory({key(9): position(9)}))
    fresh.close()
    assert StateStore.open(path).load_memory(ACCOUNT) == Memory({key(9): position(9)})


def test_an_unreadable_row_is_skipped_with_a_note_and_the_rest_loads(path: Path) -> None:
    store = StateStore.open(path)
    store.save_memory(ACCOUNT, memory(3))
    store.close()
    k0, k1, k2 = sorted(memory(3).positions, key=lambda k: k.created_at)
    _poke(path, "UPDATE memory SET body = '{not json' WHERE created_at = ?", k0.created_at)
    _poke(path, "UPDATE memory SET body = replace(body, '\"extreme\":\"100000\"', "
          "'\"extreme\":\"lots\"') WHERE created_at = ?", k1.created_at)

    again = StateStore.open(path)
    loaded = again.load_memory(ACCOUNT)
    assert set(loaded.positions) == {k2}
    assert len(again.recovered) == 2
    assert any("not JSON" in note for note in again.recovered)
    assert any(".extreme" in note and "lots" in note for note in again.recovered)
    # The position k1 is still open and gets fresh memory; k0 is gone: the bad rows go with it.
    again.save_memory(ACCOUNT, loaded.updated({k1: position(1, extreme=5)}))
    again.close()
    final = StateStore.open(path)
    assert final.load_memory(ACCOUNT) == Memory({k1: position(1, extreme=5), k2: position(2)})
    assert final.recovered == []


def test_journal_intent_then_outcome(path: Path) -> None:
    store = StateStore.open(path, clock_ms=lambda: 1_000_000)
    store.journal_intent(ACCOUNT, "cid-1", "place", "BTC", {"stop_price": "97000"})
    store.journal_intent(ACCOUNT, "cid-2", "close", "ETH", {"amount": "1"})
    store.journal_intent(OTHER, "cid-3", "place", "SOL", {})
    assert store.pending(ACCOUNT) == [
        JournalEntry(ACCOUNT, "cid-1", "place", "BTC", {"stop_price": "97000"}, "pending", None,
                     1_000_000),
        JournalEntry(ACCOUNT, "cid-2", "close", "ETH", {"amount": "1"}, "pending", None,
                     1_000_000)]
    store.journal_outcome("cid-1", "done")
    store.journal_outcome("cid-2", "rejected", "Insufficient balance")
    store.journal_outcome("unknown", "done")  # no intent: ignored
    assert store.pending(ACCOUNT) == []
    assert [e.client_order_id for e in store.pending(OTHER)] == ["cid-3"]
    with pytest.raises(ValueError, match="journal state"):
        store.journal_outcome("cid-3", "finished")
    with pytest.raises(ValueError, match="journal action"):
        store.journal_intent(ACCOUNT, "cid-4", "teleport", "BTC", {})
    store.close()


def test_an_outcome_settles_the_latest_intent_for_its_id(path: Path) -> None:
    store = StateStore.open(path)
    store.journal_intent(ACCOUNT, "cid-1", "place", "BTC", {})
    store.journal_outcome("cid-1", "done")
    # A later Move cancels the order cid-1 placed: the cancel is pending, the place stays done.
    store.journal_intent(ACCOUNT, "cid-1", "cancel", "BTC", {})
    assert [(e.client_order_id, e.action) for e in store.pending(ACCOUNT)] == [("cid-1", "cancel")]
    store.journal_outcome("cid-1", "done")
    assert store.pending(ACCOUNT) == []
    # The same intent again (a re-send after recovery) is pending again, and only once.
    store.journal_intent(ACCOUNT, "cid-1", "place", "BTC", {"amount": "2"})
    assert [(e.action, dict(e.params)) for e in store.pending(ACCOUNT)] == [
        ("place", {"amount": "2"})]
    store.close()


def test_an_intent_committed_before_a_sigkill_is_pending_at_the_next_start(path: Path) -> None:
    child = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        from daemon.state import StateStore
        store = StateStore.open(Path({str(path)!r}))
        store.journal_intent({ACCOUNT!r}, "cid-9", "place", "BTC", {{"stop_price": "1"}})
        os.kill(os.getpid(), signal.SIGKILL)  # the request would go out here
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60,
                          check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert Path(str(path) + "-wal").exists()  # not checkpointed: the commit lives in the WAL
    store = StateStore.open(path)
    assert [(e.client_order_id, dict(e.params)) for e in store.pending(ACCOUNT)] == [
        ("cid-9", {"stop_price": "1"})]
    store.close()


def test_settled_rows_past_retention_are_pruned_on_open_pending_never(path: Path) -> None:
    now = [1_000_000_000]
    store = StateStore.open(path, clock_ms=lambda: now[0])
    for n, outcome in enumerate(("done", "rejected", "failed", None)):
        store.journal_intent(ACCOUNT, f"old-{n}", "place", "BTC", {})
        if outcome:
            store.journal_outcome(f"old-{n}", outcome)
    now[0] += 6 * DAY_MS
    store.journal_intent(ACCOUNT, "recent", "place", "BTC", {})
    store.journal_outcome("recent", "done")
    store.close()

    now[0] += 2 * DAY_MS  # the old rows are 8 days settled, "recent" 2
    again = StateStore.open(path, clock_ms=lambda: now[0])
    again.close()
    db = sqlite3.connect(path)
    ids = sorted(r[0] for r in db.execute("SELECT client_order_id FROM journal"))
    db.close()
    assert ids == ["old-3", "recent"]


def test_status_round_trip_and_read_only_while_the_daemon_writes(path: Path) -> None:
    assert read_status(path) is None  # no file yet
    store = StateStore.open(path)
    assert store.load_status() is None
    assert read_status(path) is None  # a file, no snapshot yet
    snapshot = {"accounts": {ACCOUNT: {"positions": 2, "stop": Decimal("97000.5")}},
                "degraded": False}
    store.save_status(snapshot)
    expected = {"accounts": {ACCOUNT: {"positions": 2, "stop": "97000.5"}}, "degraded": False}
    assert store.load_status() == expected
    assert read_status(path) == expected  # the writer is still open
    store.save_status({"degraded": True})
    assert read_status(path) == {"degraded": True}
    with pytest.raises(TypeError, match="not JSON"):
        store.save_status({"bad": object()})
    store.close()
    # After a clean stop the -wal and -shm are gone; a read-only open still works, writes nothing.
    before = path.read_bytes()
    assert read_status(path) == {"degraded": True}
    assert path.read_bytes() == before


def test_folders_are_created_0700_and_files_0600(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "stopd.db"
    old = os.umask(0o022)
    try:
        store = StateStore.open(path)
        store.save_status({"x": 1})
        assert oct(path.stat().st_mode & 0o777) == oct(0o600)
        assert oct(Path(str(path) + "-wal").stat().st_mode & 0o777) == oct(0o600)
        assert oct(Path(str(path) + "-shm").stat().st_mode & 0o777) == oct(0o600)
        store.close()
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert oct(folder.stat().st_mode & 0o777) == oct(0o700)


def test_an_existing_file_with_loose_permissions_is_tightened(path: Path) -> None:
    StateStore.open(path).close()
    path.chmod(0o644)
    StateStore.open(path).close()
    assert path.stat().st_mode & 0o777 == 0o600
