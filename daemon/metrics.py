"""Prometheus metrics: what a person (or docs/alerts.yml) needs to see that every position is
protected, served as Prometheus text on the settings' `metrics` address (127.0.0.1 by default).

The names and their meanings are a public interface (docs/alerts.yml and users' dashboards
read them); add, never rename:

    stopd_positions{account,state}          positions now, by state: covered (a rule applies and
                                            its stop rests), bare (a rule applies and no stop
                                            rests), unruled (no rule applies)
    stopd_bare_seconds                      the longest current bare stretch, 0 when none
    stopd_feed_age_seconds{channel}         seconds since the last frame on a stream channel
                                            (+Inf before the first one); `prices` ticks every
                                            few seconds, the account channels only on change
    stopd_actions_total{kind,outcome}       order actions sent, by action and outcome
    stopd_request_seconds{endpoint}         REST request durations (histogram)
    stopd_frame_to_request_seconds          a price frame's arrival to the request it caused
                                            leaving (histogram)
    stopd_credits_remaining{account}        rate-limit credits left in the current window
    stopd_rules_loaded_timestamp_seconds    when the rule book in force was loaded (Unix time)
    stopd_reload_failures_total             reloads that kept the old rules
    stopd_degraded                          1 while the price stream is stale (trailing frozen)

Labels carry an account's public address, a stream channel, an endpoint path, an action kind
and an outcome: never key material, never anything a caller did not name here.

The HTTP server runs in its own thread (prometheus-client's WSGI server), not on the event
loop: a scrape never delays a price frame, and when the loop wedges the server still answers,
with ages that keep growing (they are read at scrape time), so the alerts fire on a stuck
daemon as well as on a dead one. Every value the loop pushes is a plain assignment under
prometheus-client's own locks; the two read at scrape time take `_lock`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from decimal import Decimal
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

from daemon.domain import PositionKey

POSITION_STATES = ("covered", "bare", "unruled")
# REST requests go over the internet to the exchange: milliseconds to seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a price frame to the stop move it causes is the daemon's own reaction: sub-millisecond
# to tens of milliseconds when healthy (design.md §7), longer when the budget holds it back.
FRAME_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

Age = Callable[[], float | None]


class BareStretches:
    """When each currently bare position became bare, by account (monotonic seconds).

    Fed from the event loop, read from the scrape thread and by the bare-position alert."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, dict[PositionKey, float]] = {}

    def update(self, account: str, bare: Collection[PositionKey], now: float) -> None:
        """`bare` is every position of `account` that is bare now; a stretch starts the first
        time a position shows up here and ends when it is left out."""
        with self._lock:
            before = self._since.get(account, {})
            self._since[account] = {key: before.get(key, now) for key in bare}

    def accounts(self) -> list[str]:
        with self._lock:
            return list(self._since)

    def since(self, account: str) -> dict[PositionKey, float]:
        with self._lock:
            return dict(self._since.get(account, {}))

    def longest(self, now: float) -> float:
        with self._lock:
            starts = [start for stretches in self._since.values() for start in stretches.values()]
        return max((now - start for start in starts), default=0.0)


class Metrics:
    """The daemon's metrics in a registry of their own (never prometheus-client's global one,
    so two daemons in one test process, or a library that registers its own, never clash)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ages: dict[str, list[Age]] = {}
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.stretches = BareStretches()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._positions = Gauge("stopd_positions", "Positions by state: covered (its stop "
                                "rests), bare (a rule applies, no stop rests), unruled",
                                ["account", "state"], registry=r)
        self._bare = Gauge("stopd_bare_seconds", "The longest current bare stretch, seconds",
                           registry=r)
        self._bare.set_function(lambda: self.stretches.longest(self._clock()))
        self._feed_age = Gauge("stopd_feed_age_seconds", "Seconds since the last frame on a "
                               "stream channel (+Inf before the first)", ["channel"], registry=r)
        self._actions = Counter("stopd_actions", "Order actions by kind and outcome",
                                ["kind", "outcome"], registry=r)
        self._requests = Histogram("stopd_request_seconds", "REST request durations",
                                   ["endpoint"], buckets=REQUEST_BUCKETS, registry=r)
        self._frame_to_request = Histogram(
            "stopd_frame_to_request_seconds", "From a price frame's arrival to the request it "
            "caused leaving", buckets=FRAME_BUCKETS, registry=r)
        self._credits = Gauge("stopd_credits_remaining", "Rate-limit credits left in the "
                              "current window", ["account"], registry=r)
        self._rules_loaded = Gauge("stopd_rules_loaded_timestamp_seconds", "When the rule "
                                   "book in force was loaded, Unix time", registry=r)
        self._reload_failures = Counter("stopd_reload_failures", "Reloads that kept the old "
                                        "rules", registry=r)
        self._degraded = Gauge("stopd_degraded", "1 while the price stream is stale and "
                               "trailing is frozen", registry=r)

    # -- what the service reports -------------------------------------------------------------

    def positions(self, account: str, *, covered: int, bare: Collection[PositionKey],
                  unruled: int) -> None:
        """The account's positions now; `bare` names the bare ones, so their stretches run."""
        for state, count in zip(POSITION_STATES, (covered, len(bare), unruled), strict=True):
            self._positions.labels(account=account, state=state).set(count)
        self.stretches.update(account, bare, self._clock())

    def feed_age(self, channel: str, age: Age) -> None:
        """Read `age()` at every scrape (the oldest, when several feeds serve one channel)."""
        with self._lock:
            known = channel in self._ages
            self._ages.setdefault(channel, []).append(age)
        if not known:
            self._feed_age.labels(channel=channel).set_function(lambda: self._age_of(channel))

    def _age_of(self, channel: str) -> float:
        with self._lock:
            ages = [age() for age in self._ages[channel]]
        return max((math.inf if a is None else a for a in ages), default=math.inf)

    def action(self, kind: str, outcome: str) -> None:
        self._actions.labels(kind=kind, outcome=outcome).inc()

    def observe_request(self, endpoint: str, seconds: float) -> None:
        self._requests.labels(endpoint=endpoint).observe(seconds)

    def frame_to_request(self, seconds: float) -> None:
        self._frame_to_request.observe(seconds)

    def credits(self, account: str, remaining: Decimal) -> None:
        self._credits.labels(account=account).set(float(remaining))

    def rules_loaded(self, at: float | None = None) -> None:
        """A rule book was loaded and is in force; `at` is Unix time (default: now)."""
        self._rules_loaded.set(time.time() if at is None else at)

    def reload_failed(self) -> None:
        self._reload_failures.inc()

    def degraded(self, on: bool) -> None:
        self._degraded.set(1 if on else 0)

    # -- serving ------------------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, address: tuple[str, int]) -> tuple[str, int]:
        """Start the HTTP server thread; return the address bound (port 0 picks one)."""
        host, port = address
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        bound = self._server.server_address
        return str(bound[0]), int(bound[1])

    def close(self) -> None:
        """Stop the server and wait for its thread; safe to call more than once."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
