"""The read half of the Pacifica REST client: construction, typed reads, lookups by cloid.

`PacificaRest` (rest.py) adds the signed writes; use that class, not this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import structlog

from daemon.domain import Market, OpenOrder, Position, Price
from daemon.pacifica import wire
from daemon.pacifica.errors import NotFound, RateLimitState
from daemon.pacifica.models import AccountInfo, HistoricalOrder, HistoryPage
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair
from daemon.pacifica.transport import DEFAULT_TIMEOUT, Transport, system_now_ms

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

# Long enough to absorb a few seconds of clock skew and a slow hop, short enough that a lost
# request stops being able to land soon (anchors.md R1 rule 3).
DEFAULT_EXPIRY_WINDOW_MS = 10_000
MIN_EXPIRY_WINDOW_MS = 5_000
MAX_EXPIRY_WINDOW_MS = 30_000


class RestReads:
    """Unsigned reads of one exchange endpoint for one account (the keypair's by default)."""

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
        wait_on_rate_limit: bool = True,
    ) -> None:
        """`wait_on_rate_limit=False`: a 429 raises RateLimited at once (with `retry_after`
        and `state`) instead of being waited out here, so the caller's budget owns the wait."""
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
                                    http_transport=http_transport,
                                    wait_on_rate_limit=wait_on_rate_limit)

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

    async def find_order(self, client_order_id: str,
                         account: str | None = None) -> OpenOrder | None:
        """The open order (stops, TP/SL legs included) with this client_order_id, if any.

        One GET /orders (a heavy read for the credit budget). Errors propagate: "not found"
        and "could not look" must stay apart for a caller settling an uncertain write.
        """
        orders = await self.open_orders(account)
        return next((o for o in orders if o.client_order_id == client_order_id), None)

    async def find_order_in_history(self, client_order_id: str, account: str | None = None,
                                    *, limit: int = 100,
                                    max_pages: int = 1) -> HistoricalOrder | None:
        """The order with this client_order_id in the order history (filled, cancelled,
        rejected or open), newest first, looking at most `max_pages` pages.

        Pacifica has no lookup by client_order_id (GET /orders/history_by_id takes the
        exchange's order id), so this pages GET /orders/history, a heavy read per page: use it
        for what `find_order` cannot see, such as an IOC market order that filled at once.
        """
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.order_history(account, limit=limit, cursor=cursor)
            found = next((o for o in page.orders if o.client_order_id == client_order_id),
                         None)
            if found is not None or not page.has_more:
                return found
            cursor = page.next_cursor
        return None

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

    @staticmethod
    def _rows(data: Any, where: str, parse: Callable[[Mapping[str, Any], str], _T]) -> list[_T]:
        out: list[_T] = []
        for n, row in enumerate(wire.items(data, where)):
            row_where = f"{where} item {n}"
            out.append(parse(wire.mapping(row, row_where), row_where))
        return out
