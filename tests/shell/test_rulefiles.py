"""Rule files on disk through the shell's reader: the core only ever sees names and text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.rulefiles import check_paths, load_rulebook, read_source
from daemon.rules import Problem, RuleErrors

RULE = "version: 1\nrules:\n  - name: {name}\n    match: {{symbol: BTC}}\n    stop_loss: 3%\n"


def test_a_directory_loads_as_one_book(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(RULE.format(name="a"))
    (tmp_path / "b.yml").write_text(RULE.format(name="b").replace("BTC", "ETH"))
    (tmp_path / "notes.txt").write_text("not a rule file")
    book = load_rulebook([tmp_path])
    assert [rule.name for rule in book.rules] == ["a", "b"]
    assert [f.filename for f in check_paths([tmp_path, tmp_path / "a.yaml"]).files] == [
        str(tmp_path / "a.yaml"), str(tmp_path / "b.yml")]  # one file named twice reads once


def test_unreadable_paths_are_located_problems(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert read_source(str(fifo)) == Problem(str(fifo), 1, 1, "<file>", "not a regular file")
    assert read_source(str(tmp_path / "none")) == Problem(
        str(tmp_path / "none"), 1, 1, "<file>", "no such file or directory")
    with pytest.raises(RuleErrors) as caught:
        load_rulebook([fifo])
    assert [str(p) for p in caught.value.problems] == [f"{fifo}:1:1: <file>: not a regular file"]


def test_an_oversize_file_is_refused_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("#" * (1 << 20) + "\n")
    raw = read_source(str(path))
    assert isinstance(raw, bytes)
    assert len(raw) == (1 << 20) + 1
    with pytest.raises(RuleErrors, match="rule files are limited to 1048576 bytes"):
        load_rulebook([path])
