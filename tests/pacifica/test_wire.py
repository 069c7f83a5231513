"""Wire parsing: Decimal money, tolerant of extra fields, clear errors for bad answers."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Side
from daemon.pacifica import wire
from daemon.pacifica.errors import MalformedResponse
from daemon.pacifica.models import AccountInfo, OrderEvent, OrderStatus, OrderUpdate

MARKET = {"symbol": "BTC", "tick_size": "1", "min_tick": "0", "max_tick": "1000000",
          "lot_size": "0.00001", "max_leverage": 50, "isolated_only": False,
          "min_order_size": "10", "max_order_size": "5000000", "funding_rate": "0.0000125",
          "next_funding_rate": "0.0000125", "created_at": 1748881333944}
POSITION = {"symbol": "ETH", "side": "ask", "amount": "1.5", "entry_price": "3000.25",
            "margin": "0", "funding": "-0.1", "isolated": False, "liquidation_price": None,
            "created_at": 1700000000000, "updated_at": 1700000001000}
ORDER = {"order_id": 7, "client_order_id": "c", "symbol": "BTC", "side": "ask", "price": "0",
         "initial_amount": "0.1", "filled_amount": "0", "cancelled_amount": "0",
         "stop_price": "58000", "order_type": "stop_market", "stop_parent_order_id": None,
         "reduce_only": True, "created_at": 1, "updated_at": 2}
UPDATE = {"i": 7, "I": "c", "u": "acct", "s": "BTC", "d": "ask", "p": "57990", "ip": "0",
          "lp": "57990", "a": "0.1", "f": "0.1", "oe": "stop_triggered", "os": "filled",
          "ot": "stop_market", "sp": "58000", "si": None, "r": True, "ct": 1, "ut": 2, "li": 99}


def test_market_parses_and_ignores_unknown_fields() -> None:
    market = wire.market_from_wire({**MARKET, "brand_new": [1, 2]}, "t")
    assert market is not None
    assert market.tick_size == Decimal(1)
    assert market.lot_size == Decimal("0.00001")
    assert market.min_order_size == Decimal(10)
    assert market.max_leverage == 50


def test_spot_markets_are_dropped() -> None:
    assert wire.market_from_wire({**MARKET, "instrument_type": "spot"}, "t") is None
    assert wire.market_from_wire({**MARKET, "instrument_type": "perpetual"}, "t") is not None


def test_position_side_ask_is_short() -> None:
    position = wire.position_from_wire(POSITION, "t")
    assert position.side is Side.ASK
    assert not position.side.is_long
    assert position.amount == Decimal("1.5")
    assert position.liquidation_price is None
    assert position.funding == Decimal("-0.1")


def test_open_stop_order() -> None:
    order = wire.open_order_from_wire(ORDER, "t")
    assert order.is_stop
    assert order.stop_price == Decimal(58000)
    assert order.reduce_only
    assert order.remaining == Decimal("0.1")


def test_order_update() -> None:
    update = OrderUpdate.from_wire(UPDATE, "t")
    assert update.event is OrderEvent.STOP_TRIGGERED
    assert update.status is OrderStatus.FILLED
    assert update.last_order_id == 99
    assert update.stop_parent_order_id is None


def test_account_parses_minimal_and_full() -> None:
    info = AccountInfo.from_wire({"balance": "10", "account_equity": "11",
                                  "available_to_spend": "9", "stop_orders_count": 2}, "t")
    assert info.balance == Decimal(10)
    assert info.stop_orders_count == 2
    assert info.use_ltp_for_stop_orders is None


@pytest.mark.parametrize(("row", "parse", "field"), [
    ({k: v for k, v in POSITION.items() if k != "amount"}, wire.position_from_wire, "amount"),
    ({**POSITION, "side": "long"}, wire.position_from_wire, "side"),
    ({**POSITION, "amount": 1.5}, wire.position_from_wire, "amount"),  # a float: refused
    ({**POSITION, "created_at": "yesterday"}, wire.position_from_wire, "created_at"),
    ({**ORDER, "order_id": True}, wire.open_order_from_wire, "order_id"),
    ({**ORDER, "stop_price": "NaN"}, wire.open_order_from_wire, "stop_price"),
    ({**MARKET, "tick_size": "0"}, wire.market_from_wire, "tick_size"),
    ({**UPDATE, "oe": "teleported"}, OrderUpdate.from_wire, "oe"),
])
def test_malformed_rows_name_the_place_and_field(row: dict[str, Any], parse: Any,
                                                 field: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        parse(row, "GET /somewhere item 3")
    assert "GET /somewhere item 3" in str(info.value)
    assert field in str(info.value)


def test_loads_uses_decimal_and_names_the_source() -> None:
    assert wire.loads('{"x": 0.1}', "t") == {"x": Decimal("0.1")}
    with pytest.raises(MalformedResponse, match="GET /info: not JSON"):
        wire.loads("<html>", "GET /info")


@given(st.dictionaries(st.sampled_from(list(POSITION)),
                       st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans(),
                                 st.floats(allow_nan=True), st.lists(st.integers(), max_size=2))))
def test_no_input_escapes_as_anything_but_malformed(overrides: dict[str, Any]) -> None:
    with contextlib.suppress(MalformedResponse):
        wire.position_from_wire({**POSITION, **overrides}, "t")
