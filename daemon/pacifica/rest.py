"""Pacifica REST client: typed reads, signed writes, retries that cannot double an order.

    async with PacificaRest(TESTNET_URL, keypair=agent, account=main_address) as rest:
        markets = await rest.markets()
        placed = await rest.create_stop_order(markets["BTC"], Side.ASK, stop_price=...,
                                              amount=..., client_order_id=cloid)

With `account` different from the keypair's address the client signs as that account's agent
wallet (pacifica-api.md §1.2). Prices and amounts must already sit on the market's tick and lot:
an off-tick value raises `OrderValidationError` before anything is signed, because a stop the
exchange refuses is a position left bare.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import structlog

from daemon.domain import Market, OpenOrder, Position, Price, Side, TriggerPriceType
from daemon.pacifica import wire
from daemon.pacifica.endpoints import MAINNET, TESTNET
from daemon.pacifica.errors import DuplicateOrder, ExchangeError, NotFound, RateLimitState
from daemon.pacifica.models import AccountInfo, HistoricalOrder, HistoryPage, Placement
from daemon.pacifica.payloads import (
    OrderValidationError,
    TpslLeg,
    cancel_payload,
    market_order_payload,
    stop_order_payload,
    tpsl_payload,
)
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair
from daemon.pacifica.transport import DEFAULT_TIMEOUT, Transport, system_now_ms

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

MAINNET_URL = MAINNET.rest
TESTNET_URL = TESTNET.rest
# Long enough to absorb a few seconds of clock skew and a slow hop, short enough that a lost
# request stops being able to land soon (anchors.md R1 rule 3).
DEFAULT_EXPIRY_WINDOW_MS = 10_000
MIN_EXPIRY_WINDOW_MS = 5_000
MAX_EXPIRY_WINDOW_MS = 30_000


class PacificaRest:
    def __init__(
        self,
        base_url: str,
        *,
        keypair: Keypair | None = None,
        account: str | None = None,
        api_key: str | None = None,
        now_ms: Callable[[], int] = system_now_ms,
        expiry_window: int = DEFAULT_EXPIRY_WINDOW_MS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not MIN_EXPIRY_WINDOW_MS <= expiry_window <= MAX_EXPIRY_WINDOW_MS:
            raise ValueError(f"expiry_window must be {MIN_EXPIRY_WINDOW_MS}-"
                             f"{MAX_EXPIRY_WINDOW_MS} ms, not {expiry_window}")
        if account is None and keypair is not None:
            account = keypair.public_key
        self.account = account
        self.keypair = keypair
        # The exchange-wide event sequence number of the latest positions/orders snapshot, to
        # order a REST snapshot against stream frames (their `li`).
        self.last_order_id: int | None = None
        self.expiry_window = expiry_window
        self._now_ms = now_ms
        self._transport = Transport(base_url, api_key=api_key, timeout=timeout, retry=retry,
                                    http_transport=http_transport)

    def __repr__(self) -> str:
        agent = self.is_agent
        return (f"PacificaRest(base_url={self._transport.base_url!r}, account={self.account!r}, "
                f"agent_wallet={agent})")

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def is_agent(self) -> bool:
        return self.keypair is not None and self.account != self.keypair.public_key

    @property
    def rate_limit(self) -> RateLimitState | None:
        """The latest parsed `ratelimit` headers; None before any answer carried them."""
        return self._transport.rate_limit

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    # -- reads ---------------------------------------------------------------------------

    async def markets(self) -> dict[str, Market]:
        """Perpetual markets by symbol; spot instruments sharing /info are dropped."""
        data, _ = await self._transport.get("info")
        result: dict[str, Market] = {}
        for n, row in enumerate(wire.items(data, "GET /info")):
            where = f"GET /info item {n}"
            market = wire.market_from_wire(wire.mapping(row, where), where)
            if market is not None:
                result[market.symbol] = market
        return result

    async def prices(self) -> dict[str, Price]:
        try:
            data, _ = await self._transport.get("info/prices")
        except NotFound:
            return {}  # Pacifica answers 404 while it has no prices at all
        return {p.symbol: p for p in self._rows(data, "GET /info/prices", wire.price_from_wire)}

    async def account_info(self, account: str | None = None) -> AccountInfo:
        where = "GET /account"
        data, _ = await self._transport.get("account", {"account": self._address(account)})
        # Older docs show a one-element list; newer ones an object.
        if isinstance(data, list):
            if len(data) != 1:
                raise wire.bad(where, f"expected one account, got {len(data)}")
            data = data[0]
        return AccountInfo.from_wire(wire.mapping(data, where), where)

    async def positions(self, account: str | None = None) -> list[Position]:
        data, document = await self._transport.get("positions",
                                                    {"account": self._address(account)})
        rows = self._rows(data, "GET /positions", wire.position_from_wire)
        self._note_sequence(document, "GET /positions")
        return rows

    async def open_orders(self, account: str | None = None) -> list[OpenOrder]:
        """Open orders, resting stop / TP / SL orders included."""
        data, document = await self._transport.get("orders", {"account": self._address(account)})
        rows = self._rows(data, "GET /orders", wire.open_order_from_wire)
        self._note_sequence(document, "GET /orders")
        return rows

    async def order_history(self, account: str | None = None, *, limit: int = 100,
                            cursor: str | None = None) -> HistoryPage:
        where = "GET /orders/history"
        params: dict[str, str | int] = {"account": self._address(account), "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        data, document = await self._transport.get("orders/history", params)
        # Paging fields sit beside `data` in the envelope, or inside it as an object.
        holder: Mapping[str, Any] = document
        if isinstance(data, Mapping):
            holder = data
            data = data.get("data", data.get("orders"))
        orders = self._rows(data, where, HistoricalOrder.from_wire)
        next_cursor = holder.get("next_cursor")
        has_more = holder.get("has_more")
        return HistoryPage(
            orders=tuple(orders),
            next_cursor=str(next_cursor) if next_cursor not in (None, "") else None,
            has_more=bool(has_more) and next_cursor not in (None, ""),
        )

    async def iter_order_history(self, account: str | None = None, *, limit: int = 100,
                                 max_pages: int = 100) -> AsyncIterator[HistoricalOrder]:
        """Every history row, following cursors; `max_pages` bounds a cursor that loops."""
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.order_history(account, limit=limit, cursor=cursor)
            for order in page.orders:
                yield order
            if not page.has_more:
                return
            cursor = page.next_cursor
        log.warning("exchange.history_truncated", pages=max_pages)

    # -- writes --------------------------------------------------------------------------

    async def create_stop_order(
        self, market: Market, side: Side, *, stop_price: Decimal, amount: Decimal,
        client_order_id: str,
        trigger_price_type: TriggerPriceType = TriggerPriceType.MARK,
        limit_price: Decimal | None = None, reference_price: Decimal | None = None,
        confirm: bool = True,
    ) -> Placement:
        """A reduce-only stop; `side` is the side that fires (ask protects a long).

        With `reference_price` (the current trigger price) a stop that would fire at once is
        refused: an ask stop must sit below it, a bid stop above it.
        A "Duplicate client order id" answer means an earlier attempt landed: the result says
        `already_placed`, and with `confirm` the resting order is looked up by its cloid.
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
    ) -> Placement:
        """A market (IOC) order. Without a client_order_id it is never retried after an
        ambiguous failure: nothing would tell a retry from a second order."""
        payload = market_order_payload(market, side, amount=amount,
                                       slippage_percent=slippage_percent,
                                       reduce_only=reduce_only, client_order_id=client_order_id)
        return await self._create("orders/create_market", "create_market_order", payload,
                                  client_order_id, confirm=confirm)

    async def cancel_stop_order(self, symbol: str, *, order_id: int | None = None,
                                client_order_id: str | None = None) -> bool:
        """True if the exchange confirmed the cancel; False if it says the order is not there.

        Both mean the order is gone. After a retried attempt False can also mean an earlier
        attempt of this same call cancelled it and its answer was lost.
        """
        payload = cancel_payload(symbol, order_id, client_order_id)
        return await self._cancel("orders/stop/cancel", "cancel_stop_order", payload)

    async def cancel_order(self, symbol: str, *, order_id: int | None = None,
                           client_order_id: str | None = None) -> bool:
        payload = cancel_payload(symbol, order_id, client_order_id)
        return await self._cancel("orders/cancel", "cancel_order", payload)

    async def set_position_tpsl(self, market: Market, side: Side, *,
                                take_profit: TpslLeg | None = None,
                                stop_loss: TpslLeg | None = None) -> None:
        """Attach TP/SL legs to a position; `side` is the CLOSING side (ask for a long)."""
        payload = tpsl_payload(market, side, take_profit=take_profit, stop_loss=stop_loss)
        # Only a leg with a cloid can be told apart from a second one on retry.
        idempotent = all(leg is None or leg.client_order_id is not None
                         for leg in (take_profit, stop_loss))
        await self._post("positions/tpsl", "set_position_tpsl", payload, idempotent=idempotent)

    async def bind_agent_wallet(self, agent_public_key: str) -> None:
        """Bind an agent key to this account; must be signed by the main key itself."""
        if self.is_agent:
            raise OrderValidationError("an agent wallet cannot bind agents; use the main key")
        await self._post("agent/bind", "bind_agent_wallet", {"agent_wallet": agent_public_key},
                         idempotent=False)

    # -- internals -----------------------------------------------------------------------

    def _note_sequence(self, document: Mapping[str, Any], where: str) -> None:
        sequence = wire.opt_int(document, "last_order_id", where)
        if sequence is not None:
            self.last_order_id = sequence

    def _address(self, account: str | None) -> str:
        address = account or self.account
        if not address:
            raise ValueError("no account address: pass one or give the client a keypair")
        return address

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
                      client_order_id: str | None, *, confirm: bool) -> Placement:
        try:
            data, attempts = await self._post(path, operation, payload,
                                              idempotent=client_order_id is not None)
        except DuplicateOrder as duplicate:
            if client_order_id is None:
                raise
            log.info("exchange.already_placed", operation=operation,
                     client_order_id=client_order_id, attempts=duplicate.attempts)
            found = await self._find_open(client_order_id) if confirm else None
            return Placement(order_id=found.order_id if found else None,
                             client_order_id=client_order_id, already_placed=True,
                             confirmed=found, attempts=duplicate.attempts)
        where = f"POST /{path}"
        order_id = wire.opt_int(wire.mapping(data, where), "order_id", where) if data else None
        if order_id is None:
            raise wire.bad(where, "the exchange accepted the order but returned no order_id")
        return Placement(order_id=order_id, client_order_id=client_order_id, attempts=attempts)

    async def _find_open(self, client_order_id: str) -> OpenOrder | None:
        try:
            orders = await self.open_orders()
        except ExchangeError as error:
            # The placement itself is settled (duplicate = placed); only the lookup failed.
            log.warning("exchange.confirm_failed", client_order_id=client_order_id,
                        error=str(error))
            return None
        return next((o for o in orders if o.client_order_id == client_order_id), None)

    async def _cancel(self, path: str, operation: str, payload: Mapping[str, Any]) -> bool:
        try:
            # A repeated cancel cannot do harm: the second one finds nothing to cancel.
            await self._post(path, operation, payload, idempotent=True)
        except NotFound as gone:
            log.info("exchange.cancel_not_found", operation=operation, reason=gone.message,
                     attempts=gone.attempts)
            return False
        return True

    @staticmethod
    def _rows(data: Any, where: str, parse: Callable[[Mapping[str, Any], str], _T]) -> list[_T]:
        out: list[_T] = []
        for n, row in enumerate(wire.items(data, where)):
            row_where = f"{where} item {n}"
            out.append(parse(wire.mapping(row, row_where), row_where))
        return out
