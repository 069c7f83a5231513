"""client_order_ids: deterministic, ours-recognisable without state, UUIDv4-shaped."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
from engine_support import ACCOUNT, OTHER_ACCOUNT
from hypothesis import given
from hypothesis import strategies as st

from daemon import ids
from daemon.domain import PositionKey, Side
from daemon.engine import EXIT, SL, TP, ladder_leg

KEY = PositionKey("BTC", Side.BID, 1_716_200_000_000)
LEGS = [SL, TP, EXIT, *(ladder_leg(i) for i in range(32))]

keys = st.builds(PositionKey, st.sampled_from(["BTC", "ETH", "kBONK", "SOL"]),
                 st.sampled_from(list(Side)), st.integers(0, 2**53))
revisions = st.integers(0, ids.MAX_REVISION)


def test_pinned_vector() -> None:
    # Persisted ids must keep their meaning across releases: a change here orphans live orders.
    assert ids.make(ACCOUNT, KEY, SL, 7) == ids.make(ACCOUNT, KEY, SL, 7)
    assert ids.make(ACCOUNT, KEY, SL, 7) == PINNED


# Changed once, before any release, when the position hash grew from 28 to 36 bits.
PINNED = "7f283f59-f7bc-4a83-8001-0000a1000007"


@given(keys, st.sampled_from(LEGS), revisions)
def test_is_a_version_4_rfc_uuid_with_revision_in_clear(key: PositionKey, leg: str,
                                                        revision: int) -> None:
    cloid = ids.make(ACCOUNT, key, leg, revision)
    parsed = uuid.UUID(cloid)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == cloid
    assert ids.revision_of(cloid) == revision
    assert int(cloid[-6:], 16) == revision
    assert ids.is_ours(cloid, ACCOUNT)
    assert not ids.is_ours(cloid, OTHER_ACCOUNT)
    assert ids.belongs_to(cloid, ACCOUNT, key, leg)
    assert ids.belongs_to(cloid, ACCOUNT, key)


def test_leg_names_have_distinct_tags_that_read_back() -> None:
    assert len({ids.leg_tag(leg) for leg in LEGS}) == len(LEGS)
    for leg in LEGS:
        assert ids.leg_name(ids.leg_tag(leg)) == leg
    assert ids.leg_name(0) is None


@pytest.mark.parametrize("leg", ["stop", "ladder.", "ladder.x", "ladder.-1", "SL"])
def test_unknown_leg_is_refused(leg: str) -> None:
    with pytest.raises(ValueError, match="unknown leg"):
        ids.make(ACCOUNT, KEY, leg, 0)


@given(st.lists(st.tuples(keys, st.sampled_from(LEGS), st.integers(0, 50)), max_size=40,
                unique=True))
def test_unique_per_position_leg_revision(intents: list[tuple[PositionKey, str, int]]) -> None:
    cloids = [ids.make(ACCOUNT, k, leg, rev) for k, leg, rev in intents]
    assert len(set(cloids)) == len(cloids)


def test_positions_that_shared_a_28_bit_hash_get_distinct_ids() -> None:
    """These two keys collided when the position hash had 28 bits: the second position's stop
    came back "Duplicate client order id" and the position stayed bare."""
    btc = PositionKey("BTC", Side.BID, 1_795_604_471_269)
    eth = PositionKey("ETH", Side.ASK, 1_795_604_401_554)

    def old_tag(key: PositionKey) -> int:
        text = f"{ACCOUNT}\x1f{key.symbol}\x1f{key.side.value}\x1f{key.created_at}"
        return int.from_bytes(hashlib.blake2b(
            text.encode(), digest_size=4, person=b"stopd.position").digest(), "big") >> 4

    assert old_tag(btc) == old_tag(eth)
    assert ids.make(ACCOUNT, btc, SL, 0) != ids.make(ACCOUNT, eth, SL, 0)
    assert ids.belongs_to(ids.make(ACCOUNT, btc, SL, 0), ACCOUNT, btc)
    assert not ids.belongs_to(ids.make(ACCOUNT, btc, SL, 0), ACCOUNT, eth)


def test_other_leg_position_or_reopened_position_do_not_match() -> None:
    cloid = ids.make(ACCOUNT, KEY, SL, 0)
    assert not ids.belongs_to(cloid, ACCOUNT, KEY, TP)
    reopened = PositionKey(KEY.symbol, KEY.side, KEY.created_at + 1)
    assert not ids.belongs_to(cloid, ACCOUNT, reopened)
    assert not ids.belongs_to(cloid, OTHER_ACCOUNT, KEY)


@given(st.uuids(version=4))
def test_random_uuids_are_not_ours(value: uuid.UUID) -> None:
    # 2**-48 chance per example that a random UUID carries our tag and zero field.
    assert not ids.is_ours(str(value), ACCOUNT)


@given(st.one_of(st.none(), st.text(max_size=60)))
def test_parse_never_raises(text: str | None) -> None:
    assert ids.parse(text) is None or isinstance(text, str)
    assert not ids.is_ours(text, ACCOUNT) or text is not None


@pytest.mark.parametrize("bad", ["", "not-a-uuid", str(uuid.UUID(int=0))])
def test_revision_of_foreign_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not a stopd client_order_id"):
        ids.revision_of(bad)


@pytest.mark.parametrize("revision", [-1, ids.MAX_REVISION + 1])
def test_revision_out_of_range_is_refused(revision: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        ids.make(ACCOUNT, KEY, SL, revision)


def test_stable_across_processes() -> None:
    intents = [(KEY.symbol, KEY.side.value, KEY.created_at, leg, rev)
               for leg in (SL, TP, ladder_leg(3)) for rev in (0, 1, 4096)]
    here = [ids.make(ACCOUNT, PositionKey(s, Side(d), c), leg, rev)
            for s, d, c, leg, rev in intents]
    script = (
        "import json, sys\n"
        "from daemon import ids\n"
        "from daemon.domain import PositionKey, Side\n"
        "account, intents = json.loads(sys.stdin.read())\n"
        "print(json.dumps([ids.make(account, PositionKey(s, Side(d), c), leg, rev)"
        " for s, d, c, leg, rev in intents]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps([ACCOUNT, intents]),
                         capture_output=True, text=True, check=True, env=env)
    assert json.loads(out.stdout) == here
