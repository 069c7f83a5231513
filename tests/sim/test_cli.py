"""`stopd sim` as a user runs it: a real process, its URLs printed, SIGTERM to stop."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import httpx

COMMAND = [sys.executable, "-m", "daemon.cli", "sim"]


async def test_stopd_sim_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "--port", "0", "--prices", "static", stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode()
                 for _ in range(4)]
        rest = next(line.split()[-1] for line in lines if line.strip().startswith("REST"))
        assert rest.startswith("http://127.0.0.1:")
        assert rest.endswith("/api/v1")
        assert any(line.strip().startswith("WebSocket ws://127.0.0.1:") for line in lines)
        async with httpx.AsyncClient() as client:
            info = (await client.get(f"{rest}/info")).json()
        assert info["success"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0


def test_a_bad_market_file_is_reported_and_nothing_starts(tmp_path: Path) -> None:
    bad = tmp_path / "markets.json"
    bad.write_text("[{}]")
    done = subprocess.run([*COMMAND, "--markets", str(bad), "--port", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"stopd sim: {bad}[0].symbol: expected a non-empty string"


def test_a_negative_price_interval_is_refused() -> None:
    done = subprocess.run([*COMMAND, "--price-interval", "-1", "--port", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "--price-interval: must be a number of seconds >= 0" in done.stderr
