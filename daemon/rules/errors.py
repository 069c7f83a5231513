"""Located problems in rule files, and the one exception the loader raises.

Every problem names the file, the 1-based line and column of the offending key or value, and
the key path in the document, so a user can jump straight to it from `stopd validate` output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

Path = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
MAX_SHOWN = 40


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # "rules[0].stop_loss", or "<yaml>" / "<file>" when no key applies
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        # One problem, one line: whatever a file contains cannot break or forge output lines.
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return (f"{_one_line(self.file)}:{self.line}:{self.column}: {_one_line(self.path)}: "
                f"{prefix}{_one_line(self.message)}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], text)


def shorten(text: str) -> str:
    """A user's value as it appears inside a message: bounded, so a huge scalar stays short."""
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def format_path(path: Path) -> str:
    """("rules", 0, "stop_loss") -> "rules[0].stop_loss"; odd keys are quoted: rules[0]["a b"].
    The empty path is the document."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(shorten(part), ensure_ascii=False)}]"
    return out or "<document>"


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Stable reading order, duplicates dropped (two checks may see the same fault)."""
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.path, p.message))


class RuleErrors(Exception):
    """Rule files that cannot be turned into a RuleBook; `problems` holds every located error
    (and the warnings found on the way), in reading order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(sort_problems(problems))
        errors = [p for p in self.problems if p.is_error]
        head = f"{len(errors)} problem(s) in rule files"
        super().__init__("\n".join([head, *(str(p) for p in errors)]))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)
