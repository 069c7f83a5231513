"""Pydantic validation errors -> located problems (file:line:column: key.path: message).

Pydantic reports a `loc` such as ("rules", 0, "stop_loss", "<on>", "distance"). We drop our
union tags, find the deepest part of that path that is actually written in the file (a value
given in short form has no `distance` key of its own) and take its mark; an unknown key is
placed on the key itself, a missing key on the mapping that lacks it.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from daemon.rules.errors import Path, Problem, shorten
from daemon.rules.model import UNION_TAGS, RuleFileModel
from daemon.rules.yamlsource import Document


def problems_from(error: ValidationError, document: Document,
                  root: type[BaseModel] = RuleFileModel) -> list[Problem]:
    """Every error of validating `document` against `root` (rule files by default; the
    daemon's settings file is located by the same rules)."""
    return [_problem(detail, document, root) for detail in error.errors(include_url=False)]


def _problem(detail: ErrorDetails, document: Document, root: type[BaseModel]) -> Problem:
    loc: Path = tuple(part for part in detail["loc"] if part not in UNION_TAGS)
    kind = detail["type"]
    if kind == "missing":
        parent, key = loc[:-1], loc[-1]
        hint = " (write `version: 1` at the top)" if loc == ("version",) else ""
        return document.problem(parent, f"missing required key `{key}`{hint}")
    if kind == "extra_forbidden":
        return document.problem(loc, _unknown_key(loc, root), at_key=True)
    written, _ = document.locate(loc)
    return document.problem(written, _message(detail))


def _unknown_key(loc: Path, root: type[BaseModel]) -> str:
    key = shorten(str(loc[-1]))
    known = known_keys(loc[:-1], root)
    message = f"unknown key `{key}`"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"{message}; did you mean `{close[0]}`?"
    if known:
        return f"{message}; expected one of: {', '.join(known)}"
    return message


def known_keys(path: Path, root: type[BaseModel] = RuleFileModel) -> list[str]:
    """The keys the model at `path` accepts (by their YAML spelling)."""
    model = _model_at(root, path)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    annotation: Any = model
    for part in path:
        if isinstance(part, int):
            annotation = _find(annotation, list)
            annotation = typing.get_args(annotation)[0] if annotation is not None else None
        else:
            found = _find(annotation, BaseModel)
            if found is None or part not in _fields_by_alias(found):
                return None
            annotation = _fields_by_alias(found)[part]
        if annotation is None:
            return None
    result: type[BaseModel] | None = _find(annotation, BaseModel)
    return result


def _fields_by_alias(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field.annotation for name, field in model.model_fields.items()}


def _find(annotation: Any, kind: type) -> Any:
    """The member of a (possibly Annotated, Optional, union) annotation that is a `kind`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _find(typing.get_args(annotation)[0], kind)
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            found = _find(member, kind)
            if found is not None:
                return found
        return None
    if kind is list:
        return annotation if origin is list else None
    if isinstance(annotation, type) and issubclass(annotation, kind):
        return annotation
    return None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text `{shorten(value)}`"
    return f"the number `{shorten(str(value))}`"


def _message(detail: ErrorDetails) -> str:
    kind, value = detail["type"], detail.get("input")
    ctx = detail.get("ctx") or {}
    if kind == "rule_value":
        return detail["msg"]
    if kind in ("string_type", "str_type"):
        return f"expected text, got {_shown(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of keys to values, got {_shown(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_shown(value)}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"expected one of {expected}, got {_shown(value)}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} entries are allowed"
    return detail["msg"]
