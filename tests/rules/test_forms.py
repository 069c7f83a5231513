"""Every YAML form compiles to the exact spec value (Decimal and timedelta, never float)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from daemon.domain import Side, TriggerPriceType
from daemon.rules import RuleErrors, check_sources, load_text
from daemon.rules.spec import (
    Abs,
    Anchor,
    Breakeven,
    Components,
    LadderLeg,
    Match,
    OrderKind,
    OrderStyle,
    Pct,
    Rule,
    SideFilter,
    StopLoss,
    TakeProfit,
    TimeExit,
    Trailing,
    UpdatePolicy,
    Window,
)

D = Decimal


def one_rule(body: str, *, match: str = "{symbol: BTC, side: long}", defaults: str = "") -> Rule:
    text = f"version: 1\n{defaults}rules:\n  - name: r\n    match: {match}\n{body}"
    book = load_text(text, "t.yaml")
    assert len(book.rules) == 1
    return book.rules[0]


@pytest.mark.parametrize(("written", "expected"), [
    ("stop_loss: 3%", StopLoss(Pct(D("0.03")))),
    ("stop_loss: 1.25%", StopLoss(Pct(D("0.0125")))),
    ("stop_loss: {distance: 3%}", StopLoss(Pct(D("0.03")))),
    ("stop_loss: {distance: 3%, from: entry}", StopLoss(Pct(D("0.03")), Anchor.ENTRY)),
    ("stop_loss: {distance: 3%, from: current}", StopLoss(Pct(D("0.03")), Anchor.FIRST_SEEN)),
    ("stop_loss: {distance: 3%, from: first_seen}",
     StopLoss(Pct(D("0.03")), Anchor.FIRST_SEEN)),
    ("stop_loss: {distance: 500}", StopLoss(Abs(D(500)))),
    ("stop_loss: {distance: 0.0001}", StopLoss(Abs(D("0.0001")))),
    ("stop_loss: {price: 58000}", StopLoss(price=D(58000))),
    ("stop_loss: {price: 58000.5}", StopLoss(price=D("58000.5"))),
    ("stop_loss: {price: 58_000.10}", StopLoss(price=D("58000.1"))),
    ("stop_loss: {price: \"0.000012345\"}", StopLoss(price=D("0.000012345"))),
])
def test_stop_loss_forms(written: str, expected: StopLoss) -> None:
    assert one_rule(f"    {written}\n").components.stop_loss == expected


def test_floats_keep_their_decimal_text() -> None:
    # 0.1 + 0.2 in binary is not 0.3: the loader must never have seen a float.
    rule = one_rule("    stop_loss: {price: 0.30000000000000004}\n")
    price = rule.components.stop_loss.price if rule.components.stop_loss else None
    assert price == D("0.30000000000000004")
    assert isinstance(price, Decimal)


@pytest.mark.parametrize(("written", "expected"), [
    ("trailing: 2%", Trailing(Pct(D("0.02")))),
    ("trailing: {distance: 2%}", Trailing(Pct(D("0.02")))),
    ("trailing: {distance: 2%, activate_at: 1.5%}", Trailing(Pct(D("0.02")), Pct(D("0.015")))),
    ("trailing: {distance: 150, activate_at: 300}", Trailing(Abs(D(150)), Abs(D(300)))),
])
def test_trailing_forms(written: str, expected: Trailing) -> None:
    assert one_rule(f"    {written}\n").components.trailing == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("breakeven: 2%", Breakeven(Pct(D("0.02")))),
    ("breakeven: {at: 2%, offset: 0.1%}", Breakeven(Pct(D("0.02")), Pct(D("0.001")))),
    ("breakeven: {at: 400, offset: 5}", Breakeven(Abs(D(400)), Abs(D(5)))),
    ("breakeven: {at: 2%, offset: 0}", Breakeven(Pct(D("0.02")), Abs(D(0)))),
])
def test_breakeven_forms(written: str, expected: Breakeven) -> None:
    rule = one_rule(f"    stop_loss: 3%\n    {written}\n")
    assert rule.components.breakeven == expected


def test_ladder_fractions_as_percentages_and_numbers() -> None:
    rule = one_rule("    ladder:\n      - {fraction: 25%, distance: 2%}\n"
                    "      - {fraction: 0.75, distance: 300}\n")
    assert rule.components.ladder == (LadderLeg(D("0.25"), Pct(D("0.02"))),
                                      LadderLeg(D("0.75"), Abs(D(300))))


@pytest.mark.parametrize(("written", "expected"), [
    ("take_profit: 8%", TakeProfit(Pct(D("0.08")))),
    ("take_profit: 250%", TakeProfit(Pct(D("2.5")))),
    ("take_profit: {distance: 1200}", TakeProfit(Abs(D(1200)))),
    ("take_profit: {price: 70000.25}", TakeProfit(price=D("70000.25"))),
])
def test_take_profit_forms(written: str, expected: TakeProfit) -> None:
    assert one_rule(f"    stop_loss: 3%\n    {written}\n").components.take_profit == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("time_exit: 48h", timedelta(hours=48)),
    ("time_exit: {after: 2d}", timedelta(days=2)),
    ("time_exit: 1d12h", timedelta(hours=36)),
    ("time_exit: 90m", timedelta(minutes=90)),
    ("time_exit: 1w", timedelta(weeks=1)),
    ("time_exit: 30s", timedelta(seconds=30)),
])
def test_time_exit_forms(written: str, expected: timedelta) -> None:
    rule = one_rule(f"    stop_loss: 3%\n    {written}\n")
    assert rule.components.time_exit == TimeExit(expected)


@pytest.mark.parametrize(("written", "expected"), [
    ("", OrderStyle()),
    ("order: market", OrderStyle()),
    ("order: {type: market}", OrderStyle()),
    ("order: {limit_offset: 0.5%}", OrderStyle(OrderKind.LIMIT, Pct(D("0.005")))),
    ("order: {type: limit, limit_offset: 25}", OrderStyle(OrderKind.LIMIT, Abs(D(25)))),
])
def test_order_forms(written: str, expected: OrderStyle) -> None:
    assert one_rule(f"    stop_loss: 3%\n    {written}\n").order == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("", TriggerPriceType.MARK),
    ("trigger: mark", TriggerPriceType.MARK),
    ("trigger: mid", TriggerPriceType.MID),
    ("trigger: last", TriggerPriceType.LAST),
])
def test_trigger_forms(written: str, expected: TriggerPriceType) -> None:
    assert one_rule(f"    stop_loss: 3%\n    {written}\n").trigger is expected


@pytest.mark.parametrize(("written", "expected"), [
    ("", Match(("BTC",))),
    ("{symbol: BTC}", Match(("BTC",))),
    ("{symbol: [SOL, BTC, SOL]}", Match(("BTC", "SOL"))),
    ("{symbol: \"*\"}", Match(None)),
    ("{symbol: kBONK, side: short}", Match(("kBONK",), SideFilter.SHORT)),
    ("{symbol: ETH, side: any, min_notional: 2500.50}",
     Match(("ETH",), SideFilter.ANY, D("2500.5"))),
])
def test_match_forms(written: str, expected: Match) -> None:
    assert one_rule("    stop_loss: 3%\n", match=written or "{symbol: BTC}").match == expected


def test_window_compiles_with_its_overrides_only() -> None:
    rule = one_rule("    stop_loss: 3%\n    windows:\n"
                    "      - {name: weekend, cron: \"0  20 * * FRI\", timezone: Europe/Berlin,\n"
                    "         duration: 52h, stop_loss: 1.5%, time_exit: 4h}\n"
                    "      - {name: nights, cron: \"0 22 * * MON-THU\", duration: 9h30m,\n"
                    "         trailing: 1%}\n")
    assert rule.windows == (
        Window("weekend", "0 20 * * FRI", "Europe/Berlin", timedelta(hours=52),
               Components(stop_loss=StopLoss(Pct(D("0.015"))),
                          time_exit=TimeExit(timedelta(hours=4)))),
        Window("nights", "0 22 * * MON-THU", "UTC", timedelta(hours=9, minutes=30),
               Components(trailing=Trailing(Pct(D("0.01"))))),
    )


def test_defaults_are_inherited_overridden_and_dropped() -> None:
    defaults = ("defaults:\n  stop_loss: 5%\n  trailing: 3%\n  trigger: mid\n"
                "  order: {limit_offset: 1%}\n  update: {min_move: 0.5%, min_interval: 30s}\n"
                "  windows: [{name: w, cron: \"0 0 * * SAT\", duration: 2d, stop_loss: 1%}]\n")
    text = (f"version: 1\n{defaults}rules:\n"
            "  - name: inherits\n    match: {symbol: BTC}\n"
            "  - name: overrides\n    match: {symbol: ETH}\n    stop_loss: 2%\n"
            "    trailing: false\n    trigger: last\n    order: market\n"
            "    update: {min_interval: 1m}\n    windows: []\n")
    inherits, overrides = load_text(text, "t.yaml").rules
    assert inherits.components == Components(stop_loss=StopLoss(Pct(D("0.05"))),
                                             trailing=Trailing(Pct(D("0.03"))))
    assert inherits.trigger is TriggerPriceType.MID
    assert inherits.order == OrderStyle(OrderKind.LIMIT, Pct(D("0.01")))
    assert inherits.update == UpdatePolicy(Pct(D("0.005")), timedelta(seconds=30))
    assert [w.name for w in inherits.windows] == ["w"]
    assert overrides.components == Components(stop_loss=StopLoss(Pct(D("0.02"))))
    assert overrides.trigger is TriggerPriceType.LAST
    assert overrides.order == OrderStyle()
    # `update` merges key by key: min_move from the defaults, min_interval from the rule.
    assert overrides.update == UpdatePolicy(Pct(D("0.005")), timedelta(minutes=1))
    assert overrides.windows == ()


def test_defaults_belong_to_their_own_file() -> None:
    from daemon.rules import check_sources

    result = check_sources([
        ("a.yaml", "version: 1\ndefaults: {stop_loss: 5%}\nrules:\n"
                   "  - {name: a, match: {symbol: BTC}}\n"),
        ("b.yaml", "version: 1\nrules:\n  - {name: b, match: {symbol: ETH}, trailing: 2%}\n"),
    ])
    assert result.book is not None
    a, b = result.book.rules
    assert a.components.stop_loss == StopLoss(Pct(D("0.05")))
    assert b.components.stop_loss is None


def test_update_defaults_come_from_the_spec() -> None:
    assert one_rule("    stop_loss: 3%\n").update == UpdatePolicy()


def test_yaml_anchors_and_merge_keys_share_settings() -> None:
    text = ("version: 1\nrules:\n"
            "  - &base {name: a, match: {symbol: BTC}, stop_loss: 3%, trailing: 2%}\n"
            "  - <<: *base\n    name: b\n    match: {symbol: ETH}\n")
    a, b = load_text(text, "t.yaml").rules
    assert a.components == b.components
    assert b.name == "b"


def test_source_points_at_the_rule() -> None:
    rule = one_rule("    stop_loss: 3%\n")
    assert rule.source is not None
    assert (rule.source.file, rule.source.line, rule.source.column) == ("t.yaml", 3, 5)


def test_equal_spellings_give_equal_fingerprints() -> None:
    a = one_rule("    stop_loss: 3%\n    trailing: {distance: 150}\n")
    b = one_rule("    stop_loss: 3.0%\n    trailing: {distance: 150.00}\n")
    assert a.fingerprint == b.fingerprint
    c = one_rule("    stop_loss: 3.1%\n    trailing: {distance: 150}\n")
    assert a.fingerprint != c.fingerprint


def test_more_specific_rules_win_and_nested_notional_is_allowed() -> None:
    text = ("version: 1\nrules:\n"
            "  - {name: all, match: {symbol: \"*\"}, stop_loss: 5%}\n"
            "  - {name: longs, match: {symbol: \"*\", side: long}, stop_loss: 4%}\n"
            "  - {name: btc, match: {symbol: BTC}, stop_loss: 3%}\n"
            "  - {name: btc-big, match: {symbol: BTC, min_notional: 10000}, stop_loss: 2%}\n"
            "  - {name: btc-long, match: {symbol: BTC, side: long}, stop_loss: 1%}\n")
    book = load_text(text, "t.yaml")

    def chosen(symbol: str, side: Side, notional: str) -> str | None:
        rule = book.select(symbol, side, D(notional))
        return rule.name if rule else None

    assert chosen("ETH", Side.ASK, "10") == "all"
    assert chosen("ETH", Side.BID, "10") == "longs"
    assert chosen("BTC", Side.ASK, "10") == "btc"
    assert chosen("BTC", Side.ASK, "20000") == "btc-big"
    assert chosen("BTC", Side.BID, "20000") == "btc-long"


def test_load_text_raises_rule_errors_with_every_problem() -> None:
    with pytest.raises(RuleErrors) as caught:
        load_text("version: 1\nrules:\n  - {name: a, match: {symbol: BTC}, stop_loss: 300%,"
                  " trailing: {distance: 2%, activate: 1%}}\n", "x.yaml")
    assert [str(p) for p in caught.value.errors] == [
        "x.yaml:3:48: rules[0].stop_loss: distance `300%` must be below 100%",
        "x.yaml:3:79: rules[0].trailing.activate: unknown key `activate`; did you mean "
        "`activate_at`?",
    ]
    assert "x.yaml:3:48" in str(caught.value)


@pytest.mark.parametrize(("written", "warned"), [
    ("{at: 100, offset: 2%}", True),  # 2% of a 100000 entry is beyond the +100 that latches
    ("{at: 2%, offset: 50}", True),
    ("{at: 2%, offset: 0.1%}", False),
    ("{at: 2%}", False),  # offset 0 cannot pass any threshold
])
def test_breakeven_in_mixed_units_warns_that_offset_may_pass_at(written: str,
                                                                 warned: bool) -> None:
    text = ("version: 1\nrules:\n  - name: r\n    match: {symbol: BTC}\n"
            f"    stop_loss: 3%\n    breakeven: {written}\n")
    result = check_sources([("b.yaml", text)])
    assert not [p for p in result.problems if p.is_error]
    warnings = [p for p in result.problems if not p.is_error]
    assert bool(warnings) is warned
    for problem in warnings:
        assert (problem.line, problem.path) == (6, "rules[0].breakeven")
        assert "closed at market" in problem.message
