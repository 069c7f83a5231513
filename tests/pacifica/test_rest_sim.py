"""The REST client against the simulator on a real loopback port."""

from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pacifica_support import Harness, Wire, keypair

from daemon.domain import Market, Side, TriggerPriceType
from daemon.pacifica.errors import (
    Ambiguous,
    AuthError,
    ExchangeError,
    RateLimited,
    Rejected,
    ratelimit_from_headers,
)
from daemon.pacifica.models import WriteStatus
from daemon.pacifica.payloads import OrderValidationError, TimeInForce, TpslLeg
from daemon.pacifica.rest import PacificaRest

MAIN = keypair(1)
AGENT = keypair(2)


def cloid(n: int) -> str:
    return str(uuid.UUID(int=0xC0FFEE << 96 | n, version=4))


async def open_long(rest: PacificaRest, btc: Market, amount: str = "0.1") -> None:
    await rest.create_market_order(btc, Side.BID, amount=Decimal(amount),
                                   slippage_percent=Decimal(1), client_order_id=cloid(999))


async def test_reads_parse_into_domain_values(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        markets = await rest.markets()
        prices = await rest.prices()
        btc = markets["BTC"]
        assert btc.tick_size > 0
        assert btc.lot_size > 0
        assert btc.min_order_size > 0
        assert prices["BTC"].mark == Decimal(60_000)
        await open_long(rest, btc)
        (position,) = await rest.positions()
        account = await rest.account_info()
    assert position.side is Side.BID
    assert position.amount == Decimal("0.1")
    assert position.entry_price == Decimal(60_000)
    assert position.created_at > 0
    assert account.balance > 0
    assert rest.rate_limit is not None


async def test_stop_rests_then_cancels_and_a_second_cancel_finds_nothing(
        harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        placed = await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                              amount=Decimal("0.1"), client_order_id=cloid(1))
        (stop,) = [o for o in await rest.open_orders() if o.client_order_id == cloid(1)]
        assert stop.order_id == placed.order_id
        assert stop.is_stop
        assert stop.stop_price == Decimal(58_000)
        assert stop.reduce_only
        assert stop.side is Side.ASK
        cancelled = await rest.cancel_stop_order("BTC", client_order_id=cloid(1))
        again = await rest.cancel_stop_order("BTC", client_order_id=cloid(1))
        unknown = await rest.cancel_stop_order("BTC", order_id=10**9)
        assert cancelled.status is WriteStatus.CANCELLED
        assert cancelled.client_order_id == cloid(1)
        assert again.status is WriteStatus.GONE
        assert unknown.status is WriteStatus.GONE
        assert unknown.order_id == 10**9
        assert [o for o in await rest.open_orders() if o.is_stop] == []
    (logged,) = harness.orders_with(cloid(1))
    assert logged["trigger_price_type"] == TriggerPriceType.MARK.value


async def test_cancelling_a_plain_order_that_is_gone_answers_false(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        placed = await rest.create_market_order(btc, Side.BID, amount=Decimal("0.1"),
                                                slippage_percent=Decimal(1),
                                                client_order_id=cloid(8))
        assert placed.order_id is not None
        # Filled at once, so nothing is left to cancel: "Failed to cancel order".
        gone = await rest.cancel_order("BTC", order_id=placed.order_id)
        assert gone.status is WriteStatus.GONE


async def test_tampered_body_fails_verification_and_is_not_retried(harness: Harness) -> None:
    def raise_amount(body: dict[str, Any]) -> None:
        body["stop_order"]["amount"] = "1"

    wire = Wire(tamper=raise_amount)
    async with harness.client(MAIN) as rest, harness.client(MAIN, wire=wire) as forged:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        with pytest.raises(AuthError, match="Verification failed") as info:
            await forged.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                           amount=Decimal("0.1"), client_order_id=cloid(2))
    assert info.value.attempts == 1
    assert len(wire.sent) == 1
    assert harness.orders_with(cloid(2)) == []


async def test_expired_timestamp_is_refused(harness: Harness) -> None:
    def an_hour_ago() -> int:
        return time.time_ns() // 1_000_000 - 3_600_000

    async with harness.client(MAIN, now_ms=an_hour_ago) as rest:
        btc = (await rest.markets())["BTC"]
        with pytest.raises(AuthError, match="Invalid message"):
            await open_long(rest, btc)
    assert harness.sleeps == []


async def test_duplicate_cloid_is_recognised_as_already_placed(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        first = await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                             amount=Decimal("0.1"), client_order_id=cloid(3))
        again = await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                             amount=Decimal("0.1"), client_order_id=cloid(3))
    assert first.status is WriteStatus.PLACED
    assert again.status is WriteStatus.ALREADY_PLACED
    assert again.order_id == first.order_id
    assert again.confirmed is not None
    assert len(harness.orders_with(cloid(3))) == 1


