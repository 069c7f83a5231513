"""End-to-end harness: `stopd run` as a real subprocess against the simulator on loopback.

The simulator runs in the test's event loop (so the test can read its order log and move its
prices); the daemon is `python -m daemon.cli run --config ...` in its own process, with its
own key file, rule file and state file in a temporary directory. Traders open positions with
signed market orders through the project's REST client, the way any trader does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import base58
from nacl.signing import SigningKey

from daemon import ids
from daemon.domain import Side
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair

if TYPE_CHECKING:
    from daemon.sim import Simulator

REPO = Path(__file__).resolve().parents[2]

RULES = """\
version: 1
defaults:
  trigger: mark
  update: {min_move: 0, min_interval: 0s}
rules:
  - name: btc-longs
    match: {symbol: BTC, side: long}
    stop_loss: 2%
    trailing: {distance: 1%}
  - name: everything-else
    match: {symbol: "*"}
    stop_loss: 3%
"""


def seed_key(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


def secret_text(key: SigningKey) -> str:
    """The base58 64-byte keypair form (Solana's), as a user's key file holds it."""
    return base58.b58encode(bytes(key) + bytes(key.verify_key)).decode()


def keypair(key: SigningKey) -> Keypair:
    return Keypair(key)


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@dataclass
class AccountSpec:
    key: SigningKey
    address: str | None = None  # set: the key is this account's agent wallet

    @property
    def owner(self) -> str:
        return self.address or keypair(self.key).public_key


def settings_text(sim: Simulator, *, accounts: Sequence[tuple[AccountSpec, Path]],
                  rules: Path, state: Path, api_key_file: Path | None,
                  reconcile: str = "2s", stale: str = "6s") -> str:
    lines = ["exchange:", f"  rest_url: {sim.base_url}", f"  ws_url: {sim.ws_url}"]
    if api_key_file is not None:
        lines.append(f"  api_key_file: {api_key_file}")
    lines.append("accounts:")
    for spec, key_file in accounts:
        if spec.address is not None:
            lines.append(f"  - address: {spec.address}")
            lines.append(f"    key_file: {key_file}")
        else:
            lines.append(f"  - key_file: {key_file}")
    lines += [f"rules: {rules}", f"state: {state}", "metrics: off",
              f"reconcile_interval: {reconcile}", f"stale_after: {stale}"]
    return "\n".join(lines) + "\n"


@dataclass
class Daemon:
    """One `stopd run` subprocess; `stop`/`kill` and the fixture's finalizer end it."""

    config: Path
    workdir: Path
    env: dict[str, str]
    args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    outputs: list[Path] = field(default_factory=list)

    def start(self, *extra: str) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        out = self.workdir / f"daemon-{self.runs}.out"
        err = self.workdir / f"daemon-{self.runs}.err"
        self.outputs += [out, err]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "run", "--config", str(self.config),
                 *self.args, *extra],
                stdout=stdout, stderr=stderr, cwd=REPO, env=self.env)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    async def ready(self, within: float = 15.0) -> None:
        """Until the daemon logged that it is ready (its SIGTERM handling is in place)."""
        current = self.workdir / f"daemon-{self.runs}.err"
        await eventually(lambda: "daemon.ready" in current.read_text(errors="replace")
                         or not self.running, within, "the daemon ready", every=0.1,
                         daemon=self)

    async def stop(self, within: float = 15.0) -> int:
        """SIGTERM once it is ready (a signal before Python runs at all ends any process
        with -15), then its exit status."""
        assert self.proc is not None
        await self.ready()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        # A subprocess, not a task: its end can only be polled from here.
        while self.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack
            await asyncio.sleep(0.5)
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("the daemon did not stop on SIGTERM:\n"
                                 + self.current_log()[-8000:])
        return self.proc.returncode

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.outputs if p.exists())

    def current_log(self) -> str:
        """The running (or last) daemon's stderr, the readable part of a failure report."""
        path = self.workdir / f"daemon-{self.runs}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    def stderr(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.outputs
                         if p.suffix == ".err" and p.exists())


