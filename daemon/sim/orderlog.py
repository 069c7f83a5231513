"""The exchange's memory of orders: ids, every event, the open set, and what changed lately.

Order ids and event numbers share one exchange-wide sequence (Pacifica's `last_order_id` /
`li`), so any two events can be ordered across endpoints and streams.
"""

from __future__ import annotations

from decimal import Decimal

from daemon.sim.state import Fill, OrderEvent, Outbox, SimOrder


class OrderLog:
    def __init__(self) -> None:
        self.orders: dict[int, SimOrder] = {}  # every order ever accepted
        self.events: list[OrderEvent] = []
        self.history: dict[int, list[OrderEvent]] = {}  # per order id, oldest first
        self.fills: list[Fill] = []
        self.outbox = Outbox()
        # Open orders by id, in id order (ids only grow), overall and per account: price
        # ticks and account reads touch only these, however long the log grows.
        self._open: dict[int, SimOrder] = {}
        self._open_by_account: dict[str, dict[int, SimOrder]] = {}
        self._seq = 0

    def next_id(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def last_order_id(self) -> int:
        return self._seq

    def add(self, order: SimOrder) -> None:
        self.orders[order.order_id] = order

    def open_orders(self, address: str) -> list[SimOrder]:
        return list(self._open_by_account.get(address, {}).values())

    def all_open(self) -> list[SimOrder]:
        return list(self._open.values())

    def record(self, order: SimOrder, event: str, amount: Decimal, price: Decimal,
               now: int) -> None:
        """Log an event of `order` (whose fields already changed) and re-file it."""
        order.updated_at = now
        order.last_event = event
        entry = OrderEvent(self.next_id(), order.account, order.order_id, event, order.status,
                           amount, order.filled, order.cancelled, price, order.average_price,
                           now)
        self.events.append(entry)
        self.history.setdefault(order.order_id, []).append(entry)
        mine = self._open_by_account.setdefault(order.account, {})
        if order.is_open:
            self._open[order.order_id] = mine[order.order_id] = order
        else:
            self._open.pop(order.order_id, None)
            mine.pop(order.order_id, None)
        self.outbox.events.append(entry)
        self.outbox.order_accounts.add(order.account)

    def add_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.outbox.fills.append(fill)

    def drain(self) -> Outbox:
        out, self.outbox = self.outbox, Outbox()
        return out
