"""Properties of the loader over generated inputs: exact numbers, and no ambiguous book."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Side
from daemon.rules import check_sources, load_text
from daemon.rules.spec import Abs, Pct, StopLoss, TimeExit

RULE = "version: 1\nrules:\n  - name: r\n    match: {symbol: BTC, side: long}\n"

percent_texts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99.9999"),
                            places=4).map(lambda d: format(d, "f"))
price_texts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("99999999"),
                          places=8).map(lambda d: format(d, "f"))


@given(percent_texts)
def test_percentages_are_exact_ratios(text: str) -> None:
    rule = load_text(RULE + f"    stop_loss: {text}%\n").rules[0]
    assert rule.components.stop_loss == StopLoss(Pct(Decimal(text) / 100))


@given(price_texts)
def test_prices_are_the_decimal_written(text: str) -> None:
    rule = load_text(RULE + f"    stop_loss: {{price: {text}}}\n").rules[0]
    assert rule.components.stop_loss == StopLoss(price=Decimal(text))


@given(price_texts)
def test_absolute_distances_are_the_decimal_written(text: str) -> None:
    rule = load_text(RULE + f"    trailing: {{distance: {text}}}\n").rules[0]
    assert rule.components.trailing is not None
    assert rule.components.trailing.distance == Abs(Decimal(text))


@given(st.integers(0, 9), st.integers(0, 300), st.integers(0, 48), st.integers(0, 600),
       st.integers(0, 6000))
def test_durations_add_up(weeks: int, days: int, hours: int, minutes: int, seconds: int) -> None:
    parts = [(weeks, "w"), (days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    expected = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    body = f"    stop_loss: 3%\n    time_exit: {text or '0s'}\n"
    result = check_sources([("t.yaml", RULE + body)])
    if timedelta(0) < expected <= timedelta(days=366):
        assert result.book is not None, result.problems
        assert result.book.rules[0].components.time_exit == TimeExit(expected)
    else:
        assert result.book is None


SYMBOLS = ["BTC", "ETH", "SOL"]
matches = st.fixed_dictionaries({
    "symbol": st.one_of(st.just('"*"'), st.sampled_from(SYMBOLS),
                        st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True)
                        .map(lambda xs: "[" + ", ".join(xs) + "]")),
    "side": st.sampled_from(["long", "short", "any"]),
    "min_notional": st.sampled_from([None, 100, 1000]),
})


@given(st.lists(matches, min_size=1, max_size=6))
def test_a_loaded_book_never_has_two_equally_specific_matches(chosen: list[dict[str, object]]
                                                              ) -> None:
    lines = ["version: 1", "rules:"]
    for i, match in enumerate(chosen):
        notional = f", min_notional: {match['min_notional']}" if match["min_notional"] else ""
        lines.append(f"  - {{name: r{i}, match: {{symbol: {match['symbol']}, "
                     f"side: {match['side']}{notional}}}, stop_loss: 3%}}")
    result = check_sources([("t.yaml", "\n".join(lines) + "\n")])
    if result.book is None:
        assert any("as specific as" in p.message for p in result.errors), result.problems
        return
    for symbol in [*SYMBOLS, "DOGE"]:
        for side in Side:
            for notional in ("1", "500", "5000"):
                result.book.select(symbol, side, Decimal(notional))  # raises if ambiguous
