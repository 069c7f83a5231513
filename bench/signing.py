"""Signed requests per second on one core (design.md §7: >= 25,000)."""

from __future__ import annotations

from bench.report import Row, rate
from daemon.pacifica.signing import Keypair, canonical_message, sign_request

_SEED = "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMikjwpAW9DMZzU2Pqakc5it8X3N5vPmqdN7KF4CCUpmKhq"
_PAYLOAD = {
    "symbol": "BTC",
    "side": "ask",
    "reduce_only": True,
    "stop_order": {
        "stop_price": "48000",
        "amount": "0.1",
        "client_order_id": "d25ac10b-58cc-4372-a567-0e02b2c3d479",
        "trigger_price_type": "mark_price",
    },
}


def run() -> list[Row]:
    keypair = Keypair.from_secret(_SEED)

    def sign(n: int) -> None:
        for i in range(n):
            sign_request(keypair, "create_stop_order", _PAYLOAD,
                         timestamp=1716200000000 + i, expiry_window=30000)

    def canonical(n: int) -> None:
        for i in range(n):
            canonical_message("create_stop_order", _PAYLOAD,
                              timestamp=1716200000000 + i, expiry_window=30000)

    signed = rate(sign, 20_000)
    json_only = rate(canonical, 50_000)
    return [
        Row("signed stop-order bodies per second, one core", f"{signed:,.0f}/s", ">= 25,000/s",
            signed >= 25_000),
        Row("canonical JSON messages per second (no signature)", f"{json_only:,.0f}/s", "", None),
    ]
