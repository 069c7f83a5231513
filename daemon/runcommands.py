"""`stopd run`, `stopd plan` and `stopd status`: their arguments, with handlers loaded on use.

Kept free of heavy imports so that `stopd validate` and `stopd schema` start fast; each
handler imports the service, the exchange client and the scheduler only when it runs.
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
from pathlib import Path
from typing import Any


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, metavar="PATH",
                        help="the settings file (YAML); see docs/configuration.md")


def add_parsers(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the daemon: keep stops in line with the rules")
    _config(run)
    run.add_argument("--dry-run", action="store_true",
                     help="evaluate, plan, sign and log every action; send none")
    run.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])
    run.set_defaults(handler=_run)

    plan = subparsers.add_parser(
        "plan", help="show what the daemon would do now for each position; sends nothing")
    _config(plan)
    plan.add_argument("--json", action="store_true",
                      help="print only one JSON document on stdout")
    plan.set_defaults(handler=_plan)

    status = subparsers.add_parser(
        "status", help="the running daemon's accounts, positions, stops and health")
    _config(status)
    status.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    status.set_defaults(handler=_status)


_early_stop = False


def stop_requested() -> bool:
    """SIGTERM/SIGINT arrived while the daemon was still loading (before its loop handles
    signals): it then stops as soon as it can, cleanly, with status 0."""
    return _early_stop


def _note_stop(signum: int, frame: object) -> None:
    global _early_stop
    _early_stop = True


def _run(args: argparse.Namespace) -> int:
    # Before the heavy imports: a SIGTERM during start-up must still end in a clean stop.
    signal.signal(signal.SIGTERM, _note_stop)
    signal.signal(signal.SIGINT, _note_stop)
    # A reload asked for while loading would otherwise end the process (SIGHUP's default);
    # the rules are read at start anyway, and a later change is picked up by the file poll.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # `kill -USR1` dumps every thread's stack to stderr: for a daemon that seems stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from daemon.service import run_command

    return run_command(args, stop_requested)


def _plan(args: argparse.Namespace) -> int:
    from daemon.plancommand import run_plan

    return run_plan(args)


def _status(args: argparse.Namespace) -> int:
    from daemon.status import run_status

    return run_status(args)
