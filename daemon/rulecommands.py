"""`stopd validate` and `stopd schema`: the rule language's printing side, kept in the shell."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from daemon.rulefiles import check_paths
from daemon.rules.schema import rule_schema_text
from daemon.settings import SettingsError, load_settings

EXIT_OK = 0
EXIT_INVALID = 2


def add_validate_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check rule files and print every problem as file:line:column",
        description="Check rule files (a directory means its *.yaml and *.yml) as one rule "
                    "book, and with --config a settings file and the rules it names. Exit 0 "
                    "when all are valid, 2 otherwise.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="rule file or directory")
    parser.add_argument("--config", metavar="SETTINGS", type=Path,
                        help="also check this settings file (docs/configuration.md) and the "
                             "rules it names; keys are not read")
    parser.set_defaults(handler=run_validate, validate_parser=parser)


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
    paths: list[str | Path] = list(args.paths)
    if args.config is not None:
        try:
            settings = load_settings(args.config)
        except SettingsError as exc:
            for line in exc.problems:
                print(line)
            print(f"{_count(len(exc.problems), 'error')}; the settings file is not valid",
                  file=sys.stderr)
            return EXIT_INVALID
        print(f"{args.config}: ok, {_count(len(settings.accounts), 'account')}, "
              f"rules: {settings.rules}")
        paths.append(settings.rules)
    if not paths:
        args.validate_parser.error("give rule files or directories, or --config")
    result = check_paths(paths)
    for problem in result.problems:
        print(problem)
    if result.book is None:
        print(f"{_count(len(result.errors), 'error')}; rule files are not valid",
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
    return f"{_count(len(rules), 'rule')}, symbols: {', '.join(symbols) or 'none'}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(rule_schema_text())
    return EXIT_OK
