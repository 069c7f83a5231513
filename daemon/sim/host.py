"""The simulator as its request handlers see it: a small protocol, so the handler modules
(REST, batch, WebSocket trading, controls) need not import the server that imports them.

`daemon.sim.server.Simulator` is the one implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from daemon.sim.candles import PriceTape
from daemon.sim.config import SimConfig
from daemon.sim.credits import CreditLedger
from daemon.sim.exchange import Exchange
from daemon.sim.faults import Faults
from daemon.sim.requests import RequestParser
from daemon.sim.ws import StreamHub

# A new mark (mid, oracle and last move with it), or some of mark/mid/oracle/last apart.
PriceUpdate = Decimal | Mapping[str, Decimal]


class SimHost(Protocol):
    config: SimConfig
    exchange: Exchange  # replaced by reset(): read it afresh, never keep it
    parser: RequestParser
    credits: CreditLedger
    tape: PriceTape
    faults: Faults
    hub: StreamHub

    def now_ms(self) -> int:
        """The server clock, injected skew included."""

    def flush(self) -> None:
        """Turn what the exchange changed into stream frames."""

    async def set_prices(self, prices: Mapping[str, PriceUpdate]) -> None: ...

    def fund(self, account: str, collateral: Decimal) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...
