"""daemon.metrics, scraped over real HTTP on a loopback port."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from daemon.domain import PositionKey, Side
from daemon.metrics import Metrics
from daemon.settings import DEFAULT_METRICS

ACCOUNT = "42trU9A5nfMxaz7k2AeWmDbfQ1rvxoKAf5vdqf6XBDVV"  # a public address: fine as a label
BTC, ETH, SOL = (PositionKey(symbol, Side.BID, 1) for symbol in ("BTC", "ETH", "SOL"))
SECRET = "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMikjwpAW9DMZzU2Pqakc5it8X3N5vPmqdN7KF4CCUpmKhq"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(clock: Clock) -> Iterator[tuple[Metrics, str]]:
    metrics = Metrics(clock=clock)
    host, port = metrics.serve((DEFAULT_METRICS[0], 0))
    yield metrics, f"http://{host}:{port}/metrics"
    metrics.close()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_every_metric_with_its_meaning(served: tuple[Metrics, str], clock: Clock) -> None:
    metrics, url = served
    metrics.positions(ACCOUNT, covered=3, bare={BTC}, unruled=1)
    metrics.feed_age("prices", lambda: 0.5)
    metrics.action("place", "placed")
    metrics.action("place", "placed")
    metrics.action("move", "rejected")
    metrics.observe_request("/orders/stop/create", 0.03)
    metrics.frame_to_request(0.002)
    metrics.credits(ACCOUNT, Decimal("87.5"))
    metrics.rules_loaded(1_700_000_000.0)
    metrics.reload_failed()
    metrics.degraded(True)
    clock.now += 12
    s = scrape(url)
    a = (("account", ACCOUNT),)
    assert s["stopd_positions", (*a, ("state", "covered"))] == 3
    assert s["stopd_positions", (*a, ("state", "bare"))] == 1
    assert s["stopd_positions", (*a, ("state", "unruled"))] == 1
    assert s["stopd_bare_seconds", ()] == 12
    assert s["stopd_feed_age_seconds", (("channel", "prices"),)] == 0.5
    assert s["stopd_actions_total", (("kind", "place"), ("outcome", "placed"))] == 2
    assert s["stopd_actions_total", (("kind", "move"), ("outcome", "rejected"))] == 1
    endpoint = (("endpoint", "/orders/stop/create"),)
    assert s["stopd_request_seconds_count", endpoint] == 1
    assert s["stopd_request_seconds_bucket", (*endpoint, ("le", "0.05"))] == 1
    assert s["stopd_request_seconds_bucket", (*endpoint, ("le", "0.025"))] == 0
    assert s["stopd_frame_to_request_seconds_count", ()] == 1
    assert s["stopd_frame_to_request_seconds_sum", ()] == 0.002
    assert s["stopd_credits_remaining", a] == 87.5
    assert s["stopd_rules_loaded_timestamp_seconds", ()] == 1_700_000_000
    assert s["stopd_reload_failures_total", ()] == 1
    assert s["stopd_degraded", ()] == 1


def test_a_bare_stretch_runs_until_the_stop_is_back(served: tuple[Metrics, str],
                                                    clock: Clock) -> None:
    metrics, url = served
    assert scrape(url)["stopd_bare_seconds", ()] == 0
    metrics.positions(ACCOUNT, covered=1, bare={ETH}, unruled=0)
    clock.now += 5
    metrics.positions(ACCOUNT, covered=0, bare={ETH, SOL}, unruled=0)
    clock.now += 5
    # Read at scrape time: nobody pushed anything, the stretch still grows (a wedged loop).
    assert scrape(url)["stopd_bare_seconds", ()] == 10
    metrics.positions(ACCOUNT, covered=1, bare={SOL}, unruled=0)
    assert scrape(url)["stopd_bare_seconds", ()] == 5  # ETH covered again: SOL is the longest
    metrics.positions(ACCOUNT, covered=2, bare=set(), unruled=0)
    s = scrape(url)
    assert s["stopd_bare_seconds", ()] == 0
    assert s["stopd_positions", (("account", ACCOUNT), ("state", "bare"))] == 0


def test_feed_age_is_read_at_scrape_time(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    ages: dict[str, float | None] = {"one": None, "two": 1.0}
    metrics.feed_age("prices", lambda: ages["one"])
    metrics.feed_age("prices", lambda: ages["two"])
    key = ("stopd_feed_age_seconds", (("channel", "prices"),))
    assert math.isinf(scrape(url)[key])  # one feed has seen no frame yet
    ages["one"] = 0.25
    assert scrape(url)[key] == 1.0  # the oldest of the feeds serving the channel
    ages["two"] = 0.1
    assert scrape(url)[key] == 0.25


def test_own_registry_only() -> None:
    first, second = Metrics(), Metrics()  # two in one process do not clash
    first.degraded(True)
    assert b"stopd_degraded 1.0" in first.render()
    assert b"stopd_degraded 0.0" in second.render()
    assert REGISTRY.get_sample_value("stopd_degraded") is None


def test_no_key_material_and_only_documented_labels(served: tuple[Metrics, str]) -> None:
    metrics, url = served
    metrics.positions(ACCOUNT, covered=1, bare={PositionKey(SECRET, Side.ASK, 1)}, unruled=0)
    metrics.credits(ACCOUNT, Decimal(1))
    metrics.action("place", "placed")
    text = httpx.get(url, timeout=5).text
    assert SECRET not in text
    labels = {name for (_, pairs) in scrape(url) for name, _ in pairs}
    assert labels <= {"account", "state", "channel", "kind", "outcome", "endpoint", "le"}


def test_serves_on_loopback_and_stops(clock: Clock) -> None:
    metrics = Metrics(clock=clock)
    host, port = metrics.serve(("127.0.0.1", 0))
    assert host == "127.0.0.1"
    assert httpx.get(f"http://{host}:{port}/metrics", timeout=5).status_code == 200
    metrics.close()
    metrics.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{host}:{port}/metrics", timeout=5)
