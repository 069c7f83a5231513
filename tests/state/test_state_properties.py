"""Whatever sequence of memories is saved, the file reads back as the last one saved."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from state_support import ACCOUNT, key, memory, position

from daemon.domain import PositionKey
from daemon.engine.memory import Memory, PositionMemory

# One step of what the engine and the service do to a Memory between two saves.
steps = st.lists(st.one_of(
    st.tuples(st.just("update"), st.integers(0, 30), st.integers(0, 10**6)),
    st.tuples(st.just("equal-copy"), st.integers(0, 30), st.just(0)),  # new object, same value
    st.tuples(st.just("new-keys"), st.just(0), st.just(0)),  # a full evaluate: new key objects
    st.tuples(st.just("share"), st.integers(0, 30), st.integers(0, 30)),  # one object, 2 keys
    st.tuples(st.just("prune"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("reopen"), st.just(0), st.just(0)),
    st.tuples(st.just("save"), st.just(0), st.just(0)),
), max_size=25)


def _apply(m: Memory, op: str, a: int, b: int) -> Memory:
    positions = dict(m.positions)
    if op == "update":
        positions[key(a)] = position(a, extreme=b)
    elif op == "equal-copy" and key(a) in positions:
        positions[key(a)] = replace(positions[key(a)])
    elif op == "new-keys":
        positions = {PositionKey(k.symbol, k.side, k.created_at): v for k, v in positions.items()}
    elif op == "share" and key(b) in positions:
        positions[key(a)] = positions[key(b)]
    elif op == "prune":
        positions.pop(key(a), None)
    else:
        return m
    return Memory(positions)


@settings(max_examples=60)
@given(st.integers(0, 12), steps)
def test_the_file_always_reads_back_as_the_last_memory_saved(
        start: int, ops: list[tuple[str, int, int]]) -> None:
    from daemon.state import StateStore

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stopd.db"
        store = StateStore.open(path)
        saved = Memory({key(n): position(n) for n in range(start)})
        store.save_memory(ACCOUNT, saved)
        current = saved
        for op, a, b in ops:
            if op == "reopen":  # a restart: the next save may come before any load
                store.close()
                store = StateStore.open(path)
                if a % 2:
                    current = saved = store.load_memory(ACCOUNT)
            elif op == "save":
                store.save_memory(ACCOUNT, current)
                saved = current
            else:
                current = _apply(current, op, a, b)
                store.save_memory(ACCOUNT, current)
                saved = current
        store.close()
        check = StateStore.open(path)
        assert check.load_memory(ACCOUNT) == saved
        assert check.recovered == []
        check.close()


def test_saving_100_changes_among_10000_positions_takes_a_few_ms(tmp_path: Path) -> None:
    """A guard, not the benchmark (bench/state.py): a full rewrite costs ~100x this bound."""
    from daemon.state import StateStore

    store = StateStore.open(tmp_path / "stopd.db")
    m = memory(10_000)
    store.save_memory(ACCOUNT, m)
    keys = list(m.positions)
    cpu = []
    for frame in range(15):
        changes: dict[PositionKey, PositionMemory] = {
            k: replace(m.positions[k], extreme=Decimal(frame)) for k in keys[frame::100]}
        m = m.updated(changes)
        start = time.process_time()  # CPU time: the 2-core box is shared while tests run
        store.save_memory(ACCOUNT, m)
        cpu.append(time.process_time() - start)
    store.close()
    assert statistics.median(cpu) < 0.025, cpu
