"""The pure exchange core, without sockets: unit cases and hypothesis properties."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Side, TriggerPriceType
from daemon.sim.config import DedupeScope, SimConfig
from daemon.sim.errors import ExchangeError
from daemon.sim.exchange import Exchange
from daemon.sim.requests import Leg, OrderRequest, StopRequest
from daemon.sim.state import Status

ALICE = "alice"
T0 = 1_700_000_000_000


def fresh(config: SimConfig) -> Exchange:
    """An exchange with SOL at 150 whatever the shipped starting prices are."""
    ex = Exchange(config, T0)
    ex.set_quotes({"SOL": dict.fromkeys(("mark", "mid", "oracle", "last"), Decimal(150))}, T0)
    ex.drain()
    return ex


def market(side: Side, amount: str, *, reduce_only: bool = False,
           cloid: str | None = None) -> OrderRequest:
    return OrderRequest("SOL", side, Decimal(amount), None, None, reduce_only, cloid, None, None)


def stop(side: Side, stop_price: str, amount: str | None, *, reduce_only: bool = True,
         cloid: str | None = None, limit: str | None = None) -> StopRequest:
    leg = Leg(Decimal(stop_price), Decimal(limit) if limit else None,
              None if amount is None else Decimal(amount), cloid, TriggerPriceType.MARK)
    return StopRequest("SOL", side, reduce_only, leg)


def test_a_whole_position_stop_closes_what_is_there_when_it_fires() -> None:
    ex = fresh(SimConfig())
    ex.place_order(ALICE, market(Side.BID, "10"), T0)
    order = ex.place_stop(ALICE, stop(Side.ASK, "140", None), T0)
    ex.place_order(ALICE, market(Side.BID, "5"), T0)
    ex.set_quotes({"SOL": {"mark": Decimal(139)}}, T0 + 1)
    assert order.status is Status.FILLED
    assert order.filled == 15
    assert ex.accounts[ALICE].positions == {}


def test_pnl_and_fees_reach_the_balance() -> None:
    ex = fresh(SimConfig(taker_fee=Decimal("0.001")))
    ex.place_order(ALICE, market(Side.ASK, "10"), T0)  # short 10 at 150, fee 1.5
    ex.set_quotes({"SOL": {"mark": Decimal(140)}}, T0)
    ex.place_order(ALICE, market(Side.BID, "10", reduce_only=True), T0)  # +100, fee 1.4
    assert ex.accounts[ALICE].balance == Decimal(100_000) + 100 - Decimal("2.9")


def test_the_outbox_collects_what_changed_and_drains() -> None:
    ex = fresh(SimConfig())
    ex.place_order(ALICE, market(Side.BID, "1"), T0)
    out = ex.drain()
    assert [e.event for e in out.events] == ["fulfill_market"]
    assert out.accounts == {ALICE}
    assert len(out.fills) == 1
    assert ex.drain().events == []


def test_a_non_reduce_only_stop_opens_a_position_when_it_fires() -> None:
    ex = fresh(SimConfig())
    ex.place_stop(ALICE, stop(Side.BID, "160", "1", reduce_only=False), T0)
    ex.set_quotes({"SOL": {"mark": Decimal(161)}}, T0)
    position = ex.accounts[ALICE].positions["SOL"]
    assert (position.side, position.amount, position.entry_price) == (
        Side.BID, Decimal(1), Decimal(161))


def test_the_open_scope_forgets_an_id_once_its_order_is_done() -> None:
    ex = fresh(SimConfig(dedupe_scope=DedupeScope.OPEN))
    ex.place_order(ALICE, market(Side.BID, "1", cloid="c-1"), T0)
    ex.place_order(ALICE, market(Side.BID, "1", cloid="c-1"), T0)
    ex.place_stop(ALICE, stop(Side.ASK, "140", "1", cloid="c-2"), T0)
    with pytest.raises(ExchangeError) as refused:
        ex.place_stop(ALICE, stop(Side.ASK, "140", "1", cloid="c-2"), T0)
    assert refused.value.code == 36


# -- properties ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MarketOp:
    side: Side
    amount: Decimal
    reduce_only: bool
    cloid: str | None


@dataclass(frozen=True)
class StopOp:
    side: Side
    stop_price: Decimal
    amount: Decimal | None
    reduce_only: bool
    cloid: str | None


@dataclass(frozen=True)
class PriceOp:
    mark: Decimal


Op = MarketOp | StopOp | PriceOp

prices = st.integers(min_value=100, max_value=200).map(Decimal)
amounts = st.integers(min_value=1, max_value=20).map(lambda n: Decimal(n) / 2)
cloids = st.one_of(st.none(), st.sampled_from([f"id-{n}" for n in range(6)]))
sides = st.sampled_from([Side.BID, Side.ASK])
operations = st.lists(st.one_of(
    st.builds(MarketOp, sides, amounts, st.booleans(), cloids),
    st.builds(StopOp, sides, prices, st.one_of(st.none(), amounts), st.booleans(), cloids),
    st.builds(PriceOp, prices),
), max_size=40)


def run(ops: list[Op], scope: DedupeScope) -> Exchange:
    ex = fresh(SimConfig(dedupe_scope=scope, collateral=Decimal(10**9)))
    for step, op in enumerate(ops):
        now = T0 + step
        try:
            if isinstance(op, MarketOp):
                ex.place_order(ALICE, OrderRequest("SOL", op.side, op.amount, None, None,
                                                   op.reduce_only, op.cloid, None, None), now)
            elif isinstance(op, StopOp):
                leg = Leg(op.stop_price, None, op.amount, op.cloid, TriggerPriceType.MARK)
                ex.place_stop(ALICE, StopRequest("SOL", op.side, op.reduce_only, leg), now)
            else:
                ex.set_quotes({"SOL": {"mark": op.mark, "mid": op.mark}}, now)
        except ExchangeError:
            continue  # refusals are part of the game; the properties hold regardless
    return ex


@given(operations)
def test_a_reduce_only_fill_never_opens_grows_or_flips_a_position(ops: list[Op]
                                                                  ) -> None:
    ex = run(ops, DedupeScope.OPEN)
    for fill in ex.fills:
        if ex.orders[fill.order_id].reduce_only:
            assert fill.side.startswith("close_"), fill


@given(operations)
def test_with_the_ever_scope_no_client_order_id_appears_twice_in_the_log(
        ops: list[Op]) -> None:
    ex = run(ops, DedupeScope.EVER)
    used = Counter(o.client_order_id for o in ex.orders.values() if o.client_order_id)
    assert all(count == 1 for count in used.values()), used


@given(operations)
def test_with_the_open_scope_no_two_open_orders_share_an_id(ops: list[Op]
                                                            ) -> None:
    ex = run(ops, DedupeScope.OPEN)
    open_ids = Counter(o.client_order_id for o in ex.open_orders(ALICE) if o.client_order_id)
    assert all(count == 1 for count in open_ids.values()), open_ids


@given(operations)
def test_order_books_balance(ops: list[Op]) -> None:
    """Filled plus cancelled never exceeds the order; a finished order accounts for all of it;
    the position equals the sum of its fills; and the money adds up."""
    ex = run(ops, DedupeScope.OPEN)
    for order in ex.orders.values():
        assert order.filled >= 0
        assert order.cancelled >= 0
        if order.amount is not None:
            assert order.filled + order.cancelled <= order.amount
            if not order.is_open:
                assert order.filled + order.cancelled == order.amount
    net = sum((f.amount if f.side in ("open_long", "close_short") else -f.amount
               for f in ex.fills), Decimal(0))
    position = ex.accounts[ALICE].positions.get("SOL") if ALICE in ex.accounts else None
    held = Decimal(0) if position is None else (
        position.amount if position.side is Side.BID else -position.amount)
    assert net == held
    if ALICE in ex.accounts:
        flows = sum((f.pnl - f.fee for f in ex.fills), Decimal(0))
        assert ex.accounts[ALICE].balance == Decimal(10**9) + flows


@given(operations)
def test_event_sequence_numbers_only_grow(ops: list[Op]) -> None:
    ex = run(ops, DedupeScope.EVER)
    sequence = [e.li for e in ex.log.events]
    assert sequence == sorted(set(sequence))
