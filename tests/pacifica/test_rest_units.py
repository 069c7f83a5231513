"""The REST client against scripted answers (httpx.MockTransport): shapes the simulator
does not produce, and exactly what goes on the wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Market, Side, TriggerPriceType
from daemon.pacifica.errors import (
    Ambiguous,
    DuplicateOrder,
    MalformedResponse,
    NotSent,
    RateLimited,
    Rejected,
)
from daemon.pacifica.models import WriteStatus
from daemon.pacifica.payloads import (
    OrderValidationError,
    TimeInForce,
    TpslLeg,
    amount_to_wire,
    price_to_wire,
)
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair, inspect_request

BTC = Market(symbol="BTC", tick_size=Decimal(1), lot_size=Decimal("0.00001"),
             min_tick=Decimal(0), max_tick=Decimal(1_000_000), min_order_size=Decimal(10),
             max_order_size=Decimal(5_000_000), max_leverage=50)
KEY = Keypair.from_secret("4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM")
CLOID = "d25ac10b-58cc-4372-a567-0e02b2c3d479"

Handler = Callable[[httpx.Request], httpx.Response]


def ok(data: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data, "error": None,
                                     "code": None}, headers=headers)


def fail(status: int, error: str, code: int | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "data": None, "error": error,
                                        "code": code}, headers=headers)


class Recorder:
    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def client(recorder: Recorder, *, sleeps: list[float] | None = None,
           **kwargs: Any) -> PacificaRest:
    record = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        record.append(seconds)

    clock = iter(range(1_700_000_000_000, 1_800_000_000_000, 1000))
    retry = kwargs.pop("retry", None) or RetryPolicy(attempts=4, sleep=sleep, rng=lambda: 0.5)
    return PacificaRest("http://exchange.test/api/v1", keypair=KEY,
                        http_transport=httpx.MockTransport(recorder),
                        now_ms=lambda: next(clock), retry=retry, **kwargs)


async def test_stop_order_body_is_exactly_what_was_signed() -> None:
    rec = Recorder(ok({"order_id": 42}))
    async with client(rec) as rest:
        placed = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal("58000"),
                                              amount=Decimal("0.10000"), client_order_id=CLOID)
    assert placed.order_id == 42
    assert placed.status is WriteStatus.PLACED
    request = rec.requests[0]
    assert request.url.path == "/api/v1/orders/stop/create"
    body = rec.bodies()[0]
    assert inspect_request(body, "create_stop_order") is None
    assert body["account"] == KEY.public_key
    assert "agent_wallet" not in body
    assert body["reduce_only"] is True
    assert body["side"] == "ask"
    # No limit_price key at all (stop-market), never a null; trigger type always explicit.
    assert body["stop_order"] == {"stop_price": "58000", "amount": "0.10000",
                                  "client_order_id": CLOID, "trigger_price_type": "mark_price"}


async def test_stop_limit_and_other_trigger_type() -> None:
    rec = Recorder(ok({"order_id": 1}))
    async with client(rec) as rest:
        await rest.create_stop_order(BTC, Side.BID, stop_price=Decimal(61000),
                                     amount=Decimal("0.5"), client_order_id=CLOID,
                                     limit_price=Decimal("61100.0"),
                                     trigger_price_type=TriggerPriceType.LAST)
    stop = rec.bodies()[0]["stop_order"]
    assert stop["limit_price"] == "61100"
    assert stop["trigger_price_type"] == "last_trade_price"


@pytest.mark.parametrize(("price", "amount", "text"), [
    (Decimal("58000.5"), Decimal("0.1"), "not a multiple of tick size 1"),
    (Decimal("58000"), Decimal("0.000001"), "not a multiple of lot size"),
    (Decimal("2000000"), Decimal("0.1"), "outside"),
    (Decimal("-1"), Decimal("0.1"), "positive"),
    (Decimal("58000"), Decimal("0"), "positive"),
    (Decimal("NaN"), Decimal("0.1"), "positive"),
])
async def test_off_tick_or_lot_is_refused_before_sending(price: Decimal, amount: Decimal,
                                                         text: str) -> None:
    rec = Recorder()
    async with client(rec) as rest:
        with pytest.raises(OrderValidationError, match=text):
            await rest.create_stop_order(BTC, Side.ASK, stop_price=price, amount=amount,
                                         client_order_id=CLOID)
    assert rec.requests == []


async def test_cancel_needs_exactly_one_reference() -> None:
    rec = Recorder()
    async with client(rec) as rest:
        with pytest.raises(OrderValidationError):
            await rest.cancel_stop_order("BTC")
        with pytest.raises(OrderValidationError):
            await rest.cancel_stop_order("BTC", order_id=1, client_order_id=CLOID)
    assert rec.requests == []


async def test_cancel_not_found_means_gone() -> None:
    rec = Recorder(fail(400, "Stop order not found"), ok(None))
    async with client(rec) as rest:
        gone = await rest.cancel_stop_order("BTC", order_id=5)
        cancelled = await rest.cancel_stop_order("BTC", client_order_id=CLOID)
    assert (gone.status, gone.order_id, gone.client_order_id) == (WriteStatus.GONE, 5, None)
    assert (cancelled.status, cancelled.client_order_id) == (WriteStatus.CANCELLED, CLOID)
    assert rec.bodies()[0]["order_id"] == 5
    assert "client_order_id" not in rec.bodies()[0]
    assert rec.bodies()[1]["client_order_id"] == CLOID


async def test_account_accepts_object_and_one_element_list() -> None:
    row = {"balance": "100", "account_equity": "101", "available_to_spend": "99"}
    rec = Recorder(ok(row), ok([row]), ok([row, row]))
    async with client(rec) as rest:
        assert (await rest.account_info()).balance == Decimal(100)
        assert (await rest.account_info()).account_equity == Decimal(101)
        with pytest.raises(MalformedResponse, match="GET /account"):
            await rest.account_info()
    assert rec.requests[0].url.params["account"] == KEY.public_key


async def test_bare_payload_without_envelope_is_accepted() -> None:
    rec = Recorder(httpx.Response(200, json={"order_id": 9}))
    async with client(rec) as rest:
        placed = await rest.create_market_order(BTC, Side.BID, amount=Decimal("0.1"),
                                                slippage_percent=Decimal("0.5"))
    assert placed.order_id == 9
    body = rec.bodies()[0]
    assert body["slippage_percent"] == "0.5"
    assert body["reduce_only"] is False
    assert "client_order_id" not in body


async def test_markets_keep_perpetuals_only() -> None:
    row = {"symbol": "BTC", "tick_size": "1", "lot_size": "0.00001", "max_leverage": 50,
           "min_order_size": "10", "max_order_size": "5000000", "min_tick": "0",
           "max_tick": "1000000"}
    spot = {**row, "symbol": "SOL-USDC", "instrument_type": "spot"}
    rec = Recorder(ok([row, spot]))
    async with client(rec) as rest:
        markets = await rest.markets()
    assert list(markets) == ["BTC"]


@pytest.mark.parametrize("answer", [
    httpx.Response(200, text="<html>maintenance</html>"),
    httpx.Response(200, json={"success": True, "data": [{"symbol": "BTC"}]}),
    httpx.Response(200, json={"success": True, "data": {"not": "a list"}}),
])
async def test_malformed_answers_raise_a_typed_error(answer: httpx.Response) -> None:
    async with client(Recorder(answer)) as rest:
        with pytest.raises(MalformedResponse, match="GET /positions"):
            await rest.positions()


@pytest.mark.parametrize("answer", [
    ok({"something": "else"}),
    ok(None),
    ok({"order_id": "not a number"}),
    httpx.Response(200, text="<html>proxy says ok</html>"),
    httpx.Response(200, json=["no", "object"]),
])
async def test_accepted_without_a_readable_order_id_is_unconfirmed_not_an_error(
        answer: httpx.Response) -> None:
    """The write may well have landed: it must not look like a failure, nor like a success."""
    rec = Recorder(answer, ok([]))
    async with client(rec) as rest:
        outcome = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(1),
                                               amount=Decimal(1), client_order_id=CLOID)
    assert outcome.status is WriteStatus.UNCONFIRMED
    assert outcome.client_order_id == CLOID
    assert outcome.order_id is None
    assert outcome.confirmed is None
    assert [r.method for r in rec.requests] == ["POST", "GET"]  # one write, then the lookup


async def test_unconfirmed_order_found_open_by_its_cloid_is_placed() -> None:
    rec = Recorder(ok({}), ok([OPEN_STOP]))
    async with client(rec) as rest:
        outcome = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                               amount=Decimal("0.1"), client_order_id=CLOID)
    assert outcome.status is WriteStatus.PLACED
    assert outcome.order_id == 77
    assert outcome.confirmed is not None


async def test_unconfirmed_without_confirm_makes_no_lookup_and_lookup_errors_propagate(
        ) -> None:
    rec = Recorder(ok({}), fail(500, "Internal server error"))
    async with client(rec, retry=RetryPolicy(attempts=1)) as rest:
        outcome = await rest.create_limit_order(BTC, Side.ASK, price=Decimal(70000),
                                                amount=Decimal("0.1"), reduce_only=True,
                                                client_order_id=CLOID, confirm=False)
        assert outcome.status is WriteStatus.UNCONFIRMED
        assert len(rec.requests) == 1
        with pytest.raises(Ambiguous):
            await rest.find_order(CLOID)  # "could not look" is not "not there"


async def test_cancel_with_an_unreadable_answer_is_unconfirmed() -> None:
    rec = Recorder(httpx.Response(200, text="garbage"))
    async with client(rec) as rest:
        outcome = await rest.cancel_order("BTC", client_order_id=CLOID)
    assert outcome.status is WriteStatus.UNCONFIRMED
    assert outcome.client_order_id == CLOID


async def test_5xx_retry_resigns_with_same_cloid_and_fresh_timestamp() -> None:
    sleeps: list[float] = []
    rec = Recorder(fail(503, "Service unavailable"),
                   httpx.ReadTimeout("slow"), ok({"order_id": 3}))
    async with client(rec, sleeps=sleeps) as rest:
        placed = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                              amount=Decimal("0.1"), client_order_id=CLOID)
    assert placed.order_id == 3
    assert placed.attempts == 3
    bodies = rec.bodies()
    assert {b["stop_order"]["client_order_id"] for b in bodies} == {CLOID}
    assert len({b["timestamp"] for b in bodies}) == 3
    assert len({b["signature"] for b in bodies}) == 3
    assert all(inspect_request(b, "create_stop_order") is None for b in bodies)
    assert sleeps == [0.5 * 0.2, 0.5 * 0.4]


async def test_ambiguous_failure_without_cloid_is_not_retried() -> None:
    rec = Recorder(fail(500, "Internal server error"))
    async with client(rec) as rest:
        with pytest.raises(Ambiguous):
            await rest.create_market_order(BTC, Side.BID, amount=Decimal("0.1"),
                                           slippage_percent=Decimal(1))
    assert len(rec.requests) == 1


async def test_not_sent_is_retried_even_without_cloid() -> None:
    rec = Recorder(httpx.ConnectError("refused"), ok({"order_id": 4}))
    async with client(rec) as rest:
        placed = await rest.create_market_order(BTC, Side.BID, amount=Decimal("0.1"),
                                                slippage_percent=Decimal(1))
    assert placed.order_id == 4


async def test_retries_are_bounded() -> None:
    rec = Recorder(*[httpx.ConnectError("refused")] * 4)
    async with client(rec) as rest:
        with pytest.raises(NotSent) as info:
            await rest.cancel_order("BTC", order_id=1)
    assert info.value.attempts == 4
    assert len(rec.requests) == 4


async def test_rejection_is_final() -> None:
    rec = Recorder(fail(422, "Invalid stop order side"))
    async with client(rec) as rest:
        with pytest.raises(Rejected, match="Invalid stop order side"):
            await rest.set_position_tpsl(BTC, Side.ASK, stop_loss=TpslLeg(Decimal(50000),
                                                                          CLOID))
    assert len(rec.requests) == 1
    body = rec.bodies()[0]
    assert body["stop_loss"] == {"stop_price": "50000", "trigger_price_type": "mark_price",
                                 "client_order_id": CLOID}
    assert "take_profit" not in body


async def test_rate_limit_state_is_exposed() -> None:
    rec = Recorder(ok([], ratelimit='"credits";r=2995;t=12',
                      **{"ratelimit-policy": '"credits";q=3000;w=60'}))
    async with client(rec) as rest:
        assert rest.rate_limit is None
        await rest.open_orders()
        state = rest.rate_limit
    assert state is not None
    assert state.remaining == Decimal("299.5")
    assert state.quota == Decimal(300)


async def test_api_key_header_and_agent_mode() -> None:
    rec = Recorder(ok(None))
    main = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
    async with client(rec, account=main, api_key="cfg-key") as rest:
        assert rest.is_agent
        assert "cfg-key" not in repr(rest)
        await rest.cancel_stop_order("BTC", order_id=1)
        with pytest.raises(OrderValidationError, match="main key"):
            await rest.bind_agent_wallet(KEY.public_key)
    request = rec.requests[0]
    assert request.headers["PF-API-KEY"] == "cfg-key"
    body = rec.bodies()[0]
    assert body["account"] == main
    assert body["agent_wallet"] == KEY.public_key
    assert inspect_request(body, "cancel_stop_order") is None


def test_expiry_window_bounds() -> None:
    with pytest.raises(ValueError, match="expiry_window"):
        PacificaRest("http://x", expiry_window=60_000)


OPEN_STOP = {"order_id": 77, "client_order_id": CLOID, "symbol": "BTC", "side": "ask",
             "price": "0", "initial_amount": "0.1", "filled_amount": "0",
             "cancelled_amount": "0", "stop_price": "58000", "order_type": "stop_market",
             "reduce_only": True, "created_at": 1, "updated_at": 1}


async def test_duplicate_after_lost_answer_is_already_placed_and_confirmed() -> None:
    rec = Recorder(httpx.ReadTimeout("lost"),
                   fail(400, f"Duplicate client order id: {CLOID}", 36),
                   ok([OPEN_STOP]))
    async with client(rec) as rest:
        placed = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                              amount=Decimal("0.1"), client_order_id=CLOID)
    assert placed.status is WriteStatus.ALREADY_PLACED
    assert placed.order_id == 77
    assert placed.confirmed is not None
    assert placed.confirmed.client_order_id == CLOID
    assert placed.attempts == 2
    assert [r.method for r in rec.requests] == ["POST", "POST", "GET"]


async def test_duplicate_of_a_fired_stop_is_placed_but_unconfirmed() -> None:
    rec = Recorder(fail(400, f"Duplicate client order id: {CLOID}", 36), ok([]))
    async with client(rec) as rest:
        placed = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                              amount=Decimal("0.1"), client_order_id=CLOID)
    assert placed.status is WriteStatus.ALREADY_PLACED
    assert placed.order_id is None
    assert placed.confirmed is None


async def test_429_waits_the_header_wait_then_succeeds() -> None:
    sleeps: list[float] = []
    rec = Recorder(fail(429, "Rate limit exceeded", ratelimit='"credits";r=0;t=7'),
                   ok({"order_id": 5}))
    async with client(rec, sleeps=sleeps) as rest:
        placed = await rest.create_market_order(BTC, Side.BID, amount=Decimal("0.1"),
                                                slippage_percent=Decimal(1))
    assert placed.order_id == 5
    assert sleeps == [7.0]


_ticks = st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("0.01"), Decimal("0.0001"),
                          Decimal("0.000001"), Decimal("10")])


@given(tick=_ticks, units=st.integers(1, 10**9))
def test_on_tick_prices_go_out_as_plain_strings_that_round_trip(tick: Decimal,
                                                                 units: int) -> None:
    market = Market("X", tick, tick, Decimal(0), Decimal(10**12), Decimal(10), Decimal(10**9), 5)
    price = (units * tick).normalize()  # normalize() may produce exponent form, e.g. 1E+1
    text = price_to_wire(market, price, "price")
    assert "E" not in text
    assert "e" not in text
    assert Decimal(text) == price
    assert amount_to_wire(market, price) == text


@given(tick=_ticks, units=st.integers(1, 10**9), nudge=st.integers(1, 9))
def test_off_tick_prices_are_always_refused(tick: Decimal, units: int, nudge: int) -> None:
    market = Market("X", tick, tick, Decimal(0), Decimal(10**12), Decimal(10), Decimal(10**9), 5)
    off = units * tick + tick * nudge / 10
    with pytest.raises(OrderValidationError, match="not a multiple"):
        price_to_wire(market, off, "price")


@pytest.mark.parametrize(("side", "stop", "ok_"), [
    (Side.ASK, Decimal(59_999), True), (Side.ASK, Decimal(60_000), False),
    (Side.ASK, Decimal(61_000), False), (Side.BID, Decimal(60_001), True),
    (Side.BID, Decimal(60_000), False), (Side.BID, Decimal(59_000), False),
])
async def test_stop_that_would_fire_at_once_is_refused(side: Side, stop: Decimal,
                                                       ok_: bool) -> None:
    rec = Recorder(ok({"order_id": 1}))
    async with client(rec) as rest:
        if ok_:
            await rest.create_stop_order(BTC, side, stop_price=stop, amount=Decimal(1),
                                         client_order_id=CLOID,
                                         reference_price=Decimal(60_000))
        else:
            with pytest.raises(OrderValidationError, match="fires at once"):
                await rest.create_stop_order(BTC, side, stop_price=stop, amount=Decimal(1),
                                             client_order_id=CLOID,
                                             reference_price=Decimal(60_000))
    assert len(rec.requests) == (1 if ok_ else 0)


async def test_limit_order_body_is_exactly_what_was_signed() -> None:
    rec = Recorder(ok({"order_id": 12}))
    async with client(rec) as rest:
        outcome = await rest.create_limit_order(BTC, Side.ASK, price=Decimal("70000"),
                                                amount=Decimal("0.1"), reduce_only=True,
                                                tif=TimeInForce.ALO, client_order_id=CLOID)
    assert (outcome.status, outcome.order_id, outcome.attempts) == (WriteStatus.PLACED, 12, 1)
    assert rec.requests[0].url.path == "/api/v1/orders/create"
    body = rec.bodies()[0]
    assert inspect_request(body, "create_order") is None
    assert {k: body[k] for k in ("symbol", "side", "price", "amount", "tif", "reduce_only",
                                 "client_order_id")} == {
        "symbol": "BTC", "side": "ask", "price": "70000", "amount": "0.10000", "tif": "ALO",
        "reduce_only": True, "client_order_id": CLOID}


async def test_limit_order_off_tick_is_refused_before_sending() -> None:
    rec = Recorder()
    async with client(rec) as rest:
        with pytest.raises(OrderValidationError, match="tick size"):
            await rest.create_limit_order(BTC, Side.ASK, price=Decimal("70000.5"),
                                          amount=Decimal("0.1"), reduce_only=True)
    assert rec.requests == []


async def test_position_tpsl_duplicate_is_already_placed_not_an_error() -> None:
    rec = Recorder(httpx.ReadTimeout("lost"),
                   fail(400, f"Duplicate client order id: {CLOID}", 36), ok([OPEN_STOP]))
    async with client(rec) as rest:
        outcome = await rest.set_position_tpsl(BTC, Side.ASK,
                                               stop_loss=TpslLeg(Decimal(58000), CLOID))
    assert outcome.status is WriteStatus.ALREADY_PLACED
    assert outcome.client_order_id == CLOID
    assert outcome.order_id == 77
    assert outcome.attempts == 2


async def test_position_tpsl_success_is_placed_and_its_leg_looked_up() -> None:
    tp = "aaaaaaaa-58cc-4372-a567-0e02b2c3d479"
    rec = Recorder(ok(None), ok([OPEN_STOP]), ok(None))
    async with client(rec) as rest:
        outcome = await rest.set_position_tpsl(BTC, Side.ASK,
                                               take_profit=TpslLeg(Decimal(66000), tp),
                                               stop_loss=TpslLeg(Decimal(58000), CLOID))
        quiet = await rest.set_position_tpsl(BTC, Side.ASK, confirm=False,
                                             take_profit=TpslLeg(Decimal(66000), tp))
    assert (outcome.status, outcome.client_order_id, outcome.order_id) == (
        WriteStatus.PLACED, CLOID, 77)
    assert (quiet.status, quiet.client_order_id, quiet.order_id) == (
        WriteStatus.PLACED, tp, None)
    assert [r.method for r in rec.requests] == ["POST", "GET", "POST"]


async def test_position_tpsl_duplicate_without_any_cloid_still_raises() -> None:
    rec = Recorder(fail(400, "Duplicate client order id", 36))
    async with client(rec) as rest:
        with pytest.raises(DuplicateOrder):
            await rest.set_position_tpsl(BTC, Side.ASK, stop_loss=TpslLeg(Decimal(58000)))


LIMITED = fail(429, "Rate limit exceeded", ratelimit='"credits";r=0;t=7',
               **{"ratelimit-policy": '"credits";q=1000;w=60'})


async def test_without_waiting_a_429_raises_at_once_with_its_wait_and_state() -> None:
    sleeps: list[float] = []
    rec = Recorder(LIMITED, LIMITED)
    async with client(rec, sleeps=sleeps, wait_on_rate_limit=False) as rest:
        with pytest.raises(RateLimited) as write:
            await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                         amount=Decimal("0.1"), client_order_id=CLOID)
        with pytest.raises(RateLimited) as read:
            await rest.open_orders()
        assert rest.rate_limit is read.value.state  # the same answer's headers
    assert sleeps == []
    assert len(rec.requests) == 2  # one each: nothing retried, nothing waited
    for limited in (write.value, read.value):
        assert limited.retry_after == 7.0
        assert limited.attempts == 1
        assert limited.state is not None
        assert limited.state.remaining == 0
        assert limited.state.quota == 100
        assert limited.state.observed_at > 0


async def test_without_waiting_transient_errors_still_retry_with_the_same_cloid() -> None:
    sleeps: list[float] = []
    rec = Recorder(fail(503, "Service unavailable"), httpx.ConnectError("refused"),
                   ok({"order_id": 3}))
    async with client(rec, sleeps=sleeps, wait_on_rate_limit=False) as rest:
        outcome = await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                               amount=Decimal("0.1"), client_order_id=CLOID)
    assert (outcome.status, outcome.order_id, outcome.attempts) == (WriteStatus.PLACED, 3, 3)
    bodies = rec.bodies()
    assert {b["stop_order"]["client_order_id"] for b in bodies} == {CLOID}
    assert len({b["signature"] for b in bodies}) == 3
    assert len({b["timestamp"] for b in bodies}) == 3
    assert sleeps == [0.5 * 0.2, 0.5 * 0.4]


async def test_a_429_after_a_lost_answer_raises_and_the_cloid_settles_it() -> None:
    """The submitter's case: attempt 1 landed but its answer was lost, attempt 2 hit a 429.
    RateLimited reaches the caller, whose later find_order sees the order."""
    rec = Recorder(httpx.ReadTimeout("lost"), LIMITED, ok([OPEN_STOP]))
    async with client(rec, wait_on_rate_limit=False) as rest:
        with pytest.raises(RateLimited) as info:
            await rest.create_stop_order(BTC, Side.ASK, stop_price=Decimal(58000),
                                         amount=Decimal("0.1"), client_order_id=CLOID)
        found = await rest.find_order(CLOID)
    assert info.value.attempts == 2
    assert found is not None
    assert found.order_id == 77
