"""The simulated exchange: accounts, orders, fills and stop triggers, with no I/O and no clock.

Every operation takes `now` (ms). Refusals raise `ExchangeError` with Pacifica's texts;
everything that changed is collected in `outbox` for the shell to stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from daemon.domain import Market, Side, TriggerPriceType
from daemon.sim import ledger
from daemon.sim.config import DedupeScope, SimConfig, TpslMode
from daemon.sim.errors import ExchangeError, business
from daemon.sim.markets import SimMarket, by_symbol
from daemon.sim.matching import (
    LEG_LABELS,
    leg_type,
    limit_crosses,
    refuse_if_fires,
    stop_fires,
)
from daemon.sim.orderlog import OrderLog
from daemon.sim.requests import (
    CancelAllRequest,
    CancelRequest,
    EditRequest,
    Leg,
    OrderRequest,
    StopRequest,
    TpslRequest,
)
from daemon.sim.state import (
    POSITION_LEG_TYPES,
    ZERO,
    Account,
    Fill,
    Outbox,
    Quote,
    SimOrder,
    Status,
)

# Every fill here is an ordinary trade, a fired stop or take-profit included: the trade-history
# docs list only normal, market_liquidation, backstop_liquidation and settlement, and
# pacifica-sdk's enum refuses anything else (issue 11 item 6).
FILL_CAUSE = "normal"


class Exchange:
    def __init__(self, config: SimConfig, now: int) -> None:
        self.config = config
        self.sim_markets: dict[str, SimMarket] = by_symbol(config.markets)
        self.markets: dict[str, Market] = {s: m.market for s, m in self.sim_markets.items()}
        self.quotes: dict[str, Quote] = {
            s: Quote(s, m.price, m.price, m.price, m.price, m.price, m.funding_rate,
                     m.next_funding_rate, now)
            for s, m in self.sim_markets.items()
        }
        self.accounts: dict[str, Account] = {}
        self.log = OrderLog()
        self.orders = self.log.orders
        self.history = self.log.history
        self.fills = self.log.fills
        self.volume: dict[str, Decimal] = dict.fromkeys(self.markets, ZERO)

    # -- sequence, accounts ------------------------------------------------------------------

    @property
    def last_order_id(self) -> int:
        return self.log.last_order_id

    @property
    def outbox(self) -> Outbox:
        return self.log.outbox

    def account(self, address: str, now: int) -> Account:
        found = self.accounts.get(address)
        if found is None:
            found = Account(address, self.config.collateral, now, now)
            self.accounts[address] = found
            self.outbox.accounts.add(address)
        return found

    def fund(self, address: str, collateral: Decimal, now: int) -> Account:
        account = self.account(address, now)
        account.balance = collateral
        account.updated_at = now
        self.outbox.accounts.add(address)
        return account

    def bind_agent(self, address: str, agent: str, now: int) -> None:
        self.account(address, now).agents.add(agent)

    def is_bound(self, address: str, agent: str) -> bool:
        found = self.accounts.get(address)
        return found is not None and agent in found.agents

    def set_leverage(self, address: str, symbol: str, leverage: int, now: int) -> None:
        market = self.markets[symbol]
        if not 1 <= leverage <= market.max_leverage:
            raise business(f"Invalid leverage {leverage}: must be between 1 and "
                           f"{market.max_leverage}", code=11)
        account = self.account(address, now)
        account.leverage[symbol] = leverage
        self._setting_changed(account, symbol, now)

    def set_margin_mode(self, address: str, symbol: str, isolated: bool, now: int) -> None:
        """Recorded and shown in /account/settings; the margin arithmetic stays cross
        (isolated margin is not simulated)."""
        account = self.account(address, now)
        account.isolated[symbol] = isolated
        self._setting_changed(account, symbol, now)

    def _setting_changed(self, account: Account, symbol: str, now: int) -> None:
        created = account.setting_times.get(symbol, (now, now))[0]
        account.setting_times[symbol] = (created, now)
        self.outbox.accounts.add(account.address)

    def open_orders(self, address: str) -> list[SimOrder]:
        return self.log.open_orders(address)

    # -- placing -----------------------------------------------------------------------------

    def place_order(self, address: str, request: OrderRequest, now: int, *,
                    edit: bool = False) -> SimOrder:
        """A market order (request.price None) or a limit order, with optional TP/SL legs.

        `edit`: the re-created half of an edit, which keeps the cancelled order's cloid.
        """
        account = self.account(address, now)
        market = self.markets[request.symbol]
        mark = self.quotes[request.symbol].mark
        if not edit:
            self._check_cloid(account, request.client_order_id)
        legs = [(kind, leg) for kind, leg in (("take_profit", request.take_profit),
                                              ("stop_loss", request.stop_loss)) if leg]
        self._check_leg_cloids(account, legs, request.client_order_id)
        for kind, leg in legs:
            self._check_direction(leg_type(kind, leg), request.side.opposite, leg,
                                  LEG_LABELS[kind], request.symbol)
        position = account.positions.get(request.symbol)
        if request.reduce_only and position is None:
            raise business(f"No position to reduce on {request.symbol}", code=23)
        if request.reduce_only and position is not None and position.side is request.side:
            raise business(f"Reduce only order would increase the {request.symbol} position",
                           code=21)
        price = request.price if request.price is not None else mark
        notional = request.amount * price
        if notional < market.min_order_size:
            raise business(f"Order amount too low: {notional:f} USD is below the minimum order "
                           f"size of {market.min_order_size:f} USD", code=7)
        if notional > market.max_order_size:
            raise business(f"Order amount too high: {notional:f} USD is above the maximum order "
                           f"size of {market.max_order_size:f} USD", code=8)
        if not request.reduce_only:
            self._check_margin(account, market, request.side, request.amount, price)
        order_type = "market" if request.price is None else "limit"
        order = self._new_order(account, request.symbol, request.side, order_type,
                                request.client_order_id, request.price or ZERO, None,
                                request.amount, request.reduce_only, None, request.tif, now)
        order.pending_legs = tuple(legs)
        account.cloids.update(leg.client_order_id for _, leg in legs if leg.client_order_id)
        crosses = request.price is None or limit_crosses(request.side, price, mark)
        if request.price is not None and crosses and request.tif in ("ALO", "TOB"):
            self._close(order, Status.REJECTED, "post_only_rejected", "post_only_rejected",
                        "a post-only order would have crossed", now)
        elif crosses:
            event = "fulfill_market" if request.price is None else "fulfill_limit"
            self._execute(order, mark, event, now, maker=False)
        elif request.tif == "IOC":
            self._close(order, Status.CANCELLED, "cancel", "cancel",
                        "an IOC order found nothing to fill against", now)
        else:
            self._event(order, "make", ZERO, now)
        return order

    def place_stop(self, address: str, request: StopRequest, now: int) -> SimOrder:
        account = self.account(address, now)
        leg = request.leg
        self._check_cloid(account, leg.client_order_id)
        order_type = "stop_market" if leg.limit_price is None else "stop_limit"
        self._check_direction(order_type, request.side, leg, "Stop price", request.symbol)
        order = self._new_order(account, request.symbol, request.side, order_type,
                                leg.client_order_id, leg.limit_price or ZERO, leg.stop_price,
                                leg.amount, request.reduce_only, leg.trigger, None, now)
        self._event(order, "stop_created", ZERO, now)
        return order

    def set_tpsl(self, address: str, request: TpslRequest, now: int) -> list[SimOrder]:
        """Legs are placed in turn and never rolled back: a failing SL leaves the TP (§2.3).

        Under `--tpsl replace` every TP/SL leg the position had goes first, whichever legs
        the request names, and stays gone should a new leg then be refused as it is placed. A
        request refused before that (no position, wrong side, a client_order_id already used:
        a retry of one that landed) changes nothing.
        """
        account = self.account(address, now)
        position = account.positions.get(request.symbol)
        if position is None:
            raise ExchangeError(400, "Position not found", 13)
        if request.side is position.side:
            raise business("Invalid stop order side", code=17)
        legs = [(kind, leg) for kind, leg in (("take_profit", request.take_profit),
                                              ("stop_loss", request.stop_loss)) if leg]
        self._check_leg_cloids(account, legs)
        if self.config.tpsl is TpslMode.REPLACE:
            self._drop_position_legs(account, request.symbol, now,
                                     "replaced by a new /positions/tpsl")
        return [self._place_leg(account, request.symbol, request.side, kind, leg, None, now)
                for kind, leg in legs]

    def _check_leg_cloids(self, account: Account, legs: Sequence[tuple[str, Leg]],
                          taken: str | None = None) -> None:
        """Each leg's client_order_id is new to the account and to its own request (whose
        order takes `taken`)."""
        seen = {taken}
        for _, leg in legs:
            self._check_cloid(account, leg.client_order_id)
            if leg.client_order_id is not None and leg.client_order_id in seen:
                raise business(f"Duplicate client order id: {leg.client_order_id}", code=36)
            seen.add(leg.client_order_id)

    def _place_leg(self, account: Account, symbol: str, side: Side, kind: str, leg: Leg,
                   parent: int | None, now: int) -> SimOrder:
        order_type = leg_type(kind, leg)
        self._check_direction(order_type, side, leg, LEG_LABELS[kind], symbol)
        order = self._new_order(account, symbol, side, order_type, leg.client_order_id,
                                leg.limit_price or ZERO, leg.stop_price, leg.amount, True,
                                leg.trigger, None, now)
        order.stop_parent_order_id = parent
        self._event(order, "stop_created", ZERO, now)
        return order

    def _check_cloid(self, account: Account, cloid: str | None) -> None:
        if cloid is None:
            return
        if self.config.dedupe_scope is DedupeScope.EVER:
            taken = cloid in account.cloids
        else:
            taken = any(o.client_order_id == cloid for o in self.open_orders(account.address))
        if taken:
            raise business(f"Duplicate client order id: {cloid}", code=36)

    def _check_direction(self, order_type: str, side: Side, leg: Leg, label: str,
                         symbol: str) -> None:
        refuse_if_fires(order_type, side, leg.stop_price, leg.trigger, label,
                        self.quotes[symbol])

    def _check_margin(self, account: Account, market: Market, side: Side, amount: Decimal,
                      price: Decimal) -> None:
        ledger.require_margin(account, market, self.markets, self.quotes, side, amount, price)

    def _new_order(self, account: Account, symbol: str, side: Side, order_type: str,
                   cloid: str | None, price: Decimal, stop_price: Decimal | None,
                   amount: Decimal | None, reduce_only: bool, trigger: TriggerPriceType | None,
                   tif: str | None, now: int) -> SimOrder:
        order = SimOrder(
            order_id=self.log.next_id(), account=account.address, symbol=symbol, side=side,
            order_type=order_type, client_order_id=cloid, price=price, stop_price=stop_price,
            amount=amount, reduce_only=reduce_only, trigger=trigger, tif=tif, created_at=now,
            updated_at=now,
        )
        if cloid is not None:
            account.cloids.add(cloid)
        self.log.add(order)
        return order

    # -- cancelling --------------------------------------------------------------------------

    def cancel(self, address: str, request: CancelRequest, now: int, *, stop: bool) -> SimOrder:
        """/orders/cancel (stop False) or /orders/stop/cancel (stop True)."""
        account = self.account(address, now)
        # Code 5 with this text is what Hummingbot saw live (pacifica-api.md §5).
        not_found = ExchangeError(400, "Stop order not found", 6) if stop else business(
            "Failed to cancel order", code=5)
        if request.client_order_id is not None:
            if request.client_order_id not in account.cloids:
                raise business(f"Unused client order id: {request.client_order_id}", code=37)
            matches = [o for o in self.open_orders(address)
                       if o.client_order_id == request.client_order_id]
        else:
            found = self.orders.get(request.order_id or 0)
            matches = [found] if found is not None and found.account == address else []
        target = next((o for o in matches if o.symbol == request.symbol and o.is_open
                       and o.is_resting_stop is stop), None)
        if target is None:
            raise not_found
        self._close(target, Status.CANCELLED, "cancel", "cancel", "cancelled by the account",
                    now)
        return target

    def edit(self, address: str, request: EditRequest, now: int) -> SimOrder:
        """Pacifica's edit: cancel, then re-create as ALO keeping side, reduce_only and cloid."""
        old = self.cancel(address, CancelRequest(request.symbol, request.order_id,
                                                 request.client_order_id), now, stop=False)
        return self.place_order(address, OrderRequest(
            request.symbol, old.side, request.amount, request.price, "ALO", old.reduce_only,
            old.client_order_id, None, None), now, edit=True)

    def cancel_all(self, address: str, request: CancelAllRequest, now: int) -> int:
        """Stops and TP/SL go too, unless exclude_reduce_only keeps reduce-only orders (§2.2)."""
        count = 0
        for order in self.open_orders(address):
            if request.symbol is not None and order.symbol != request.symbol:
                continue
            if request.exclude_reduce_only and order.reduce_only:
                continue
            self._close(order, Status.CANCELLED, "cancel", "cancel", "cancel_all", now)
            count += 1
        return count

    # -- prices and triggers -----------------------------------------------------------------

    def set_quotes(self, updates: Mapping[str, Mapping[str, Decimal]], now: int) -> None:
        """Apply new prices (keys mark, mid, oracle, last), then fire stops and fill limits."""
        for symbol, fields in updates.items():
            quote = self.quotes[symbol]
            for name, value in fields.items():
                setattr(quote, name, value)
            quote.timestamp = now
        self.outbox.prices = True
        self.evaluate(updates.keys(), now)

    def restamp_quotes(self, now: int) -> None:
        """The prices were read again and had not moved: only their time is new (as live
        Pacifica's oracle, republished every 3 s, carries a fresh `timestamp`)."""
        for quote in self.quotes.values():
            quote.timestamp = now

    def evaluate(self, symbols: Iterable[str], now: int) -> None:
        wanted = set(symbols)
        for order in self.log.all_open():
            if order.symbol not in wanted or not order.is_open:
                continue
            quote = self.quotes[order.symbol]
            if order.is_resting_stop:
                assert order.stop_price is not None
                price = quote.by_trigger(order.trigger)
                if stop_fires(order.order_type, order.side, order.stop_price, price):
                    self._trigger(order, now)
            elif order.price and limit_crosses(order.side, order.price, quote.mark):
                self._execute(order, order.price, "fulfill_limit", now, maker=True)

    def _trigger(self, order: SimOrder, now: int) -> None:
        order.triggered_at = now
        self._event(order, "stop_triggered", ZERO, now)
        # It fills at the price that fired it: through a gap, that is worse than stop_price.
        price = self.quotes[order.symbol].by_trigger(order.trigger)
        if not order.price:
            self._execute(order, price, "fulfill_market", now, maker=False)
        elif limit_crosses(order.side, order.price, price):
            self._execute(order, price, "fulfill_limit", now, maker=False)
        else:
            # Gapped through its limit: from now on it IS a plain limit order, shown as one
            # (order_type "limit", no stop_price) so a client cancels it where it can be
            # cancelled, /orders/cancel (choice 14).
            order.order_type = "limit"

    def _execute(self, order: SimOrder, price: Decimal, event: str, now: int, *,
                 maker: bool) -> None:
        """Fill a resting order, checking what Pacifica checks only at this point (§2.1)."""
        account = self.accounts[order.account]
        market = self.markets[order.symbol]
        position = account.positions.get(order.symbol)
        amount = order.remaining(position)
        problem = None
        if order.reduce_only:
            if position is None or position.side is order.side:
                problem = "no position to reduce"
            else:
                amount = min(amount, position.amount)
        if problem is None and amount <= 0:
            problem = "order amount is zero"
        if problem is None and amount * price < market.min_order_size:
            problem = (f"order value {amount * price:f} USD is below the minimum order size "
                       f"{market.min_order_size:f} USD")
        if problem is None and not order.reduce_only:
            try:
                self._check_margin(account, market, order.side, amount, price)
            except ExchangeError as refused:
                problem = refused.message
        if problem is not None:
            self._close(order, Status.REJECTED, "force_cancel", "force_cancel", problem, now)
            return
        self._fill(order, amount, price, event, now, maker=maker)

    def _fill(self, order: SimOrder, amount: Decimal, price: Decimal, event: str, now: int, *,
              maker: bool) -> None:
        """Every fill here is whole: what a reduce-only clamp left over is cancelled."""
        account = self.accounts[order.account]
        fee_rate = self.config.maker_fee if maker else self.config.taker_fee
        if order.amount is None:
            # A whole-position leg takes its size when it fires.
            order.amount = order.initial_amount(account.positions.get(order.symbol))
        parts = ledger.apply_fill(account, order.symbol, order.side, amount, price, fee_rate, now)
        for part in parts:
            fill = Fill(self.log.next_id(), account.address, order.order_id, order.client_order_id,
                        order.symbol, part.kind, part.amount, price, part.entry_price, part.fee,
                        part.pnl, FILL_CAUSE, maker, now)
            self.log.add_fill(fill)
        order.filled += amount
        order.fill_value += amount * price
        order.cancelled = order.amount - order.filled
        order.status = Status.FILLED
        order.last_fill_price = price
        self.quotes[order.symbol].last = price
        self.volume[order.symbol] += amount * price
        self.outbox.accounts.add(account.address)
        self._event(order, event, price, now)
        for kind, leg in order.pending_legs:
            try:
                self._place_leg(account, order.symbol, order.side.opposite, kind, leg,
                                order.order_id, now)
            except ExchangeError:
                continue  # the price moved past the leg while its parent rested
        order.pending_legs = ()
        if order.symbol not in account.positions:
            self._drop_position_legs(account, order.symbol, now, "position closed")

    def _drop_position_legs(self, account: Account, symbol: str, now: int, why: str) -> None:
        """Cancel a position's TP/SL legs (when it closes, or a tpsl replaces them); plain
        stops and limit orders stay."""
        for other in self.open_orders(account.address):
            if other.symbol == symbol and other.order_type in POSITION_LEG_TYPES:
                self._close(other, Status.CANCELLED, "cancel", "cancel", why, now)

    def _close(self, order: SimOrder, status: Status, reason: str, event: str, detail: str,
               now: int) -> None:
        position = self.accounts[order.account].positions.get(order.symbol)
        order.cancelled = max(order.initial_amount(position) - order.filled, ZERO)
        order.status = status
        order.reason = reason
        order.detail = detail
        self._event(order, event, ZERO, now)

    def _event(self, order: SimOrder, event: str, price: Decimal, now: int) -> None:
        position = self.accounts[order.account].positions.get(order.symbol)
        self.log.record(order, event, order.initial_amount(position), price, now)

    def drain(self) -> Outbox:
        return self.log.drain()
