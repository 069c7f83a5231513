"""Ladders on a model exchange (issue 9, defects 1 and 2): rungs are shares of the position
they were armed on, fire once, and never leave part of the position without a stop.

Each scenario drives one position price by price through `Venue` (engine_support): the
exchange fires our resting stops the price reaches, then the daemon evaluates and plans.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from engine_support import CREATED, D, Venue, book, market, rule

from daemon import ids
from daemon.domain import Position, Side
from daemon.rules import load_text
from daemon.rules.spec import LadderLeg, Pct, StopLoss

HYPE = {"HYPE": market("HYPE", "0.001", "0.01")}
SHIPPED = Path(__file__).resolve().parents[2] / "rules" / "ladder.yaml"
THREE_RUNGS = (LadderLeg(D("0.25"), Pct(D("0.02"))), LadderLeg(D("0.25"), Pct(D("0.03"))),
               LadderLeg(D("0.5"), Pct(D("0.045"))))
FALL = ["40", "39.5", "39.1", "38.9", "38.7", "38.5", "38.1", "35", "30", "20"]


def hype_long(amount: str, entry: str = "40") -> Position:
    return Position("HYPE", Side.BID, D(amount), D(entry), CREATED, CREATED)


def test_ladder_only_rule_keeps_every_unit_under_a_stop_as_its_rungs_fire() -> None:
    # HYPE long 100 @ 40, three rungs summing to 100% and nothing else: the rungs sell 25,
    # 25 and 50 at 39.2, 38.8 and 38.2, and no unit is ever without a stop.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("100"), HYPE)
    for mark in FALL:
        venue.step(mark)
    assert venue.bare == []
    assert venue.closed_at_market == []
    assert venue.position is None
    assert venue.sold == {"ladder.0": D(25), "ladder.1": D(25), "ladder.2": D(50)}


@pytest.mark.parametrize("amount", ["100", "60"])
def test_shipped_ladder_keeps_the_position_its_fills_shrink_under_min_notional(
        amount: str) -> None:
    # rules/ladder.yaml: hype-long-ladder takes longs worth 2000 USD or more, hype-small
    # (stop_loss 3%, at 38.8) the rest. 60 @ 40 is 2400 USD; after the first rung (15) it is
    # 1800: the position stays with its ladder rather than falling to hype-small, whose
    # stop is crossed at 38.7 and would close it at market above the last rung (38.2).
    venue = Venue(load_text(SHIPPED.read_text(), str(SHIPPED)), hype_long(amount), HYPE)
    for mark in FALL:
        venue.step(mark)
        assert venue.memory.positions == {} or all(
            m.rule == "hype-long-ladder" for m in venue.memory.positions.values())
    assert venue.bare == []
    assert venue.closed_at_market == []
    assert venue.position is None
    share = D(amount) / 4
    assert venue.sold == {"ladder.0": share, "ladder.1": share, "ladder.2": 2 * share}


def test_a_rung_fires_once_over_bounces() -> None:
    # With a stop_loss beside it, a 25% rung at 39.2 sold 76 of 100 over five swings
    # between 39.1 and 39.5: each bounce re-armed it on the smaller position.
    venue = Venue(book(rule("r", stop_loss=StopLoss(distance=Pct(D("0.1"))),
                            ladder=(LadderLeg(D("0.25"), Pct(D("0.02"))),))),
                  hype_long("100"), HYPE)
    venue.step("40")
    for _ in range(5):
        venue.step("39.5")
        venue.step("39.1")
    venue.step("39.5")
    assert venue.sold == {"ladder.0": D(25)}
    assert venue.position is not None
    assert venue.position.amount == D(75)
    assert venue.bare == []


def _rungs(venue: Venue) -> dict[str, tuple[Decimal, Decimal]]:
    """Our resting stops by leg: (amount, stop)."""
    out = {}
    for order in venue.live:
        parsed = ids.parse(order.client_order_id)
        assert parsed is not None
        assert order.stop_price is not None
        out[ids.leg_name(parsed.leg) or "?"] = (order.remaining, order.stop_price)
    return out


def test_growth_re_arms_the_rungs_for_the_added_size_only() -> None:
    # 100 @ 40, rung 0 (25) fires at 39.2; the trader adds 40 at 39.5 (entry 39.86): rung 0
    # sells 25% of the 40 added (10), the others their share of 100 and of the 40.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("100"), HYPE)
    venue.step("40")
    venue.step("39.1")
    assert venue.sold == {"ladder.0": D(25)}
    assert venue.position is not None
    venue.position = replace(venue.position, amount=D(115), entry_price=D("39.86"))
    venue.step("39.5")
    # Entry 39.86 would put the rungs lower; the ratchet holds them where they were.
    assert _rungs(venue) == {"ladder.0": (D(10), D("39.2")), "ladder.1": (D(35), D("38.8")),
                             "ladder.2": (D(70), D("38.2"))}
    assert venue.bare == []


def test_a_reported_fill_fires_the_rung_though_the_price_was_never_seen_there() -> None:
    # A spike to 39.1 fills rung 0 between two frames; the daemon sees only 39.5 again. Told
    # of the fill, it does not place rung 0 again; its 25 are gone with the fill.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("100"), HYPE)
    venue.step("40")
    venue.fire(D("39.1"))
    assert venue.sold == {"ladder.0": D(25)}
    venue.cycle(D("39.5"), fills=venue.fills)
    assert _rungs(venue) == {"ladder.1": (D(25), D("38.8")), "ladder.2": (D(50), D("38.2"))}
    venue.cycle(D("39.5"), fills=venue.fills)  # told again: nothing changes
    assert _rungs(venue) == {"ladder.1": (D(25), D("38.8")), "ladder.2": (D(50), D("38.2"))}
    assert venue.bare == []


def test_unreported_fill_leaves_no_unit_bare() -> None:
    # Not told of the fill: the rungs share what is left (75) in their proportions, every unit
    # still under a stop.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("100"), HYPE)
    venue.step("40")
    venue.fire(D("39.1"))
    venue.cycle(D("39.5"))
    assert _rungs(venue) == {"ladder.0": (D("18.75"), D("39.2")),
                             "ladder.1": (D("18.75"), D("38.8")),
                             "ladder.2": (D("37.5"), D("38.2"))}
    assert venue.bare == []


def test_a_ladder_under_100_percent_without_stop_loss_keeps_the_rest_at_the_deepest_rung() -> None:
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS[:2])), hype_long("100"), HYPE)
    venue.step("40")
    assert _rungs(venue) == {"ladder.0": (D(25), D("39.2")), "ladder.1": (D(25), D("38.8")),
                             "sl": (D(50), D("38.8"))}
    for mark in ["39.1", "38.7"]:
        venue.step(mark)
    assert venue.sold == {"ladder.0": D(25), "ladder.1": D(25), "sl": D(50)}
    assert venue.position is None
    assert venue.bare == []


def test_lots_the_rungs_leave_too_small_to_rest_alone_go_to_the_deepest_rung() -> None:
    # 10.3 @ 40 in lots of 0.1: 25% is 2.575 -> 2.5, 50% is 5.15 -> 5.1; 0.2 are left, worth
    # 7.64 USD at 38.2, below the 10 USD minimum: the deepest rung takes them.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("10.3"),
                  {"HYPE": market("HYPE", "0.001", "0.1")})
    venue.step("40")
    assert _rungs(venue) == {"ladder.0": (D("2.5"), D("39.2")), "ladder.1": (D("2.5"), D("38.8")),
                             "ladder.2": (D("5.3"), D("38.2"))}


@pytest.mark.parametrize("told", ["fills", "spent"])
def test_a_rung_filled_before_it_was_seen_resting_is_not_sent_again_with_its_id(
        told: str) -> None:
    # Issue 9 defect 8. HYPE long 5 in lots of 1: rung 0 is 1 (25% of 5, down to the lot).
    # It is placed, and a spike fills it before the daemon ever sees it resting. Back at
    # 39.5 the same order would be planned again under the same id ("Duplicate client
    # order id", the rung bare). Told of the fill, the rung has fired: not placed again.
    # Told only that the id is spent (the journal: the exchange accepted it), the rungs share
    # the 4 left, rung 0 is 1 again, and it takes a new revision.
    lots = {"HYPE": market("HYPE", "0.001", "1")}
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("5"), lots)
    venue.step("40")
    first = venue.sent[0]
    venue.fire(D("39.1"))
    assert venue.fills == [first]
    if told == "fills":
        venue.cycle(D("39.5"), fills=venue.fills)
        assert "ladder.0" not in _rungs(venue)
    else:
        venue.cycle(D("39.5"), spent=venue.sent)
        assert _rungs(venue)["ladder.0"] == (D(1), D("39.2"))
    assert len(venue.sent) == len(set(venue.sent)), "a spent client_order_id was sent again"
    assert venue.bare == []


def test_plan_never_sends_a_spent_id() -> None:
    # The leg's last order (revision 0) was never seen resting: a retry would re-send its id,
    # unless that id is known spent; then the next revision, and the memory says so.
    venue = Venue(book(rule("ladder", ladder=THREE_RUNGS)), hype_long("100"), HYPE)
    venue.step("40")
    venue.live = []  # every order filled or cancelled unseen
    ours = list(venue.sent)
    venue.cycle(D("40"), spent=ours)
    assert not set(venue.sent[len(ours):]) & set(ours)
    assert sorted(ids.revision_of(c) for c in venue.sent[len(ours):]) == [1, 1, 1]
