"""`stopd run`: the daemon's wiring, loop, signals and service-manager notifications.

One process serves every account of the settings file. Per account: one REST client, one
feed, one submitter and one credit budget (daemon.account). Shared: the rule book (swapped
whole on reload), the state store, the scheduler (daemon.scheduler) and the notifier.

Lifecycle: READY=1 once the first reconcile has read every account and the first plan's
placements were answered; around every reload RELOADING=1 (+MONOTONIC_USEC) then READY=1,
whether the new rules loaded or not; STOPPING=1 on SIGTERM, then exit 0 with every resting
stop left in place: they are the protection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from daemon.account import Account
from daemon.binding import agent_binding_problem
from daemon.budget import HEAVY_READ_COST, HEAVY_READ_COST_WITH_KEY, CreditBudget
from daemon.keys import KeyLoadError, load_api_key, load_keypair
from daemon.logs import configure_logging
from daemon.notify import Notifier
from daemon.operations import Operations
from daemon.pacifica.errors import RateLimited
from daemon.pacifica.feed import Channel, Feed, FeedConfig
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.signing import Keypair
from daemon.rulefiles import check_paths
from daemon.rules.spec import RuleBook
from daemon.scheduler import Scheduler
from daemon.settings import Settings, SettingsError, load_settings
from daemon.state import StateError, StateStore
from daemon.status import account_snapshot, summary_line
from daemon.submitter import Submitter
from daemon.watchdog import Check, Watchdog, feed_fresh, submitter_moving

log = structlog.get_logger(__name__)

STATUS_EVERY_S = 2.0
RULES_POLL_S = 1.0
STALE_CHECK_S = 1.0
MARKETS_EVERY_S = 300.0
# While the price stream is stale, REST prices are read this often (a heavy read).
PRICE_POLL_S = 10.0
STOP_GRACE_S = 8.0
# Longer than the longest wait the order worker may be told to keep (a 429's 60 s).
WORKER_STALL_S = 90.0
# At start the first reconcile follows the stream's subscription; this long without one, it
# reads the account over REST anyway.
FIRST_READ_WAIT_S = 3.0  # per account: let sends in flight finish, then cancel them
# An API config key buys 300 credits a minute; without one Pacifica allows 100.
QUOTA_WITH_KEY = Decimal(300)
QUOTA_WITHOUT_KEY = Decimal(100)


class StartError(Exception):
    """The daemon cannot start; the message says why and names where (never a key)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Credentials:
    address: str
    keypair: Keypair


def run_command(args: argparse.Namespace,
                stop_requested: Callable[[], bool] = lambda: False) -> int:
    """`stopd run`; `stop_requested` tells of a SIGTERM that came while still loading."""
    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        print(str(error), file=sys.stderr)
        return 2
    configure_logging(level=args.log_level)
    try:
        service = Service(settings, dry_run=args.dry_run, env=os.environ,
                          stop_requested=stop_requested)
        return asyncio.run(service.run())
    except StartError as error:
        log.error("daemon.start_failed", error=str(error))
        print(f"stopd: {error}", file=sys.stderr)
        return error.code


def load_credentials(settings: Settings, env: Mapping[str, str]) -> list[Credentials]:
    """Each account's key; a key that fails names its source, never its material."""
    out: list[Credentials] = []
    for account in settings.accounts:
        try:
            keypair = load_keypair(account.key, env)
        except KeyLoadError as error:
            raise StartError(str(error)) from None
        out.append(Credentials(account.address or keypair.public_key, keypair))
    return out


def load_rules(path: Path) -> tuple[RuleBook | None, list[str]]:
    """The rule book, or None and the problems (file:line:column: ...) that stop it."""
    result = check_paths([path])
    problems = [str(p) for p in result.problems if p.is_error]
    return result.book, problems


def rule_files(path: Path) -> dict[str, tuple[int, int]]:
    """mtime and size of the rule file(s): a change is picked up without a SIGHUP."""
    out: dict[str, tuple[int, int]] = {}
    candidates = [path]
    with contextlib.suppress(OSError):
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            stat = path.stat()
            out[str(path)] = (stat.st_mtime_ns, stat.st_size)
    for candidate in candidates:
        try:
            stat = candidate.stat()
        except OSError:
            out[str(candidate)] = (-1, -1)
            continue
        out[str(candidate)] = (stat.st_mtime_ns, stat.st_size)
    return out


