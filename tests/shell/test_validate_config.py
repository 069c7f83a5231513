"""`stopd validate --config`: a settings file and the rules it names, checked before a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stopd.yaml"


def test_the_example_settings_and_its_rules_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{EXAMPLE}: ok, 1 account, rules: {ROOT / 'rules'}"
    assert out[1:] == [line for line in out[1:] if ": ok, " in line]
    assert len(out) == 1 + len(list((ROOT / "rules").glob("*.yaml")))


def test_a_bad_settings_file_is_reported_like_a_rule_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stopd.yaml"
    path.write_text("exchange: {network: testnet}\naccounts: [{key_env: K}]\nrules: r\n"
                    "state: s\nstale_after: soon\n")
    assert main(["validate", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}:5:14: stale_after: `soon` is not a duration like `30s`, `5m`, `2h`, `3d` or "
        "`1d12h`"]
    assert captured.err == "1 error; the settings file is not valid\n"


def test_the_rules_a_valid_settings_file_names_are_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stopd.yaml"
    path.write_text("exchange: {network: testnet}\naccounts: [{key_env: K}, {key_env: L}]\n"
                    "rules: missing/\nstate: s\n")
    assert main(["validate", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}: ok, 2 accounts, rules: {tmp_path / 'missing'}",
        f"{tmp_path / 'missing'}:1:1: <file>: no such file or directory"]
    assert captured.err == "1 error; rule files are not valid\n"


def test_nothing_to_validate_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "validate"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "give rule files or directories, or --config" in done.stderr
