"""One writer: a second process cannot open the state file a daemon holds; readers can."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daemon.state import StateLocked, StateStore, read_status


def _holder(path: Path) -> subprocess.Popen[str]:
    """A process that holds the store open (a running daemon) until its stdin closes."""
    child = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from daemon.state import StateStore
        store = StateStore.open(Path({str(path)!r}))
        store.save_status({{"held": True}})
        print("ready", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_a_second_process_is_refused_while_readers_still_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "stopd.db"
    holder = _holder(path)
    try:
        with pytest.raises(StateLocked, match="another process is using this state file"
                           ) as refused:
            StateStore.open(path, lock_wait_ms=200)
        assert str(path) in str(refused.value)
        assert read_status(path) == {"held": True}  # `stopd status` beside the daemon
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # The kernel drops the lock of a killed process: the restart opens at once.
    store = StateStore.open(path, lock_wait_ms=0)
    assert store.recovered == []
    store.close()


def test_a_restart_waits_for_a_daemon_still_exiting(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    holder = _holder(path)
    try:
        assert holder.stdin is not None
        holder.stdin.close()  # it exits now, on its own time
        store = StateStore.open(path)  # waits up to LOCK_WAIT_MS
        store.close()
    finally:
        holder.wait(timeout=30)


def test_one_process_may_open_its_file_twice(tmp_path: Path) -> None:
    path = tmp_path / "stopd.db"
    first = StateStore.open(path)
    second = StateStore.open(path, lock_wait_ms=0)  # tests and tools in one process
    second.close()
    first.close()
