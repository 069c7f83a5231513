"""Nothing in a rule file makes the loader raise anything but RuleErrors, or print a traceback.

Three sources of hostile input: random bytes, random edits of the shipped examples, and random
structures built from the language's own vocabulary (which reach deep into validation). Any
document the loader accepts must also satisfy the published JSON Schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from daemon.cli import main
from daemon.rules import RuleErrors, check_sources, load_text
from daemon.rules.schema import rule_schema
from daemon.rules.spec import RuleBook
from daemon.rules.yamlsource import parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [p.read_text() for p in sorted((ROOT / "rules").glob("*.yaml"))]
LINE = re.compile(r"^[^\n]+:\d+:\d+: [^\n]+?: (warning: )?\S[^\n]*$")
SUMMARY = re.compile(r"^[^\n]+: ok, \d+ rules?, symbols: [^\n]*$")
VALIDATOR = jsonschema.Draft202012Validator(rule_schema())

KEYS = ["version", "defaults", "rules", "name", "match", "symbol", "side", "min_notional",
        "stop_loss", "distance", "from", "price", "trailing", "activate_at", "breakeven", "at",
        "offset", "ladder", "fraction", "take_profit", "time_exit", "after", "windows", "cron",
        "timezone", "duration", "order", "type", "limit_offset", "trigger", "update",
        "min_move", "min_interval", "<<"]
WORDS = ["3%", "1.5%", "100%", "0%", "-2%", "250%", "%", "52h", "0s", "1d12h", "5x", "BTC",
         "kBONK", "btc", "*", "long", "short", "any", "entry", "current", "market", "limit",
         "mark", "mid", "last", "0 20 * * FRI", "0 20 * * 5", "* *", "Europe/Berlin",
         "Mars/Base", "UTC", "1e9999", ".nan", "58000.5", "", " ", "\u00e9", "\x00"]
SCALARS = st.one_of(
    st.sampled_from(WORDS), st.integers(-10**30, 10**30), st.booleans(), st.none(),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=30)
DOCUMENTS = st.fixed_dictionaries(
    {}, optional={"version": st.sampled_from([1, 1, 2, "1"]), "defaults": STRUCTURES,
                  "rules": st.lists(st.dictionaries(st.sampled_from(KEYS), STRUCTURES,
                                                    max_size=6), max_size=3)})


def check_never_crashes(text: str | bytes) -> None:
    result = check_sources([("f.yaml", text)])
    for problem in result.problems:
        assert LINE.match(str(problem)), str(problem)
    if result.book is not None:
        assert isinstance(result.book, RuleBook)
        assert isinstance(text, str)
        assert VALIDATOR.is_valid(parse(text, "f.yaml").data), text
    if result.book is None and isinstance(text, str):
        with pytest.raises(RuleErrors) as caught:
            load_text(text, "f.yaml")
        assert caught.value.errors


@given(st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    check_never_crashes(raw)


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["delete", "insert", "word", "dup", "indent"]))
        if edit == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 12)):]
        elif edit == "insert":
            text = text[:position] + draw(st.text(alphabet=" :-[]{}&*!|>#%'\"\n\t0.a,",
                                                  max_size=6)) + text[position:]
        elif edit == "word":
            text = text[:position] + draw(st.sampled_from(WORDS + KEYS)) + text[position:]
        elif edit == "dup":
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "".join(lines)
        else:
            text = text[:position] + "  " + text[position:]
    return text


@given(mutated_examples())
def test_mutated_examples(text: str) -> None:
    check_never_crashes(text)


@given(st.text(alphabet=st.characters(codec=None, categories=None), max_size=60))
def test_any_code_points_even_lone_surrogates(text: str) -> None:
    check_never_crashes("version: 1\nrules:\n  - name: " + text + "\n" + text)


@given(DOCUMENTS)
def test_random_structures(document: dict[str, Any]) -> None:
    check_never_crashes(yaml.safe_dump(document, allow_unicode=True))


@given(st.sampled_from(EXAMPLES), st.data())
def test_random_structures_inside_real_rules(example: str, data: st.DataObject) -> None:
    document = yaml.safe_load(example)
    rule = data.draw(st.sampled_from(document["rules"]))
    key = data.draw(st.sampled_from(KEYS))
    rule[key] = data.draw(STRUCTURES)
    check_never_crashes(yaml.safe_dump(document, allow_unicode=True))


@given(st.one_of(mutated_examples(), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))))
def test_validate_command_never_prints_a_traceback(text: str) -> None:
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path)])
    assert code in (0, 2)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    for line in out.getvalue().splitlines():
        assert LINE.match(line) or SUMMARY.match(line), line


@pytest.mark.parametrize("text", [
    "a: " + "[" * 5000 + "]" * 5000,
    "a: " + "{b: " * 3000 + "1" + "}" * 3000,
    "- " * 3000 + "x",
    "&a [*a]",
    "x: &x {y: *x}",
    "version: 1\nrules: []\n" + "# padding\n" * 120_000,
    "\ufeffversion: 1\nrules: []\n",
    "version: 1\nrules: []\nname: \ud800\n",
    "\udcff",
    "version: 1\n...\n---\nversion: 1\n",
    "!!python/object:os.system {}",
    "version: !!python/name:os.system\n",
    "? [a, b]\n: c\n",
    "version: 1\nrules: [*undefined]\n",
    "version: 0x1\nrules: []\n",
    "version: 1_0\nrules: []\n",
    "version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, time_exit: 99999999w}\n",
    "version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, stop_loss: {price: 1e999999999}}\n",
    "version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, stop_loss: {price: 1.0e+999999}}\n",
    "version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, stop_loss: {price: 9" + "9" * 60
    + "}}\n",
])
def test_hostile_documents(text: str) -> None:
    check_never_crashes(text)
    assert check_sources([("f.yaml", text)]).book is None or text.startswith("\ufeff")


def outcome(text: str, *, fast: bool) -> object:
    try:
        document = parse(text, "f.yaml", fast=fast)
    except RuleErrors as exc:
        return [str(p) for p in exc.problems]
    return repr(document.data), document.values, document.keys


@given(st.one_of(mutated_examples(), DOCUMENTS.map(yaml.safe_dump)))
def test_libyaml_and_pure_python_composers_agree(text: str) -> None:
    # libyaml is the fast path; PyYAML's own composer is the fallback that words errors.
    # libyaml accepts a few things PyYAML refuses (a tab inside a plain scalar); whatever both
    # accept must come out identical, data and marks alike.
    fast, slow = outcome(text, fast=True), outcome(text, fast=False)
    if syntax_refused(slow) and not syntax_refused(fast):
        return
    assert fast == slow


def syntax_refused(result: object) -> bool:
    return isinstance(result, list) and any(": <yaml>: " in line for line in result)


@pytest.mark.parametrize("text", [
    "a:\n" + "".join("  " * i + "- \n" for i in range(1, 30)),
    "a: " + "[" * 23 + "1" + "]" * 23,
    "a: " + "[" * 24 + "1" + "]" * 24,
    "a: " + "[" * 25 + "]" * 25,
    "k: é\nl: {m: 'ü', n: [x, ÿ]}\n",
])
def test_both_composers_agree_at_the_limits(text: str) -> None:
    assert outcome(text, fast=True) == outcome(text, fast=False)
