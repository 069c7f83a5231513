"""The ratchet when memory lags the exchange: a state file restored from a backup, or commits
lost to an OS crash (WAL with synchronous=NORMAL keeps application crashes, not power loss).
A resting stop of ours whose revision memory never planned is newer than memory: it holds
the ratchet like a floor, so nothing loosens without a rule change. An older revision still
resting while a rule change's loosening is carried out make-before-break is not adopted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from engine_support import ACCOUNT, MARKETS, NOW, D, apply, book, position, price, rule

from daemon.domain import OpenOrder
from daemon.engine import Memory, Move, evaluate, plan
from daemon.rules.spec import Pct, StopLoss, Trailing

TRAIL = book(rule(trailing=Trailing(Pct(D("0.01")))))
LONG = position(entry="100000")


def step(rules: object, mark: str, memory: Memory, live: Sequence[OpenOrder], minutes: int
         ) -> tuple[Memory, list[OpenOrder], tuple[object, ...]]:
    now = NOW + timedelta(minutes=minutes)
    evaluation = evaluate(rules, [LONG], {"BTC": price(mark)}, MARKETS, memory, now,  # type: ignore[arg-type]
                          account=ACCOUNT, live=live)
    result = plan(evaluation.desired, live, account=ACCOUNT, positions=[LONG.key],
                  memory=evaluation.memory, now=now)
    return result.memory, apply(result.actions, live), result.actions


def stops(live: Sequence[OpenOrder]) -> list[D]:
    return sorted(o.stop_price for o in live if o.stop_price is not None)


def test_a_newer_resting_stop_holds_the_ratchet_against_older_memory() -> None:
    old, live, _ = step(TRAIL, "100000", Memory(), [], 0)          # rev 0 at 99000
    assert stops(live) == [D(99000)]
    _, live, _ = step(TRAIL, "102000", old, live, 1)               # rev 1 at 100980
    assert stops(live) == [D(100980)]
    # Restart with the older memory (it knows rev 0 at 99000 only); the price eases to
    # 101500, where the lagging memory's trailing would say 100485.
    _, after, actions = step(TRAIL, "101500", old, live, 2)
    assert not any(isinstance(a, Move) and a.loosens for a in actions), actions
    assert stops(after) == [D(100980)], actions


def test_a_rule_change_still_loosens_past_the_older_revision_still_resting() -> None:
    memory, live, _ = step(TRAIL, "102000", Memory(), [], 0)         # rev 0 at 100980
    wide = book(rule(stop_loss=StopLoss(Pct(D("0.05")))))            # the user widens it
    memory, moved, actions = step(wide, "102000", memory, live, 1)
    assert [a.loosens for a in actions if isinstance(a, Move)] == [True]
    # Make-before-break half done: the new, looser revision rests beside the old one.
    both = [*live, *[o for o in moved if o not in live]]
    assert stops(both) == [D(95000), D(100980)]
    _, after, _ = step(wide, "102000", memory, both, 2)
    assert stops(after) == [D(95000)]  # the old revision is not adopted back


def test_memory_without_a_floor_still_adopts_every_resting_stop() -> None:
    _, live, _ = step(TRAIL, "102000", Memory(), [], 0)
    _, after, actions = step(TRAIL, "101500", Memory(), live, 1)
    assert stops(after) == [D(100980)], actions


def test_a_rung_rearmed_after_its_fill_survives_a_lost_state() -> None:
    # Found by the day-in-the-life machine at 1,500 examples: a short's rung fired (its fill
    # reported), the position grew, so the rung was armed again for the added size (rev 1).
    # The state file was then lost: knowing only rev 0's fill, the engine took the rung for
    # fired, cancelled rev 1 (its units fell under the looser sl) and, at the next growth,
    # armed it again at a level looser than the one that had rested.
    import test_stateful as t  # the machine's own model of the exchange

    day = t.Day()
    day.start(rulebook=0, tells_fills=True)
    day.open_position(amount=D("0.50"), side=t.Side.ASK)
    day.move_price(change=D("0.020"))
    day.restart_with_state_lost()
    day.resize(factor=D("1.5"), side=t.Side.ASK)

    def rung() -> list[D]:
        return [o.stop_price for o in day.live
                if (p := t.ids.parse(o.client_order_id)) is not None
                and t.ids.leg_name(p.leg) == "ladder.0"]

    assert rung() == [D("1026.67")]
    day.restart_with_state_lost()
    assert rung() == [D("1026.67")]  # still armed, still at its level
    day.resize(factor=D("1.5"), side=t.Side.ASK)  # the machine checks the ratchet itself
