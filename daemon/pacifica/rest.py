"""Pacifica REST client: typed reads, signed writes, retries that cannot double an order.

    async with PacificaRest(TESTNET_URL, keypair=agent, account=main_address) as rest:
        markets = await rest.markets()
        outcome = await rest.create_stop_order(markets["BTC"], Side.ASK, stop_price=...,
                                               amount=..., client_order_id=cloid)
        # outcome.status: PLACED, ALREADY_PLACED or UNCONFIRMED (then rest.find_order(cloid))

With `account` different from the keypair's address the client signs as that account's agent
wallet (pacifica-api.md §1.2). Prices and amounts must already sit on the market's tick and lot:
an off-tick value raises `OrderValidationError` before anything is signed, because a stop the
exchange refuses is a position left bare.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog

from daemon.domain import Market, OpenOrder, Side, TriggerPriceType
from daemon.pacifica import wire
from daemon.pacifica.endpoints import MAINNET, TESTNET
from daemon.pacifica.errors import DuplicateOrder, ExchangeError, MalformedResponse, NotFound
from daemon.pacifica.models import WriteOutcome, WriteStatus
from daemon.pacifica.payloads import (
    OrderValidationError,
    TimeInForce,
    TpslLeg,
    cancel_payload,
    limit_order_payload,
    market_order_payload,
    stop_order_payload,
    tpsl_payload,
)
from daemon.pacifica.reads import RestReads
from daemon.pacifica.signing import Keypair

log = structlog.get_logger(__name__)

MAINNET_URL = MAINNET.rest
TESTNET_URL = TESTNET.rest


class PacificaRest(RestReads):
    """Reads (RestReads) plus signed writes that cannot double an order."""

    # -- writes --------------------------------------------------------------------------
    # Every write returns a WriteOutcome (see models.py). Final refusals still raise
    # (Rejected, AuthError, DuplicateOrder without a cloid), and so do NotSent/Ambiguous once
    # the retries are used up, and RateLimited when the client does not wait out 429s.
    # `confirm` looks the order up on GET /orders when the answer leaves its id unknown.

    async def create_stop_order(
        self, market: Market, side: Side, *, stop_price: Decimal, amount: Decimal,
        client_order_id: str,
        trigger_price_type: TriggerPriceType = TriggerPriceType.MARK,
        limit_price: Decimal | None = None, reference_price: Decimal | None = None,
        confirm: bool = True,
    ) -> WriteOutcome:
        """A reduce-only stop; `side` is the side that fires (ask protects a long).

        With `reference_price` (the current trigger price) a stop that would fire at once is
        refused: an ask stop must sit below it, a bid stop above it.
        """
        payload = stop_order_payload(
            market, side, stop_price=stop_price, amount=amount, client_order_id=client_order_id,
            trigger_price_type=trigger_price_type, limit_price=limit_price,
            reference_price=reference_price)
        return await self._create("orders/stop/create", "create_stop_order", payload,
                                  client_order_id, confirm=confirm)

    async def create_market_order(
        self, market: Market, side: Side, *, amount: Decimal, slippage_percent: Decimal,
        reduce_only: bool = False, client_order_id: str | None = None, confirm: bool = True,
    ) -> WriteOutcome:
        """A market (IOC) order. Without a client_order_id it is never retried after an
        ambiguous failure: nothing would tell a retry from a second order. Filled at once, it
        is never open, so only `find_order_in_history` can confirm one."""
        payload = market_order_payload(market, side, amount=amount,
                                       slippage_percent=slippage_percent,
                                       reduce_only=reduce_only, client_order_id=client_order_id)
        return await self._create("orders/create_market", "create_market_order", payload,
                                  client_order_id, confirm=confirm)

    async def create_limit_order(
        self, market: Market, side: Side, *, price: Decimal, amount: Decimal,
        reduce_only: bool, tif: TimeInForce = TimeInForce.GTC,
        client_order_id: str | None = None, confirm: bool = True,
    ) -> WriteOutcome:
        """A limit order; reduce-only GTC is a resting take-profit that can only close.

        `reduce_only` has no default: an order that may grow a position is a choice to spell
        out. Same retry rule as a market order: only a cloid makes an ambiguous failure safe
        to retry.
        """
        payload = limit_order_payload(market, side, price=price, amount=amount, tif=tif,
                                      reduce_only=reduce_only, client_order_id=client_order_id)
        return await self._create("orders/create", "create_order", payload, client_order_id,
                                  confirm=confirm)

    async def cancel_stop_order(self, symbol: str, *, order_id: int | None = None,
                                client_order_id: str | None = None) -> WriteOutcome:
        """CANCELLED if the exchange confirmed the cancel; GONE if it says the order is not
        there. Both mean the order is gone. After a retried attempt GONE can also mean an
        earlier attempt of this same call cancelled it and its answer was lost.
        """
        payload = cancel_payload(symbol, order_id, client_order_id)
        return await self._cancel("orders/stop/cancel", "cancel_stop_order", payload)

    async def cancel_order(self, symbol: str, *, order_id: int | None = None,
                           client_order_id: str | None = None) -> WriteOutcome:
        """A plain (limit) order's cancel; outcomes as `cancel_stop_order`."""
        payload = cancel_payload(symbol, order_id, client_order_id)
        return await self._cancel("orders/cancel", "cancel_order", payload)

    async def set_position_tpsl(self, market: Market, side: Side, *,
                                take_profit: TpslLeg | None = None,
                                stop_loss: TpslLeg | None = None,
                                confirm: bool = True) -> WriteOutcome:
        """Attach TP/SL legs to a position; `side` is the CLOSING side (ask for a long).

        Pacifica answers without order ids, so the outcome names the stop-loss leg's cloid
        (else the take-profit's) and, with `confirm`, that leg as found on GET /orders.
        """
        payload = tpsl_payload(market, side, take_profit=take_profit, stop_loss=stop_loss)
        legs = [leg for leg in (stop_loss, take_profit) if leg is not None]
        cloid = next((leg.client_order_id for leg in legs if leg.client_order_id), None)
        # Only a leg with a cloid can be told apart from a second one on retry.
        idempotent = all(leg.client_order_id is not None for leg in legs)
        try:
            _, attempts = await self._post("positions/tpsl", "set_position_tpsl", payload,
                                           idempotent=idempotent)
        except DuplicateOrder as duplicate:
            if cloid is None:
                raise
            return await self._already_placed("set_position_tpsl", cloid, duplicate.attempts,
                                              confirm=confirm)
        except MalformedResponse as unreadable:
            return await self._unreadable("set_position_tpsl", cloid, unreadable,
                                          confirm=confirm)
        return await self._settle(WriteStatus.PLACED, cloid, attempts, confirm=confirm)

    async def bind_agent_wallet(self, agent_public_key: str) -> None:
        """Bind an agent key to this account; must be signed by the main key itself."""
        if self.is_agent:
            raise OrderValidationError("an agent wallet cannot bind agents; use the main key")
        await self._post("agent/bind", "bind_agent_wallet", {"agent_wallet": agent_public_key},
                         idempotent=False)

    async def list_agent_wallets(self) -> list[str]:
        """Public keys of the agent wallets bound to this account: a signed `list_agent_wallets`
        POST with an empty payload, as Pacifica's SDK example sends it (`data.agent_wallets`)."""
        data, _ = await self._post("agent/list", "list_agent_wallets", {}, idempotent=True)
        where = "POST /agent/list"
        wallets = wire.items(wire.mapping(data, where).get("agent_wallets"),
                             f"{where} agent_wallets")
        return [wallet for wallet in wallets if isinstance(wallet, str)]

    # -- internals -----------------------------------------------------------------------

    def _signer(self) -> tuple[Keypair, str]:
        if self.keypair is None or self.account is None:
            raise ValueError("this client has no keypair; signed requests are impossible")
        return self.keypair, self.account

    async def _post(self, path: str, operation: str, payload: Mapping[str, Any], *,
                    idempotent: bool) -> tuple[Any, int]:
        keypair, account = self._signer()
        data, _, attempts = await self._transport.post_signed(
            path, operation, payload, keypair=keypair, account=account,
            expiry_window=self.expiry_window, now_ms=self._now_ms, idempotent=idempotent)
        return data, attempts

    async def _create(self, path: str, operation: str, payload: Mapping[str, Any],
                      client_order_id: str | None, *, confirm: bool) -> WriteOutcome:
        where = f"POST /{path}"
        try:
            data, attempts = await self._post(path, operation, payload,
                                              idempotent=client_order_id is not None)
        except DuplicateOrder as duplicate:
            if client_order_id is None:
                raise
            return await self._already_placed(operation, client_order_id, duplicate.attempts,
                                              confirm=confirm)
        except MalformedResponse as unreadable:
            return await self._unreadable(operation, client_order_id, unreadable,
                                          confirm=confirm)
        try:
            order_id = wire.opt_int(wire.mapping(data, where), "order_id", where) if data else None
        except MalformedResponse as unreadable:
            unreadable.attempts = attempts
            return await self._unreadable(operation, client_order_id, unreadable,
                                          confirm=confirm)
        if order_id is None:
            log.warning("exchange.no_order_id", operation=operation,
                        client_order_id=client_order_id, attempts=attempts)
            return await self._settle(WriteStatus.UNCONFIRMED, client_order_id, attempts,
                                      confirm=confirm)
        return WriteOutcome(WriteStatus.PLACED, client_order_id, order_id, None, attempts)

    async def _already_placed(self, operation: str, client_order_id: str, attempts: int, *,
                              confirm: bool) -> WriteOutcome:
        log.info("exchange.already_placed", operation=operation,
                 client_order_id=client_order_id, attempts=attempts)
        return await self._settle(WriteStatus.ALREADY_PLACED, client_order_id, attempts,
                                  confirm=confirm)

    async def _unreadable(self, operation: str, client_order_id: str | None,
                          error: MalformedResponse, *, confirm: bool) -> WriteOutcome:
        _log_unreadable(operation, client_order_id, error)
        return await self._settle(WriteStatus.UNCONFIRMED, client_order_id, error.attempts,
                                  confirm=confirm)

    async def _settle(self, status: WriteStatus, client_order_id: str | None, attempts: int,
                      *, confirm: bool) -> WriteOutcome:
        """Fill in what a lookup by cloid knows; an UNCONFIRMED order found open is PLACED."""
        found = await self._find_open(client_order_id) if confirm and client_order_id else None
        if found is not None and status is WriteStatus.UNCONFIRMED:
            status = WriteStatus.PLACED
        return WriteOutcome(status, client_order_id, found.order_id if found else None, found,
                            attempts)

    async def _find_open(self, client_order_id: str) -> OpenOrder | None:
        try:
            return await self.find_order(client_order_id)
        except ExchangeError as error:
            # The write's status stands on its own; only the lookup failed.
            log.warning("exchange.confirm_failed", client_order_id=client_order_id,
                        error=str(error))
            return None

    async def _cancel(self, path: str, operation: str, payload: Mapping[str, Any],
                      ) -> WriteOutcome:
        order_id: int | None = payload.get("order_id")
        cloid: str | None = payload.get("client_order_id")
        try:
            # A repeated cancel cannot do harm: the second one finds nothing to cancel.
            _, attempts = await self._post(path, operation, payload, idempotent=True)
        except NotFound as gone:
            log.info("exchange.cancel_not_found", operation=operation, reason=gone.message,
                     attempts=gone.attempts)
            return WriteOutcome(WriteStatus.GONE, cloid, order_id, None, gone.attempts)
        except MalformedResponse as unreadable:
            _log_unreadable(operation, cloid, unreadable)
            return WriteOutcome(WriteStatus.UNCONFIRMED, cloid, order_id, None,
                                unreadable.attempts)
        return WriteOutcome(WriteStatus.CANCELLED, cloid, order_id, None, attempts)


def _log_unreadable(operation: str, client_order_id: str | None,
                    error: MalformedResponse) -> None:
    # A 2xx whose body cannot be read: the request may well have been applied.
    log.warning("exchange.unreadable_answer", operation=operation,
                client_order_id=client_order_id, error=str(error)[:200], attempts=error.attempts)
