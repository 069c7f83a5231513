"""`make demo` runs the real daemon against `stopd sim`: every promised step shows, the summary
prints, and it exits 0; a step that does not happen fails it with a clear message. Either way
no subprocess and no temp file outlives it.

The demo runs as `make demo` runs it, a process of its own (`python -m daemon.demo`), with
`--quick`: the same steps with shorter pauses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_demo(*args: str, within: float = 150.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    return subprocess.run([sys.executable, "-m", "daemon.demo", "--quick", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=within,
                          check=False)


def assert_nothing_left(out: str) -> None:
    pids = [int(p) for p in re.findall(r"pid (\d+)", out)]
    assert pids, out
    for pid in pids:  # the simulator and the daemon: ended (and reaped) by the demo
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"process {pid} outlived the demo")
    [tmp] = re.findall(r"temp dir (\S+)", out)
    assert not Path(tmp).exists()


def test_demo_walks_every_step_and_summarises() -> None:
    done = run_demo()
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    steps = [
        "a stop placed on every position",
        "a stop placed on the new kBONK position",
        "BTC stop trailed up behind the rally",
        "SOL stop moved to breakeven",
        "the ETH stop fired and closed the short",
        "the cancelled BTC stop put back at its trailed price",
        "the orphaned kBONK stop cancelled",
    ]
    seen = [line for line in out.splitlines() if "  OK  " in line]
    assert [s for s in steps if not any(s in line for line in seen)] == [], out
    # What the exchange showed, as the live view printed it.
    assert re.search(r"stop +BTC sl moved 58200 -> 6\d{4}", out), out
    assert "SOL sl moved 145.50 -> 150.15" in out
    assert "ETH sl FIRED at 3120.0" in out
    assert re.search(r"BTC sl at (\d+) cancelled by hand; put back at \1", out), out
    assert "cancelled (an orphan: its position is gone)" in out
    # `stopd status` as a person reads it, from the running daemon.
    assert re.search(r"SYMBOL +SIDE +SIZE +ENTRY +PRICE +RULE +STOP +DISTANCE +STATE", out)
    assert re.search(r"SOL +long +10\.00 +150 +153\.4 +sol-breakeven +sl 150\.15 x 10\.00 "
                     r"+2\.12% +protected", out), out
    # The summary: positions, actions, credits, the longest bare stretch.
    assert re.search(r"place +placed +\d+", out), out
    used = re.search(r"credits used +([\d.]+) of 300", out)
    assert used is not None, out
    assert 0 < float(used.group(1)) < 300, out
    bare = re.search(r"longest bare +([\d.]+) s", out)
    assert bare is not None, out
    assert float(bare.group(1)) < 5, out
    assert "Demo complete" in out
    assert "daemon     stopped on SIGTERM (exit 0)" in out
    assert_nothing_left(out)


def test_a_step_that_does_not_happen_fails_the_demo(tmp_path: Path) -> None:
    # Rules that cover none of the demo's symbols: no stop is ever placed.
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - name: doge-only\n    match: {symbol: DOGE}\n"
                     "    stop_loss: 3%\n")
    done = run_demo("--rules", str(rules), "--step-timeout", "4")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("demo failed: a stop placed on every position: did not happen within 4 s"
            in done.stderr), done.stderr
    assert "the daemon's last log lines" in done.stderr
    assert "Demo complete" not in done.stdout
    assert_nothing_left(done.stdout)


def test_a_signal_mid_demo_ends_both_subprocesses() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = subprocess.Popen([sys.executable, "-m", "daemon.demo", "--quick"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        out = ""
        for line in proc.stdout:  # until the daemon has placed its first stops
            out += line
            if "OK       a stop placed on every position" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + rest + err
    assert "demo interrupted" in err
    assert_nothing_left(out + rest)
