"""The functional core does no I/O: import-linter keeps I/O modules out, this keeps builtins out.

import-linter sees imports only; `open`, `print` and `input` need none. The core's modules are
read from the import-linter contract itself, so the two checks always cover the same code.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE_CONTRACT = "The functional core does no I/O and knows no shell"
BANNED_CALLS = frozenset({"open", "print", "input", "breakpoint", "exec", "eval", "__import__"})
BANNED_METHODS = frozenset({"read_text", "read_bytes", "write_text", "write_bytes"})


def core_modules() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (core,) = [c for c in contracts if c["name"] == CORE_CONTRACT]
    files: list[Path] = []
    for name in core["source_modules"]:
        path = ROOT.joinpath(*name.split("."))
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")])
    return files


def io_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BANNED_CALLS:
            found.append(f"{where}:{node.lineno}: {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in BANNED_METHODS:
            found.append(f"{where}:{node.lineno}: .{func.attr}()")
    return found


def test_the_core_calls_no_io_builtins() -> None:
    modules = core_modules()
    assert len(modules) > 20, "the scan must see the core"
    assert all(path.exists() for path in modules), "a core module named in the contract is gone"
    assert [call for path in modules for call in io_calls(path)] == []


def test_the_scan_finds_what_it_bans(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(p):\n    print(open(p).read())\n    return p.read_text()\n")
    assert sorted(io_calls(sample)) == [
        "sample.py:2: open()", "sample.py:2: print()", "sample.py:3: .read_text()"]
