"""HTTP plumbing under the REST client: envelopes, error classes, rate-limit state, retries.

Every POST is signed afresh per attempt (new timestamp, new signature) over exactly the
payload that is sent; the client_order_id inside the payload stays the same across attempts,
which is what makes a retry after an ambiguous failure safe.

A 429 is waited out here (the header's `t`, capped by the retry policy) unless the transport
was built with `wait_on_rate_limit=False`: then the RateLimited error goes straight to the
caller, whose credit budget decides when anything is sent again. One request stalled inside
the transport for up to a minute would otherwise hold a whole position's queue.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import structlog

from daemon.pacifica import wire
from daemon.pacifica.errors import (
    Ambiguous,
    ExchangeError,
    NotSent,
    RateLimited,
    RateLimitState,
    error_from_response,
    ratelimit_from_headers,
)
from daemon.pacifica.retry import RetryPolicy, should_retry
from daemon.pacifica.signing import Keypair, sign_request

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def system_now_ms() -> int:
    return time.time_ns() // 1_000_000


class Transport:
    """One httpx client per exchange endpoint; not tied to any account."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wait_on_rate_limit: bool = True,
    ) -> None:
        headers = {"Accept": "application/json"}
        self._monotonic = monotonic
        if api_key:
            headers["PF-API-KEY"] = api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.wait_on_rate_limit = wait_on_rate_limit
        self.rate_limit: RateLimitState | None = None
        self._http = httpx.AsyncClient(base_url=self.base_url + "/", headers=headers,
                                       timeout=timeout, transport=http_transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Mapping[str, str | int] | None = None,
                  ) -> tuple[Any, Mapping[str, Any]]:
        """GET with retries (reads are idempotent); returns (data, whole document)."""
        where = f"GET /{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send("GET", path, where, params=params)
            except ExchangeError as error:
                error.attempts = attempt
                await self._before_retry(error, attempt, idempotent=True, where=where)

    async def post_signed(
        self,
        path: str,
        operation: str,
        payload: Mapping[str, Any],
        *,
        keypair: Keypair,
        account: str,
        expiry_window: int,
        now_ms: Callable[[], int],
        idempotent: bool,
    ) -> tuple[Any, Mapping[str, Any], int]:
        """Sign and POST; retry what is safe. Returns (data, document, attempts used).

        On the final failure the last error propagates with `.attempts` set on it.
        """
        where = f"POST /{path}"
        attempt = 0
        while True:
            attempt += 1
            body = sign_request(keypair, operation, payload, timestamp=now_ms(),
                                expiry_window=expiry_window, account=account)
            try:
                data, document = await self._send("POST", path, where, json_body=body,
                                                  operation=operation)
                return data, document, attempt
            except ExchangeError as error:
                error.attempts = attempt
                await self._before_retry(error, attempt, idempotent=idempotent, where=where)

    async def _before_retry(self, error: ExchangeError, attempt: int, *, idempotent: bool,
                            where: str) -> None:
        if attempt >= self.retry.attempts or not should_retry(error, idempotent=idempotent):
            raise error
        if isinstance(error, RateLimited) and not self.wait_on_rate_limit:
            raise error
        delay = self.retry.delay_for(error, attempt)
        log.info("exchange.retry", where=where, attempt=attempt, error=type(error).__name__,
                 reason=error.message, delay_s=round(delay, 3))
        await self.retry.sleep(delay)

    async def _send(self, method: str, path: str, where: str, *,
                    params: Mapping[str, str | int] | None = None,
                    json_body: Mapping[str, Any] | None = None,
                    operation: str | None = None) -> tuple[Any, Mapping[str, Any]]:
        op = operation or where
        try:
            response = await self._http.request(method, path, params=params, json=json_body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"{where}: not sent ({exc.__class__.__name__})",
                          operation=op) from None
        except httpx.TransportError as exc:
            raise Ambiguous(f"{where}: no usable answer ({exc.__class__.__name__})",
                            operation=op) from None
        state = ratelimit_from_headers(response.headers)
        if state is not None:
            state = dataclasses.replace(state, observed_at=self._monotonic())
            self.rate_limit = state
        log.debug("exchange.response", where=where, status=response.status_code)
        try:
            return self._unwrap(response, where, op)
        except RateLimited as limited:
            limited.state = state  # the same answer's headers, now with their arrival time
            raise

    @staticmethod
    def _unwrap(response: httpx.Response, where: str, op: str,
                ) -> tuple[Any, Mapping[str, Any]]:
        status = response.status_code
        try:
            document = wire.loads(response.content, where)
        except ExchangeError:
            if status >= 400:
                snippet = response.text[:120].strip() or "empty body"
                raise error_from_response(status, snippet, None, response.headers,
                                          operation=op) from None
            raise
        envelope = document if isinstance(document, Mapping) else None
        failed = status >= 400 or (envelope is not None and envelope.get("success") is False)
        if failed:
            message = envelope.get("error") if envelope is not None else None
            code = envelope.get("code") if envelope is not None else None
            raise error_from_response(
                status if status >= 400 else 400,
                message if isinstance(message, str) else None,
                code if isinstance(code, int) and not isinstance(code, bool) else None,
                response.headers, operation=op)
        if envelope is not None and "success" in envelope:
            return envelope.get("data"), envelope
        # Older docs show bare payloads without the envelope.
        return document, envelope or {}
