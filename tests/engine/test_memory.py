"""Memory persists as plain JSON and reads back equal; bad state gets a message with its path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from engine_support import D
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import PositionKey, Side, TriggerPriceType
from daemon.engine import Memory, MemoryFormatError, OrderMemory, PositionMemory
from daemon.engine.memory import RungMemory, Sizing

money = st.decimals(D("0.00000001"), D("1e9"), places=8)
legs = st.sampled_from(["sl", "tp", "exit", "ladder.0", "ladder.7"])
orders = st.builds(
    OrderMemory, st.integers(0, 2**32 - 1), st.booleans(), st.one_of(st.none(), money), money,
    st.one_of(st.none(), money),
    st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.one_of(st.none(), st.sampled_from(list(TriggerPriceType))))
position_memories = st.builds(
    PositionMemory,
    first_seen=st.one_of(st.none(), money),
    extreme=st.one_of(st.none(), money),
    latched=st.lists(st.sampled_from(["breakeven", "window:we/breakeven"]), unique=True
                     ).map(lambda xs: tuple(sorted(xs))),
    fingerprint=st.one_of(st.none(), st.text("0123456789abcdef", min_size=16, max_size=16)),
    rule=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
    floors=st.dictionaries(legs, money).map(lambda d: tuple(sorted(d.items()))),
    orders=st.dictionaries(legs, orders).map(lambda d: tuple(sorted(d.items()))),
    windows=st.dictionaries(st.sampled_from(["weekend", "noon"]), st.tuples(
        st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
        money)).map(lambda d: tuple(sorted((name, *v) for name, v in d.items()))),
    sizing=st.one_of(st.none(), st.builds(Sizing, money, money, st.dictionaries(
        st.sampled_from(["ladder.0", "ladder.1"]), st.builds(
            RungMemory, st.decimals(D("0.01"), D("1"), places=2), money,
            st.integers(-1, 2**24))).map(lambda d: tuple(sorted(d.items()))))),
)
keys = st.builds(PositionKey, st.sampled_from(["BTC", "ETH", "kPEPE"]), st.sampled_from(list(Side)),
                 st.integers(0, 2**53))


@given(st.dictionaries(keys, position_memories, max_size=5))
def test_json_round_trip(positions: dict[PositionKey, PositionMemory]) -> None:
    memory = Memory(positions)
    text = json.dumps(memory.to_json())
    assert Memory.from_json(json.loads(text)) == memory
    assert "Decimal" not in text


def _valid() -> dict[str, Any]:
    order = OrderMemory(2, True, D("97000"), D("1"), None, datetime(2026, 1, 1, tzinfo=UTC))
    memory = Memory({PositionKey("BTC", Side.BID, 5): PositionMemory(
        D("100000"), D("101000"), ("breakeven",), "abc", "r", (("sl", D("97000")),),
        (("sl", order),))})
    data: dict[str, Any] = json.loads(json.dumps(memory.to_json()))
    return data


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d.update(version=2), "memory.version"),
    (lambda d: d.update(positions={}), "memory.positions"),
    (lambda d: d["positions"][0].update(side="long"), "memory.positions[0].side"),
    (lambda d: d["positions"][0].update(created_at="5"), "memory.positions[0].created_at"),
    (lambda d: d["positions"][0].update(created_at=True), "memory.positions[0].created_at"),
    (lambda d: d["positions"][0].update(extreme="1e"), "memory.positions[0].extreme"),
    (lambda d: d["positions"][0].update(extreme="NaN"), "memory.positions[0].extreme"),
    (lambda d: d["positions"][0]["floors"].update(sl=97000.5), "memory.positions[0].floors.sl"),
    (lambda d: d["positions"][0]["orders"]["sl"].update(planned_at="2026-01-01T00:00:00"),
     "memory.positions[0].orders.sl.planned_at"),
    (lambda d: d["positions"][0]["orders"]["sl"].update(revision=None),
     "memory.positions[0].orders.sl.revision"),
    (lambda d: d["positions"][0]["orders"]["sl"].update(trigger="mark"),
     "memory.positions[0].orders.sl.trigger"),
    (lambda d: d["positions"][0].update(windows=[]), "memory.positions[0].windows"),
    (lambda d: d["positions"][0].update(windows={"we": {"opened": "2026-01-01T00:00:00+00:00",
                                                        "extreme": 1.5}}),
     "memory.positions[0].windows.we.extreme"),
    (lambda d: d["positions"][0].update(windows={"we": {"opened": "soon", "extreme": "1"}}),
     "memory.positions[0].windows.we.opened"),
])
def test_bad_state_names_where(mutate: Any, where: str) -> None:
    data = _valid()
    Memory.from_json(data)
    mutate(data)
    with pytest.raises(MemoryFormatError, match=f"^{where.replace('[', '.').replace(']', '.')}"):
        Memory.from_json(data)


def test_not_an_object() -> None:
    with pytest.raises(MemoryFormatError, match="expected an object"):
        Memory.from_json([])


def test_prune_and_updates_do_not_mutate() -> None:
    a, b = PositionKey("BTC", Side.BID, 1), PositionKey("ETH", Side.ASK, 2)
    memory = Memory({a: PositionMemory(first_seen=D(1)), b: PositionMemory(first_seen=D(2))})
    pruned = memory.prune([b])
    assert set(pruned.positions) == {b}
    assert set(memory.positions) == {a, b}
    later = memory.updated({a: PositionMemory(first_seen=D(3))})
    assert memory.get(a) == PositionMemory(first_seen=D(1))
    assert later.get(a) == PositionMemory(first_seen=D(3))
    assert memory.consumed(a, "sl") is memory


def test_state_written_before_window_extremes_existed_still_loads() -> None:
    data = _valid()
    for item in data["positions"]:
        del item["windows"]
    assert Memory.from_json(data) == Memory.from_json(_valid())
