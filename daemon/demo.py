"""`make demo`: the real daemon (`stopd run`, a subprocess) keeping stops on a simulated,
volatile market (`stopd sim`, a subprocess on a free loopback port), with the shipped rules/.

A trader opens positions with signed market orders; the demo moves prices through the
simulator's /sim/prices control along a scripted path and watches the exchange (demowatch):
stops placed, one trailed, one moved to breakeven, one firing, one cancelled by hand and put
back, and an orphan cancelled after a position is closed by hand. It then prints `stopd status`
and a summary (positions, actions, credits used, the longest bare stretch) and exits 0, or
exits 1 naming the step that did not happen. Temp files live in one temp dir; every
subprocess is ended on every way out. `--quick` walks the same steps with shorter pauses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import base58
import httpx
import structlog
from nacl.signing import SigningKey
from prometheus_client.parser import text_string_to_metric_families

from daemon.demowatch import POLL_S, Stop, Watch
from daemon.domain import Side
from daemon.pacifica.errors import ExchangeError
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
START = {"BTC": "60000", "ETH": "3000", "SOL": "150", "kBONK": "0.02"}
# The opening book (rules/default.yaml, breakeven.yaml, trailing-activation.yaml apply).
OPENS = [("BTC", Side.BID, "0.01"), ("SOL", Side.BID, "10"), ("ETH", Side.ASK, "0.5")]
QUOTA = Decimal(300)  # credits a minute with an API config key, which the demo gives the daemon
STEP_S = 20.0  # the longest any one promised step may take (a loaded machine included)


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, tmp: Path, *, pace: float, rules: Path = RULES,
                 step_timeout: float = STEP_S) -> None:
        self.tmp, self.pace, self.t0 = tmp, pace, time.monotonic()
        self.rules, self.step_timeout = rules, step_timeout
        self.procs: list[asyncio.subprocess.Process] = []
        key = SigningKey.generate()
        self.keypair = Keypair(key)
        self.owner = self.keypair.public_key
        self.key_text = base58.b58encode(bytes(key) + bytes(key.verify_key)).decode()
        self.watch = Watch(self.owner, self.say)
        self.daemon_err = tmp / "daemon.err"
        self.config = tmp / "stopd.yaml"
        self.root = ""
        self.metrics_port = _free_port()
        self.steps: list[tuple[str, float]] = []

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {text}", flush=True)

    # -- processes -----------------------------------------------------------------------

    async def spawn(self, *args: str, stdout: int | None = None,
                    stderr: int | None = None) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon.cli", *args, cwd=REPO,
            stdout=stdout, stderr=stderr, stdin=asyncio.subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    async def end_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()

    async def start_sim(self) -> None:
        # --port 0: the simulator binds a free port itself and prints it (no race).
        proc = await self.spawn("sim", "--port", "0", "--prices", "static",
                                "--price-interval", "1", stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        while not self.root:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            if not line:
                raise DemoFailed("start the simulator: it exited before listening")
            if line.strip().startswith("REST"):
                self.root = line.split()[1].removesuffix("/api/v1")
        self.say(f"simulator  `stopd sim` up at {self.root} (REST /api/v1, WebSocket /ws; "
                 f"pid {proc.pid}); temp dir {self.tmp}")

    async def start_daemon(self) -> asyncio.subprocess.Process:
        key = self.tmp / "agent.key"
        key.write_text(self.key_text)
        key.chmod(0o600)
        api_key = self.tmp / "api.key"
        api_key.write_text(f"demo-daemon-{uuid.uuid4()}\n")
        api_key.chmod(0o600)
        self.config.write_text("\n".join([
            "exchange:", f"  rest_url: {self.root}/api/v1",
            f"  ws_url: {self.root.replace('http', 'ws', 1)}/ws",
            f"  api_key_file: {api_key}",
            "accounts:", f"  - key_file: {key}",
            f"rules: {self.rules}", f"state: {self.tmp / 'state' / 'stopd.db'}",
            f"metrics: 127.0.0.1:{self.metrics_port}",
            "reconcile_interval: 5s", "stale_after: 10s", ""]))
        # The child keeps its own copy of the descriptor; ours is closed at once.
        err = os.open(self.daemon_err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            proc = await self.spawn("run", "--config", str(self.config),
                                    stdout=asyncio.subprocess.DEVNULL, stderr=err)
        finally:
            os.close(err)
        self.say(f"daemon     `stopd run --config {self.config.name}` started (pid {proc.pid}), "
                 f"rules {self.rules}")
        return proc

    # -- the exchange --------------------------------------------------------------------

    async def prices(self, control: httpx.AsyncClient, moves: dict[str, str]) -> None:
        answer = await control.post(f"{self.root}/sim/prices", json=moves)
        answer.raise_for_status()
        self.say("market     " + "  ".join(f"{s} {p}" for s, p in moves.items()))

    async def poll(self, control: httpx.AsyncClient) -> None:
        while True:
            answer = await control.get(f"{self.root}/sim/state")
            answer.raise_for_status()
            self.watch.observe(answer.json())
            await asyncio.sleep(POLL_S)

    async def until(self, what: str, check: Callable[[], bool]) -> None:
        start, within = time.monotonic(), self.step_timeout
        while not check():
            if time.monotonic() - start > within:
                raise DemoFailed(f"{what}: did not happen within {within:.0f} s")
            if self.daemon is not None and self.daemon.returncode is not None:
                raise DemoFailed(f"{what}: the daemon exited ({self.daemon.returncode})")
            await asyncio.sleep(POLL_S / 2)
        self.steps.append((what, time.monotonic() - start))
        self.say(f"  OK       {what}")

    async def path(self, control: httpx.AsyncClient, steps: Sequence[dict[str, str]]) -> None:
        for moves in steps:
            await self.prices(control, moves)
            await asyncio.sleep(self.pace)

    daemon: asyncio.subprocess.Process | None = None

    # -- the story -----------------------------------------------------------------------

    async def run(self) -> None:
        await self.start_sim()
        async with httpx.AsyncClient(timeout=10) as control, PacificaRest(
                f"{self.root}/api/v1", keypair=self.keypair, api_key=f"demo-trader-{uuid.uuid4()}",
                retry=RetryPolicy(attempts=3, max_rate_limit_wait=1.0)) as trader:
            await self.prices(control, START)
            poller = asyncio.create_task(self.poll(control))
            try:
                await self.story(control, trader)
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller

    async def story(self, control: httpx.AsyncClient, trader: PacificaRest) -> None:
        w = self.watch
        markets = await trader.markets()

        async def market_order(symbol: str, side: Side, amount: str, *, close: bool = False
                               ) -> None:
            await trader.create_market_order(
                markets[symbol], side, amount=Decimal(amount),
                slippage_percent=Decimal("0.5"), reduce_only=close,
                client_order_id=str(uuid.uuid4()))

        self.say(f"trader     account {self.owner}: signed market orders open the book")
        for symbol, side, amount in OPENS:
            await market_order(symbol, side, amount)
        await self.until("positions open", lambda: len(w.positions) == len(OPENS))

        self.daemon = await self.start_daemon()
        await self.until("a stop placed on every position", w.all_covered)
        w.measuring = True  # from here a bare position is the daemon's doing
        await asyncio.sleep(self.pace)

        self.say("trader     opens a kBONK long while the daemon runs")
        await market_order("kBONK", Side.BID, "1000")
        w.exposed("kBONK", time.monotonic())
        await self.until("a stop placed on the new kBONK position",
                         lambda: "kBONK" in w.positions and w.covered("kBONK"))

        self.say("market     turns volatile: BTC and SOL rally, ETH squeezes higher")
        await self.path(control, [
            {"BTC": "60350", "SOL": "151.2", "ETH": "3040"},
            {"BTC": "59900", "SOL": "149.8", "ETH": "2990"},
            {"BTC": "60800", "SOL": "152.1", "ETH": "3060"},
            {"BTC": "61500", "SOL": "153.4", "ETH": "3080"},
            {"BTC": "62200"},
        ])
        # Trailing 2% behind the high of 62200: 60956. The rule moves a stop at most every
        # 5 s, so the stop may get there in two steps; waiting for the last one keeps the
        # hand cancel below from racing a move.
        trail = (Decimal("62200") * Decimal("0.98")).quantize(Decimal(1))  # BTC's tick is 1
        await self.until(f"BTC stop trailed up behind the rally to {trail:f} (btc-longs: "
                         "2% behind the high)", lambda: _at(w.stop_of("BTC"), trail))
        entry = w.positions["SOL"].entry
        breakeven = (entry * Decimal("1.001")).quantize(Decimal("0.01"))  # SOL's tick
        await self.until(f"SOL stop moved to breakeven {breakeven} (sol-breakeven: entry "
                         f"{entry} + 0.1%)", lambda: _at(w.stop_of("SOL"), breakeven))

        self.say("market     ETH spikes through the short's stop")
        await self.path(control, [{"ETH": "3100"}, {"ETH": "3135"}])
        await self.until("the ETH stop fired and closed the short",
                         lambda: "ETH" in w.fired and "ETH" not in w.positions)

        trailed = self.stop("BTC")
        self.say(f"trader     cancels the BTC stop ({trailed.stop_price}) by hand")
        w.by_hand.add(trailed.order_id)
        try:
            await trader.cancel_stop_order("BTC", order_id=trailed.order_id)
        except ExchangeError as error:
            raise DemoFailed(f"cancel the BTC stop by hand: {error}") from None
        w.exposed("BTC", time.monotonic())
        await self.until(f"the cancelled BTC stop put back at its trailed price {trail:f}",
                         lambda: _at(w.stop_of("BTC"), trail)
                         and (w.stop_of("BTC") or trailed).order_id != trailed.order_id)

        orphan = self.stop("kBONK")
        self.say("trader     closes the kBONK long by hand (its stop would be left behind)")
        await market_order("kBONK", Side.ASK, "1000", close=True)
        await self.until("the orphaned kBONK stop cancelled",
                         lambda: "kBONK" not in w.positions and orphan.order_id not in w.stops
                         and w.orders.get(orphan.order_id, {}).get("order_status")
                         == "cancelled")
        await asyncio.sleep(max(self.pace, 2.5))  # the status snapshot is written every 2 s
        await self.show_status()

    def stop(self, symbol: str) -> Stop:
        found = self.watch.stop_of(symbol)
        if found is None:
            raise DemoFailed(f"{symbol}: no stop of the daemon's rests on the exchange")
        return found

    async def show_status(self) -> None:
        proc = await self.spawn("status", "--config", str(self.config),
                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        if proc.returncode != 0:
            raise DemoFailed(f"stopd status: exit {proc.returncode}: {err.decode().strip()}")
        self.say(f"$ stopd status --config {self.config.name}")
        print(out.decode().rstrip(), flush=True)

    async def scrape(self) -> tuple[dict[tuple[str, str], int], Decimal | None]:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        actions: dict[tuple[str, str], int] = {}
        credits = None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "stopd_actions_total" and sample.value:
                    key = (sample.labels["kind"], sample.labels["outcome"])
                    actions[key] = int(sample.value)
                elif sample.name == "stopd_credits_remaining":
                    credits = Decimal(str(sample.value))
        return actions, credits

    async def stop_daemon(self) -> None:
        assert self.daemon is not None
        self.daemon.terminate()
        try:
            code = await asyncio.wait_for(self.daemon.wait(), 15)
        except TimeoutError:
            raise DemoFailed("stop the daemon: no exit within 15 s of SIGTERM") from None
        if code != 0:
            raise DemoFailed(f"stop the daemon: exit status {code}")
        self.say("daemon     stopped on SIGTERM (exit 0); its resting stops stay on the exchange")

    def summary(self, actions: dict[tuple[str, str], int], credits: Decimal | None) -> None:
        w = self.watch
        print(flush=True)
        print(f"{'position':<18} what happened", flush=True)
        for symbol, side, amount in [*OPENS, ("kBONK", Side.BID, "1000")]:
            label = f"{symbol} {'long' if side is Side.BID else 'short'} {amount}"
            print(f"{label:<18} {'; '.join(w.history.get(symbol, ['-']))}", flush=True)
        print(flush=True)
        print(f"{'action':<10} {'outcome':<16} count", flush=True)
        for (kind, outcome), count in sorted(actions.items()):
            print(f"{kind:<10} {outcome:<16} {count:>5}", flush=True)
        used = "?" if credits is None else format(QUOTA - credits, "f")
        print(flush=True)
        print(f"credits used      {used} of {QUOTA} a minute (the daemon's API key)", flush=True)
        print(f"longest bare      {w.longest_bare:.2f} s ({w.longest_bare_symbol or '-'}): "
              "from the exchange's answer that left a position without a stop (or a poll",
              flush=True)
        print(f"                  seeing it bare) to a poll of GET /sim/state, every {POLL_S} s, "
              "seeing it covered", flush=True)
        print(f"demo took         {time.monotonic() - self.t0:.0f} s", flush=True)


def _at(stop: object, price: Decimal) -> bool:
    return getattr(stop, "stop_price", None) == price


def _free_port() -> int:
    # For the metrics address only; the simulator picks its own port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _main(args: argparse.Namespace) -> None:
    # SIGTERM and SIGHUP (a closed terminal) cancel the demo like Ctrl-C does, so the
    # `finally` below still ends the simulator and the daemon and removes the temp dir.
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)
    with tempfile.TemporaryDirectory(prefix="stopd-demo-") as tmp:
        demo = Demo(Path(tmp), pace=0.3 if args.quick else 1.5, rules=args.rules.resolve(),
                    step_timeout=args.step_timeout)
        try:
            await demo.run()
            actions, credits = await demo.scrape()
            await demo.stop_daemon()
            demo.summary(actions, credits)
        except BaseException:
            if demo.daemon_err.exists():
                tail = demo.daemon_err.read_text(errors="replace").splitlines()[-25:]
                print("--- the daemon's last log lines ---", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            await demo.end_all()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daemon.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="the same steps with shorter pauses (the test runs this)")
    parser.add_argument("--rules", type=Path, default=RULES,
                        help="the rule file or directory the daemon runs (default: rules/)")
    parser.add_argument("--step-timeout", type=float, default=STEP_S, metavar="SECONDS",
                        help="how long one promised step may take before the demo fails")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    try:
        asyncio.run(_main(args))
    except DemoFailed as failure:
        print(f"demo failed: {failure}", file=sys.stderr)
        return 1
    except (ExchangeError, httpx.HTTPError, OSError) as error:
        print(f"demo failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("demo interrupted: the simulator and the daemon were stopped", file=sys.stderr)
        return 130
    print("\nDemo complete: the real daemon kept every position protected.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
