"""`stopd`: one command line for the daemon's tools.

Each subcommand's arguments and behaviour live beside the code they drive; this module only
dispatches, so importing it stays cheap and `stopd validate` never loads the simulator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from daemon import rulecommands as rule_commands
    from daemon import runcommands
    from daemon.sim import cli as sim_cli

    parser = argparse.ArgumentParser(
        prog="stopd",
        description="Keeps protective stop orders on Pacifica in line with YAML rules.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rule_commands.add_validate_parser(sub)
    rule_commands.add_schema_parser(sub)
    sim_cli.add_parser(sub)
    runcommands.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
