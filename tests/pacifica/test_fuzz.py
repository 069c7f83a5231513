"""Only documented exceptions escape: any answer the exchange could send, any frame the
stream could carry, ends as a typed ExchangeError or a skipped frame, never a KeyError."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.pacifica.endpoints import MAINNET, TESTNET, endpoints
from daemon.pacifica.errors import ExchangeError
from daemon.pacifica.feed import Channel, Feed
from daemon.pacifica.rest import PacificaRest

ACCOUNT = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
FIELDS = ["symbol", "side", "amount", "entry_price", "created_at", "updated_at", "order_id",
          "client_order_id", "initial_amount", "order_type", "stop_price", "tick_size",
          "lot_size", "min_order_size", "max_leverage", "mark", "mid", "oracle", "timestamp",
          "balance", "account_equity", "available_to_spend", "order_status", "next_cursor",
          "has_more", "data", "success", "error", "code", "s", "d", "a", "p", "t", "i", "I",
          "oe", "os", "ot", "ct", "li", "source", "channel", "instrument_type"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63),
                    st.sampled_from(["bid", "ask", "BTC", "1", "0.5", "-3", "NaN", "1e400", "",
                                     "stop_triggered", "filled", "perpetual"]),
                    st.text(max_size=6))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=8)),
    max_leaves=25)


def _answer(status: int, body: Any) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=json.dumps(body))
    return httpx.MockTransport(handler)


async def _no_sleep(_: float) -> None:
    return None


@given(status=st.sampled_from([200, 400, 404, 422, 429, 500, 503]), body=JSON)
def test_any_answer_to_any_read_is_a_value_or_an_exchange_error(status: int,
                                                                body: Any) -> None:
    from daemon.pacifica.retry import RetryPolicy

    async def run() -> None:
        async with PacificaRest("http://x/api/v1", account=ACCOUNT,
                                http_transport=_answer(status, body),
                                retry=RetryPolicy(attempts=1, sleep=_no_sleep)) as rest:
            calls = (rest.markets, rest.prices, rest.account_info, rest.positions,
                     rest.open_orders, rest.order_history)
            for call in calls:
                with contextlib.suppress(ExchangeError):
                    await call()

    asyncio.run(run())


@given(channel=st.sampled_from([*(c.value for c in Channel), "subscribe", "pong", None]),
       data=JSON, extra=st.dictionaries(st.sampled_from(["li", "id"]), SCALARS, max_size=2))
def test_any_frame_is_handled_or_skipped(channel: str | None, data: Any,
                                         extra: dict[str, Any]) -> None:
    feed = Feed("ws://x", account=ACCOUNT)
    feed.handle_frame(json.dumps({"channel": channel, "data": data, **extra}))


@given(raw=st.one_of(st.binary(max_size=40), st.text(max_size=40)))
def test_any_bytes_are_handled_or_skipped(raw: bytes | str) -> None:
    Feed("ws://x", account=ACCOUNT).handle_frame(raw)


def test_a_good_frame_after_fuzzing_still_lands() -> None:
    feed = Feed("ws://x", account=ACCOUNT)
    feed.handle_frame("{]")
    feed.handle_frame(json.dumps({"channel": "prices", "data": [
        {"symbol": "BTC", "mark": "1", "mid": "1", "oracle": "1", "timestamp": 5}]}))
    assert feed.skipped_frames == 1
    assert feed.prices.latest["BTC"].mark == Decimal(1)


def test_endpoints() -> None:
    assert endpoints("mainnet") == MAINNET
    assert endpoints(" TESTNET ") == TESTNET
    sim = endpoints("http://127.0.0.1:8080/api/v1/")
    assert sim.rest == "http://127.0.0.1:8080/api/v1"
    assert sim.ws == "ws://127.0.0.1:8080/ws"
    assert endpoints("https://proxy.example/api/v1").ws == "wss://proxy.example/ws"



@pytest.mark.parametrize("bad", ["moonnet", "ftp://x", "http://"])
def test_endpoints_refuse_what_is_not_a_network(bad: str) -> None:
    with pytest.raises(ValueError, match="neither mainnet, testnet nor"):
        endpoints(bad)
