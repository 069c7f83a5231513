"""Every signed POST is verified first: signature, expiry, then the agent binding."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sim_support import AGENT, MAIN, OTHER, Trader, now_ms, ok, refused

from daemon.sim import Simulator

BTC_BUY = {"symbol": "BTC", "side": "bid", "amount": "0.01", "slippage_percent": "0.5",
           "reduce_only": False}


async def test_a_valid_main_key_request_creates_the_account_with_default_collateral(
        trader: Trader, sim: Simulator) -> None:
    ok(await trader.market("BTC", "bid", "0.01"))
    account = await trader.data("/account")
    assert Decimal(account["balance"]) == Decimal(100_000) - Decimal("0.24")  # taker fee


async def test_a_signature_that_does_not_match_the_fields_fails_verification(
        trader: Trader) -> None:
    def change_amount(body: dict[str, object]) -> None:
        body["amount"] = "0.02"

    response = await trader.send("/orders/create_market", "create_market_order", BTC_BUY,
                                 tamper=change_amount)
    refused(response, 400, "Verification failed")
    assert await trader.data("/positions") == []


async def test_signing_with_the_wrong_operation_type_fails_verification(trader: Trader) -> None:
    response = await trader.client.post(
        "/orders/create_market", json=trader.body("create_order", BTC_BUY))
    refused(response, 400, "Verification failed")


async def test_a_signature_that_is_not_base58_is_an_invalid_signature(trader: Trader) -> None:
    def garble(body: dict[str, object]) -> None:
        body["signature"] = "not-base58-0OIl"

    refused(await trader.send("/orders/create_market", "create_market_order", BTC_BUY,
                              tamper=garble), 400, "Invalid signature")


async def test_an_account_that_is_not_a_key_is_an_invalid_public_key(trader: Trader) -> None:
    def garble(body: dict[str, object]) -> None:
        body["account"] = "0OIl"

    refused(await trader.send("/orders/create_market", "create_market_order", BTC_BUY,
                              tamper=garble), 400, "Invalid public key")


async def test_an_expired_request_is_an_invalid_message(trader: Trader) -> None:
    response = await trader.send("/orders/create_market", "create_market_order", BTC_BUY,
                                 timestamp=now_ms() - 10_000, expiry_window=5_000)
    refused(response, 400, "Invalid message")
    assert await trader.data("/positions") == []


async def test_a_body_that_is_not_json_is_an_invalid_message(http: httpx.AsyncClient) -> None:
    response = await http.post("/orders/create_market", content=b"{not json")
    refused(response, 400, "Invalid message")


async def test_the_signature_is_checked_before_prices(trader: Trader) -> None:
    def garble(body: dict[str, object]) -> None:
        body["signature"] = "1" * 88

    response = await trader.send("/orders/stop/create", "create_stop_order",
                                 {"symbol": "BTC", "side": "ask", "reduce_only": True,
                                  "stop_order": {"stop_price": "1.5", "amount": "0.1"}},
                                 tamper=garble)
    assert response.json()["error"] in ("Invalid signature", "Verification failed")


async def test_an_unbound_agent_wallet_is_unauthorized(http: httpx.AsyncClient) -> None:
    agent = Trader(http, AGENT, account=MAIN.public_key)
    refused(await agent.market("BTC", "bid", "0.01"), 400, "Unauthorized")


async def test_a_bound_agent_wallet_trades_for_the_main_account(http: httpx.AsyncClient) -> None:
    main = Trader(http, MAIN)
    ok(await main.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": AGENT.public_key}))
    agent = Trader(http, AGENT, account=MAIN.public_key)
    ok(await agent.market("BTC", "bid", "0.01"))
    positions = await main.data("/positions")
    assert [(p["symbol"], p["side"], p["amount"]) for p in positions] == [("BTC", "bid", "0.01")]


async def test_an_agent_bound_to_another_account_is_unauthorized(
        http: httpx.AsyncClient) -> None:
    other = Trader(http, OTHER)
    ok(await other.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": AGENT.public_key}))
    agent = Trader(http, AGENT, account=MAIN.public_key)
    refused(await agent.market("BTC", "bid", "0.01"), 400, "Unauthorized")


async def test_an_agent_cannot_bind_agents(http: httpx.AsyncClient) -> None:
    # The bind is verified against `account`, so an agent's signature fails (§1.2).
    agent = Trader(http, AGENT, account=MAIN.public_key)
    refused(await agent.send("/agent/bind", "bind_agent_wallet",
                             {"agent_wallet": OTHER.public_key}), 400, "Verification failed")


@pytest.mark.parametrize("wallet", ["0OIl", "11111"])
async def test_binding_something_that_is_not_a_key_is_refused(trader: Trader,
                                                              wallet: str) -> None:
    refused(await trader.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": wallet}),
            400, "Invalid public key")


async def test_revoking_an_agent_ends_its_trading(http: httpx.AsyncClient) -> None:
    main = Trader(http, MAIN)
    agent = Trader(http, AGENT, account=MAIN.public_key)
    ok(await main.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": AGENT.public_key}))
    ok(await agent.market("BTC", "bid", "0.01"))
    # Signed by the main key with the agent as payload: an agent cannot revoke (§1.2).
    refused(await agent.send("/agent/revoke", "revoke_agent_wallet",
                             {"agent_wallet": AGENT.public_key}), 400, "Verification failed")
    assert ok(await main.send("/agent/revoke", "revoke_agent_wallet",
                              {"agent_wallet": AGENT.public_key})) is None
    refused(await agent.market("BTC", "bid", "0.01"), 400, "Unauthorized")
    refused(await main.send("/agent/revoke", "revoke_agent_wallet",
                            {"agent_wallet": AGENT.public_key}), 400, "Agent wallet not found")


async def test_revoke_all_needs_the_main_key(http: httpx.AsyncClient) -> None:
    main = Trader(http, MAIN)
    agent = Trader(http, AGENT, account=MAIN.public_key)
    for key in (AGENT, OTHER):
        ok(await main.send("/agent/bind", "bind_agent_wallet", {"agent_wallet": key.public_key}))
    refused(await agent.send("/agent/revoke_all", "revoke_all_agent_wallets", {}), 400,
            "Verification failed")
    assert ok(await main.send("/agent/revoke_all", "revoke_all_agent_wallets", {})) is None
    refused(await agent.market("BTC", "bid", "0.01"), 400, "Unauthorized")
