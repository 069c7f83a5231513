"""Our hot-path base58 encoder must agree with the reference library on every input."""

from __future__ import annotations

import base58
from hypothesis import given
from hypothesis import strategies as st

from daemon.pacifica.signing import b58encode


@given(st.binary(max_size=80))
def test_matches_reference_library(raw: bytes) -> None:
    assert b58encode(raw) == base58.b58encode(raw).decode("ascii")


@given(st.integers(min_value=0, max_value=8), st.binary(max_size=40))
def test_leading_zero_bytes_become_ones(zeros: int, rest: bytes) -> None:
    raw = b"\0" * zeros + rest
    assert b58encode(raw) == base58.b58encode(raw).decode("ascii")
    assert base58.b58decode(b58encode(raw)) == raw
