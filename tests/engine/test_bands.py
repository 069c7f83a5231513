"""The band index answers exactly what comparing every band would, through adds and removes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine_support import NOW, PROP_MARKET, D, at, book, positions, price, rules
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain import Position, PositionKey, Side
from daemon.engine import Memory, evaluate, reevaluate
from daemon.engine.bands import INF, BandIndex, Group, edges, index_of
from daemon.rules.spec import Rule

# Few distinct edges, so that ties (stops on one tick) are the rule, not the exception.
_edge = st.one_of(st.sampled_from([Decimal(v) for v in ("99", "100", "100.0", "101")]),
                  st.just(INF), st.just(-INF))
_values = st.sampled_from([Decimal(v) for v in ("98", "99", "99.5", "100", "100.5", "101",
                                                "102")])


def _key(n: int) -> PositionKey:
    return PositionKey("XYZ", Side.BID if n % 2 else Side.ASK, n)


def _brute(bands: dict[PositionKey, tuple[Decimal, Decimal]], value: Decimal
           ) -> set[PositionKey]:
    return {key for key, (low, high) in bands.items() if value <= low or value >= high}


@given(st.lists(st.tuples(_edge, _edge), max_size=12),
       st.lists(st.tuples(st.integers(0, 15), _edge, _edge, st.booleans()), max_size=20),
       st.lists(_values, min_size=1, max_size=4))
def test_group_finds_exactly_the_crossed_bands(
        initial: list[tuple[Decimal, Decimal]],
        changes: list[tuple[int, Decimal, Decimal, bool]], values: list[Decimal]) -> None:
    bands = {_key(n): edge for n, edge in enumerate(initial)}
    # Other PositionKey objects equal to the stored ones, as a later frame may hold.
    group = Group.of([_key(n) for n in range(len(initial))], [lo for lo, _ in initial],
                     [hi for _, hi in initial])
    before = group.copy()
    snapshot = dict(bands)
    for n, low, high, move in changes:
        key = _key(n)
        if key in bands and move:
            group.move(key, *bands[key], low, high)
            bands[key] = (low, high)
        elif key in bands:
            group.remove(key, *bands.pop(key))
        else:
            group.add(key, low, high)
            bands[key] = (low, high)
        assert group.lows == sorted(group.lows)
        assert group.highs == sorted(group.highs)
    for value in values:
        out: list[PositionKey] = []
        group.crossed_by(value, out)
        assert set(out) == _brute(bands, value)
        # A band both edges cross (low >= high) may be listed twice; nothing else is.
        assert len(out) == len(set(out)) + sum(1 for low, high in bands.values()
                                               if value <= low and value >= high)
        earlier: list[PositionKey] = []
        before.crossed_by(value, earlier)
        assert set(earlier) == _brute(snapshot, value)  # the copy was left alone


def test_edges_of_unbounded_and_always_bands() -> None:
    assert edges(False, None, None) == (-INF, INF)
    assert edges(False, Decimal("99"), None) == (Decimal("99"), INF)
    # Every price is <= an infinite low: an `always` band is crossed by any frame.
    assert edges(True, Decimal("99"), Decimal("101")) == (INF, INF)


def _contents(index: BandIndex) -> dict[object, tuple[set[object], set[object]]]:
    return {name: (set(zip(group.low_keys, group.lows, strict=True)),
                   set(zip(group.high_keys, group.highs, strict=True)))
            for name, group in index.groups.items() if group.lows}


@given(rules(timed=True), st.lists(positions(), min_size=1, max_size=6),
       st.lists(st.tuples(st.decimals(D("0.7"), D("1.3"), places=3), st.integers(0, 40)),
                min_size=1, max_size=6))
def test_index_derived_frame_by_frame_equals_one_built_afresh(
        rule: Rule, drawn: list[Position], frames: list[tuple[Decimal, int]]) -> None:
    # Distinct keys over two symbols, so that groups and due times both come and go.
    pos_list = [Position("XYZ" if i % 2 else "ABC", p.side, p.amount, p.entry_price,
                         p.created_at + i, p.updated_at) for i, p in enumerate(drawn)]
    keyed = {p.key: p for p in pos_list}
    markets = {"XYZ": PROP_MARKET, "ABC": PROP_MARKET}
    rulebook = book(rule)
    now = NOW
    current = evaluate(rulebook, pos_list, {s: price(D("1000"), s) for s in markets}, markets,
                       Memory(), now)
    for multiple, minutes in frames:
        now += timedelta(minutes=minutes)
        prices = {s: price(at(D("1000"), multiple), s) for s in markets}
        current = reevaluate(current, rulebook, keyed, prices, markets, now)
        assert current.band_index is not None
        fresh = index_of(current.results.items())
        assert _contents(current.band_index) == _contents(fresh)
        assert dict(current.band_index.due) == dict(fresh.due)