async def test_agent_wallet_trades_for_the_main_account_once_bound(harness: Harness) -> None:
    async with harness.client(MAIN) as main, \
            harness.client(AGENT, account=MAIN.public_key) as agent:
        btc = (await main.markets())["BTC"]
        await open_long(main, btc)
        with pytest.raises(AuthError):
            await agent.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                          amount=Decimal("0.1"), client_order_id=cloid(4))
        await main.bind_agent_wallet(AGENT.public_key)
        placed = await agent.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                               amount=Decimal("0.1"), client_order_id=cloid(4))
        assert placed.order_id is not None
        with pytest.raises(OrderValidationError):
            await agent.bind_agent_wallet(keypair(3).public_key)
    (logged,) = harness.orders_with(cloid(4))
    assert logged["account"] == MAIN.public_key
    assert AGENT.public_key in harness.sim.state()["accounts"][MAIN.public_key]["agents"]


async def test_429_wait_comes_from_the_header(harness: Harness) -> None:
    wire = Wire()
    async with harness.client(MAIN, wire=wire) as rest:
        await harness.faults(burst_429=1)
        await rest.markets()
    refused, accepted = wire.answers
    assert refused.status_code == 429
    assert accepted.status_code == 200
    state = ratelimit_from_headers(refused.headers)
    assert state is not None
    assert harness.sleeps == [state.reset_after]


@pytest.mark.parametrize("faults", [
    {"error_count": 2},  # 500 before any effect
    {"lose_response_after_commit": 1},  # committed, answered 504
    {"lose_response_after_commit": 1, "lose_mode": "reset"},  # committed, connection cut
])
async def test_ambiguous_failures_retry_with_the_same_cloid_and_place_once(
        harness: Harness, faults: dict[str, Any]) -> None:
    wire = Wire()
    async with harness.client(MAIN, wire=wire) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        await harness.faults(**faults)
        placed = await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                              amount=Decimal("0.1"), client_order_id=cloid(5))
        resting = [o for o in await rest.open_orders() if o.client_order_id == cloid(5)]
    posts = [b for b in wire.sent if "stop_order" in b]
    assert len(posts) >= 2
    assert {b["stop_order"]["client_order_id"] for b in posts} == {cloid(5)}
    assert len({b["signature"] for b in posts}) == len(posts)
    assert len(harness.orders_with(cloid(5))) == 1
    assert len(resting) == 1
    assert placed.order_id == resting[0].order_id
    assert placed.status is (WriteStatus.ALREADY_PLACED if "lose_response_after_commit" in faults
                             else WriteStatus.PLACED)


async def test_lost_answer_without_cloid_is_not_retried(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await harness.faults(lose_response_after_commit=1)
        with pytest.raises(Ambiguous):
            await rest.create_market_order(btc, Side.BID, amount=Decimal("0.1"),
                                           slippage_percent=Decimal(1))
        (position,) = await rest.positions()
    assert position.amount == Decimal("0.1")  # one order, not two
    assert harness.sleeps == []


async def test_off_tick_stop_is_refused_before_it_reaches_the_exchange(
        harness: Harness) -> None:
    wire = Wire()
    async with harness.client(MAIN, wire=wire) as rest:
        btc = (await rest.markets())["BTC"]
        off_tick = Decimal(58_000) + btc.tick_size / 2
        with pytest.raises(OrderValidationError, match="tick size"):
            await rest.create_stop_order(btc, Side.ASK, stop_price=off_tick,
                                         amount=Decimal("0.1"), client_order_id=cloid(6))
        with pytest.raises(OrderValidationError, match="lot size"):
            await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                         amount=btc.lot_size / 2, client_order_id=cloid(6))
    assert wire.sent == []


async def test_exchange_tick_refusal_is_final_and_keeps_pacificas_text(
        harness: Harness) -> None:
    """Market info gone stale (the tick coarsened): the exchange refuses, once, and says why."""
    wire = Wire()
    async with harness.client(MAIN, wire=wire) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        stale = dataclasses.replace(btc, tick_size=btc.tick_size / 2)
        with pytest.raises(Rejected) as info:
            await rest.create_stop_order(stale, Side.ASK, stop_price=Decimal("58000.5"),
                                         amount=Decimal("0.1"), client_order_id=cloid(7))
    assert info.value.message == "Stop price 58000.5 is not a multiple of tick size 1"
    assert info.value.status == 400
    assert info.value.attempts == 1
    assert len([b for b in wire.sent if "stop_order" in b]) == 1
    assert harness.orders_with(cloid(7)) == []


