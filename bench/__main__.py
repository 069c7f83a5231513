"""Run every benchmark and write bench/results.md (and print it)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from bench.report import Row, render

# Each module exposes run() -> list[Row]; order is the order of the table.
MODULES = ["bench.signing", "bench.engine", "bench.state", "bench.simcredits"]


def main() -> int:
    rows: list[Row] = []
    for name in MODULES:
        print(f"running {name} ...", file=sys.stderr)
        rows.extend(importlib.import_module(name).run())
    table = render(rows)
    Path(__file__).with_name("results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
