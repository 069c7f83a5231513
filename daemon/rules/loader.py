"""Rule sources (name, text) -> one RuleBook, or every problem found, located.

All files are read, validated and compiled independently, then checked together (rule names
unique, no two equally specific rules for one possible position), so one run reports every
fault in every file. A RuleBook is produced only when there is no error at all: the daemon
keeps its previous book rather than run with part of a new one. Reading files is the shell's
job (daemon.rulefiles): this module sees only names and text.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError

from daemon.rules import spec
from daemon.rules.compile import CompiledRule, compile_file
from daemon.rules.errors import Problem, RuleErrors, sort_problems
from daemon.rules.locate import problems_from
from daemon.rules.model import RuleFileModel
from daemon.rules.yamlsource import decode, parse


@dataclass(frozen=True, slots=True)
class FileResult:
    filename: str
    rules: tuple[spec.Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Everything `validate` shows: the book (None on any error), per-file results, problems."""

    book: spec.RuleBook | None
    files: tuple[FileResult, ...]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)


def load_text(text: str, filename: str = "<text>") -> spec.RuleBook:
    """One rule file's text -> RuleBook; raises RuleErrors (warnings alone do not raise)."""
    return require_book(check_sources([(filename, text)]))


def require_book(result: LoadResult) -> spec.RuleBook:
    """The book of a result, or RuleErrors with its problems."""
    if result.book is None:
        raise RuleErrors(result.problems)
    return result.book


def check_sources(sources: Sequence[tuple[str, str | bytes]]) -> LoadResult:
    """(filename, text or bytes) pairs -> LoadResult; never raises for bad input."""
    problems: list[Problem] = []
    files: list[FileResult] = []
    compiled: list[CompiledRule] = []
    for filename, content in sources:
        file_rules, file_problems = _check_file(filename, content)
        problems.extend(file_problems)
        files.append(FileResult(filename, tuple(c.rule for c in file_rules)))
        compiled.extend(file_rules)
    problems.extend(check_book(compiled))
    if sources and not compiled and not any(p.is_error for p in problems):
        problems.append(Problem(sources[0][0], 1, 1, "rules",
                                "no rules at all: nothing would be protected"))
    if not sources:
        problems.append(Problem("<none>", 1, 1, "<file>", "no rule files given"))
    book = None
    if not any(p.is_error for p in problems):
        book = spec.RuleBook(tuple(c.rule for c in compiled))
    return LoadResult(book, tuple(files), tuple(sort_problems(problems)))


def _check_file(filename: str, content: str | bytes) -> tuple[list[CompiledRule],
                                                              list[Problem]]:
    try:
        text = decode(content, filename) if isinstance(content, bytes) else content
        document = parse(text, filename)
    except RuleErrors as exc:
        return [], list(exc.problems)
    try:
        model = RuleFileModel.model_validate(document.data)
    except ValidationError as exc:
        return [], problems_from(exc, document)
    return compile_file(model, document)


def check_book(rules: Sequence[CompiledRule]) -> list[Problem]:
    """Checks across all files: unique names, and no ambiguous pair of matches."""
    problems: list[Problem] = []
    by_name: dict[str, CompiledRule] = {}
    for item in rules:
        first = by_name.setdefault(item.rule.name, item)
        if first is not item:
            problems.append(item.document.problem(
                (*item.path, "name"),
                f"rule name `{item.rule.name}` is already used at {_where(first)}"))
    for earlier, later in _candidate_pairs(rules):
        a, b = earlier.rule.match, later.rule.match
        if a.overlaps(b):
            problems.append(later.document.problem(
                (*later.path, "match"),
                f"as specific as rule `{earlier.rule.name}` ({_where(earlier)}) and both "
                f"match {_overlap(a, b)}: make one more specific or merge them"))
    return problems


def _candidate_pairs(rules: Sequence[CompiledRule]) -> list[tuple[CompiledRule, CompiledRule]]:
    """(earlier, later) pairs of equal specificity that share a symbol or where one is "*".

    Bucketing by symbol keeps a book of a thousand single-symbol rules from costing half a
    million comparisons on every reload.
    """
    levels: dict[tuple[int, Decimal], list[int]] = {}
    for index, item in enumerate(rules):
        levels.setdefault(item.rule.match.specificity, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for members in levels.values():
        by_symbol: dict[str, list[int]] = {}
        for index in members:
            symbols = rules[index].rule.match.symbols
            if symbols is None:
                pairs.update((min(index, j), max(index, j)) for j in members if j != index)
            for symbol in symbols or ():
                by_symbol.setdefault(symbol, []).append(index)
        for sharing in by_symbol.values():
            pairs.update(itertools.combinations(sharing, 2))
    return [(rules[a], rules[b]) for a, b in sorted(pairs)]


def _where(item: CompiledRule) -> str:
    mark = item.document.locate(item.path)[1]
    return f"{item.document.filename}:{mark.line}"


def _overlap(a: spec.Match, b: spec.Match) -> str:
    if a.symbols is None and b.symbols is None:
        symbols = "any symbol"
    elif a.symbols is None or b.symbols is None:
        symbols = ", ".join(a.symbols or b.symbols or ())
    else:
        symbols = ", ".join(sorted(set(a.symbols) & set(b.symbols)))
    side = a.side if a.side is not spec.SideFilter.ANY else b.side
    sides = {spec.SideFilter.ANY: "long or short", spec.SideFilter.LONG: "long",
             spec.SideFilter.SHORT: "short"}[side]
    return f"{sides} positions on {symbols}"
