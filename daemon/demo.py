"""`make demo`: a protective stop doing its job, end to end, on the embedded simulator.

Everything goes through the real client layer over loopback HTTP and WebSocket: a signed
market order opens a long BTC position, a reduce-only stop-market below the mark protects it,
the simulator's control endpoint moves the price through the stop, the `account_order_updates`
stream reports the trigger and `/positions` comes back empty. Exits 0 on its own within a few
seconds, or non-zero naming the step that failed.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import httpx
import structlog
from nacl.signing import SigningKey

from daemon import ids
from daemon.domain import Market, Position, Side, TriggerPriceType
from daemon.pacifica.errors import ExchangeError
from daemon.pacifica.feed import Channel, Feed, FeedConfig, FeedFatal
from daemon.pacifica.models import OrderEvent, OrderUpdate
from daemon.pacifica.payloads import OrderValidationError
from daemon.pacifica.rest import PacificaRest
from daemon.pacifica.retry import RetryPolicy
from daemon.pacifica.signing import Keypair

SYMBOL = "BTC"
START_PRICE = Decimal(60_000)
SIZE = Decimal("0.05")
STOP_DISTANCE = Decimal("0.02")  # 2 % below entry
STEP_TIMEOUT = 5.0  # seconds any one step may take before the demo gives up

_T = TypeVar("_T")


class DemoFailed(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


async def step(name: str, action: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await asyncio.wait_for(action(), timeout=STEP_TIMEOUT)
    except TimeoutError:
        raise DemoFailed(f"{name}: nothing happened within {STEP_TIMEOUT:.0f} s") from None
    except (ExchangeError, OrderValidationError, FeedFatal, httpx.HTTPError) as exc:
        raise DemoFailed(f"{name}: {exc}") from None


async def run() -> None:
    from daemon.sim import SimConfig, run_simulator  # the sim extra is only needed here

    async with run_simulator(SimConfig(prices="static")) as sim:
        say(f"Simulator up at {sim.base_url} (WebSocket {sim.ws_url}), prices static.")
        await step("set the starting price", lambda: sim.set_prices({SYMBOL: START_PRICE}))
        keypair = Keypair(SigningKey.generate())
        account = keypair.public_key
        say(f"Throwaway account {account} (its key lives in memory only).")
        retry = RetryPolicy(attempts=3, max_rate_limit_wait=1.0)
        async with PacificaRest(sim.base_url, keypair=keypair, retry=retry) as rest, \
                Feed(sim.ws_url, account=account, config=FeedConfig(ack_timeout=3.0),
                     channels=[Channel.PRICES, Channel.POSITIONS,
                               Channel.ORDER_UPDATES]) as feed:
            await step("subscribe to the streams", feed.wait_ready)
            say("Streams subscribed: prices, account_positions, account_order_updates.")
            market = (await step("read markets", rest.markets)).get(SYMBOL)
            if market is None:
                raise DemoFailed(f"read markets: the simulator lists no {SYMBOL} market")
            position = await open_long(rest, market)
            stop_price, cloid = await protect(rest, market, position)
            await trigger(sim.root_url, feed, market, stop_price, cloid)
            await confirm_flat(rest)
    say()
    say("Demo complete: the stop closed the position it protected.")


async def open_long(rest: PacificaRest, market: Market) -> Position:
    say()
    say(f"1. Open a long: signed market order, bid {SIZE} {SYMBOL} at ~{START_PRICE}.")
    placed = await step("open the position", lambda: rest.create_market_order(
        market, Side.BID, amount=SIZE, slippage_percent=Decimal("0.5"),
        client_order_id=str(uuid.uuid4())))
    positions = await step("read positions", rest.positions)
    longs = [p for p in positions if p.symbol == market.symbol and p.side is Side.BID]
    if len(longs) != 1:
        raise DemoFailed(f"open the position: expected one long {SYMBOL}, saw {positions}")
    position = longs[0]
    say(f"   order {placed.order_id} filled: long {position.amount} {SYMBOL} "
        f"at entry {position.entry_price} (side bid = long).")
    return position


async def protect(rest: PacificaRest, market: Market, position: Position,
                  ) -> tuple[Decimal, str]:
    stop_price = market.price_down(position.entry_price * (1 - STOP_DISTANCE))
    account = rest.account or ""
    cloid = ids.make(account, position.key, "sl", 1)
    say()
    say(f"2. Protect it: reduce-only stop-market, side ask, stop {stop_price} "
        f"({STOP_DISTANCE:.0%} below entry), trigger mark_price.")
    say(f"   client_order_id {cloid} (derived from account, position and leg: a retry "
        "re-sends the same id).")
    placed = await step("place the stop", lambda: rest.create_stop_order(
        market, Side.ASK, stop_price=stop_price, amount=position.amount,
        client_order_id=cloid, trigger_price_type=TriggerPriceType.MARK))
    orders = await step("read open orders", rest.open_orders)
    resting = [o for o in orders if o.client_order_id == cloid]
    if not resting:
        raise DemoFailed(f"place the stop: GET /orders does not show {cloid}")
    stop = resting[0]
    say(f"   GET /orders: order {stop.order_id} {stop.order_type} {stop.side} "
        f"{stop.initial_amount} {stop.symbol} stop {stop.stop_price} "
        f"reduce_only={stop.reduce_only} ({placed.status} as order {placed.order_id}).")
    return stop_price, cloid


async def trigger(root_url: str, feed: Feed, market: Market, stop_price: Decimal,
                  cloid: str) -> None:
    crash = stop_price - 20 * market.tick_size
    say()
    say(f"3. The market falls: POST /sim/prices {{{market.symbol!r}: {str(crash)!r}}}.")

    async def move() -> None:
        async with httpx.AsyncClient() as control:
            answer = await control.post(f"{root_url}/sim/prices",
                                        json={market.symbol: format(crash, "f")})
            answer.raise_for_status()

    await step("move the price", move)

    async def triggered() -> OrderUpdate:
        async for update in feed.order_updates:
            if update.client_order_id == cloid and update.event is OrderEvent.STOP_TRIGGERED:
                return update
        raise DemoFailed("watch the stop: the stream ended")

    update = await step("see the stop trigger on account_order_updates", triggered)
    mark = feed.prices.latest.get(market.symbol)
    seen = f" (stream mark {mark.mark})" if mark is not None else ""
    say(f"   account_order_updates: order {update.order_id} {update.event} "
        f"status {update.status}, stop {update.stop_price}{seen}.")


async def confirm_flat(rest: PacificaRest) -> None:
    async def flat() -> list[Position]:
        # The close settles right after the trigger event; give it a few polls.
        for _ in range(50):
            positions = await rest.positions()
            if not positions:
                return positions
            await asyncio.sleep(0.05)
        return positions

    positions = await step("confirm the position closed", flat)
    if positions:
        raise DemoFailed(f"confirm the position closed: still open: {positions}")
    say()
    say("4. GET /positions: [] (no open position left).")


def main() -> int:
    # Quiet the client's own logs: the narrative is the output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    try:
        asyncio.run(run())
    except DemoFailed as failure:
        print(f"demo failed: {failure}", file=sys.stderr)
        return 1
    except ImportError as missing:
        print(f"demo failed: the simulator needs the 'sim' extra ({missing})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
