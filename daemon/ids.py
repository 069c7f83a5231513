"""Deterministic client_order_ids: the daemon recognises its own orders without local state.

An id is computed from the intent, never drawn at random, so a retry after a timeout re-sends
the same id and Pacifica's "Duplicate client order id" means "already placed". Layout of the
128 bits, most significant first (hex digits of the canonical UUID text in brackets):

    32  account tag         [0-7]    blake2b of the account: "this is stopd's, for this account"
    16  position hash (hi)  [8-11]
     4  version = 4         [12]
    12  position hash (mid) [13-15]
     2  variant = 0b10      [16]     RFC 4122 variant, so any UUID validator accepts the id
    14  leg code            [16-19]  sl, tp, exit, ladder.N (a code, readable back)
    16  reserved = 0        [20-23]  a second mark of ours, beside the account tag
     8  position hash (lo)  [24-25]
    24  revision            [26-31]  in clear: the last six hex digits are the revision

The position hash (36 bits) covers (account, symbol, side, created_at), so a closed and
reopened position is a new position. Two open positions of one account with the same hash
would share ids (the second placement answered "Duplicate client order id", its position left
bare): with 36 bits that takes about 2**18 open positions to become likely, and 100 open
positions meet it with probability 7e-8 (28 bits, as first written, gave 2e-5). 24 bits of
revision are 16 million moves of one leg. A foreign random UUID carries our account tag with
probability 2**-32 and our zero reserved field with a further 2**-16. Hashes are blake2b with
a personalisation string: stable across processes and Python versions, unlike `hash()`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from daemon.domain import PositionKey

MAX_REVISION = 2**24 - 1

_VERSION_BITS = 0x4 << 76
_VARIANT_BITS = 0b10 << 62


def account_tag(account: str) -> int:
    """32 bits that say "stopd made this for `account`"."""
    digest = hashlib.blake2b(account.encode(), digest_size=4, person=b"stopd.account").digest()
    return int.from_bytes(digest, "big")


def position_tag(account: str, key: PositionKey) -> int:
    """36 bits naming one position of one account."""
    text = f"{account}\x1f{key.symbol}\x1f{key.side.value}\x1f{key.created_at}"
    digest = hashlib.blake2b(text.encode(), digest_size=5, person=b"stopd.position").digest()
    return int.from_bytes(digest, "big") >> 4


_FIXED_LEGS = {"sl": 1, "tp": 2, "exit": 3}
_LEG_NAMES = {code: name for name, code in _FIXED_LEGS.items()}
_LADDER_BASE = 0x100
_LADDER_MAX = 0x3FFF - _LADDER_BASE


def leg_tag(leg: str) -> int:
    """14 bits naming a leg: a code, not a hash, so legs never collide and read back by name."""
    code = _FIXED_LEGS.get(leg)
    if code is not None:
        return code
    prefix, _, index = leg.partition(".")
    if prefix == "ladder" and index.isdigit() and int(index) <= _LADDER_MAX:
        return _LADDER_BASE + int(index)
    raise ValueError(f"unknown leg {leg!r}: expected sl, tp, exit or ladder.N")


def leg_name(tag: int) -> str | None:
    """The leg a tag names, or None for a tag no leg has."""
    if tag >= _LADDER_BASE:
        return f"ladder.{tag - _LADDER_BASE}" if tag - _LADDER_BASE <= _LADDER_MAX else None
    return _LEG_NAMES.get(tag)


@dataclass(frozen=True, slots=True)
class OurId:
    """The fields of one of our ids, read back without any state."""

    account: int
    position: int
    leg: int
    revision: int


def make(account: str, key: PositionKey, leg: str, revision: int) -> str:
    """The client_order_id of revision `revision` of `leg` of position `key`."""
    return compose(account_tag(account), position_tag(account, key), leg_tag(leg), revision)


def compose(account: int, position: int, leg: int, revision: int) -> str:
    """`make` from precomputed tags (the planner hashes each position once, not per order)."""
    if not 0 <= revision <= MAX_REVISION:
        raise ValueError(f"revision {revision} outside 0..{MAX_REVISION}")
    value = (
        (account << 96)
        | ((position >> 20) << 80)
        | _VERSION_BITS
        | (((position >> 8) & 0xFFF) << 64)
        | _VARIANT_BITS
        | (leg << 48)
        | ((position & 0xFF) << 24)
        | revision
    )
    return str(uuid.UUID(int=value))


def parse(cloid: str | None) -> OurId | None:
    """The fields of `cloid` if it has our shape (any account), else None. Never raises."""
    if not cloid:
        return None
    try:
        value = uuid.UUID(cloid).int
    except ValueError:
        return None
    if (value >> 76) & 0xF != 4 or (value >> 62) & 0b11 != 0b10:
        return None
    if (value >> 32) & 0xFFFF:
        return None
    position = ((((value >> 80) & 0xFFFF) << 20) | (((value >> 64) & 0xFFF) << 8)
                | ((value >> 24) & 0xFF))
    return OurId(
        account=value >> 96,
        position=position,
        leg=(value >> 48) & 0x3FFF,
        revision=value & MAX_REVISION,
    )


def is_ours(cloid: str | None, account: str) -> bool:
    parsed = parse(cloid)
    return parsed is not None and parsed.account == account_tag(account)


def revision_of(cloid: str) -> int:
    """The revision written in clear in the last 24 bits; ValueError if not one of our ids."""
    parsed = parse(cloid)
    if parsed is None:
        raise ValueError(f"not a stopd client_order_id: {cloid!r}")
    return parsed.revision


def belongs_to(cloid: str | None, account: str, key: PositionKey, leg: str | None = None) -> bool:
    """Is `cloid` ours, for this position (and this leg, when given)?"""
    parsed = parse(cloid)
    if parsed is None or parsed.account != account_tag(account):
        return False
    if parsed.position != position_tag(account, key):
        return False
    return leg is None or parsed.leg == leg_tag(leg)
