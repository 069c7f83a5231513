"""The state file itself: where it lives, its schema and migrations, and what is done with a
file that cannot be used. `daemon.state` keeps the daemon's data in it.

A file that is not a readable state file of a version we know (garbage, truncated, malformed,
another program's database, one written by a newer release) is moved aside as
`<path>.corrupt-<unix>` with its -wal and -shm, and a fresh file is made: never reused as it
is, never a crash. The note saying so goes to `StateStore.recovered`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

# A second process (`stopd status`) reading while the daemon writes waits this long for a lock.
BUSY_TIMEOUT_MS: Final = 5000

# Schema migrations, applied in order: migration i takes user_version i to i + 1. Never edit a
# released entry; append one.
MIGRATIONS: Final[tuple[str, ...]] = (
    # v1: memory per (account, position), the journal, the status snapshot.
    """
    CREATE TABLE memory (
        account TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        format INTEGER NOT NULL,  -- daemon.engine.memory.FORMAT_VERSION of body
        body TEXT NOT NULL,       -- memory.position_to_json, as JSON
        PRIMARY KEY (account, symbol, side, created_at)
    ) WITHOUT ROWID;
    CREATE TABLE journal (
        client_order_id TEXT NOT NULL, action TEXT NOT NULL, account TEXT NOT NULL,
        symbol TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL, detail TEXT,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (client_order_id, action)
    );
    CREATE TABLE status (
        id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, saved_ms INTEGER NOT NULL
    );
    """,
    # v2: retention counts from the outcome, not the intent (a row settled today after a week
    # pending is kept a week more); `seq` orders the journal so an outcome finds the latest
    # intent for an id (a Move cancels the id an earlier Place created); recovery reads pending
    # rows per account by index.
    """
    ALTER TABLE journal ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE journal ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    UPDATE journal SET updated_ms = created_ms, seq = rowid;
    CREATE INDEX journal_pending ON journal (account, state, seq);
    CREATE INDEX journal_id ON journal (client_order_id, seq);
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
_TABLES: Final = frozenset({"memory", "journal", "status"})


class StateError(Exception):
    """The state file cannot be read (only `read_status` raises it; `open` recovers instead)."""


class StateLocked(StateError):
    """Another process writes this state file: a second daemon would split its memory."""


# How long `lock` waits for a previous daemon that is still exiting (a restart right after a
# SIGKILL, before the kernel has reaped it).
LOCK_WAIT_MS: Final = 5000
_LOCK_POLL_MS: Final = 50


def lock(path: Path, wait_ms: int = LOCK_WAIT_MS) -> int:
    """Take the one-writer lock of the state file at `path`: a POSIX record lock on
    `<path>.lock`, held by this process until the returned fd is closed or the process ends
    (the kernel drops it on SIGKILL too). Per process, so a reader like `stopd status`, which
    never takes it, is never blocked. Raises StateLocked after `wait_ms`."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic_ns() // 1_000_000 + wait_ms
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic_ns() // 1_000_000 >= deadline:
                os.close(fd)
                raise StateLocked(
                    f"{path}: another process is using this state file (it holds "
                    f"{lock_path.name}); run one stopd per state file") from None
            time.sleep(_LOCK_POLL_MS / 1000)


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): take the write lock up front, so a
    reader's lock can only delay us by busy_timeout, never fail us half-way."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def read_status(path: Path) -> dict[str, Any] | None:
    """The daemon's last status snapshot, read without writing (URI `mode=ro`) so that
    `stopd status` works beside a running daemon. None if there is no state file or no
    snapshot yet; `StateError` if the file is not a readable state file."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                             isolation_level=None)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the state file: {exc}") from None
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return status_from(db, path)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot read the status snapshot: {exc}") from None
    finally:
        db.close()


def status_from(db: sqlite3.Connection, path: Path) -> dict[str, Any] | None:
    row = db.execute("SELECT body FROM status WHERE id = 1").fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StateError(f"{path}: the status snapshot is not a JSON object")
    return value


# -- opening, checking, migrating ---------------------------------------------------------


def make_parent(directory: Path) -> None:
    """Create missing folders 0700: the state says which positions an account holds."""
    missing: list[Path] = []
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask


class _Unusable(Exception):
    """The file at the path cannot be used as our state; the message says why."""


def open_checked(path: Path, recovered: list[str],
                  clock_ms: Callable[[], int]) -> sqlite3.Connection:
    if path.exists():
        try:
            return _connect(path)
        except (_Unusable, sqlite3.Error) as exc:
            aside = _move_aside(path, clock_ms)
            recovered.append(
                f"{path}: {exc}; moved aside to {aside.name} and started a fresh state: "
                "trailing extremes, latches and pending intents from before are lost; live "
                "stops are adopted from the exchange by their ids")
    return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        # Create it 0600 before SQLite does: its -wal and -shm files copy this mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)
    # isolation_level=None: no implicit transactions; Transaction says where each one is.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _Unusable(f"schema version {version} is newer than this release's "
                            f"{SCHEMA_VERSION} (written by a later stopd)")
        tables = _tables(db)
        if version == 0 and tables:
            raise _Unusable(f"not a stopd state file (it holds {', '.join(sorted(tables))})")
        check = db.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise _Unusable("integrity check failed: " + "; ".join(r[0] for r in check[:3]))
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
            raise _Unusable("cannot switch to WAL mode")
        db.execute("PRAGMA synchronous = NORMAL")  # why: the module docstring
        _migrate(db, version)
        tables = _tables(db)
        if not tables >= _TABLES:
            raise _Unusable(f"tables missing: {', '.join(sorted(_TABLES - tables))}")
    except BaseException:
        db.close()
        raise
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _migrate(db: sqlite3.Connection, version: int) -> None:
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first and runs outside our transaction, so the statements
        # are issued one by one inside BEGIN IMMEDIATE: a crash mid-migration rolls back.
        with Transaction(db):
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")


def _statements(script: str) -> Iterable[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _move_aside(path: Path, clock_ms: Callable[[], int]) -> Path:
    unix = clock_ms() // 1000
    aside = path.with_name(f"{path.name}.corrupt-{unix}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{unix}.{n}")
        n += 1
    # The -wal and -shm go with it: a fresh file must not meet an old file's log.
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))
    os.replace(path, aside)
    return aside
