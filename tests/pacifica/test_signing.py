"""pacifica-api.md §6: the published vector, and the properties any correct signer has."""

from __future__ import annotations

import contextlib
import json
import pickle
from typing import Any

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.pacifica.signing import (
    Keypair,
    SignatureProblem,
    canonical_message,
    inspect_request,
    sign_request,
    verify_request,
)

SEED = bytes(range(32))
PUBLIC = "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
SECRET64_B58 = ("1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMikjwpAW9DMZzU2Pqakc5it8X3N5vPmqdN7KF4CC"
                "UpmKhq")
SIGNATURE = ("Qu6YHetZDq9zsprGicuMaXT8cVWdBh8onMeBb973TXswiSPqcVurM5JKnPKY6fmtyXT2fwiJfx5aTcWDFW"
             "62FqY")
SIGNATURE_HEX = ("149be0d0a461201e1e27c7dc6dac25ee066e3ae0dc76e30c9d046daaa0697a09fa8748e37b0e62d4"
                 "344e353ab66293a18f8c66b436d98cf3da03539a18b4a20f")
MESSAGE = (
    '{"data":{"reduce_only":true,"side":"ask","stop_order":{"amount":"0.1",'
    '"client_order_id":"d25ac10b-58cc-4372-a567-0e02b2c3d479","limit_price":"47950",'
    '"stop_price":"48000"},"symbol":"BTC"},"expiry_window":30000,"timestamp":1716200000000,'
    '"type":"create_stop_order"}'
)
PAYLOAD: dict[str, Any] = {
    "symbol": "BTC", "side": "ask", "reduce_only": True,
    "stop_order": {"stop_price": "48000", "limit_price": "47950",
                   "client_order_id": "d25ac10b-58cc-4372-a567-0e02b2c3d479", "amount": "0.1"},
}
TS = 1716200000000


def _keypair() -> Keypair:
    return Keypair.from_secret(base58.b58encode(SEED).decode())


def test_vector_public_key_from_each_secret_format() -> None:
    seed_b58 = base58.b58encode(SEED).decode()
    json_array = json.dumps(list(base58.b58decode(SECRET64_B58)))
    for secret in (seed_b58, SECRET64_B58, json_array):
        assert Keypair.from_secret(secret).public_key == PUBLIC


def test_vector_message_bytes() -> None:
    message = canonical_message("create_stop_order", PAYLOAD, timestamp=TS, expiry_window=30000)
    assert message == MESSAGE.encode()
    assert len(message) == 262


def test_vector_signature_and_body() -> None:
    body = sign_request(_keypair(), "create_stop_order", PAYLOAD, timestamp=TS,
                        expiry_window=30000)
    assert body["signature"] == SIGNATURE
    assert base58.b58decode(body["signature"]).hex() == SIGNATURE_HEX
    assert body["account"] == PUBLIC
    assert body["timestamp"] == TS
    assert body["expiry_window"] == 30000
    assert "type" not in body
    assert "data" not in body
    assert "agent_wallet" not in body
    assert body["stop_order"] == PAYLOAD["stop_order"]
    assert verify_request(body, "create_stop_order")


def test_agent_mode_signs_the_same_message_and_names_the_agent() -> None:
    agent = Keypair.from_secret(base58.b58encode(bytes(range(1, 33))).decode())
    body = sign_request(agent, "create_stop_order", PAYLOAD, timestamp=TS, expiry_window=30000,
                        account=PUBLIC)
    assert body["account"] == PUBLIC
    assert body["agent_wallet"] == agent.public_key
    assert body["signature"] == agent.sign(MESSAGE.encode())
    assert verify_request(body, "create_stop_order")
    del body["agent_wallet"]  # now checked against the main key: must fail
    assert inspect_request(body, "create_stop_order") is SignatureProblem.VERIFICATION_FAILED


_scalars = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6), st.booleans())
_payloads = st.dictionaries(st.text(min_size=1, max_size=6).filter(
    lambda k: k not in {"account", "signature", "timestamp", "expiry_window", "agent_wallet"}),
    st.one_of(_scalars, st.dictionaries(st.text(min_size=1, max_size=4), _scalars, max_size=3)),
    min_size=1, max_size=6)


@given(payload=_payloads, ts=st.integers(0, 2**53), window=st.integers(1, 10**6))
def test_sign_then_verify(payload: dict[str, Any], ts: int, window: int) -> None:
    body = sign_request(_keypair(), "create_order", payload, timestamp=ts, expiry_window=window)
    assert verify_request(body, "create_order")


