"""`stopd validate` and `stopd schema` through the real command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
BROKEN = Path(__file__).resolve().parent / "broken"
EXAMPLES = sorted(RULES.glob("*.yaml"))
BROKEN_CASES = sorted([*BROKEN.glob("*.yaml"), *(p for p in BROKEN.iterdir() if p.is_dir())])


def test_there_are_examples_for_every_component() -> None:
    text = "\n".join(p.read_text() for p in EXAMPLES)
    for key in ("trailing:", "activate_at:", "breakeven:", "ladder:", "take_profit:",
                "windows:", "time_exit:", "limit_offset:"):
        assert key in text, key
    assert (RULES / "default.yaml").exists()


def test_validate_accepts_the_shipped_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RULES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{path}: ok, {summary}" for path, summary in [
        (RULES / "breakeven.yaml", "1 rule, symbols: SOL"),
        (RULES / "default.yaml", "3 rules, symbols: BTC, *"),
        (RULES / "ladder.yaml", "2 rules, symbols: HYPE"),
        (RULES / "stop-limit.yaml", "1 rule, symbols: LINK"),
        (RULES / "take-profit.yaml", "2 rules, symbols: XRP, DOGE"),
        (RULES / "time-exit.yaml", "1 rule, symbols: kPEPE"),
        (RULES / "trailing-activation.yaml", "1 rule, symbols: ETH"),
        (RULES / "weekend-window.yaml", "1 rule, symbols: SUI"),
    ]]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_example_validates_alone_and_names_the_schema(example: Path) -> None:
    assert main(["validate", str(example)]) == 0
    first = example.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../docs/rules.schema.json"


@pytest.mark.parametrize("case", BROKEN_CASES, ids=lambda p: p.name)
def test_broken_files_report_located_problems(case: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    expected = (BROKEN / f"{case.stem}.expected").read_text().splitlines()
    assert main(["validate", case.name]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == expected
    assert "Traceback" not in captured.err
    assert captured.err.strip().endswith("rule files are not valid")


def test_validate_reports_missing_paths_and_empty_directories(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", str(missing), str(tmp_path)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}:1:1: <file>: directory holds no *.yaml or *.yml rule files",
        f"{missing}:1:1: <file>: no such file or directory",
    ]


def test_warnings_do_not_change_the_exit_code(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "warn.yml"
    path.write_text("version: 1\nrules:\n  - name: a\n    match: {symbol: btc}\n"
                    "    stop_loss: 3%\n")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:4:21: rules[0].match.symbol: warning: symbol `btc` has lower-case letters; "
        "Pacifica symbols are case-sensitive (`BTC`, `kBONK`), so it may match nothing",
        f"{path}: ok, 1 rule, symbols: btc",
    ]


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["title"] == "pacifica-stopd rule file"
    committed = (ROOT / "docs" / "rules.schema.json").read_text()
    assert printed == committed, "docs/rules.schema.json is stale: run `stopd schema > " \
                                 "docs/rules.schema.json`"


def test_the_installed_stopd_command_validates_and_fails(tmp_path: Path) -> None:
    stopd = shutil.which("stopd", path=str(Path(sys.executable).parent))
    assert stopd is not None
    ok = subprocess.run([stopd, "validate", str(RULES)], capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(ok.stdout.splitlines()) == len(EXAMPLES)
    bad = subprocess.run([stopd, "validate", str(BROKEN / "ladder-over.yaml")],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stdout.endswith(
        "rules[0].ladder: ladder fractions add up to 120%, more than 100%\n")
    assert "Traceback" not in bad.stderr


def test_validate_refuses_a_fifo_instead_of_blocking(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import os

    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 2
    assert capsys.readouterr().out == f"{fifo}:1:1: <file>: not a regular file\n"


def test_validate_survives_a_terminal_that_cannot_show_the_users_text(tmp_path: Path) -> None:
    import os

    path = tmp_path / "accents.yaml"
    path.write_text("version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, stop_loss: 3%, "
                    "é: 1}\n", encoding="utf-8")
    stopd = shutil.which("stopd", path=str(Path(sys.executable).parent))
    assert stopd is not None
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    run = subprocess.run([stopd, "validate", str(path)], capture_output=True, text=True,
                         check=False, env=env)
    assert run.returncode == 2
    assert run.stdout == (f'{path}:3:52: rules[0]["\\xe9"]: unknown key `\\xe9`; expected one '
                          "of: windows, order, trigger, update, name, match, stop_loss, "
                          "trailing, breakeven, ladder, take_profit, time_exit\n")