class Service:
    def __init__(self, settings: Settings, *, dry_run: bool, env: Mapping[str, str],
                 stop_requested: Callable[[], bool] = lambda: False) -> None:
        self.settings = settings
        self.stop_requested = stop_requested
        self.dry_run = dry_run
        self.env = env
        self.notifier = Notifier.from_env(env)
        self.ops = Operations(settings)  # metrics and webhook alerts
        self.rulebook: RuleBook | None = None
        self.rules_error: str | None = None
        self.rules_loaded_at: float | None = None
        self.rules_seen: dict[str, tuple[int, int]] = {}
        self.accounts: list[Account] = []
        self.store: StateStore | None = None
        self.scheduler = Scheduler()
        self.watchdog: Watchdog | None = None
        self.state = "starting"
        self.ready = False
        self.started = time.time()
        self._stop = asyncio.Event()
        self._all_ready = asyncio.Event()
        self._reloading = asyncio.Lock()
        self._stale: dict[str, bool] = {}
        self._last_poll: dict[str, float] = {}

    # -- start ---------------------------------------------------------------------------

    async def run(self) -> int:
        credentials = load_credentials(self.settings, self.env)
        book, problems = load_rules(self.settings.rules)
        if book is None:
            raise StartError("the rules do not load:\n" + "\n".join(problems), code=2)
        self.rulebook = book
        self.rules_loaded_at = time.time()
        self.rules_seen = rule_files(self.settings.rules)
        api_key = None
        if self.settings.exchange.api_key_file is not None:
            try:
                api_key = load_api_key(self.settings.exchange.api_key_file)
            except KeyLoadError as error:
                raise StartError(str(error)) from None
        existed = self.settings.state.exists()
        try:
            self.store = StateStore.open(self.settings.state)
        except (StateError, OSError) as error:
            # Another daemon on this file, or a folder that cannot be made: say which file.
            raise StartError(f"state file {self.settings.state}: {error}") from None
        for note in self.store.recovered:
            log.warning("state.recovered", note=note)
        if not existed:
            # First start, or the file was lost: say what that costs and what is done instead.
            log.warning("state.new", path=str(self.settings.state),
                        lost="trailing extremes, breakeven latches and order revisions of "
                             "positions opened before",
                        instead="resting stops are adopted from their ids and never loosened; "
                                "trailing measures from the prices seen from now on")
        for cred in credentials:
            self.accounts.append(self._account(cred, api_key))
        log.info("daemon.starting", accounts=[a.address for a in self.accounts],
                 dry_run=self.dry_run, rules=str(self.settings.rules),
                 rules_count=len(book.rules))
        for account in self.accounts:
            markets = await account.rest.markets()
            problem = await agent_binding_problem(account.rest, min(markets)) if markets else None
            if problem is not None:
                raise StartError(problem)
        self.ops.start(self.accounts)
        loop = asyncio.get_running_loop()
        if self.stop_requested():
            self._stop.set()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        try:
            await self._serve()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self._shutdown()
        return 0

    def _account(self, cred: Credentials, api_key: str | None) -> Account:
        settings = self.settings
        assert self.store is not None
        rest = PacificaRest(settings.exchange.rest_url, keypair=cred.keypair,
                            account=cred.address, api_key=api_key, wait_on_rate_limit=False,
                            http_transport=self.ops.transport())
        # A stream silent for stale_after (pongs included) is presumed half-open and replaced,
        # so a stall ends in a reconnect rather than waiting out the default 40 s.
        half = max(1.0, min(settings.stale_after.total_seconds() / 2, 15.0))
        feed = Feed(settings.exchange.ws_url, account=cred.address, api_key=api_key,
                    config=FeedConfig(ping_interval=half, pong_timeout=half))
        read_cost = HEAVY_READ_COST_WITH_KEY if api_key else HEAVY_READ_COST
        budget = CreditBudget(quota=QUOTA_WITH_KEY if api_key else QUOTA_WITHOUT_KEY,
                              reconcile_cost=2 * read_cost)
        holder: list[Account] = []
        submitter = Submitter(account=cred.address, client=rest,
                              markets=lambda: holder[0].markets, store=self.store,
                              budget=budget, dry_run=self.dry_run,
                              close_slippage=settings.close_slippage, read_cost=read_cost)
        account = Account(
            address=cred.address, rest=rest, feed=feed, submitter=submitter, store=self.store,
            budget=budget, rulebook=self._rules,
            reconcile_interval=settings.reconcile_interval.total_seconds(),
            stale_after=settings.stale_after.total_seconds(), read_cost=read_cost,
            dry_run=self.dry_run,
            on_due=self._on_due, on_progress=self._on_progress)
        holder.append(account)
        return account

    def _rules(self) -> RuleBook:
        assert self.rulebook is not None
        return self.rulebook

    async def _serve(self) -> None:
        scheduler = self.scheduler
        scheduler.start()
        await asyncio.gather(*(self._start_account(a) for a in self.accounts))
        interval = max(self.settings.reconcile_interval.total_seconds(), 1.0)
        for account in self.accounts:
            scheduler.every(interval, account.reconcile, "schedule",
                            job_id=f"reconcile:{account.address}")
        scheduler.every(STATUS_EVERY_S, self.write_status, job_id="status")
        scheduler.every(RULES_POLL_S, self.poll_rules, job_id="rules")
        scheduler.every(STALE_CHECK_S, self.check_feeds, job_id="feeds")
        scheduler.every(MARKETS_EVERY_S, self.refresh_markets, job_id="markets")
        beat_every = self.notifier.watchdog_interval
        if beat_every:
            self.watchdog = Watchdog(self.notifier, self._health_checks())
            scheduler.every(beat_every, self.beat, job_id="watchdog")
        waiter = asyncio.create_task(self._announce_ready(), name="ready")
        try:
            await self._stop.wait()
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    async def _start_account(self, account: Account) -> None:
        """Markets, journal recovery, streams (retried until they work; a 429 waits its
        stated time). The first reconcile follows the stream's subscription, which needs
        one anyway; if the stream is not up within a few seconds, it goes without it."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                await account.start(functools.partial(self.reconcile_soon, account))
                break
            except Exception as exc:
                account.last_error = f"start: {type(exc).__name__}: {exc}"[:300]
                log.warning("account.start_failed", account=account.address,
                            error=account.last_error)
                wait = exc.retry_after if isinstance(exc, RateLimited) else None
                await asyncio.sleep(max(delay, wait or 0.0))
                delay = min(delay * 2, 10.0)

        def without_stream() -> None:
            if account.reconciles == 0 and not self._stop.is_set():
                self.reconcile_soon(account, "start, stream not up yet")

        asyncio.get_running_loop().call_later(FIRST_READ_WAIT_S, without_stream)

    def reconcile_soon(self, account: Account, reason: str) -> None:
        self.scheduler.soon(account.reconcile, reason, job_id=f"reconcile-now:{account.address}")

    def _on_progress(self) -> None:
        if all(a.ready for a in self.accounts):
            self._all_ready.set()

    async def _announce_ready(self) -> None:
        await self._all_ready.wait()
        self.ready = True
        self.state = "running"
        await self.write_status()
        self.notifier.ready(self.summary())
        log.info("daemon.ready", status=self.summary())

    # -- reload --------------------------------------------------------------------------

    def _on_sighup(self) -> None:
        log.info("rules.reload_requested", reason="SIGHUP")
        asyncio.get_running_loop().create_task(self.reload("SIGHUP"))

    async def poll_rules(self) -> None:
        seen = rule_files(self.settings.rules)
        if seen != self.rules_seen:
            await self.reload("rule file changed")

    async def reload(self, reason: str) -> None:
        async with self._reloading:
            # Before the first READY=1 there is nothing to announce: a READY=1 here would tell
            # the service manager "protecting" before the first reconcile and placements.
            announce = self.ready
            if announce:
                self.notifier.reloading()
            try:
                self.rules_seen = rule_files(self.settings.rules)
                book, problems = load_rules(self.settings.rules)
                if book is None:
                    self.rules_error = "; ".join(problems[:5]) or "the rules do not load"
                    log.error("rules.reload_failed", reason=reason, problems=problems[:20],
                              kept="the previous rules stay in force")
                    self.ops.reloaded(problems)
                else:
                    self.rulebook = book
                    self.rules_error = None
                    self.rules_loaded_at = time.time()
                    self.ops.reloaded(None)
                    log.info("rules.reloaded", reason=reason, rules=len(book.rules))
                    for account in self.accounts:
                        account.request(full=True)
                await self.write_status()
            finally:
                if announce:
                    self.notifier.ready(self.summary())

    # -- scheduled jobs ------------------------------------------------------------------

    async def check_feeds(self) -> None:
        self.ops.tick(self.accounts)
        now = time.monotonic()
        for account in self.accounts:
            stale = account.stale()
            was = self._stale.get(account.address, False)
            if stale != was:
                self._stale[account.address] = stale
                if stale:
                    log.warning("feed.stale", account=account.address,
                                age_s=account.feed.age(Channel.PRICES),
                                kept="resting stops stay; trailing frozen")
                else:
                    log.info("feed.recovered", account=account.address)
                account.request(full=True)
            failure = account.feed.failure
            if failure is not None and failure.fatal and account.last_error != (
                    f"feed: {failure.message}"):
                account.last_error = f"feed: {failure.message}"
                log.error("feed.fatal", account=account.address, error=failure.message,
                          retry="slowly; check ws_url and the API key")
            if stale and now - self._last_poll.get(account.address, 0.0) >= PRICE_POLL_S:
                self._last_poll[account.address] = now
                await account.poll_prices()
            if account.due is not None and datetime.now(UTC) >= account.due:
                account.request(full=False)

    async def refresh_markets(self) -> None:
        for account in self.accounts:
            await account.refresh_markets()

    def _health_checks(self) -> dict[str, Check]:
        """WATCHDOG=1 only while every account's prices arrive (or its REST fallback works)
        and its order worker moves; the ping itself comes from a job on the loop."""
        checks: dict[str, Check] = {}
        for account in self.accounts:
            name = account.address[:8]
            checks[f"{name} prices"] = feed_fresh(
                functools.partial(account.feed.age, Channel.PRICES), account.stale_after,
                degraded_ok=functools.partial(account.polled_recently, PRICE_POLL_S * 3))
            checks[f"{name} orders"] = submitter_moving(account.submitter, WORKER_STALL_S)
        return checks

    async def beat(self) -> None:
        if self.watchdog is not None:
            self.watchdog.beat()

    def _on_due(self, account: Account, due: datetime | None) -> None:
        if due is None:
            return
        # A little past the due time, so the engine sees `now >= due`.
        self.scheduler.at(due + timedelta(milliseconds=5), self._wake, account,
                          job_id=f"due:{account.address}")

    async def _wake(self, account: Account) -> None:
        account.request(full=False)

    # -- status --------------------------------------------------------------------------

    def degraded(self) -> bool:
        """Not everything a user relies on works: prices stale, a stream refused, an
        account not read yet, or the rule files failed to reload."""
        return bool(self.rules_error) or any(
            a.stale() or a.reconciles == 0 or (a.feed.failure is not None and a.feed.failure.fatal)
            for a in self.accounts)

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "updated_at": time.time(),
            "started_at": self.started,
            "state": self.state,
            "ready": self.ready,
            "degraded": self.degraded(),
            "dry_run": self.dry_run,
            "rules": {"path": str(self.settings.rules), "error": self.rules_error,
                      "loaded_at": self.rules_loaded_at},
            "job_errors": self.scheduler.errors,
            "last_job_error": self.scheduler.last_error,
            "accounts": [account_snapshot(a) for a in self.accounts],
        }

    def summary(self) -> str:
        return summary_line(self.snapshot())

    async def write_status(self) -> None:
        if self.store is None:
            return
        snapshot = self.snapshot()
        self.store.save_status(snapshot)
        self.notifier.status(summary_line(snapshot))

    # -- stop ----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        self.state = "stopped"
        log.info("daemon.stopping", kept="every resting stop stays on the exchange")
        self.scheduler.shutdown()
        for account in self.accounts:
            try:
                await asyncio.wait_for(account.stop(), STOP_GRACE_S)
            except Exception as exc:  # a timeout included: stopping must end
                log.warning("account.stop_failed", account=account.address,
                            error=f"{type(exc).__name__}: {exc}"[:300])
        await self.ops.close()
        await self._end_leftovers()
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.save_status(self.snapshot())
            self.store.close()
        log.info("daemon.stopped")

    async def _end_leftovers(self) -> None:
        """Cancel what still runs (a reload, a job) and name anything that will not end."""
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in others:
            task.cancel()
        if others:
            _, stuck = await asyncio.wait(others, timeout=2.0)
            for task in stuck:
                log.error("daemon.task_will_not_end", task=task.get_name(),
                          coro=repr(task.get_coro())[:200])
