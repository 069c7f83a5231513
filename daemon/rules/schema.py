"""The JSON Schema of a rule file, for editors (yaml-language-server) and for tests."""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from daemon.rules.model import RuleFileModel

SCHEMA_ID = "urn:pacifica-stopd:rule-file:1"  # no published URL yet; editors use the path


class _RuleSchema(GenerateJsonSchema):
    def generate(self, schema: CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        result = super().generate(schema, mode=mode)
        _strip(result)
        result.pop("title", None)
        return {"$schema": self.schema_dialect, "$id": SCHEMA_ID,
                "title": "pacifica-stopd rule file", **result}


def _strip(node: Any) -> None:
    """Drop what only clutters completion: `default: null` and the null member of optionals
    (the loader refuses empty values, so offering null would be a lie)."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        members = node.get("anyOf")
        if isinstance(members, list) and {"type": "null"} in members:
            members.remove({"type": "null"})
            if len(members) == 1:
                del node["anyOf"]
                node.update(members[0])
        for value in list(node.values()):
            _strip(value)
    elif isinstance(node, list):
        for item in node:
            _strip(item)


def rule_schema() -> dict[str, Any]:
    return RuleFileModel.model_json_schema(schema_generator=_RuleSchema)


def rule_schema_text() -> str:
    return json.dumps(rule_schema(), indent=2, sort_keys=False) + "\n"
