"""YAML text -> plain data plus a mark (line, column) for every key and value.

PyYAML's composer gives nodes with marks; we convert them ourselves instead of using its
constructor so that (1) every key and value keeps its position for error messages, (2) floats
become `Decimal` from their source text (58000.5 must not pass through binary floating point),
(3) duplicate keys, empty values and exotic tags are refused rather than silently resolved, and
(4) hostile input is bounded: file size, nesting depth, aliases and the node count after alias
expansion are all capped, so a "billion laughs" file costs microseconds, not gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from daemon.rules.errors import Path, Problem, RuleErrors, Severity, format_path, shorten

MAX_BYTES = 1 << 20  # a rule file is a page of YAML; a megabyte is already absurd
MAX_DEPTH = 24  # the language nests five levels deep
MAX_ALIASES = 200
MAX_NODES = 50_000  # counted after alias expansion
MAX_NUMBER_CHARS = 40

_TAG = "tag:yaml.org,2002:"
_NUMBER_CONSTRUCTOR = SafeConstructor()
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)  # absent when PyYAML lacks libyaml


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(slots=True)
class Document:
    """A parsed rule file: its data and where each part of it was written."""

    filename: str
    data: Any
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)

    def locate(self, path: Path) -> tuple[Path, Mark]:
        """The deepest written part of `path` and its mark (its value, or else its key)."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            mark = self.values.get(prefix) or self.keys.get(prefix)
            if mark is not None:
                return prefix, mark
        return (), Mark(1, 1)

    def problem(self, path: Path, message: str, *, at_key: bool = False,
                warning: bool = False) -> Problem:
        """A problem about `path`, placed at its value (or at its key when `at_key`)."""
        mark = self.keys[path] if at_key and path in self.keys else self.locate(path)[1]
        return Problem(self.filename, mark.line, mark.column, format_path(path), message,
                       Severity.WARNING if warning else Severity.ERROR)


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _BoundedLoader(yaml.SafeLoader):
    """Composes nodes, refusing deep nesting and alias floods before they cost anything."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def decode(raw: bytes, filename: str) -> str:
    """Rule file bytes -> text, refusing oversize and non-UTF-8 files with a located message."""
    if len(raw) > MAX_BYTES:
        raise RuleErrors([Problem(filename, 1, 1, "<file>",
                                  f"file is {len(raw)} bytes; rule files are limited to "
                                  f"{MAX_BYTES} bytes")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleErrors([Problem(filename, line, column, "<file>",
                                  "not UTF-8 text (rule files must be UTF-8)")]) from None


EMPTY_RULE_FILE = "empty file: a rule file starts with `version: 1`"


def parse(text: str, filename: str, *, fast: bool = True,
          empty: str = EMPTY_RULE_FILE) -> Document:
    """Parse one YAML document; raise RuleErrors with every problem the YAML layer can see.

    `fast=False` skips libyaml, for tests that compare both composers; `empty` is what an
    empty document is told (other YAML files, such as the settings, say what they expect).
    """
    if len(text) > MAX_BYTES:
        raise RuleErrors([Problem(filename, 1, 1, "<file>",
                                  f"file is longer than {MAX_BYTES} characters")])
    composed, node = _compose_fast(text) if fast else (False, None)
    if not composed:
        node = _compose_checked(text, filename)
    if node is None:
        raise RuleErrors([Problem(filename, 1, 1, "<file>", empty)])
    document = Document(filename, None)
    converter = _Converter(document)
    document.data = converter.convert(node, ())
    if converter.problems:
        raise RuleErrors(converter.problems)
    return document


def _compose_fast(text: str) -> tuple[bool, Node | None]:
    """libyaml's composer, about fifteen times faster than PyYAML's on a big book.

    (False, None) hands the text to the pure-Python loader, which enforces the limits node by
    node and words errors better. The event pass comes first because libyaml's composer
    recurses in C: nesting is bounded before it runs. The bound is one level stricter than the
    pure loader's (which also counts the scalar leaves), so both accept the same documents.
    """
    if _FAST_LOADER is None:
        return False, None
    try:
        depth = aliases = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth >= MAX_DEPTH:
                    return False, None
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    return False, None
        loader = _FAST_LOADER(text)
        try:
            return True, loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeError):  # libyaml encodes to UTF-8: lone surrogates fail
        return False, None


def _compose_checked(text: str, filename: str) -> Node | None:
    try:
        # The reader refuses control characters already in the constructor.
        loader = _BoundedLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise RuleErrors([Problem(filename, line, column, "<yaml>",
                                  f"malformed YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", 0)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        reason = getattr(exc, "reason", "unreadable")
        raise RuleErrors([Problem(filename, line, column, "<yaml>",
                                  f"malformed YAML: {reason}")]) from None


class _Converter:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []
        self.nodes = 0
        self.open_nodes: set[int] = set()

    def _fail(self, node: Node, path: Path, message: str) -> None:
        mark = _mark(node)
        self.problems.append(Problem(self.document.filename, mark.line, mark.column,
                                     format_path(path), message))

    def convert(self, node: Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self._fail(node, path, f"more than {MAX_NODES} values after expanding aliases")
            return None
        self.document.values.setdefault(path, _mark(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open_nodes:  # PyYAML lets an anchor's alias sit inside the anchor
            self._fail(node, path, "an alias refers to the mapping or list that contains it")
            return None
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if node.tag != _TAG + "seq":
                self._fail(node, path, f"unsupported YAML tag {node.tag}")
                return None
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any] | None:
        if node.tag != _TAG + "map":
            self._fail(node, path, f"unsupported YAML tag {node.tag}")
            return None
        out: dict[str, Any] = {}
        first_seen: dict[str, Mark] = {}
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _TAG + "merge":
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (
                    _TAG + "str", _TAG + "int", _TAG + "float", _TAG + "bool"):
                self._fail(key_node, path, "a key must be a plain word")
                continue
            # Keys are taken as written: YAML 1.1 would turn `on:` or `no:` into booleans.
            key = key_node.value
            if key in first_seen:
                first = first_seen[key].line
                self._fail(key_node, (*path, key),
                           f"duplicate key `{shorten(key)}` (first written at line {first})")
                continue
            first_seen[key] = _mark(key_node)
            self.document.keys[(*path, key)] = first_seen[key]
            out[key] = self.convert(value_node, (*path, key))
        for key_node, value_node in merges:
            self._merge(key_node, value_node, path, out)
        return out

    def _merge(self, key_node: Node, value_node: Node, path: Path, out: dict[str, Any]) -> None:
        """`<<: *base` (or a list of anchors): keys written in the mapping itself win."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._fail(key_node, path, "`<<` merges only mappings (anchors of mappings)")
                return
            for k_node, v_node in source.value:
                if not isinstance(k_node, ScalarNode) or k_node.tag == _TAG + "merge":
                    self._fail(k_node, path, "nested `<<` merges are not supported")
                    continue
                if k_node.value in out:
                    continue
                self.document.keys[(*path, k_node.value)] = _mark(k_node)
                out[k_node.value] = self.convert(v_node, (*path, k_node.value))

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, text = node.tag, node.value
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return text
        if tag == _TAG + "null":
            # Placed on its key: an empty value has no text of its own, and libyaml and PyYAML
            # disagree by a column about where the nothing sits.
            mark = self.document.keys.get(path) or self.document.values.get(path[:-1]) \
                or _mark(node)
            self.problems.append(Problem(
                self.document.filename, mark.line, mark.column, format_path(path),
                "empty value: write a value here (or `false` to turn an inherited component off)"))
            return None
        if tag == _TAG + "bool":
            return _NUMBER_CONSTRUCTOR.construct_yaml_bool(node)
        if tag in (_TAG + "int", _TAG + "float"):
            if len(text) > MAX_NUMBER_CHARS:
                self._fail(node, path, f"number longer than {MAX_NUMBER_CHARS} characters")
                return None
            if ":" in text:
                self._fail(node, path, f"`{text}` reads as a base-60 number in YAML 1.1; "
                                       "quote it or write it plainly")
                return None
            if tag == _TAG + "int":
                return _NUMBER_CONSTRUCTOR.construct_yaml_int(node)
            return self._decimal(node, path, text)
        self._fail(node, path, f"unsupported YAML tag {tag}")
        return None

    def _decimal(self, node: ScalarNode, path: Path, text: str) -> Decimal | None:
        cleaned = text.replace("_", "").lower()
        # .inf/.nan pass on as Decimal specials: the value checks refuse them in context.
        if cleaned.lstrip("+-") in (".inf", ".nan"):
            cleaned = cleaned.replace(".", "")
        try:
            return Decimal(cleaned)
        except InvalidOperation:
            self._fail(node, path, f"`{text}` is not a number")
            return None