@dataclass
class World:
    """A simulator, a settings file, and the daemons and traders of one test."""

    sim: Simulator
    tmp: Path
    accounts: list[AccountSpec]
    config: Path
    rules: Path
    state: Path
    api_key_file: Path | None
    daemons: list[Daemon] = field(default_factory=list)
    traders: list[PacificaRest] = field(default_factory=list)

    def daemon(self, *args: str, env: dict[str, str] | None = None) -> Daemon:
        full = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        full["PYTHONUNBUFFERED"] = "1"
        full.update(env or {})
        daemon = Daemon(self.config, self.tmp, full, args)
        self.daemons.append(daemon)
        return daemon

    def trader(self, spec: AccountSpec | None = None) -> PacificaRest:
        """A signed client for `spec`'s account (the first account by default), with its own
        API config key so the daemon's credits are not the test's."""
        spec = spec or self.accounts[0]
        client = PacificaRest(self.sim.base_url, keypair=keypair(spec.key),
                              account=spec.address, api_key=f"trader-{uuid.uuid4()}",
                              retry=RetryPolicy(attempts=2, max_rate_limit_wait=1.0),
                              expiry_window=30_000)
        self.traders.append(client)
        return client

    async def open(self, trader: PacificaRest, symbol: str, side: Side, amount: str) -> None:
        markets = await trader.markets()
        await trader.create_market_order(markets[symbol], side, amount=Decimal(amount),
                                         slippage_percent=Decimal("0.5"),
                                         client_order_id=str(uuid.uuid4()))

    async def close(self, trader: PacificaRest, symbol: str, side: Side, amount: str) -> None:
        markets = await trader.markets()
        await trader.create_market_order(markets[symbol], side.opposite, amount=Decimal(amount),
                                         slippage_percent=Decimal("0.5"), reduce_only=True,
                                         client_order_id=str(uuid.uuid4()))

    # -- the simulator's view --------------------------------------------------------------

    def account_state(self, spec: AccountSpec | None = None) -> dict[str, Any]:
        owner = (spec or self.accounts[0]).owner
        accounts: dict[str, Any] = self.sim.state()["accounts"]
        return accounts.get(owner, {"positions": [], "open_orders": []})  # type: ignore[no-any-return]

    def positions(self, spec: AccountSpec | None = None) -> list[dict[str, Any]]:
        return list(self.account_state(spec)["positions"])

    def our_stops(self, spec: AccountSpec | None = None) -> list[dict[str, Any]]:
        owner = (spec or self.accounts[0]).owner
        return [o for o in self.account_state(spec)["open_orders"]
                if ids.is_ours(o["client_order_id"], owner)]

    def order_log(self, spec: AccountSpec | None = None) -> list[dict[str, Any]]:
        owner = (spec or self.accounts[0]).owner
        return [o for o in self.sim.state()["orders"] if o["account"] == owner]

    def covered(self, spec: AccountSpec | None = None) -> bool:
        """Every open position has at least one resting reduce-only stop of ours on its
        protective side, sized to the whole position."""
        stops = self.our_stops(spec)
        for p in self.positions(spec):
            closing = "ask" if p["side"] == "bid" else "bid"
            mine = [s for s in stops if s["symbol"] == p["symbol"] and s["side"] == closing
                    and s["reduce_only"] and s["stop_price"] is not None]
            if not mine:
                return False
            if sum(Decimal(s["initial_amount"]) - Decimal(s["filled_amount"])
                   - Decimal(s["cancelled_amount"]) for s in mine) < Decimal(p["amount"]):
                return False
        return True

    def duplicates(self, spec: AccountSpec | None = None) -> list[str]:
        """client_order_ids the exchange accepted more than once (it must never happen)."""
        seen: dict[str, int] = {}
        for order in self.order_log(spec):
            cloid = order["client_order_id"]
            if cloid is not None:
                seen[cloid] = seen.get(cloid, 0) + 1
        return [c for c, n in seen.items() if n > 1]

    def live_per_leg(self, spec: AccountSpec | None = None) -> dict[tuple[int, int], int]:
        out: dict[tuple[int, int], int] = {}
        for stop in self.our_stops(spec):
            parsed = ids.parse(stop["client_order_id"])
            assert parsed is not None
            out[(parsed.position, parsed.leg)] = out.get((parsed.position, parsed.leg), 0) + 1
        return out


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float,
                     what: str, *, every: float = 0.05, daemon: Daemon | None = None) -> float:
    """Seconds until `check` holds; fails naming `what` (and showing the daemon's log)."""
    start = time.monotonic()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > within:
            log = daemon.current_log()[-8000:] if daemon is not None else ""
            raise AssertionError(f"{what}: not within {within} s\n{log}")
        await asyncio.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def notify_socket(path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def received(sock: socket.socket) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(sock.recv(65536).decode())
        except BlockingIOError:
            return out


async def stopd(*args: str, env: dict[str, str] | None = None, within: float = 30.0
                ) -> tuple[int, str, str]:
    """Run one `stopd` command to its end without blocking the loop the simulator serves."""
    full = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    full.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon.cli", *args, cwd=REPO, env=full,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
