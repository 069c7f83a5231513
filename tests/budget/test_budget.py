"""The credit budget: never past the quota, a bare position never starved, no wait when plenty."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from daemon.budget import (
    CANCEL_COST,
    CREATE_COST,
    CreditBudget,
    Priority,
    cost_of,
    priority_of,
)
from daemon.domain import OpenOrder, PositionKey, Side, TriggerPriceType
from daemon.engine.model import LegKind
from daemon.engine.plan import Action, Cancel, CloseMarket, Move, OrderIntent, Place, Resize
from daemon.pacifica.errors import RateLimitState, ratelimit_from_headers

D = Decimal
KEY = PositionKey("BTC", Side.BID, 1_764_000_000_000)
LIVE = OpenOrder(7, "cid-old", "BTC", Side.ASK, "stop_market", D(0), D(97_000), D(1), D(0), D(0),
                 True, 1)


def _intent(kind: LegKind = LegKind.STOP) -> OrderIntent:
    return OrderIntent("cid-new", KEY, "sl" if kind is LegKind.STOP else "tp", kind, Side.ASK,
                       D(1), D(98_000), None, TriggerPriceType.MARK, 1)


def test_priorities_follow_the_issue_protect_resize_move_cleanup() -> None:
    stop, tp = _intent(), _intent(LegKind.TAKE_PROFIT)
    cases: list[tuple[Action, bool, Priority]] = [
        (Place(stop, "bare"), True, Priority.PROTECT),
        (CloseMarket(_intent(LegKind.CLOSE), "time exit"), False, Priority.PROTECT),
        (Place(stop, "another ladder leg"), False, Priority.RESIZE),
        (Resize(stop, LIVE, "amount"), False, Priority.RESIZE),
        (Move(stop, LIVE, "trailing"), False, Priority.MOVE),
        (Place(tp, "take-profit"), False, Priority.MOVE),
        (Place(tp, "a take-profit cannot end bareness"), True, Priority.MOVE),
        (Resize(stop, LIVE, "the only stop covers too little"), True, Priority.PROTECT),
        (Cancel(LIVE, "orphan"), False, Priority.CLEANUP),
        (Cancel(LIVE, "orphan"), True, Priority.CLEANUP),
    ]
    for action, bare, expected in cases:
        assert priority_of(action, bare=bare) is expected, (action, bare)
    assert list(Priority) == sorted(Priority)  # lower value goes first
    assert Priority.PROTECT < Priority.RESIZE < Priority.MOVE < Priority.CLEANUP < Priority.READ


def test_costs_are_pacificas() -> None:
    stop = _intent()
    assert cost_of(Place(stop, "")) == CREATE_COST == D(1)
    assert cost_of(CloseMarket(stop, "")) == D(1)
    assert cost_of(Cancel(LIVE, "")) == CANCEL_COST == D("0.5")
    assert cost_of(Move(stop, LIVE, "")) == cost_of(Resize(stop, LIVE, "")) == D("1.5")


def test_plenty_means_no_wait_and_reserves_hold_back_lower_priorities() -> None:
    budget = CreditBudget(quota=D(100), protect_reserve=D(10), read_reserve=D(30))
    for priority in Priority:
        assert budget.delay(priority, D(12), 0.0) == 0.0
    for _ in range(60):  # moves spend down to the protect reserve ...
        assert budget.delay(Priority.MOVE, D("1.5"), 1.0) == 0.0
        budget.spend(D("1.5"), 1.0)
    assert budget.remaining(1.0) == D(10)
    # ... no further
    assert budget.delay(Priority.MOVE, D("1.5"), 1.0) == pytest.approx(60.0, abs=1e-5)
    assert budget.delay(Priority.READ, D(12), 1.0) == pytest.approx(60.0, abs=1e-5)
    assert budget.delay(Priority.PROTECT, D(1), 1.0) == 0.0  # a bare position still goes
    for _ in range(10):
        budget.spend(D(1), 1.0)
    assert budget.remaining(1.0) == 0
    # The window rolls: the first spends leave it at 61.
    assert budget.delay(Priority.PROTECT, D(1), 30.0) == pytest.approx(31.0, abs=1e-5)
    assert budget.delay(Priority.PROTECT, D(1), 61.0) == 0.0
    assert budget.remaining(61.0) == D(100)


def test_a_429_blocks_everything_until_its_wait_has_passed() -> None:
    budget = CreditBudget()
    budget.rate_limited(5.0, now=10.0)
    for priority in Priority:
        assert budget.delay(priority, D(1), 10.0) == pytest.approx(5.0, abs=1e-5)
    assert budget.remaining(12.0) == 0
    assert budget.delay(Priority.PROTECT, D(1), 15.0) == 0.0
    budget.rate_limited(1.0, now=11.0)  # a shorter wait never shortens the block
    assert budget.delay(Priority.MOVE, D(1), 12.0) == pytest.approx(3.0, abs=1e-5)


def test_headers_add_what_others_spent_and_set_the_quota() -> None:
    budget = CreditBudget(quota=D(100))
    budget.spend(D(10), 0.0)
    # The exchange says 300 a minute (an API config key) and 200 left: 90 spent by others.
    state = ratelimit_from_headers({"ratelimit": '"credits";r=2000;t=40',
                                    "ratelimit-policy": '"credits";q=3000;w=60'})
    assert state is not None
    budget.observe(state, now=1.0)
    assert budget.quota == D(300)
    assert budget.remaining(1.0) == D(200)
    budget.spend(D(1), 2.0)
    assert budget.remaining(2.0) == D(199)
    assert budget.remaining(60.5) == D(209)  # our first spend left the window
    assert budget.remaining(61.0) == D(299)  # and the others' a window after we saw them
    # An answer counting less than our log (requests in flight) does not lower our count.
    budget.observe(RateLimitState(remaining=D(300), reset_after=0.0), now=61.5)
    assert budget.remaining(61.5) == D(299)


def test_credits_others_spent_hold_back_all_but_protect_for_a_window() -> None:
    budget = CreditBudget(quota=D(100), protect_reserve=D(10), read_reserve=D(30))
    # A sub-account spent everything; the oldest of its charges leaves in 8 s.
    budget.observe(RateLimitState(remaining=D(0), reset_after=8.0), now=100.0)
    assert budget.delay(Priority.PROTECT, D(1), 100.0) == pytest.approx(8.0, abs=1e-5)
    assert budget.delay(Priority.MOVE, D("1.5"), 100.0) == pytest.approx(60.0, abs=1e-5)
    # PROTECT tried at 108 and was refused again: the 429's headers say 5 s more.
    budget.rate_limited(5.0, now=108.0)
    budget.observe(RateLimitState(remaining=D(0), reset_after=5.0), now=108.0)
    assert budget.delay(Priority.PROTECT, D(1), 108.0) == pytest.approx(5.0, abs=1e-5)
    assert budget.delay(Priority.MOVE, D("1.5"), 108.0) == pytest.approx(60.0, abs=1e-5)


def test_reconcile_is_stretched_when_credits_are_short() -> None:
    # Without an API key: 100 a minute, a reconcile's two heavy reads cost 24.
    budget = CreditBudget(quota=D(100), read_reserve=D(30), reconcile_cost=D(24))
    stretched = budget.suggested_reconcile_interval(15.0, 0.0)
    assert stretched == pytest.approx(60 * 24 / 35)  # at most half of the 70 above the reserve
    # With a key: 300 a minute, reads cost 4 each: the configured 15 s stands.
    keyed = CreditBudget(quota=D(300), read_reserve=D(30), reconcile_cost=D(8))
    assert keyed.suggested_reconcile_interval(15.0, 0.0) == 15.0
    for _ in range(70):
        keyed.spend(D(4), 0.0)  # 280 spent: the reads must wait for the window
    assert keyed.suggested_reconcile_interval(15.0, 1.0) == pytest.approx(59.0, abs=1e-5)


def test_reserves_are_ordered() -> None:
    with pytest.raises(ValueError, match="protect_reserve <= read_reserve"):
        CreditBudget(protect_reserve=D(40), read_reserve=D(30))


# -- properties ------------------------------------------------------------------------------

costs = st.sampled_from([D("0.5"), D(1), D("1.5"), D(4), D(12)])
# Bursts (no gap) and pauses both: a burst is what fills a window.
gaps = st.one_of(st.just(0.0), st.floats(0, 1), st.floats(0, 20, allow_nan=False))
requests = st.lists(st.tuples(gaps, st.sampled_from(list(Priority)), costs),
                    min_size=1, max_size=150)


def _run(budget: CreditBudget, plan: list[tuple[float, Priority, Decimal]],
         probe: Callable[[float], None] | None = None) -> list[tuple[float, Priority, Decimal]]:
    """Send each request when the budget lets it (waiting as told); the log of spends.
    `probe(now)` runs after each spend and at each moment a request is told to wait until."""
    now, sent = 0.0, []
    for gap, priority, cost in plan:
        now += gap
        wait = budget.delay(priority, cost, now)
        assert wait >= 0.0
        if cost > budget.quota:
            assert wait == float("inf")  # never: the exchange would refuse it as well
            continue
        if probe is not None:
            probe(now)
        now += wait
        assert budget.delay(priority, cost, now) == 0.0  # the wait it gave was enough
        budget.spend(cost, now)
        sent.append((now, priority, cost))
        if probe is not None:
            probe(now)
    return sent


@settings(max_examples=150)
@given(requests, st.sampled_from([D(10), D(100), D(300)]))
def test_never_more_than_the_quota_in_any_window(
        plan: list[tuple[float, Priority, Decimal]], quota: Decimal) -> None:
    budget = CreditBudget(quota=quota, protect_reserve=min(D(10), quota / 4),
                          read_reserve=min(D(30), quota / 2))
    sent = _run(budget, plan)
    for end, _, _ in sent:  # every window that ends on a spend (t counts while t + 60 > end)
        assert sum((c for t, _, c in sent if t <= end < t + 60.0), D(0)) <= quota


@settings(max_examples=150)
@example([(0.0, Priority.MOVE, D(12))] * 9 + [(1.0, Priority.CLEANUP, D("0.5"))] * 30, [0.0])
@given(requests.map(lambda rs: [r for r in rs if r[1] is not Priority.PROTECT]),
       st.lists(st.floats(0, 200, allow_nan=False), max_size=20))
def test_protect_is_never_delayed_by_lower_priorities(
        plan: list[tuple[float, Priority, Decimal]], probes: list[float]) -> None:
    budget = CreditBudget(quota=D(100), protect_reserve=D(10), read_reserve=D(30))

    def ten_stops_always_go(now: float) -> None:
        # However much moves, cleanups and reads spent, ten stops' worth is always there.
        assert budget.delay(Priority.PROTECT, D(10), now) == 0.0
        assert budget.remaining(now) >= D(10)

    sent = _run(budget, plan, ten_stops_always_go)
    end = sent[-1][0] if sent else 0.0
    for extra in probes:
        ten_stops_always_go(end + extra)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.floats(0, 200, allow_nan=False), costs), max_size=40),
       st.sampled_from(list(Priority)), costs)
def test_no_wait_while_the_window_holds_the_cost_above_the_reserve(
        spends: list[tuple[float, Decimal]], priority: Priority, cost: Decimal) -> None:
    budget = CreditBudget(quota=D(100), protect_reserve=D(10), read_reserve=D(30))
    now = 0.0
    for gap, spent in spends:
        now += gap
        budget.spend(spent, now)
    reserve = {Priority.PROTECT: D(0), Priority.READ: D(30)}.get(priority, D(10))
    plenty = budget.remaining(now) - cost >= reserve
    assert (budget.delay(priority, cost, now) == 0.0) == plenty


@given(st.lists(st.tuples(st.floats(0, 30, allow_nan=False), costs), max_size=40),
       st.integers(0, 1000), st.floats(0, 60, allow_nan=False), costs)
def test_after_headers_we_never_spend_what_the_exchange_says_is_gone(
        spends: list[tuple[float, Decimal]], remaining_tenths: int, at: float,
        cost: Decimal) -> None:
    budget = CreditBudget(quota=D(100), protect_reserve=D(10), read_reserve=D(30))
    for when, spent in sorted(spends):
        budget.spend(spent, when)
    now = max([at] + [w for w, _ in spends])
    left = D(remaining_tenths) / 10
    budget.observe(RateLimitState(remaining=left, reset_after=5.0), now)
    if budget.delay(Priority.PROTECT, cost, now) == 0.0:
        assert cost <= left


@settings(max_examples=100)
@example([(0, Priority.MOVE, D(12), D(12))] * 2 + [(0, Priority.MOVE, D(12), D(0))] * 7)
@given(st.lists(st.tuples(st.sampled_from([0, 0, 0, 10, 500, 5_000, 20_000]),
                          st.sampled_from(list(Priority)[1:]), costs,
                          st.sampled_from([D(0), D(0), D(1), D(4), D(12)])),
                min_size=1, max_size=120))
def test_against_the_simulators_ledger_no_request_is_refused(
        plan: list[tuple[int, Priority, Decimal, Decimal]]) -> None:
    """The exchange's rolling ledger (the simulator's), shared with a sub-account that spends
    between our requests; we see its headers on every answer. Unless PROTECT guesses early,
    no request of ours gets a 429."""
    from daemon.sim.credits import CreditLedger

    ledger, ident, quota = CreditLedger(), "ip", D(100)
    budget = CreditBudget(quota=quota, protect_reserve=D(10), read_reserve=D(30))
    now_ms = 0
    for gap_ms, priority, cost, theirs in plan:
        now_ms += gap_ms
        if theirs:  # the sub-account's request; our next answer carries its effect
            ledger.charge(ident, quota, theirs, now_ms)
        verdict = ledger.peek(ident, quota, now_ms)
        budget.observe(ratelimit_from_headers(verdict.headers()) or _no_headers(), now_ms / 1000)
        wait = budget.delay(priority, cost, now_ms / 1000)
        now_ms += -int(-wait * 1000 // 1)  # sleep at least as told, in whole ms
        assert budget.delay(priority, cost, now_ms / 1000) == 0.0
        budget.spend(cost, now_ms / 1000)
        answer = ledger.charge(ident, quota, cost, now_ms)
        assert answer.allowed, (priority, cost, answer)
        budget.observe(ratelimit_from_headers(answer.headers()) or _no_headers(), now_ms / 1000)


def _no_headers() -> RateLimitState:
    raise AssertionError("the simulator always sends ratelimit headers")
