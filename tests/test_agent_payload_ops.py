"""Binding and revoking an agent are signed by the main key with `agent_wallet` as payload."""

from __future__ import annotations

import pytest

from daemon.pacifica.errors import AuthError, error_from_response
from daemon.pacifica.signing import (
    Keypair,
    b58encode,
    sign_request,
    signer_of,
    verify_request,
)

MAIN = Keypair.from_secret(b58encode(bytes([1]) * 32))
AGENT = Keypair.from_secret(b58encode(bytes([2]) * 32))


@pytest.mark.parametrize("operation", ["bind_agent_wallet", "revoke_agent_wallet"])
def test_agent_wallet_is_the_payload_not_the_signer(operation: str) -> None:
    body = sign_request(MAIN, operation, {"agent_wallet": AGENT.public_key},
                        timestamp=1_700_000_000_000, expiry_window=5_000)
    assert signer_of(body, operation) == MAIN.public_key
    assert verify_request(body, operation)
    body["agent_wallet"] = MAIN.public_key  # the signed payload changed
    assert not verify_request(body, operation)


def test_agent_wallet_elsewhere_names_the_signer() -> None:
    body = sign_request(AGENT, "cancel_order", {"symbol": "BTC", "order_id": 7},
                        timestamp=1_700_000_000_000, expiry_window=5_000,
                        account=MAIN.public_key)
    assert body["agent_wallet"] == AGENT.public_key
    assert signer_of(body, "cancel_order") == AGENT.public_key
    assert verify_request(body, "cancel_order")


def test_live_text_for_an_unbound_agent_is_an_auth_error() -> None:
    # ccxt quotes this live answer for an agent the account never bound.
    error = error_from_response(400, "Agent not authorized for account", 400, {},
                                operation="create_stop_order")
    assert isinstance(error, AuthError)
