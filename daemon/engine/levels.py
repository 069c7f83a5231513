"""Price arithmetic seen from one position's side, so every rule reads the same for long and short.

"Up" is the favourable direction: for a long, prices rise; for a short, they fall. A stop is
"tighter" the closer it sits to the price (higher for a long), a move "beyond" a level is a
move in the favourable direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

from daemon.domain import Market, Side
from daemon.rules.spec import Distance


@dataclass(frozen=True, slots=True)
class Orientation:
    long: bool

    @staticmethod
    def of(side: Side) -> Orientation:
        return LONG if side.is_long else SHORT

    def up(self, price: Decimal, distance: Decimal) -> Decimal:
        """`distance` in the favourable direction."""
        return price + distance if self.long else price - distance

    def down(self, price: Decimal, distance: Decimal) -> Decimal:
        return price - distance if self.long else price + distance

    def above(self, a: Decimal, b: Decimal) -> bool:
        """a is strictly more favourable than b."""
        return a > b if self.long else a < b

    def at_or_above(self, a: Decimal, b: Decimal) -> bool:
        return a >= b if self.long else a <= b

    def just_beyond(self, price: Decimal) -> Decimal:
        """The next decimal past `price` in the favourable direction, at 28 digits."""
        return price.next_plus(_CONTEXT) if self.long else price.next_minus(_CONTEXT)

    def just_short_of(self, price: Decimal) -> Decimal:
        """The next decimal before `price` in the adverse direction, at 28 digits."""
        return price.next_minus(_CONTEXT) if self.long else price.next_plus(_CONTEXT)

    def best(self, a: Decimal, b: Decimal) -> Decimal:
        """The more favourable price; for stops, the tighter one."""
        return max(a, b) if self.long else min(a, b)

    def worst(self, a: Decimal, b: Decimal) -> Decimal:
        return min(a, b) if self.long else max(a, b)

    def stop_crossed(self, stop: Decimal, price: Decimal) -> bool:
        """Has the price reached the stop (a long's ask stop fires at price <= stop)?"""
        return price <= stop if self.long else price >= stop

    def tighten_to_tick(self, market: Market, stop: Decimal) -> Decimal:
        """Round a stop to the tick toward the price: never looser than computed."""
        return market.price_up(stop) if self.long else market.price_down(stop)

    def loosen_to_tick(self, market: Market, stop: Decimal) -> Decimal:
        """Round a stop to the tick away from the price (only where toward would cross it)."""
        return market.price_down(stop) if self.long else market.price_up(stop)

    def toward_price_to_tick(self, market: Market, target: Decimal) -> Decimal:
        """Round a take-profit to the tick toward the price: reached no later than computed."""
        return market.price_down(target) if self.long else market.price_up(target)

    def beyond_to_tick(self, market: Market, target: Decimal) -> Decimal:
        """Round a take-profit to the tick away from the price (only where toward reaches it)."""
        return market.price_up(target) if self.long else market.price_down(target)

    def limit_for(self, market: Market, trigger: Decimal, offset: Distance) -> Decimal:
        """A closing limit price `offset` beyond `trigger` in the fill direction (down for the
        long's ask), rounded away from the trigger so the slippage cap is never narrower."""
        if self.long:
            # A price must stay positive: an offset wider than the stop caps at one tick.
            return max(market.price_down(trigger - offset.of(trigger)), market.tick_size)
        return market.price_up(trigger + offset.of(trigger))


_CONTEXT = Context(prec=28)
LONG = Orientation(long=True)
SHORT = Orientation(long=False)
