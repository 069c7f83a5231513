"""An unusable state file is moved aside, never reused and never a crash; old schemas migrate."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import base58
import pytest
from state_support import ACCOUNT, key, memory, position

from daemon.engine.memory import FORMAT_VERSION, Memory, position_to_json
from daemon.pacifica.signing import Keypair
from daemon.state import StateStore, read_status
from daemon.statefile import MIGRATIONS, SCHEMA_VERSION, StateError

NOW_MS = 1_764_000_000_000
NOW = NOW_MS // 1000


def _filled(path: Path) -> None:
    store = StateStore.open(path)
    store.save_memory(ACCOUNT, memory(200))
    store.journal_intent(ACCOUNT, "cid-1", "place", "BTC", {"stop_price": "97000"})
    store.save_status({"degraded": False})
    store.close()


def _truncated(path: Path) -> None:
    _filled(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot a database at all " * 200)


def _future(path: Path) -> None:
    _filled(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, blob BLOB)")
    db.commit()
    db.close()


def _malformed(path: Path) -> None:
    _filled(path)
    data = bytearray(path.read_bytes())
    page = 4096  # SQLite's default page size: overwrite the second page (sqlite_master's tree)
    data[page * 2: page * 3] = b"\xa5" * page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("spoil", "said"), [
    (_garbage, "not a database"),
    (_truncated, ""),
    (_future, "newer than this release"),
    (_foreign, "not a stopd state file"),
    (_malformed, ""),
])
def test_an_unusable_file_is_moved_aside_and_a_fresh_store_made(
        tmp_path: Path, spoil: Callable[[Path], None], said: str) -> None:
    path = tmp_path / "stopd.db"
    spoil(path)
    original = path.read_bytes()
    store = StateStore.open(path, clock_ms=lambda: NOW_MS)
    aside = tmp_path / f"stopd.db.corrupt-{NOW}"
    assert aside.read_bytes() == original  # kept for a human to look at
    assert len(store.recovered) == 1
    note = store.recovered[0]
    assert str(path) in note
    assert aside.name in note
    assert said in note
    assert "adopted from the exchange" in note
    # The fresh store is empty and fully usable.
    assert store.load_memory(ACCOUNT) == Memory()
    assert store.pending(ACCOUNT) == []
    store.save_memory(ACCOUNT, Memory({key(1): position(1)}))
    store.close()
    again = StateStore.open(path, clock_ms=lambda: NOW_MS)
    assert again.recovered == []
    assert again.load_memory(ACCOUNT) == Memory({key(1): position(1)})
    again.close()


def test_a_second_corrupt_file_in_the_same_second_does_not_overwrite_the_first(
        tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    for _ in range(2):
        _garbage(path)
        StateStore.open(path, clock_ms=lambda: NOW_MS).close()
    assert sorted(p.name for p in tmp_path.glob("stopd.db.corrupt-*")) == [
        f"stopd.db.corrupt-{NOW}", f"stopd.db.corrupt-{NOW}.1"]


def test_a_stale_wal_never_meets_the_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    _garbage(path)
    wal = Path(str(path) + "-wal")
    wal.write_bytes(b"old log")
    store = StateStore.open(path, clock_ms=lambda: NOW_MS)
    assert not wal.exists() or b"old log" not in wal.read_bytes()
    store.save_status({"fresh": True})
    store.close()
    assert read_status(path) == {"fresh": True}


def test_read_status_of_an_unusable_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    _garbage(path)
    with pytest.raises(StateError, match=re.escape(str(path))):
        read_status(path)
    assert path.read_bytes().startswith(b"\x00\xffnot")  # a reader moves nothing


def test_migration_from_v1_keeps_rows_and_settles_them_by_their_new_columns(
        tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    entry = memory(1)
    (k, v), = entry.positions.items()
    db.execute("INSERT INTO memory VALUES (?, ?, ?, ?, ?, ?)",
               (ACCOUNT, k.symbol, k.side.value, k.created_at, FORMAT_VERSION,
                json.dumps(position_to_json(k, v))))
    for n, state in enumerate(("pending", "done", "pending")):
        db.execute("INSERT INTO journal VALUES (?, 'place', ?, 'BTC', '{}', ?, NULL, ?)",
                   (f"cid-{n}", ACCOUNT, state, NOW_MS + n))
    db.close()

    store = StateStore.open(path, clock_ms=lambda: NOW_MS)
    assert store.recovered == []
    assert store.load_memory(ACCOUNT) == entry
    assert [e.client_order_id for e in store.pending(ACCOUNT)] == ["cid-0", "cid-2"]
    store.journal_outcome("cid-0", "done")
    store.journal_intent(ACCOUNT, "cid-3", "place", "BTC", {})
    assert [e.client_order_id for e in store.pending(ACCOUNT)] == ["cid-2", "cid-3"]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.execute("SELECT updated_ms FROM journal WHERE client_order_id = 'cid-1'"
                      ).fetchone()[0] == NOW_MS + 1  # backfilled from created_ms
    db.close()
    # Pruning reads the backfilled column: 8 days on, the settled v1 row goes.
    StateStore.open(path, clock_ms=lambda: NOW_MS + 8 * 86_400_000).close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM journal WHERE client_order_id = 'cid-1'"
                      ).fetchone()[0] == 0
    db.close()


def test_a_fresh_file_is_at_the_current_version_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    StateStore.open(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


SEED = bytes(range(32))
KEY = Keypair.from_secret(base58.b58encode(SEED).decode())


def _encodings() -> list[bytes]:
    from nacl.signing import SigningKey

    full = SEED + bytes(SigningKey(SEED).verify_key)
    return [base58.b58encode(SEED), base58.b58encode(full), SEED.hex().encode(),
            full.hex().encode(), json.dumps(list(full)).encode(), SEED]


def test_nothing_secret_is_stored_and_the_schema_has_no_place_for_it(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    store = StateStore.open(path)
    store.save_memory(KEY.public_key, memory(50))
    store.journal_intent(KEY.public_key, "cid-1", "place", "BTC",
                         {"stop_price": "97000", "amount": "0.1", "side": "ask"})
    store.journal_outcome("cid-1", "done")
    store.save_status({"accounts": {KEY.public_key: {"positions": 50, "last_error": None}}})
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the file, -wal and -shm
    store.close()
    assert KEY.public_key.encode() in raw  # the account is there: the search works ...
    for secret in _encodings():  # ... and no encoding of its key is
        assert secret not in raw
    db = sqlite3.connect(path)
    columns = [(t, c[1]) for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = "
                                                "'table'") for c in db.execute(
        f"PRAGMA table_info({t})")]
    db.close()
    assert columns  # the query found the schema
    assert not [c for c in columns if re.search(r"key|secret|seed|sign|private", c[1], re.I)]