@given(payload=_payloads, data=st.data())
def test_any_change_to_a_signed_field_fails(payload: dict[str, Any], data: st.DataObject) -> None:
    body = sign_request(_keypair(), "create_order", payload, timestamp=TS, expiry_window=30000)
    field = data.draw(st.sampled_from([*payload, "timestamp", "expiry_window"]))
    original = body[field]
    replacement = data.draw(st.one_of(_scalars, st.integers(0, 2**40)).filter(
        lambda v: v != original or type(v) is not type(original)))
    body[field] = replacement
    assert not verify_request(body, "create_order")
    # The operation type is signed too.
    body[field] = original
    assert verify_request(body, "create_order")
    assert not verify_request(body, "create_stop_order")


@given(payload=_payloads, seed=st.randoms(use_true_random=False))
def test_key_order_never_changes_the_signature(payload: dict[str, Any], seed: Any) -> None:
    keys = list(payload)
    seed.shuffle(keys)
    shuffled = {k: payload[k] for k in keys}
    a = sign_request(_keypair(), "create_order", payload, timestamp=TS, expiry_window=5000)
    b = sign_request(_keypair(), "create_order", shuffled, timestamp=TS, expiry_window=5000)
    assert a["signature"] == b["signature"]


def test_expired_timestamp_is_an_invalid_message() -> None:
    body = sign_request(_keypair(), "create_order", {"a": "1"}, timestamp=TS,
                        expiry_window=5000)
    assert inspect_request(body, "create_order", now_ms=TS + 5000) is None
    assert (inspect_request(body, "create_order", now_ms=TS + 5001)
            is SignatureProblem.INVALID_MESSAGE)


def test_bad_signature_texts() -> None:
    body = sign_request(_keypair(), "create_order", {"a": "1"}, timestamp=TS,
                        expiry_window=5000)
    assert inspect_request({**body, "signature": "0OIl"}, "create_order") \
        is SignatureProblem.INVALID_SIGNATURE
    assert inspect_request({**body, "account": "not-a-key!"}, "create_order") \
        is SignatureProblem.INVALID_PUBLIC_KEY


@pytest.mark.parametrize("secret", [
    "", "   ", "not base58 0OIl", base58.b58encode(bytes(31)).decode(),
    base58.b58encode(bytes(48)).decode(), "[1, 2, 3]", "[" + ",".join(["256"] * 64) + "]",
    "[not json", SECRET64_B58[:-2] + "11",  # a 64-byte keypair whose public half is wrong
])
def test_from_secret_refuses_without_echoing(secret: str) -> None:
    with pytest.raises(ValueError, match="unusable signing key") as info:
        Keypair.from_secret(secret)
    error = info.value
    for text in (str(error), repr(error)):
        if secret.strip():
            assert secret.strip() not in text
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_repr_and_str_never_show_the_secret() -> None:
    keypair = Keypair.from_secret(SECRET64_B58)
    seed_b58 = base58.b58encode(SEED).decode()
    for text in (repr(keypair), str(keypair), f"{keypair}"):
        assert PUBLIC in text
        assert SECRET64_B58 not in text
        assert seed_b58 not in text
        assert SEED.hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(keypair)


@pytest.mark.parametrize("secret", [
    SECRET64_B58[:-2] + "11",  # right length, public half wrong: nearly the real key
    base58.b58encode(bytes(range(48))).decode(),
    "[" + ",".join(["7"] * 63) + "]",
])
def test_a_refused_secret_is_in_no_traceback_frame(secret: str) -> None:
    """Renderers that show frame locals (structlog's default with rich installed) must find
    nothing: no frame between the raise and the caller holds the secret or its bytes."""
    with pytest.raises(ValueError, match="unusable signing key") as info:
        Keypair.from_secret(secret)
    decoded = secret.encode()
    with contextlib.suppress(ValueError):
        decoded = base58.b58decode(secret)
    tb = info.value.__traceback__
    frames = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("daemon/pacifica/signing.py"):
            frames += 1
            for name, value in tb.tb_frame.f_locals.items():
                shown = repr(value)
                assert secret not in shown, name
                assert decoded not in (value if isinstance(value, bytes) else b""), name
                assert secret.strip("[]") not in shown, name
        tb = tb.tb_next
    assert frames >= 1
