"""The simulator's modules import one another without a cycle, type-checking and
function-level imports included: handlers are typed against `daemon.sim.host.SimHost` and
share `daemon.sim.http`, so none of them needs the server that wires them up."""

from __future__ import annotations

import ast
from pathlib import Path

import daemon.sim

PACKAGE = Path(daemon.sim.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The daemon.sim modules `path` imports, at any depth of its syntax tree."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "daemon.sim":
                found.update(f"daemon.sim.{alias.name}" for alias in node.names)
            elif node.module.startswith("daemon.sim."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("daemon.sim."))
    return found


def graph() -> dict[str, set[str]]:
    modules = {f"daemon.sim.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {name: imports_of(path) & modules.keys() for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_checker_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_simulator_has_no_import_cycle() -> None:
    edges = graph()
    assert "daemon.sim.server" in edges["daemon.sim.cli"]  # the scan sees function imports
    assert cycle(edges) is None, " -> ".join(cycle(edges) or [])
