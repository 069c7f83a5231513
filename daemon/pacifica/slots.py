"""Hand-off points between the feed's reader and its consumers.

The reader must never wait on a consumer: a slow consumer would stall the socket, delay pongs
and get the connection killed (anchors.md R2). So prices and position sets are conflated
(only the newest value survives), and event streams are bounded queues that drop their oldest
entry when full and count it, so the consumer knows to resync over REST.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Generic, TypeVar

from daemon.domain import Price

T = TypeVar("T")


class Closed(Exception):
    """The feed stopped; no more values will come."""


class Latest(Generic[T]):
    """A single conflating slot: readers see the newest value, never a backlog.

    Any number of readers may follow it; each remembers the version it saw last.
    """

    def __init__(self) -> None:
        self._value: T | None = None
        self._version = 0
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def value(self) -> T | None:
        return self._value

    @property
    def version(self) -> int:
        return self._version

    def put(self, value: T) -> None:
        self._value = value
        self._version += 1
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        # Waiters hold the old event; a fresh one makes the next wait block again.
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    async def next(self, after: int) -> tuple[int, T]:
        """The newest (version, value) with version > `after`; raises Closed when closed."""
        while self._version <= after or self._value is None:
            if self._closed:
                raise Closed
            await self._changed.wait()
        return self._version, self._value

    async def updates(self) -> AsyncIterator[T]:
        seen = 0
        while True:
            try:
                seen, value = await self.next(seen)
            except Closed:
                return
            yield value


class PriceBoard:
    """The latest price per symbol, plus the set of symbols changed since a reader last looked.

    `updates()` is meant for one consumer (the engine loop); `latest` can be read by anyone.
    """

    def __init__(self) -> None:
        self.latest: dict[str, Price] = {}
        self._pending: dict[str, Price] = {}
        self._changed = asyncio.Event()
        self._closed = False

    def put(self, prices: Iterable[Price]) -> None:
        for price in prices:
            self.latest[price.symbol] = price
            self._pending[price.symbol] = price
        if self._pending:
            self._changed.set()

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    def take(self) -> dict[str, Price]:
        """The prices changed since the previous take, newest value per symbol."""
        batch, self._pending = self._pending, {}
        self._changed.clear()
        return batch

    async def updates(self) -> AsyncIterator[dict[str, Price]]:
        while True:
            if not self._pending:
                if self._closed:
                    return
                await self._changed.wait()
            batch = self.take()
            if batch:
                yield batch


class EventQueue(Generic[T]):
    """A bounded FIFO for events that must not be conflated (order updates).

    When full it drops the oldest event and counts it in `dropped`: losing events means the
    consumer's view is incomplete and it must resync, which beats blocking the socket.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 1:
            raise ValueError("an event queue holds at least one event")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            if self._closed:
                raise Closed
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            try:
                yield await self.get()
            except Closed:
                return
