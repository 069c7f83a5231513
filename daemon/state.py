"""The daemon's local state: the engine's memory, the action journal, the status snapshot.

Only what the exchange cannot tell is kept here (anchors R3): trailing extremes, latches and
order revisions (`Memory`), the intents in flight (the journal: committed BEFORE a request,
its outcome after, so a restart looks each pending id up and adopts or re-sends it), and the
status snapshot that `stopd status` reads. No key, signature or request body is ever stored.

SQLite (stdlib `sqlite3`) in WAL mode with `synchronous=NORMAL`: a commit is written to the
WAL without an fsync, so it survives a crash of the process (SIGKILL) and only an OS crash or
power loss may roll back the last few commits (sqlite.org/pragma.html#pragma_synchronous).
FULL would fsync on every commit, and `save_memory` commits after every plan on the price-frame
hot path. What NORMAL can lose, the last few commits before an OS crash, is recoverable: an
intent's order carries a deterministic, tagged id and is adopted from the exchange on start,
and the memory lags by a few price frames. So no commit here is worth an fsync.

One connection, one writer: every write is a `BEGIN IMMEDIATE` transaction on it. An unusable
file is moved aside and a fresh one made (`daemon.statefile`); what was lost is said in
`recovered`, which the service logs. Opening never raises for that.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import Any, Final

from daemon.domain import PositionKey
from daemon.engine.memory import (
    FORMAT_VERSION,
    Memory,
    MemoryFormatError,
    PositionMemory,
    position_from_json,
    position_to_json,
)
from daemon.statefile import (
    LOCK_WAIT_MS,
    SCHEMA_VERSION,
    StateError,
    StateLocked,
    Transaction,
    lock,
    make_parent,
    open_checked,
    read_status,
    status_from,
)

__all__ = ["SCHEMA_VERSION", "JournalEntry", "StateError", "StateLocked", "StateStore",
           "read_status"]

ACTIONS: Final = frozenset({"place", "move", "resize", "cancel", "close", "tp"})
STATES: Final = frozenset({"pending", "done", "rejected", "failed"})
# Settled journal rows are kept this long for diagnosis, then pruned on open. A pending row is
# never pruned: it is what a restart must resolve.
JOURNAL_RETENTION_MS: Final = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class JournalEntry:
    account: str
    client_order_id: str
    action: str  # "place" | "move" | "resize" | "cancel" | "close" | "tp"
    symbol: str
    params: Mapping[str, str]
    state: str  # "pending" | "done" | "rejected" | "failed"
    detail: str | None
    created_ms: int


_RowKey = tuple[str, str, int]  # (symbol, side, created_at) as stored
# One encoder for every memory row: no circular check (plain JSON from position_to_json),
# ~15% off each dumps on the hot path.
_ENCODE: Final = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _row_key(key: PositionKey) -> _RowKey:
    return key.symbol, key.side.value, key.created_at


class _Held:
    """What the file holds for one account, so that a save finds what changed by identity.

    `by_id` maps id(PositionMemory) to its key for every object held in `rows` (never for
    one dropped: its id could be reused), so an unchanged position costs one int lookup
    rather than hashing its PositionKey (a dataclass with an Enum: ~1 us a hash)."""

    __slots__ = ("by_id", "keys", "memory", "rows", "values")

    def __init__(self) -> None:
        self.rows: dict[_RowKey, PositionMemory | None] = {}  # None: stored but unreadable
        self.by_id: dict[int, PositionKey] = {}
        self.memory: Memory | None = None  # the Memory last loaded or saved
        self.keys: list[PositionKey] = []  # and its positions, in order
        self.values: list[PositionMemory] = []

    def put(self, key: PositionKey, rk: _RowKey, value: PositionMemory) -> None:
        self.drop(rk)
        self.rows[rk] = value
        self.by_id[id(value)] = key

    def drop(self, rk: _RowKey) -> None:
        old = self.rows.pop(rk, None)
        if old is not None:
            self.by_id.pop(id(old), None)


class StateStore:
    """The daemon's one connection to its state file. Not thread-safe: use it from one thread."""

    def __init__(self, path: Path, db: sqlite3.Connection, recovered: list[str],
                 clock_ms: Callable[[], int], lock_fd: int) -> None:
        self.path = path
        self.recovered = recovered
        self._db = db
        self._lock_fd = lock_fd
        self._clock_ms = clock_ms
        self._held: dict[str, _Held] = {}

    @classmethod
    def open(cls, path: Path, *, clock_ms: Callable[[], int] | None = None,
             lock_wait_ms: int = LOCK_WAIT_MS) -> StateStore:
        """Open or create the store at `path`. `clock_ms` (wall time, unix ms; the system
        clock if None) stamps journal rows and names a file moved aside. Raises StateLocked
        if another process keeps the file open after `lock_wait_ms` (one writer: a second
        daemon on the same file would split the memory, and could move aside a file in use)."""
        clock_ms = clock_ms or _wall_ms
        recovered: list[str] = []
        make_parent(path.parent)
        lock_fd = lock(path, lock_wait_ms)
        try:
            db = open_checked(path, recovered, clock_ms)
        except BaseException:
            os.close(lock_fd)
            raise
        store = cls(path, db, recovered, clock_ms, lock_fd)
        store._prune_journal()
        return store

    def close(self) -> None:
        self._db.close()
        self._unlock()

    def __del__(self) -> None:  # a store dropped unclosed must not keep its fd
        self._unlock()

    def _unlock(self) -> None:
        if getattr(self, "_lock_fd", -1) >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- memory ---------------------------------------------------------------------------

    def load_memory(self, account: str) -> Memory:
        rows = self._db.execute(
            "SELECT symbol, side, created_at, format, body FROM memory WHERE account = ?",
            (account,)).fetchall()
        positions: dict[PositionKey, PositionMemory] = {}
        held = _Held()
        for symbol, side, created_at, fmt, body in rows:
            where = f"memory[{account}, {symbol} {side} {created_at}]"
            rk = (symbol, side, created_at)
            held.rows[rk] = None  # until it parses: the next save rewrites or deletes it
            problem: str | None = None
            if fmt != FORMAT_VERSION:
                problem = f"{where}: format {fmt} is not {FORMAT_VERSION}"
            else:
                try:
                    key, value = position_from_json(json.loads(body), where)
                except MemoryFormatError as exc:
                    problem = str(exc)
                except ValueError:
                    problem = f"{where}: not JSON"
                else:
                    if _row_key(key) != rk:
                        problem = f"{where}: the stored body names another position"
            if problem is not None:
                self.recovered.append(
                    f"{problem}; skipped: this position's trailing extreme, latches and "
                    "revisions start afresh")
                continue
            positions[key] = value
            held.put(key, rk, value)
        held.memory = Memory(positions)
        held.keys, held.values = list(positions), list(positions.values())
        self._held[account] = held
        return held.memory

    def save_memory(self, account: str, memory: Memory) -> None:
        """Write the positions whose PositionMemory object changed since the last load or
        save, delete those no longer in `memory`, in one transaction.

        Identity, not equality: the engine hands an unchanged position back as the same
        object, and comparing 10,000 values every price frame would cost what we save."""
        held = self._held.get(account)
        if held is None:
            held = self._held[account] = self._stored(account)
        if held.memory is memory:
            return
        current = memory.positions
        keys, values = list(current), list(current.values())
        # The scan runs in C (map/compress) so that only the positions whose object is not the
        # one held reach Python. A price frame keeps the key objects in their order
        # (Memory.updated): compare values by position (~0.5 ms over 10,000 on the dev box).
        # Otherwise look each value's id up (~2 ms).
        if keys == held.keys:  # identical objects compare without calling __eq__
            was: Sequence[PositionKey | None] = keys
            suspects = compress(range(len(keys)), map(is_not, values, held.values))
        else:
            was = list(map(held.by_id.get, map(id, values)))
            suspects = compress(range(len(keys)), map(is_not, keys, was))
        changed: list[tuple[PositionKey, _RowKey, PositionMemory]] = []
        kept = len(current)  # rows of `current` the file already holds
        for i in suspects:
            key, value = keys[i], values[i]
            if was is not keys and was[i] == key:  # held under an equal key object
                held.by_id[id(value)] = key
                continue
            rk = _row_key(key)
            changed.append((key, rk, value))
            if rk not in held.rows:
                kept -= 1
        # Every held row not in `current` was pruned; look for them only when some were.
        gone: list[_RowKey] = []
        if kept != len(held.rows):
            wanted = {_row_key(k) for k in current}
            gone = [rk for rk in held.rows if rk not in wanted]
        if changed or gone:
            upserts = [(account, *rk, FORMAT_VERSION, _ENCODE(position_to_json(key, value)))
                       for key, rk, value in changed]
            with self._write():
                self._db.executemany(
                    "INSERT INTO memory (account, symbol, side, created_at, format, body) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, symbol, side, created_at) "
                    "DO UPDATE SET format = excluded.format, body = excluded.body", upserts)
                self._db.executemany(
                    "DELETE FROM memory WHERE account = ? AND symbol = ? AND side = ? "
                    "AND created_at = ?", [(account, *rk) for rk in gone])
        for rk in gone:
            held.drop(rk)
        for key, rk, value in changed:
            held.put(key, rk, value)
        held.memory, held.keys, held.values = memory, keys, values

    def _stored(self, account: str) -> _Held:
        """The rows held before any load: all unknown, so a save rewrites or deletes each."""
        held = _Held()
        rows = self._db.execute(
            "SELECT symbol, side, created_at FROM memory WHERE account = ?", (account,))
        held.rows = {(symbol, side, created_at): None for symbol, side, created_at in rows}
        return held

    # -- journal --------------------------------------------------------------------------

    def journal_intent(self, account: str, client_order_id: str, action: str, symbol: str,
                       params: Mapping[str, str]) -> None:
        """Commit that `action` on `client_order_id` is about to be sent. Call BEFORE the
        request: a crash between the two leaves a pending row that `pending` hands to the
        next start. An intent repeated for the same id and action is pending again."""
        if action not in ACTIONS:
            raise ValueError(f"journal action {action!r} is not one of {sorted(ACTIONS)}")
        now = self._now_ms()
        body = json.dumps(dict(params), sort_keys=True, separators=(",", ":"))
        with self._write():
            self._db.execute(
                "INSERT INTO journal (client_order_id, action, account, symbol, params, state,"
                " detail, created_ms, updated_ms, seq) VALUES (?, ?, ?, ?, ?, 'pending', NULL,"
                " ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM journal))"
                " ON CONFLICT (client_order_id, action) DO UPDATE SET account = excluded.account,"
                " symbol = excluded.symbol, params = excluded.params, state = 'pending',"
                " detail = NULL, updated_ms = excluded.updated_ms, seq = excluded.seq",
                (client_order_id, action, account, symbol, body, now, now))

    def journal_outcome(self, client_order_id: str, state: str, detail: str | None = None
                        ) -> None:
        """Settle the latest intent for `client_order_id`. An id with no intent (its row
        pruned, or the state file replaced) is ignored: the exchange still knows the order."""
        if state not in STATES:
            raise ValueError(f"journal state {state!r} is not one of {sorted(STATES)}")
        with self._write():
            self._db.execute(
                "UPDATE journal SET state = ?, detail = ?, updated_ms = ? WHERE rowid = ("
                "SELECT rowid FROM journal WHERE client_order_id = ? ORDER BY seq DESC LIMIT 1)",
                (state, detail, self._now_ms(), client_order_id))

    def pending(self, account: str) -> list[JournalEntry]:
        """The account's unsettled intents, oldest first."""
        rows = self._db.execute(
            "SELECT client_order_id, action, symbol, params, detail, created_ms FROM journal"
            " WHERE account = ? AND state = 'pending' ORDER BY seq", (account,)).fetchall()
        entries = []
        for client_order_id, action, symbol, params, detail, created_ms in rows:
            try:
                decoded = json.loads(params)
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict):
                # Still returned: the id alone lets recovery find the order on the exchange.
                self.recovered.append(f"journal[{client_order_id}]: params unreadable")
                decoded = {}
            entries.append(JournalEntry(account, client_order_id, action, symbol,
                                        {str(k): str(v) for k, v in decoded.items()},
                                        "pending", detail, created_ms))
        return entries

    def _prune_journal(self) -> None:
        cutoff = self._now_ms() - JOURNAL_RETENTION_MS
        with self._write():
            self._db.execute(
                "DELETE FROM journal WHERE state != 'pending' AND updated_ms < ?", (cutoff,))

    # -- status ---------------------------------------------------------------------------

    def save_status(self, snapshot: Mapping[str, Any]) -> None:
        body = json.dumps(snapshot, default=_jsonable, separators=(",", ":"))
        with self._write():
            self._db.execute(
                "INSERT INTO status (id, body, saved_ms) VALUES (1, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET body = excluded.body, saved_ms = excluded.saved_ms",
                (body, self._now_ms()))

    def load_status(self) -> dict[str, Any] | None:
        return status_from(self._db, self.path)

    # -- plumbing -------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock_ms()

    def _write(self) -> Transaction:
        return Transaction(self._db)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"status snapshot: {type(value).__name__} is not JSON")
