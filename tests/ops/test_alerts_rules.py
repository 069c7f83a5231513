"""docs/alerts.yml: valid for Prometheus (where promtool exists), each alert fires on what it
is about (tests/ops/alerts_test.yml), and it reads only metrics the daemon exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from daemon.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "alerts.yml"
CASES = Path(__file__).with_name("alerts_test.yml")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None,
                                    reason="promtool not installed (Debian package prometheus)")
REQUIRED = {"StopdPositionBare", "StopdFeedStale", "StopdReloadFailed", "StopdCreditsLow",
            "StopdDown"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=ROOT)


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_each_alert_fires_when_it_should() -> None:
    done = promtool("test", "rules", str(CASES))
    assert done.returncode == 0, done.stdout + done.stderr


def alerts() -> dict[str, str]:
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in document["groups"]
            for rule in group["rules"]}


def test_the_required_alerts_exist_and_every_alert_is_tested() -> None:
    assert set(alerts()) >= REQUIRED
    tested = set(re.findall(r"alertname: (\w+)", CASES.read_text()))
    assert tested == set(alerts())


def test_rules_read_only_exported_metrics() -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    exported = {family.name + suffix for family in Metrics().registry.collect()
                for suffix in ("", *suffixes.get(family.type, ()))}
    used = {name for expr in alerts().values() for name in re.findall(r"\bstopd_\w+", expr)}
    assert used
    assert used <= exported, used - exported
