"""The worked examples of docs/rules.md, recomputed: the doc's numbers are the engine's.

Each example is defined here (inputs as spec values, plus the words the doc shows for them);
the test finds the row with the same number in the doc's table, checks the doc describes the
same inputs, and checks its Result column equals what `evaluate` returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from engine_support import ACCOUNT, MARKETS, NOW, D, book, market, position, price, rule

from daemon.domain import Side
from daemon.engine import EngineConfig, Evaluation, LegKind, Memory, evaluate
from daemon.rules.spec import (
    Abs,
    Anchor,
    Breakeven,
    Components,
    LadderLeg,
    OrderKind,
    OrderStyle,
    Pct,
    Rule,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
    Window,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
HEADING = "## Worked examples"
MARKETS_WITH_SOL = {**MARKETS, "SOL": market("SOL", "0.01", "0.1", min_order="10"),
                    "BONK": market("BONK", "0.000001", "1000", min_order="10"),
                    "HYPE": market("HYPE", "0.001", "0.01", min_order="10")}

SL3 = StopLoss(distance=Pct(D("0.03")))
STOP_LIMIT = OrderStyle(OrderKind.LIMIT, Pct(D("0.005")))
WEEKDAY_WINDOW = Window("wednesday", "0 8 * * WED", "UTC", timedelta(hours=8),
                        Components(stop_loss=StopLoss(distance=Pct(D("0.015")))))
WINDOW_WORDS = ("stop_loss: 3%, windows: [{name: wednesday, cron: \"0 8 * * WED\", "
                "duration: 8h, stop_loss: 1.5%}]")
LONG_BTC = ("BTC long 1 @ 100000", Side.BID, "1", "100000", "BTC")
SHORT_ETH = ("ETH short 2 @ 3000", Side.ASK, "2", "3000", "ETH")
LONG_HYPE = ("HYPE long 100 @ 40", Side.BID, "100", "40", "HYPE")
SHORT_HYPE = ("HYPE short 100 @ 40", Side.ASK, "100", "40", "HYPE")
RUNGS = (LadderLeg(D("0.25"), Pct(D("0.02"))), LadderLeg(D("0.25"), Pct(D("0.03"))),
         LadderLeg(D("0.5"), Pct(D("0.045"))))
RUNG_WORDS = ("ladder: [{fraction: 25%, distance: 2%}, {fraction: 25%, distance: 3%}, "
              "{fraction: 50%, distance: 4.5%}]")
TWO_RUNG_WORDS = "ladder: [{fraction: 25%, distance: 2%}, {fraction: 25%, distance: 3%}]"


@dataclass(frozen=True)
class Example:
    number: str
    what: tuple[str, Side, str, str, str]  # words, side, amount, entry, symbol
    rule_words: str
    rule: Rule
    prices: tuple[str, ...]  # trigger prices seen, in order; the last is current
    result: str  # what the doc's Result column must say
    liq: str | None = None


def _ex(number: str, what: tuple[str, Side, str, str, str], rule_words: str, r: Rule,
        prices: tuple[str, ...], result: str, liq: str | None = None) -> Example:
    return Example(number, what, rule_words, r, prices, result, liq)


EXAMPLES = [
    _ex("1", LONG_BTC, "stop_loss: 3%", rule(stop_loss=SL3), ("100500",),
        "sl ask 1 @ 97000"),
    _ex("2", SHORT_ETH, "stop_loss: 3%", rule(stop_loss=SL3), ("2990",), "sl bid 2 @ 3090"),
    _ex("3", LONG_BTC, "stop_loss: {price: 95000.5}",
        rule(stop_loss=StopLoss(price=D("95000.5"))), ("100000",), "sl ask 1 @ 95001"),
    _ex("4", SHORT_ETH, "stop_loss: {price: 3100.04}",
        rule(stop_loss=StopLoss(price=D("3100.04"))), ("3000",), "sl bid 2 @ 3100"),
    _ex("5", LONG_BTC, "stop_loss: {distance: 2%, from: first_seen}",
        rule(stop_loss=StopLoss(distance=Pct(D("0.02")), anchor=Anchor.FIRST_SEEN)),
        ("101000", "100000"), "sl ask 1 @ 98980"),
    _ex("6", SHORT_ETH, "stop_loss: {distance: 2%, from: first_seen}",
        rule(stop_loss=StopLoss(distance=Pct(D("0.02")), anchor=Anchor.FIRST_SEEN)),
        ("2950", "3000"), "sl bid 2 @ 3009"),
    _ex("7", ("BTC long 1 @ 100003", Side.BID, "1", "100003", "BTC"), "stop_loss: 1.5%",
        rule(stop_loss=StopLoss(distance=Pct(D("0.015")))), ("100003",), "sl ask 1 @ 98503"),
    _ex("8", ("ETH short 2 @ 3000.3", Side.ASK, "2", "3000.3", "ETH"), "stop_loss: 1.5%",
        rule(stop_loss=StopLoss(distance=Pct(D("0.015")))), ("3000.3",), "sl bid 2 @ 3045.3"),
    _ex("9", LONG_BTC, "trailing: {distance: 2%}",
        rule(trailing=Trailing(Pct(D("0.02")))), ("100000", "104000", "103000"),
        "sl ask 1 @ 101920"),
    _ex("10", SHORT_ETH, "trailing: {distance: 2%}",
        rule(trailing=Trailing(Pct(D("0.02")))), ("3000", "2900", "2950"), "sl bid 2 @ 2958"),
    _ex("11", LONG_BTC, "stop_loss: 3%, trailing: {distance: 2%, activate_at: 1.5%}",
        rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02")), Pct(D("0.015")))),
        ("101000",), "sl ask 1 @ 97000"),
    _ex("12", LONG_BTC, "stop_loss: 3%, trailing: {distance: 2%, activate_at: 1.5%}",
        rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02")), Pct(D("0.015")))),
        ("101000", "101500", "100000"), "sl ask 1 @ 99470"),
    _ex("13", SHORT_ETH, "stop_loss: 3%, trailing: {distance: 2%, activate_at: 1.5%}",
        rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02")), Pct(D("0.015")))),
        ("2960",), "sl bid 2 @ 3090"),
    _ex("14", SHORT_ETH, "stop_loss: 3%, trailing: {distance: 2%, activate_at: 1.5%}",
        rule(stop_loss=SL3, trailing=Trailing(Pct(D("0.02")), Pct(D("0.015")))),
        ("2960", "2955", "2990"), "sl bid 2 @ 3014.1"),
    _ex("15", LONG_BTC, "stop_loss: 3%, breakeven: {at: 2%, offset: 0.1%}",
        rule(stop_loss=SL3, breakeven=Breakeven(Pct(D("0.02")), Pct(D("0.001")))),
        ("102000", "100500"), "sl ask 1 @ 100100"),
    _ex("16", SHORT_ETH, "stop_loss: 3%, breakeven: {at: 2%, offset: 0.1%}",
        rule(stop_loss=SL3, breakeven=Breakeven(Pct(D("0.02")), Pct(D("0.001")))),
        ("2940", "2990"), "sl bid 2 @ 2997"),
    _ex("17", LONG_BTC, "stop_loss: 3%, breakeven: {at: 2%, offset: 0.1%}",
        rule(stop_loss=SL3, breakeven=Breakeven(Pct(D("0.02")), Pct(D("0.001")))),
        ("101900",), "sl ask 1 @ 97000"),
    _ex("18", LONG_BTC, "stop_loss: 3%, ladder: [{fraction: 0.5, distance: 1%}, "
        "{fraction: 0.25, distance: 2%}]",
        rule(stop_loss=SL3, ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),
                                    LadderLeg(D("0.25"), Pct(D("0.02"))))),
        ("100000",), "ladder.0 ask 0.5 @ 99000; ladder.1 ask 0.25 @ 98000; sl ask 0.25 @ 97000"),
    _ex("19", SHORT_ETH, "stop_loss: 3%, ladder: [{fraction: 0.5, distance: 1%}, "
        "{fraction: 0.25, distance: 2%}]",
        rule(stop_loss=SL3, ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),
                                    LadderLeg(D("0.25"), Pct(D("0.02"))))),
        ("3000",), "ladder.0 bid 1 @ 3030; ladder.1 bid 0.5 @ 3060; sl bid 0.5 @ 3090"),
    _ex("20", LONG_BTC, "stop_loss: 3%, ladder: [{fraction: 0.5, distance: 1%}]",
        rule(stop_loss=SL3, ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),)),
        ("98500",), "sl ask 1 @ 97000"),
    _ex("21", LONG_BTC, "stop_loss: 3%, take_profit: 8%",
        rule(stop_loss=SL3, take_profit=TakeProfit(distance=Pct(D("0.08")))),
        ("100000",), "sl ask 1 @ 97000; tp ask 1 @ 108000"),
    _ex("22", SHORT_ETH, "stop_loss: 3%, take_profit: {price: 2760.06}",
        rule(stop_loss=SL3, take_profit=TakeProfit(price=D("2760.06"))),
        ("3000",), "sl bid 2 @ 3090; tp bid 2 @ 2760.1"),
    _ex("23", LONG_BTC, "stop_loss: 3%, take_profit: 8%",
        rule(stop_loss=SL3, take_profit=TakeProfit(distance=Pct(D("0.08")))),
        ("108000",), "sl ask 1 @ 97000; exit ask 1 market (take_profit)"),
    _ex("24", LONG_BTC, WINDOW_WORDS,
        rule(stop_loss=SL3, windows=(WEEKDAY_WINDOW,)), ("100000",), "sl ask 1 @ 98500"),
    _ex("25", SHORT_ETH, WINDOW_WORDS,
        rule(stop_loss=SL3, windows=(WEEKDAY_WINDOW,)), ("3000",), "sl bid 2 @ 3045"),
    _ex("26", LONG_BTC, "stop_loss: 3%, time_exit: 30m (opened 1h ago)",
        rule(stop_loss=SL3, time_exit=TimeExit(timedelta(minutes=30))), ("100000",),
        "sl ask 1 @ 97000; exit ask 1 market (time_exit)"),
    _ex("27", SHORT_ETH, "stop_loss: 3%, time_exit: 2h (opened 1h ago)",
        rule(stop_loss=SL3, time_exit=TimeExit(timedelta(hours=2))), ("3000",),
        "sl bid 2 @ 3090"),
    _ex("28", LONG_BTC, "stop_loss: 3%, order: {limit_offset: 0.5%}",
        rule(stop_loss=SL3, order=STOP_LIMIT), ("100000",), "sl ask 1 @ 97000 limit 96515"),
    _ex("29", SHORT_ETH, "stop_loss: 3%, order: {limit_offset: 0.5%}",
        rule(stop_loss=SL3, order=STOP_LIMIT), ("3000",), "sl bid 2 @ 3090 limit 3105.5"),
    _ex("30", LONG_BTC, "stop_loss: 5%; liquidation at 96000",
        rule(stop_loss=StopLoss(distance=Pct(D("0.05")))), ("100000",), "sl ask 1 @ 96400",
        liq="96000"),
    _ex("31", SHORT_ETH, "stop_loss: 10%; liquidation at 3200",
        rule(stop_loss=StopLoss(distance=Pct(D("0.1")))), ("3000",), "sl bid 2 @ 3180",
        liq="3200"),
    _ex("32", LONG_BTC, "stop_loss: 3%", rule(stop_loss=SL3), ("96000",),
        "exit ask 1 market (crossed:stop_loss)"),
    _ex("33", SHORT_ETH, "stop_loss: 3%", rule(stop_loss=SL3), ("3100",),
        "exit bid 2 market (crossed:stop_loss)"),
    _ex("34", ("SOL long 0.1 @ 50", Side.BID, "0.1", "50", "SOL"), "stop_loss: 3%",
        rule(stop_loss=SL3), ("50",), "none (sl worth 4.85 USD, below the 10 minimum)"),
    _ex("35", LONG_BTC, "stop_loss: {distance: 1500}",
        rule(stop_loss=StopLoss(distance=Abs(D("1500")))), ("100000",), "sl ask 1 @ 98500"),
    # A tick wider than the distance: toward the price would be the price itself.
    _ex("36", ("BONK long 1000000 @ 0.00002", Side.BID, "1000000", "0.00002", "BONK"),
        "stop_loss: 3%", rule(stop_loss=SL3), ("0.00002",), "sl ask 1000000 @ 0.000019"),
    _ex("37", ("BONK short 1000000 @ 0.00002", Side.ASK, "1000000", "0.00002", "BONK"),
        "stop_loss: 3%", rule(stop_loss=SL3), ("0.00002",), "sl bid 1000000 @ 0.000021"),
    # Ladders: rungs are shares of the size they were armed on, and fire once.
    _ex("38", LONG_HYPE, RUNG_WORDS, rule(ladder=RUNGS), ("40",),
        "ladder.0 ask 25 @ 39.2; ladder.1 ask 25 @ 38.8; ladder.2 ask 50 @ 38.2"),
    _ex("39", SHORT_HYPE, RUNG_WORDS, rule(ladder=RUNGS), ("40",),
        "ladder.0 bid 25 @ 40.8; ladder.1 bid 25 @ 41.2; ladder.2 bid 50 @ 41.8"),
    _ex("40", LONG_HYPE, TWO_RUNG_WORDS, rule(ladder=RUNGS[:2]), ("40",),
        "ladder.0 ask 25 @ 39.2; ladder.1 ask 25 @ 38.8; sl ask 50 @ 38.8"),
    _ex("41", LONG_HYPE, RUNG_WORDS, rule(ladder=RUNGS), ("40", "39.1"),
        "ladder.1 ask 25 @ 38.8; ladder.2 ask 50 @ 38.2; sl ask 25 @ 38.2"),
    _ex("42", LONG_HYPE, RUNG_WORDS, rule(ladder=RUNGS), ("40", "39.1", "39.5"),
        "ladder.1 ask 25 @ 38.8; ladder.2 ask 50 @ 38.2; sl ask 25 @ 38.2"),
    _ex("43", LONG_HYPE, "stop_loss: 3%, ladder: [{fraction: 0.5, distance: 1%}]",
        rule(stop_loss=SL3, ladder=(LadderLeg(D("0.5"), Pct(D("0.01"))),)),
        ("40", "39.5", "40"), "sl ask 100 @ 38.8"),
]


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def render(evaluation: Evaluation) -> str:
    parts = []
    for leg in evaluation.desired:
        if leg.kind is LegKind.CLOSE:
            parts.append(f"{leg.leg} {leg.side.value} {_n(leg.amount)} market ({leg.component})")
            continue
        assert leg.stop_price is not None
        text = f"{leg.leg} {leg.side.value} {_n(leg.amount)} @ {_n(leg.stop_price)}"
        if leg.limit_price is not None:
            text += f" limit {_n(leg.limit_price)}"
        parts.append(text)
    if parts:
        return "; ".join(parts)
    why = [n.message for n in evaluation.notices]
    for message in why:
        found = re.search(r"(\w+) of [\d.]+ at [\d.]+ is worth ([\d.]+) USD, below the market "
                          r"minimum of ([\d.]+)", message)
        if found:
            name, worth, minimum = found.groups()
            return f"none ({name} worth {worth} USD, below the {minimum} minimum)"
    return "none"


def run(example: Example) -> Evaluation:
    _, side, amount, entry, symbol = example.what
    pos = position(side, amount, entry, symbol, liq=example.liq)
    memory = Memory()
    evaluation = None
    for step in example.prices:
        evaluation = evaluate(book(example.rule), [pos], {symbol: price(step, symbol)},
                              MARKETS_WITH_SOL, memory, NOW, account=ACCOUNT,
                              config=EngineConfig())
        memory = evaluation.memory
    assert evaluation is not None
    return evaluation


def doc_rows() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    assert HEADING in text, f"{DOC}: no {HEADING!r} section"
    section = text[text.index(HEADING):]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0].isdigit():
            rows[cells[0]] = [c.strip("`") for c in cells]
    return rows


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.number for e in EXAMPLES])
def test_doc_example_matches_engine(example: Example) -> None:
    rows = doc_rows()
    assert example.number in rows, f"docs/rules.md lacks worked example {example.number}"
    _, position_words, rule_words, prices_words, result_words = rows[example.number][:5]
    assert position_words == example.what[0]
    assert rule_words == example.rule_words
    assert prices_words == " → ".join(example.prices)
    computed = render(run(example))
    assert computed == example.result, "engine disagrees with the example"
    assert result_words == example.result, "docs/rules.md disagrees with the engine"


def test_every_doc_example_is_checked() -> None:
    assert set(doc_rows()) == {e.number for e in EXAMPLES}


def doc_table() -> str:
    """The table as the doc holds it (run this module as a script to print it)."""
    lines = ["| # | Position | Rule | Prices seen | Result |", "|---|---|---|---|---|"]
    for e in EXAMPLES:
        lines.append(f"| {e.number} | {e.what[0]} | `{e.rule_words}` | "
                     f"{' → '.join(e.prices)} | `{e.result}` |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(doc_table())
