"""`stopd sim`: run the simulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run a Pacifica-compatible exchange simulator on loopback",
        description="Run a Pacifica-compatible exchange (REST under /api/v1, WebSocket at /ws, "
                    "controls under /sim) on one port. See docs/simulator.md.",
    )
    parser.add_argument("--port", type=int, default=8787, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--markets", type=Path, help="JSON market list replacing the defaults")
    parser.add_argument("--prices", default="walk",
                        help="price driver: walk (seeded random walk), static, or a CSV "
                             "(time,symbol,price) or JSON script file")
    parser.add_argument("--seed", type=int, default=0, help="seed for the walk and fault dice")
    parser.add_argument("--walk-interval", type=float, default=1.0,
                        help="seconds between random-walk steps")
    parser.add_argument("--price-interval", type=float, default=2.0,
                        help="seconds between prices frames sent even while no price moves, "
                             "as live Pacifica's 3 s oracle does (0: only on change)")
    parser.add_argument("--volatility-bps", type=int, default=10,
                        help="standard deviation of one walk step, in basis points")
    parser.add_argument("--collateral", default="100000",
                        help="USD credited to each new account")
    parser.add_argument("--dedupe", choices=("ever", "open"), default="ever",
                        help="client_order_id duplicate scope")
    parser.add_argument("--tpsl", choices=("replace", "add"), default="replace",
                        help="what a second /positions/tpsl does to a position's legs: "
                             "replace them (default, as live evidence suggests) or add to them")
    parser.add_argument("--ip-quota", default="100", help="credits per 60 s without an API key")
    parser.add_argument("--key-quota", default="300", help="credits per 60 s with PF-API-KEY")
    parser.add_argument("--ws-idle-timeout", type=float, default=60.0,
                        help="seconds of client silence before the server closes a socket")
    parser.set_defaults(handler=run)


def _decimal(text: str, flag: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SystemExit(f"stopd sim: {flag}: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise SystemExit(f"stopd sim: {flag}: must be a number >= 0")
    return value


def _seconds(value: float, flag: str) -> float:
    if not 0 <= value < float("inf"):
        raise SystemExit(f"stopd sim: {flag}: must be a number of seconds >= 0")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        import aiohttp  # noqa: F401 - only to give a clear message when the extra is missing
    except ImportError:
        print("stopd sim: the simulator needs aiohttp; install pacifica-stopd[sim]",
              file=sys.stderr)
        return 2
    import asyncio

    from daemon.sim.config import DedupeScope, SimConfig, TpslMode
    from daemon.sim.markets import MarketFileError, default_markets, load_markets
    from daemon.sim.pricepaths import PricePathError

    try:
        markets = load_markets(args.markets) if args.markets else default_markets()
        config = SimConfig(
            markets=markets, collateral=_decimal(args.collateral, "--collateral"),
            dedupe_scope=DedupeScope(args.dedupe), tpsl=TpslMode(args.tpsl),
            prices=args.prices, seed=args.seed,
            walk_interval=args.walk_interval, walk_volatility_bps=args.volatility_bps,
            price_interval=_seconds(args.price_interval, "--price-interval"),
            ip_quota=_decimal(args.ip_quota, "--ip-quota"),
            api_key_quota=_decimal(args.key_quota, "--key-quota"),
            ws_idle_timeout=args.ws_idle_timeout,
        )
        return asyncio.run(_serve(config, args.host, args.port))
    except (MarketFileError, PricePathError) as bad:
        print(f"stopd sim: {bad}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"stopd sim: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1


async def _serve(config: Any, host: str, port: int) -> int:
    import asyncio
    import signal

    from daemon.sim.server import Simulator

    simulator = Simulator(config)
    await simulator.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"Pacifica simulator (prices: {config.prices}, seed {config.seed})", flush=True)
    print(f"  REST      {simulator.base_url}", flush=True)
    print(f"  WebSocket {simulator.ws_url}", flush=True)
    print(f"  controls  {simulator.root_url}/sim/  (prices, faults, state, fund, reset)",
          flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
    print("simulator stopped", flush=True)
    return 0
