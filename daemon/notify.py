"""systemd's notify protocol (sd_notify(3)) in a few lines of stdlib.

One datagram per call to the Unix socket named by $NOTIFY_SOCKET ('@' starts an abstract
name). Without that variable every call does nothing, so the daemon runs the same with or
without systemd. A lost notification must never stop the daemon: `send` never raises.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    def __init__(self, address: str | bytes | None,
                 watchdog_interval: float | None = None) -> None:
        self._address = address
        # Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; None: no watchdog.
        self.watchdog_interval = watchdog_interval

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Notifier:
        name = env.get("NOTIFY_SOCKET") or None
        address: str | bytes | None = name
        if name is not None and name.startswith("@"):
            address = b"\0" + name[1:].encode()
        return cls(address, _watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> None:
        """One datagram of newline-joined `KEY=value` fields; failures are swallowed."""
        if self._address is None or not fields:
            return
        try:
            # Non-blocking: this runs on the event loop, and a reader whose queue is full (a
            # hung supervisor) would otherwise freeze the daemon on a blocking send. systemd
            # drains its queue at once, so what this can lose is a datagram nobody reads.
            flags = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            with socket.socket(socket.AF_UNIX, flags) as sock:
                sock.connect(self._address)
                sock.send("\n".join(fields).encode())
        except (OSError, ValueError):
            pass  # systemd gone or its queue full: the service keeps running regardless

    def ready(self, status: str | None = None) -> None:
        self.send("READY=1", *(() if status is None else (_status(status),)))

    def reloading(self) -> None:
        # Both fields in one datagram: systemd matches the reload by this timestamp.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        self.send(_status(text))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")


def _status(text: str) -> str:
    # STATUS= is one line: a newline would start a field the sender did not mean.
    return "STATUS=" + " ".join(text.split())


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid is not None and pid != str(os.getpid()):  # meant for another process
        return None
    return int(usec) / 2_000_000