async def test_position_tpsl_legs_rest_as_stop_orders(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        await rest.set_position_tpsl(btc, Side.ASK,
                                     take_profit=TpslLeg(Decimal(66_000), cloid(7)),
                                     stop_loss=TpslLeg(Decimal(57_000), cloid(8)))
        by_cloid = {o.client_order_id: o for o in await rest.open_orders()}
        with pytest.raises(ExchangeError, match="Invalid stop order side"):
            await rest.set_position_tpsl(btc, Side.BID, stop_loss=TpslLeg(Decimal(57_000)))
    assert by_cloid[cloid(7)].stop_price == Decimal(66_000)
    assert by_cloid[cloid(8)].stop_price == Decimal(57_000)
    assert by_cloid[cloid(8)].reduce_only


async def test_order_history_follows_cursors(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        for n in range(5):
            await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(50_000 + n),
                                         amount=Decimal("0.1"), client_order_id=cloid(10 + n))
        first = await rest.order_history(limit=2)
        every = [o async for o in rest.iter_order_history(limit=2)]
    assert len(first.orders) == 2
    assert first.has_more
    assert first.next_cursor is not None
    ids = [o.order_id for o in every]
    assert len(ids) == len(set(ids)) == 6
    assert {cloid(10 + n) for n in range(5)} <= {o.client_order_id for o in every}


async def test_snapshots_carry_the_sequence_number_and_credit_state(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        assert rest.last_order_id is None
        await open_long(rest, btc)
        await rest.positions()
        after_open = rest.last_order_id
        await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                     amount=Decimal("0.1"), client_order_id=cloid(20))
        await rest.open_orders()
        state = rest.rate_limit
    assert after_open is not None
    assert rest.last_order_id is not None
    assert rest.last_order_id > after_open
    assert rest.last_order_id == harness.sim.state()["last_order_id"]
    assert state is not None
    assert state.observed_at > 0
    assert state.quota is not None
    assert state.remaining < state.quota


async def test_reduce_only_limit_order_rests_is_found_by_cloid_and_cancels(
        harness: Harness) -> None:
    """The take-profit mechanism: a reduce-only GTC ask above the price rests on the book."""
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        placed = await rest.create_limit_order(btc, Side.ASK, price=Decimal(66_000),
                                               amount=Decimal("0.1"), reduce_only=True,
                                               tif=TimeInForce.GTC, client_order_id=cloid(30))
        again = await rest.create_limit_order(btc, Side.ASK, price=Decimal(66_000),
                                              amount=Decimal("0.1"), reduce_only=True,
                                              tif=TimeInForce.GTC, client_order_id=cloid(30))
        found = await rest.find_order(cloid(30))
        missing = await rest.find_order(cloid(31))
        cancelled = await rest.cancel_order("BTC", client_order_id=cloid(30))
        gone = await rest.cancel_order("BTC", client_order_id=cloid(30))
        after = await rest.find_order(cloid(30))
    assert placed.status is WriteStatus.PLACED
    assert again.status is WriteStatus.ALREADY_PLACED
    assert found is not None
    assert placed.order_id == again.order_id == found.order_id
    assert again.confirmed == found
    assert (found.side, found.price, found.reduce_only, found.is_stop) == (
        Side.ASK, Decimal(66_000), True, False)
    assert missing is None
    assert cancelled.status is WriteStatus.CANCELLED
    assert gone.status is WriteStatus.GONE
    assert after is None
    (logged,) = harness.orders_with(cloid(30))
    assert logged["tif"] == "GTC"


async def test_a_filled_market_order_is_found_in_history_not_open(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        for n in range(3):  # newer orders push it off the first page of 2
            await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(50_000 + n),
                                         amount=Decimal("0.1"), client_order_id=cloid(40 + n))
        assert await rest.find_order(cloid(999)) is None
        near = await rest.find_order_in_history(cloid(999), limit=2)
        far = await rest.find_order_in_history(cloid(999), limit=2, max_pages=2)
        never = await rest.find_order_in_history(cloid(41_000), limit=2, max_pages=5)
    assert near is None
    assert far is not None
    assert far.status.value == "filled"
    assert never is None


async def test_position_tpsl_sent_twice_is_already_placed(harness: Harness) -> None:
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        first = await rest.set_position_tpsl(btc, Side.ASK,
                                             stop_loss=TpslLeg(Decimal(57_000), cloid(50)))
        again = await rest.set_position_tpsl(btc, Side.ASK,
                                             stop_loss=TpslLeg(Decimal(57_000), cloid(50)))
    assert first.status is WriteStatus.PLACED
    assert again.status is WriteStatus.ALREADY_PLACED
    assert first.order_id is not None
    assert first.order_id == again.order_id
    assert len(harness.orders_with(cloid(50))) == 1


async def test_without_waiting_the_simulators_429_reaches_the_caller(harness: Harness) -> None:
    wire = Wire()
    async with harness.client(MAIN, wire=wire, wait_on_rate_limit=False) as rest:
        btc = (await rest.markets())["BTC"]
        await open_long(rest, btc)
        await harness.faults(burst_429=1)
        with pytest.raises(RateLimited) as info:
            await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                         amount=Decimal("0.1"), client_order_id=cloid(60))
        after = await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                             amount=Decimal("0.1"), client_order_id=cloid(60))
    assert harness.sleeps == []
    assert info.value.attempts == 1
    assert info.value.state is not None
    assert info.value.retry_after == info.value.state.reset_after
    assert after.status is WriteStatus.PLACED
    assert len([b for b in wire.sent if "stop_order" in b]) == 2
    assert len(harness.orders_with(cloid(60))) == 1
