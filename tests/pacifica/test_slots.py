"""Hand-off slots: conflation keeps the newest value, event queues never grow without bound."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Price
from daemon.pacifica.slots import EventQueue, Latest, PriceBoard


def price(symbol: str, mark: int) -> Price:
    return Price(symbol, Decimal(mark), Decimal(mark), Decimal(mark), timestamp=mark)


@given(st.lists(st.tuples(st.sampled_from(["BTC", "ETH", "SOL"]), st.integers(1, 10**6)),
                min_size=1, max_size=200))
def test_price_board_keeps_only_the_newest_per_symbol(ticks: list[tuple[str, int]]) -> None:
    board = PriceBoard()
    for symbol, mark in ticks:
        board.put([price(symbol, mark)])
    newest = {symbol: mark for symbol, mark in ticks}
    batch = board.take()
    assert {s: int(p.mark) for s, p in batch.items()} == newest
    assert board.take() == {}
    assert {s: int(p.mark) for s, p in board.latest.items()} == newest


async def test_price_board_updates_end_after_close_and_drain() -> None:
    board = PriceBoard()
    board.put([price("BTC", 1), price("BTC", 2)])
    board.close()
    batches = [batch async for batch in board.updates()]
    assert len(batches) == 1
    assert batches[0]["BTC"].mark == Decimal(2)


async def test_latest_skips_to_the_newest_value() -> None:
    slot = Latest[int]()
    for n in range(5):
        slot.put(n)
    version, value = await slot.next(0)
    assert (version, value) == (5, 4)
    slot.put(9)
    slot.close()
    assert [v async for v in slot.updates()] == [9]


@given(maxsize=st.integers(1, 20), count=st.integers(0, 60))
def test_event_queue_drops_oldest_and_counts(maxsize: int, count: int) -> None:
    queue = EventQueue[int](maxsize)
    for n in range(count):
        queue.put(n)
    assert len(queue) == min(count, maxsize)
    assert queue.dropped == max(0, count - maxsize)


async def test_event_queue_keeps_order_then_ends() -> None:
    queue = EventQueue[int](3)
    for n in range(5):
        queue.put(n)
    queue.close()
    assert [n async for n in queue] == [2, 3, 4]
