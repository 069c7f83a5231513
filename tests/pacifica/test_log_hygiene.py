"""No key material reaches the logs, across retries. (`make demo` is tested in tests/demo.)"""

from __future__ import annotations

import uuid
from decimal import Decimal

import base58
import structlog
from pacifica_support import Harness, Wire, keypair

from daemon.domain import Side


async def test_no_signature_or_secret_in_logs_across_retries(harness: Harness) -> None:
    key = keypair(9)
    wire = Wire()
    cloid = str(uuid.uuid4())
    with structlog.testing.capture_logs() as logs:
        async with harness.client(key, wire=wire) as rest:
            btc = (await rest.markets())["BTC"]
            await rest.create_market_order(btc, Side.BID, amount=Decimal("0.1"),
                                           slippage_percent=Decimal(1))
            await harness.faults(error_count=1, lose_response_after_commit=1)
            await rest.create_stop_order(btc, Side.ASK, stop_price=Decimal(58_000),
                                         amount=Decimal("0.1"), client_order_id=cloid)
    assert any(entry["event"] == "exchange.retry" for entry in logs)
    assert any(entry["event"] == "exchange.already_placed" for entry in logs)
    text = repr(logs)
    seed = bytes([9]) * 32
    for secret in (base58.b58encode(seed).decode(), seed.hex(),
                   *(body["signature"] for body in wire.sent)):
        assert secret not in text
