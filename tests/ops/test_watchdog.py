"""WATCHDOG=1 over a real Unix datagram socket: at half of WATCHDOG_USEC, and not while the loop
is frozen, prices are stale without a working fallback, or the order worker hangs or died."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from daemon.notify import Notifier
from daemon.watchdog import Watchdog, feed_fresh, submitter_moving, task_alive

USEC = 200_000  # WatchdogSec=0.2 s: a ping every 0.1 s


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.setblocking(False)
    yield sock, path
    sock.close()


def notifier(path: str) -> Notifier:
    return Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(USEC),
                              "WATCHDOG_PID": str(os.getpid())})


def pings(sock: socket.socket) -> list[float]:
    """Arrival times of the WATCHDOG=1 datagrams waiting on the socket."""
    found = []
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return found
        assert data == b"WATCHDOG=1"
        found.append(time.monotonic())


async def collect(sock: socket.socket, seconds: float) -> list[float]:
    """Receive for `seconds`, stamping each datagram as it arrives (from the loop's reader)."""
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    loop.add_reader(sock.fileno(), lambda: arrivals.extend(pings(sock)))
    try:
        await asyncio.sleep(seconds)
    finally:
        loop.remove_reader(sock.fileno())
    return arrivals


class Worker:
    def __init__(self) -> None:
        self.idle = True
        self.last_progress = time.monotonic()


async def test_pings_at_half_the_watchdog_interval(socket_path: tuple[socket.socket, str]) -> None:
    sock, path = socket_path
    dog = Watchdog(notifier(path), {})
    assert dog.enabled
    task = asyncio.create_task(dog.run())
    arrivals = await collect(sock, 1.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert 8 <= len(arrivals) <= 12  # one every 0.1 s
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) < 0.2


async def test_a_frozen_loop_sends_nothing(socket_path: tuple[socket.socket, str]) -> None:
    sock, path = socket_path
    dog = Watchdog(notifier(path), {})
    task = asyncio.create_task(dog.run())
    await asyncio.sleep(0.35)
    pings(sock)
    # The test hook: a blocking call freezes the loop for 3 watchdog periods.
    time.sleep(0.6)  # noqa: ASYNC251
    during = pings(sock)
    after = await collect(sock, 0.35)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert during == []
    assert len(after) >= 2  # it resumes once the loop turns again


async def test_stale_prices_withhold_pings_unless_the_fallback_works(
        socket_path: tuple[socket.socket, str]) -> None:
    sock, path = socket_path
    age: list[float | None] = [0.5]
    fallback = [False]
    dog = Watchdog(notifier(path), {
        "prices": feed_fresh(lambda: age[0], stale_after=2.0, degraded_ok=lambda: fallback[0])})
    with capture_logs() as logs:
        assert dog.beat()
        age[0] = 30.0  # the stream died
        assert not dog.beat()
        assert not dog.beat()
        fallback[0] = True  # degraded mode: prices polled over REST, and that works
        assert dog.beat()
    assert len(pings(sock)) == 2
    events = [(entry["event"], entry.get("reason", "")) for entry in logs]
    assert events == [
        ("watchdog.withheld",
         "prices: no price frame for 30 s and the REST fallback makes no progress"),
        ("watchdog.resumed", "")]  # logged once per reason, not per beat
    assert dog.pings == 2


def test_no_frame_yet_gets_one_stale_period_of_grace() -> None:
    now = [100.0]
    check = feed_fresh(lambda: None, stale_after=10.0, clock=lambda: now[0])
    assert check() is None
    now[0] = 111.0
    assert check() == "no price frame for 11 s and the REST fallback makes no progress"


def test_a_hung_worker_trips_an_idle_one_does_not() -> None:
    now = [1000.0]
    worker = Worker()
    worker.last_progress = 900.0
    check = submitter_moving(worker, stall_after=90.0, clock=lambda: now[0])
    assert check() is None  # idle: nothing to make progress on
    worker.idle = False
    assert check() == "the order worker has work and no request ended for 100 s"
    worker.last_progress = 950.0
    assert check() is None


async def test_a_dead_worker_task_trips(socket_path: tuple[socket.socket, str]) -> None:
    sock, path = socket_path

    async def worker() -> None:
        raise RuntimeError("boom")

    task: asyncio.Task[object] = asyncio.create_task(worker())
    await asyncio.gather(task, return_exceptions=True)
    dog = Watchdog(notifier(path), {"submitter": task_alive(task, "submitter")})
    assert not dog.beat()
    assert dog.withheld == "submitter: the submitter task ended"
    assert pings(sock) == []


async def test_without_watchdog_usec_it_does_nothing(tmp_path: Path) -> None:
    dog = Watchdog(Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "x")}), {})
    assert not dog.enabled
    await asyncio.wait_for(dog.run(), timeout=1)  # returns at once
