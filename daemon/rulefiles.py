"""Rule files on disk -> the pure rule loader: the file reading the functional core must not do.

`daemon.rules` takes (source name, text or bytes) pairs and never touches the file system;
this module expands directories, reads each file (bounded) and turns a file that cannot be
read into a located problem, so `stopd validate` and the daemon report it like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from daemon.rules import spec
from daemon.rules.errors import Problem, sort_problems
from daemon.rules.loader import LoadResult, check_sources, require_book
from daemon.rules.yamlsource import MAX_BYTES

RULE_SUFFIXES = (".yaml", ".yml")


def load_rulebook(paths: Iterable[str | os.PathLike[str]]) -> spec.RuleBook:
    """Rule files and directories (their *.yaml, *.yml) -> one RuleBook; raises RuleErrors."""
    return require_book(check_paths(paths))


def check_paths(paths: Iterable[str | os.PathLike[str]]) -> LoadResult:
    """Every problem and warning of these files and directories; never raises for bad input."""
    sources: list[tuple[str, str | bytes]] = []
    problems: list[Problem] = []
    for filename in _expand(paths, problems):
        raw = read_source(filename)
        if isinstance(raw, Problem):
            problems.append(raw)
            continue
        sources.append((filename, raw))
    if problems and not sources:
        return LoadResult(None, (), tuple(sort_problems(problems)))
    result = check_sources(sources)
    if not problems:
        return result
    return LoadResult(None, result.files, tuple(sort_problems([*problems, *result.problems])))


def read_source(filename: str) -> bytes | Problem:
    """A YAML source file's bytes, or a located problem saying why it cannot be read.

    One byte past the cap is read so that an oversize file is refused (by the decoder), not
    truncated. Settings files are read here too, so both speak of unreadable files alike.
    """
    path = Path(filename)
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        return Problem(filename, 1, 1, "<file>", "not a regular file")
    try:
        with open(filename, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return Problem(filename, 1, 1, "<file>", "no such file or directory")
    except OSError as exc:
        return Problem(filename, 1, 1, "<file>",
                       f"cannot read: {exc.strerror or type(exc).__name__}")


def _expand(paths: Iterable[str | os.PathLike[str]], problems: list[Problem]) -> list[str]:
    found: list[str] = []
    for path in paths:
        name = os.fspath(path)
        fs_path = Path(name)
        if fs_path.is_dir():
            inside = sorted(str(p) for p in fs_path.iterdir()
                            if p.suffix in RULE_SUFFIXES and p.is_file())
            if not inside:
                problems.append(Problem(name, 1, 1, "<file>",
                                        "directory holds no *.yaml or *.yml rule files"))
            found.extend(inside)
        elif fs_path.is_file():
            found.append(name)
        elif fs_path.exists():
            problems.append(Problem(name, 1, 1, "<file>", "not a regular file"))
        else:
            problems.append(Problem(name, 1, 1, "<file>", "no such file or directory"))
    unique: dict[str, str] = {}
    for name in found:
        unique.setdefault(os.path.realpath(name), name)
    return list(unique.values())
