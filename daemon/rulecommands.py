"""`stopd validate` and `stopd schema`: the rule language's printing side, kept in the shell."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

from daemon.rulefiles import check_paths
from daemon.rules.schema import rule_schema_text

EXIT_OK = 0
EXIT_INVALID = 2


def add_validate_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check rule files and print every problem as file:line:column",
        description="Check rule files (a directory means its *.yaml and *.yml) as one rule "
                    "book. Exit 0 when all are valid, 2 otherwise.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule file or directory")
    parser.set_defaults(handler=run_validate)


def add_schema_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of rule files (for editor completion)",
        description="Print the JSON Schema of rule files. Point yaml-language-server at it "
                    "with a first line `# yaml-language-server: $schema=<path>`.",
    )
    parser.set_defaults(handler=run_schema)


def run_validate(args: argparse.Namespace) -> int:
    # Messages quote the user's text; a terminal that cannot show it must not crash us.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    result = check_paths(args.paths)
    for problem in result.problems:
        print(problem)
    if result.book is None:
        errors = len(result.errors)
        print(f"{errors} error{'s' if errors != 1 else ''}; rule files are not valid",
              file=sys.stderr)
        return EXIT_INVALID
    for file in result.files:
        print(f"{file.filename}: ok, {_summary(file.rules)}")
    return EXIT_OK


def _summary(rules: tuple[Any, ...]) -> str:
    symbols: list[str] = []
    for rule in rules:
        for symbol in rule.match.symbols or ("*",):
            if symbol not in symbols:
                symbols.append(symbol)
    count = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}"
    return f"{count}, symbols: {', '.join(symbols) or 'none'}"


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(rule_schema_text())
    return EXIT_OK
