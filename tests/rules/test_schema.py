"""The JSON Schema that `stopd schema` prints agrees with the loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from daemon.rules import check_sources
from daemon.rules.schema import rule_schema
from daemon.rules.yamlsource import parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "rules").glob("*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(rule_schema())


def data_of(text: str) -> Any:
    return parse(text, "t.yaml").data


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(rule_schema())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_schema_accepts_every_shipped_example(example: Path) -> None:
    VALIDATOR.validate(data_of(example.read_text()))


def test_every_property_is_described() -> None:
    schema = rule_schema()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                assert prop.get("description"), f"{where}.{name} has no description"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "$")
    assert "examples" in schema["$defs"]["StopLossModel"]["anyOf"][1]["properties"]["distance"]


RULE = "version: 1\nrules:\n  - name: r\n    match: {symbol: BTC, side: long}\n"

# Documents the loader refuses and the schema can tell apart too.
REFUSED = {
    "unknown top key": "version: 1\nrules: []\nrulez: []\n",
    "missing version": "rules: []\n",
    "version 2": "version: 2\nrules: []\n",
    "version as text": "version: \"1\"\nrules: []\n",
    "missing rules": "version: 1\n",
    "unknown rule key": RULE + "    stop_los: 3%\n",
    "missing match": "version: 1\nrules:\n  - {name: r, stop_loss: 3%}\n",
    "bad side": RULE.replace("long", "up") + "    stop_loss: 3%\n",
    "star in a list": RULE.replace("BTC", "[BTC, \"*\"]") + "    stop_loss: 3%\n",
    "bad name": RULE.replace("name: r", "name: \"two words\"") + "    stop_loss: 3%\n",
    "stop 100%": RULE + "    stop_loss: 100%\n",
    "stop bare number": RULE + "    stop_loss: 500\n",
    "stop quoted number": RULE + "    stop_loss: \"500\"\n",
    "time exit quoted number": RULE + "    stop_loss: 3%\n    time_exit: \"48\"\n",
    "stop negative distance": RULE + "    stop_loss: {distance: -5}\n",
    "stop percentage price": RULE + "    stop_loss: {price: 5%}\n",
    "stop unknown anchor": RULE + "    stop_loss: {distance: 3%, from: now}\n",
    "trailing without distance": RULE + "    trailing: {activate_at: 1%}\n",
    "trailing bare number": RULE + "    trailing: 3\n",
    "ladder empty": RULE + "    ladder: []\n",
    "ladder fraction above one": RULE + "    ladder: [{fraction: 2, distance: 3%}]\n",
    "ladder unknown key": RULE + "    ladder: [{fraction: 50%, distance: 3%, size: 1}]\n",
    "window without duration": RULE + "    stop_loss: 3%\n"
                               "    windows: [{name: w, cron: \"0 20 * * FRI\", "
                               "stop_loss: 1%}]\n",
    "window bad duration": RULE + "    stop_loss: 3%\n"
                           "    windows: [{name: w, cron: \"0 20 * * FRI\", duration: 52, "
                           "stop_loss: 1%}]\n",
    "order limit without cap": RULE + "    stop_loss: 3%\n    order: limit\n",
    "order unknown type": RULE + "    stop_loss: 3%\n    order: {type: stop}\n",
    "trigger index": RULE + "    stop_loss: 3%\n    trigger: index\n",
    "time exit without unit": RULE + "    stop_loss: 3%\n    time_exit: 48\n",
    "update unknown key": RULE + "    stop_loss: 3%\n    update: {every: 5s}\n",
    "defaults false": "version: 1\ndefaults: {stop_loss: false}\nrules: []\n",
    "negative notional": RULE.replace("side: long", "min_notional: -1") + "    stop_loss: 3%\n",
    "rules not a list": "version: 1\nrules: {name: r}\n",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_schema_refuses_what_the_loader_refuses(text: str) -> None:
    assert check_sources([("t.yaml", text)]).book is None, "the loader accepted it"
    assert not VALIDATOR.is_valid(data_of(text)), "the schema accepted it"
