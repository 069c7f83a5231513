"""The stream client against the simulator: real frames, real drops, real resubscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from pacifica_support import Harness, keypair

from daemon.domain import OpenOrder, Side
from daemon.pacifica.feed import Channel, Feed, FeedConfig, PositionsFrame
from daemon.pacifica.models import OrderEvent, OrderStatus, OrderUpdate

MAIN = keypair(1)
CLOID = "0c0ffee0-0000-4000-8000-000000000001"


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def feed(harness: Harness) -> AsyncIterator[Feed]:
    config = FeedConfig(ack_timeout=2.0, backoff_base=0.01, backoff_cap=0.05)
    async with Feed(harness.sim.ws_url, account=MAIN.public_key, config=config,
                    sleep=no_wait) as stream:
        await asyncio.wait_for(stream.wait_ready(), 5)
        yield stream


async def price_reaching(feed: Feed, symbol: str, mark: Decimal) -> None:
    async for batch in feed.prices.updates():
        if symbol in batch and batch[symbol].mark == mark:
            return


async def positions_where(feed: Feed, count: int) -> PositionsFrame:
    async for frame in feed.positions.updates():
        if len(frame.positions) == count:
            return frame
    raise AssertionError("feed stopped")


async def orders_with(feed: Feed, cloid: str) -> OpenOrder:
    async for orders in feed.orders:
        for order in orders:
            if order.client_order_id == cloid:
                return order
    raise AssertionError("feed stopped")


async def update_for(feed: Feed, event: OrderEvent) -> OrderUpdate:
    async for update in feed.order_updates:
        if update.client_order_id == CLOID and update.event is event:
            return update
    raise AssertionError("feed stopped")


async def test_prices_positions_and_order_updates_flow(harness: Harness, feed: Feed) -> None:
    await harness.sim.set_prices({"BTC": Decimal("61000.5")})
    await asyncio.wait_for(price_reaching(feed, "BTC", Decimal("61000.5")), 5)
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await rest.create_market_order(btc, Side.BID, amount=Decimal("0.2"),
                                       slippage_percent=Decimal(1))
        frame = await asyncio.wait_for(positions_where(feed, 1), 5)
        (position,) = frame.positions
        (rest_position,) = await rest.positions()
        assert position.side is Side.BID
        assert position.amount == Decimal("0.2")
        assert position.entry_price == rest_position.entry_price
        stop = btc.price_down(Decimal(59_000))
        await rest.create_stop_order(btc, Side.ASK, stop_price=stop, amount=Decimal("0.2"),
                                     client_order_id=CLOID)
        created = await asyncio.wait_for(update_for(feed, OrderEvent.STOP_CREATED), 5)
        assert created.stop_price == stop
        assert created.reduce_only
        resting = await asyncio.wait_for(orders_with(feed, CLOID), 5)
        assert resting.stop_price == stop
        assert resting.side is Side.ASK
        assert resting.order_id == created.order_id
    await harness.sim.set_prices({"BTC": Decimal(58_000)})
    fired = await asyncio.wait_for(update_for(feed, OrderEvent.STOP_TRIGGERED), 5)
    assert fired.order_id == created.order_id
    await asyncio.wait_for(positions_where(feed, 0), 5)
    for channel in (Channel.PRICES, Channel.POSITIONS, Channel.ORDER_UPDATES):
        age = feed.age(channel)
        assert age is not None
        assert age >= 0
    assert fired.status in set(OrderStatus)
    assert feed.skipped_frames == 0  # every frame the simulator sent parsed


async def test_dropped_socket_reconnects_resubscribes_and_data_flows_again(
        harness: Harness, feed: Feed) -> None:
    assert feed.epoch == 1
    await harness.faults(drop_ws=True)
    assert await asyncio.wait_for(feed.wait_ready(after_epoch=1), 5) == 2
    await harness.sim.set_prices({"BTC": Decimal(62_000)})
    await asyncio.wait_for(price_reaching(feed, "BTC", Decimal(62_000)), 5)
    async with harness.client(MAIN) as rest:
        btc = (await rest.markets())["BTC"]
        await rest.create_market_order(btc, Side.BID, amount=Decimal("0.1"),
                                       slippage_percent=Decimal(1))
    await asyncio.wait_for(positions_where(feed, 1), 5)  # account channels resubscribed too
    assert harness.sim.state()["ws_connections"] == 1


async def test_stalled_socket_is_replaced(harness: Harness) -> None:
    config = FeedConfig(ping_interval=0.1, pong_timeout=0.3, ack_timeout=0.5,
                        backoff_base=0.01, backoff_cap=0.05)
    async with Feed(harness.sim.ws_url, config=config, sleep=no_wait) as feed:
        await asyncio.wait_for(feed.wait_ready(), 5)
        # Half-open: the socket stays up, nothing comes back, not even pongs.
        await harness.faults(stall_ws=True)
        await asyncio.sleep(0.8)
        await harness.faults(stall_ws=False)
        assert await asyncio.wait_for(feed.wait_ready(after_epoch=1), 5) >= 2
        await harness.sim.set_prices({"BTC": Decimal(63_000)})
        await asyncio.wait_for(price_reaching(feed, "BTC", Decimal(63_000)), 5)


async def test_server_lifetime_close_and_idle_limit_are_survived() -> None:
    """The exchange closes every socket after 24 h and idle ones after 60 s; here after
    0.3 s and 0.5 s. JSON pings keep the idle limit away; lifetime closes cost a reconnect."""
    from daemon.sim import SimConfig, run_simulator

    config = SimConfig(ws_max_lifetime=0.3, ws_idle_timeout=0.5)
    feed_config = FeedConfig(ping_interval=0.1, ack_timeout=2.0, backoff_base=0.01,
                             backoff_cap=0.05)
    async with run_simulator(config) as sim, \
            Feed(sim.ws_url, config=feed_config, sleep=no_wait) as feed:
        assert await asyncio.wait_for(feed.wait_ready(after_epoch=2), 5) >= 3
        await sim.set_prices({"SOL": Decimal("150.25")})
        await asyncio.wait_for(price_reaching(feed, "SOL", Decimal("150.25")), 5)


async def test_pings_keep_an_idle_socket_open() -> None:
    from daemon.sim import SimConfig, run_simulator

    feed_config = FeedConfig(ping_interval=0.05, ack_timeout=2.0)
    async with run_simulator(SimConfig(ws_idle_timeout=0.5)) as sim, \
            Feed(sim.ws_url, config=feed_config, sleep=no_wait) as feed:
        await asyncio.wait_for(feed.wait_ready(), 5)
        await asyncio.sleep(1.2)  # over two idle limits without a single price frame
        assert feed.epoch == 1
        assert feed.connected
