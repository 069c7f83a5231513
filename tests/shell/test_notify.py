"""sd_notify over a real Unix datagram socket, path and abstract names."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_messages_arrive_one_datagram_each(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    notifier.ready("protecting 3 positions")
    before = time.monotonic_ns() // 1000
    notifier.reloading()
    after = time.monotonic_ns() // 1000
    notifier.ready()
    notifier.status("degraded:\nfeed stale")
    notifier.watchdog()
    notifier.stopping()
    assert received(sock) == ["READY=1", "STATUS=protecting 3 positions"]
    reloading, stamp = received(sock)
    assert reloading == "RELOADING=1"
    assert stamp.startswith("MONOTONIC_USEC=")
    assert before <= int(stamp.removeprefix("MONOTONIC_USEC=")) <= after
    assert received(sock) == ["READY=1"]
    assert received(sock) == ["STATUS=degraded: feed stale"]
    assert received(sock) == ["WATCHDOG=1"]
    assert received(sock) == ["STOPPING=1"]


def test_an_abstract_socket_name() -> None:
    name = f"stopd-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == ["READY=1"]


def test_without_a_socket_or_with_a_dead_one_nothing_raises(tmp_path: Path) -> None:
    quiet = Notifier.from_env({})
    assert not quiet.enabled
    quiet.ready()
    quiet.stopping()
    Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ready()
    Notifier.from_env({"NOTIFY_SOCKET": "@"}).send("READY=1")
    Notifier.from_env({"NOTIFY_SOCKET": "relative\0bad"}).send("READY=1")


@pytest.mark.parametrize(("env", "expected"), [
    ({"WATCHDOG_USEC": "20000000"}, 10.0),
    ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 10.0),
    ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(
        env: dict[str, str], expected: float | None) -> None:
    assert Notifier.from_env(env).watchdog_interval == expected


def test_a_reader_that_stops_reading_never_blocks_the_sender(
        listener: tuple[socket.socket, str]) -> None:
    """send runs on the event loop: a full receive queue (a hung supervisor, a test that
    stopped reading) must cost a lost datagram, never a frozen loop."""
    _sock, path = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    started = time.monotonic()
    for _ in range(2000):  # far more than a datagram socket's queue holds
        notifier.watchdog()
    assert time.monotonic() - started < 5
