"""Logging: JSON off a terminal, console lines on one, and no secret through any renderer."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from keys_support import ENCODINGS, PAIR_B58, PAIR_JSON, SEED_B58, write_key

from daemon import logs
from daemon.logs import REDACTED, configure_logging, register_secret

LOCAL_MARKER = "local-variable-value-7f3a"
# Built at run time: rich tracebacks quote source lines, which must not hold the values.
DENIED_A, DENIED_B = "not-registered" + "-but-denied", "also-denied" + "-value"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def fail_with_secret() -> None:
    value = LOCAL_MARKER  # a frame local: must not be shown in any traceback
    raise ValueError(f"could not parse {SEED_B58} nor {PAIR_JSON} ({len(value)})")


def emit_everything() -> None:
    register_secret(*ENCODINGS)
    log = structlog.get_logger("test")
    log.info(f"event text {PAIR_B58}", field=SEED_B58, nested={"deep": [PAIR_JSON]},
             private_key=DENIED_A, seed=DENIED_B,
             raw=SEED_B58.encode())
    try:
        fail_with_secret()
    except ValueError:
        log.exception("loading failed")
    logging.getLogger("httpx").warning("stdlib says %s", SEED_B58)
    try:
        fail_with_secret()
    except ValueError:
        logging.getLogger("apscheduler").exception("job raised")


def assert_clean(output: str) -> None:
    for encoding in ENCODINGS:
        assert encoding not in output
    assert DENIED_A not in output
    assert DENIED_B not in output
    assert LOCAL_MARKER not in output
    assert "\x1b" not in output  # an escape code inside a secret would hide it from redaction
    assert output.count(REDACTED) >= 8


def test_json_lines_redact_every_encoding_and_show_no_locals() -> None:
    buffer = io.StringIO()
    configure_logging(json=True, stream=buffer)
    emit_everything()
    output = buffer.getvalue()
    assert_clean(output)
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["event"] for line in lines] == [
        f"event text {REDACTED}", "loading failed", f"stdlib says {REDACTED}", "job raised"]
    assert lines[0]["field"] == REDACTED
    assert lines[0]["nested"] == {"deep": [REDACTED]}
    assert lines[0]["private_key"] == REDACTED
    assert lines[0]["seed"] == REDACTED
    assert lines[0]["level"] == "info"
    assert lines[0]["logger"] == "test"
    assert lines[0]["timestamp"].endswith("Z")
    trace = lines[1]["exception"]
    assert trace[0]["exc_type"] == "ValueError"
    assert trace[0]["exc_value"] == f"could not parse {REDACTED} nor {REDACTED} (25)"
    assert all("locals" not in frame or not frame["locals"] for frame in trace[0]["frames"])
    assert lines[3]["exception"][0]["exc_type"] == "ValueError"


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
def test_console_lines_redact_inside_tracebacks(rich: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if not rich:
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    buffer = io.StringIO()
    configure_logging(json=False, stream=buffer)
    emit_everything()
    output = buffer.getvalue()
    assert_clean(output)
    assert "event text [REDACTED]" in output
    assert "fail_with_secret" in output
    assert "ValueError" in output
    assert "could not parse [REDACTED] nor [REDACTED]" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])
    # A traceback without secrets is rich's when rich is there, locals still hidden.
    buffer.seek(0)
    buffer.truncate()
    try:
        fail_plainly()
    except ZeroDivisionError:
        structlog.get_logger().exception("plain failure")
    output = buffer.getvalue()
    assert "ZeroDivisionError" in output
    assert LOCAL_MARKER not in output
    assert ("╭" in output) is rich


def fail_plainly() -> None:
    value = LOCAL_MARKER
    raise ZeroDivisionError(len(value))


def test_the_format_follows_the_stream() -> None:
    buffer = io.StringIO()
    configure_logging(stream=buffer)  # not a terminal: JSON
    structlog.get_logger().info("hello", n=1)
    assert json.loads(buffer.getvalue())["n"] == 1
    controller, terminal = os.openpty()
    with open(terminal, "w", closefd=True) as tty, open(controller, "rb", buffering=0) as out:
        configure_logging(stream=tty)
        structlog.get_logger().info("hello", n=1)
        tty.flush()
        shown = out.read(4096).decode()
    assert "hello" in shown
    assert "n=1" in shown
    assert not shown.lstrip().startswith("{")


def test_the_level_filters_ours_and_the_libraries() -> None:
    buffer = io.StringIO()
    configure_logging(json=True, level="warning", stream=buffer)
    structlog.get_logger().info("quiet")
    logging.getLogger("httpx").info("HTTP Request: GET /")
    structlog.get_logger().warning("loud")
    assert [json.loads(line)["event"] for line in buffer.getvalue().splitlines()] == ["loud"]
    buffer = io.StringIO()
    configure_logging(json=True, level="debug", stream=buffer)
    logging.getLogger("httpx").info("HTTP Request: GET /")  # chatty libraries stay at warning
    structlog.get_logger().debug("detail")
    assert [json.loads(line)["event"] for line in buffer.getvalue().splitlines()] == ["detail"]


def test_short_strings_are_not_registered_as_secrets() -> None:
    register_secret("info", "")
    assert "info" not in logs._secrets
    assert "" not in logs._secrets


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest_showing() -> None:
    buffer = io.StringIO()
    configure_logging(json=True, stream=buffer)
    short, long = "overlap-" + "secret", "overlap-" + "secret-and-more"
    register_secret(short)
    register_secret(long)
    structlog.get_logger().info("x", value=long)
    assert json.loads(buffer.getvalue())["value"] == REDACTED


def test_a_real_process_logs_json_to_stderr_without_the_key(tmp_path: Path) -> None:
    """The daemon's way: stderr a pipe, a key loaded, then an error that quotes the key."""
    key = write_key(tmp_path / "agent.key")
    script = f"""
import os, structlog
from daemon.keys import load_keypair
from daemon.logs import configure_logging
from daemon.settings import KeySource
configure_logging()
load_keypair(KeySource("file", {str(key)!r}), {{}})
try:
    raise RuntimeError("boom " + open({str(key)!r}).read().strip())
except RuntimeError:
    structlog.get_logger("stopd").exception("start failed")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout == ""
    (line,) = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["event"] == "start failed"
    assert line["exception"][0]["exc_value"] == f"boom {REDACTED}"
    for encoding in ENCODINGS:
        assert encoding not in done.stderr
