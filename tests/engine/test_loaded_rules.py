"""Whatever rule file `validate` accepts, the engine evaluates and plans without raising.

The two halves were built apart: rules written as YAML go through the real loader, at the
limits it allows (tiny and huge numbers, 18 decimals), and meet long and short positions at
extreme prices on coarse and fine markets.
"""

from __future__ import annotations

from decimal import Decimal

from engine_support import ACCOUNT, NOW, D, apply, market, position, price
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.domain import OpenOrder, Side
from daemon.engine import LegKind, Memory, evaluate, plan
from daemon.rules import check_sources

COMPONENTS = {
    "stop_loss": ["0.000001%", "3%", "99.999999%", "{distance: 999999999999}",
                  "{distance: 0.000000000000000001}", "{distance: 3%, from: current}",
                  "{price: 0.000000000000000001}", "{price: 999999999999}"],
    "trailing": ["0.000001%", "{distance: 2%, activate_at: 0.5%}",
                 "{distance: 999999999999, activate_at: 999999999999}"],
    "breakeven": ["0.000001%", "{at: 2%, offset: 1.999999%}", "{at: 999999999999, offset: 5}"],
    "ladder": ["[{fraction: 0.000000000000000001, distance: 1%}, {fraction: 50%, distance: 2%}]",
               "[{fraction: 1, distance: 999999999999}]"],
    "take_profit": ["0.000001%", "99%", "{distance: 999999999999}", "{price: 999999999999}",
                    "{price: 0.000000000000000001}"],
    "time_exit": ["1s", "366d"],
}
EXTRAS = {
    "order": ["market", "{limit_offset: 99.999999%}", "{limit_offset: 999999999999}"],
    "trigger": ["mark", "mid"],
    "update": ["{min_move: 0, min_interval: 0s}", "{min_move: 99%, min_interval: 366d}"],
    "windows": ["[{name: w, cron: '* * * * *', duration: 2m, stop_loss: 0.000001%, "
                "take_profit: 99%}]"],
}
NUMBERS = ["0.000001", "0.00002", "1", "3000", "100000", "999999999999"]


@st.composite
def rule_files(draw: st.DrawFn) -> tuple[str, Side]:
    side = draw(st.sampled_from([Side.BID, Side.ASK]))
    chosen = draw(st.dictionaries(st.sampled_from(sorted(COMPONENTS)), st.none(), min_size=1))
    extra = draw(st.dictionaries(st.sampled_from(sorted(EXTRAS)), st.none()))
    lines = ["version: 1", "rules:", "  - name: r",
             f"    match: {{symbol: XYZ, side: {'long' if side is Side.BID else 'short'}}}"]
    for key in chosen:
        lines.append(f"    {key}: {draw(st.sampled_from(COMPONENTS[key]))}")
    for key in extra:
        lines.append(f"    {key}: {draw(st.sampled_from(EXTRAS[key]))}")
    return "\n".join(lines) + "\n", side


@settings(suppress_health_check=[HealthCheck.filter_too_much], max_examples=150)
@given(rule_files(), st.sampled_from(NUMBERS), st.lists(st.sampled_from(NUMBERS), min_size=1,
                                                        max_size=4),
       st.sampled_from(["0.000001", "0.01", "10"]), st.sampled_from(["0.000001", "1"]),
       st.sampled_from([None, "0.000001", "999999999999"]))
def test_the_engine_takes_every_book_the_loader_accepts(
        case: tuple[str, Side], entry: str, path: list[str], tick: str, lot: str,
        liq: str | None) -> None:
    text, side = case
    result = check_sources([("r.yaml", text)])
    if result.book is None:
        return
    markets = {"XYZ": market("XYZ", tick, lot, min_order="0")}
    pos = position(side, "12.5", entry, "XYZ", liq=liq)
    memory, live = Memory(), list[OpenOrder]()
    for mark in path:
        ev = evaluate(result.book, [pos], {"XYZ": price(mark, "XYZ")}, markets, memory, NOW,
                      account=ACCOUNT, live=live)
        for leg in ev.desired:
            assert D(0) < leg.amount <= pos.amount
            if leg.kind is LegKind.STOP:
                assert leg.stop_price is not None
                assert leg.stop_price > 0
                protective = leg.stop_price < Decimal(mark) if side is Side.BID else (
                    leg.stop_price > Decimal(mark))
                assert protective, (text, mark, leg)
        p = plan(ev.desired, live, account=ACCOUNT, positions=[pos.key], memory=ev.memory,
                 now=NOW)
        memory, live = p.memory, apply(p.actions, live)
