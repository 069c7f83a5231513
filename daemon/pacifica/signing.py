"""Pacifica request signing (pacifica-api.md §1), pure functions over a redacted keypair.

The signed message is ``{"data": payload, "expiry_window", "timestamp", "type"}`` with keys
sorted at every level, serialised compactly, Ed25519-signed as raw UTF-8 bytes and the
signature base58-encoded. The POST body flattens the payload beside the envelope fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NoReturn

import base58
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

# Fields of the POST body that are not part of the signed payload.
ENVELOPE_FIELDS = frozenset({"account", "signature", "timestamp", "expiry_window", "agent_wallet"})

# In these operations `agent_wallet` is the signed payload (the agent being bound or revoked),
# signed by the main key, never the envelope field naming an agent signer (§1.2).
BIND_AGENT_OPERATION = "bind_agent_wallet"
AGENT_PAYLOAD_OPERATIONS = frozenset({BIND_AGENT_OPERATION, "revoke_agent_wallet"})

DEFAULT_EXPIRY_WINDOW_MS = 30_000

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_PAIRS = tuple(a + b for a in _B58_ALPHABET for b in _B58_ALPHABET)


def b58encode(raw: bytes) -> str:
    """Bitcoin-alphabet base58, as `base58.b58encode` but about 3x faster.

    Signing is on the hot path (design.md §7 asks >= 25,000 signed requests/s) and the
    library's one-digit-per-division loop cost as much as the Ed25519 signature itself;
    dividing by 58**2 halves the big-integer divisions.
    """
    number = int.from_bytes(raw, "big")
    pairs: list[str] = []
    while number:
        number, rest = divmod(number, 3364)
        pairs.append(_B58_PAIRS[rest])
    digits = "".join(reversed(pairs)).lstrip("1")
    leading_zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * leading_zeros + digits


class Keypair:
    """An Ed25519 keypair whose secret never leaves this object.

    `repr()`/`str()` show the public address only: PyNaCl's `SigningKey.__str__` returns the
    raw seed, so the nacl object is kept private and never formatted.
    """

    __slots__ = ("_signing_key", "public_key")

    def __init__(self, signing_key: SigningKey) -> None:
        self._signing_key = signing_key
        self.public_key: str = b58encode(bytes(signing_key.verify_key))

    @classmethod
    def from_secret(cls, text: str) -> Keypair:
        """Accept a base58 64-byte keypair, a base58 32-byte seed, or a Solana CLI JSON array.

        Errors never echo the input and are raised `from None`. The parsing happens in helpers
        that return rather than raise, and `text` is dropped before raising, so no frame of the
        traceback holds the secret: renderers that show locals (structlog with rich) print
        every frame's variables.
        """
        parsed = cls._parse_secret(text)
        del text
        if isinstance(parsed, str):
            _refuse(parsed)
        return parsed

    @classmethod
    def _parse_secret(cls, text: str) -> Keypair | str:
        """The keypair, or why the text is not one (a reason that never quotes it)."""
        stripped = text.strip()
        if stripped.startswith("["):
            return cls._from_json_array(stripped)
        try:
            raw = base58.b58decode(stripped)
        except ValueError:
            return "the secret is not valid base58"
        if len(raw) == 64:
            return cls._from_keypair_bytes(raw)
        if len(raw) == 32:
            return cls(SigningKey(raw))
        return f"a base58 secret must decode to 32 or 64 bytes, not {len(raw)}"

    @classmethod
    def _from_json_array(cls, text: str) -> Keypair | str:
        try:
            numbers = json.loads(text)
        except ValueError:
            return "the secret looks like a JSON array but does not parse"
        if (
            not isinstance(numbers, list)
            or len(numbers) != 64
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 255
                       for n in numbers)
        ):
            return "a JSON secret must be an array of 64 integers from 0 to 255"
        return cls._from_keypair_bytes(bytes(numbers))

    @classmethod
    def _from_keypair_bytes(cls, raw: bytes) -> Keypair | str:
        key = SigningKey(raw[:32])
        if bytes(key.verify_key) != raw[32:]:
            return "the 64-byte keypair's public half does not match its seed"
        return cls(key)

    def sign(self, message: bytes) -> str:
        return b58encode(self._signing_key.sign(message).signature)

    def __repr__(self) -> str:
        return f"Keypair(public_key={self.public_key!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Keypair cannot be pickled")

    def secret_encodings(self) -> tuple[str, ...]:
        """Every spelling of the secret that `from_secret` accepts, for log redaction only
        (daemon.logs.register_secret): base58 seed, base58 keypair, the JSON array forms."""
        seed = bytes(self._signing_key)
        pair = seed + bytes(self._signing_key.verify_key)
        numbers = list(pair)
        return (b58encode(seed), b58encode(pair), json.dumps(numbers),
                json.dumps(numbers, separators=(",", ":")))


def _refuse(reason: str) -> NoReturn:
    raise ValueError(f"unusable signing key: {reason}") from None


def canonical_message(operation: str, payload: Mapping[str, Any], *, timestamp: int,
                      expiry_window: int) -> bytes:
    """The exact bytes Pacifica verifies: sorted keys at every level, no spaces."""
    _refuse_floats(payload)
    message = {
        "data": payload,
        "expiry_window": expiry_window,
        "timestamp": timestamp,
        "type": operation,
    }
    # sort_keys sorts nested objects too, and lists keep their order (§1.1 step 3).
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _refuse_floats(value: object) -> None:
    # Binary floats do not round-trip as prices; every amount must arrive as a decimal string.
    if isinstance(value, float):
        raise TypeError("floats are not allowed in a signed payload; send decimal strings")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def sign_request(
    keypair: Keypair,
    operation: str,
    payload: Mapping[str, Any],
    *,
    timestamp: int,
    expiry_window: int,
    account: str | None = None,
) -> dict[str, Any]:
    """Return the POST body for `operation`.

    With `account` set to another address the keypair acts as that account's agent wallet:
    the same message is signed with the agent key and the body names the agent.
    """
    signature = keypair.sign(
        canonical_message(operation, payload, timestamp=timestamp, expiry_window=expiry_window)
    )
    body: dict[str, Any] = {
        "account": account or keypair.public_key,
        "signature": signature,
        "timestamp": timestamp,
        "expiry_window": expiry_window,
    }
    body.update(payload)
    if account is not None and account != keypair.public_key:
        body["agent_wallet"] = keypair.public_key
    return body


class SignatureProblem(StrEnum):
    """Why a signed body was refused; the values are Pacifica's error texts (§1.5)."""

    INVALID_SIGNATURE = "Invalid signature"
    INVALID_MESSAGE = "Invalid message"
    INVALID_PUBLIC_KEY = "Invalid public key"
    VERIFICATION_FAILED = "Verification failed"


def signer_of(body: Mapping[str, Any], operation: str) -> str | None:
    """The address whose key must have signed `body`: the agent wallet if one is named."""
    agent = body.get("agent_wallet")
    if operation not in AGENT_PAYLOAD_OPERATIONS and isinstance(agent, str):
        return agent
    account = body.get("account")
    return account if isinstance(account, str) else None


def payload_of(body: Mapping[str, Any], operation: str) -> dict[str, Any]:
    """The signed payload: the body without its envelope fields."""
    skip = ENVELOPE_FIELDS
    if operation in AGENT_PAYLOAD_OPERATIONS:
        skip = ENVELOPE_FIELDS - {"agent_wallet"}
    return {k: v for k, v in body.items() if k not in skip}


def inspect_request(body: Mapping[str, Any], operation: str, *,
                    now_ms: int | None = None) -> SignatureProblem | None:
    """Check a signed body the way Pacifica does; None means it verifies.

    With `now_ms` the expiry rule ``timestamp + expiry_window >= now`` is enforced too.
    """
    timestamp = body.get("timestamp")
    expiry_window = body.get("expiry_window", DEFAULT_EXPIRY_WINDOW_MS)
    if (not isinstance(timestamp, int) or isinstance(timestamp, bool)
            or not isinstance(expiry_window, int) or isinstance(expiry_window, bool)):
        return SignatureProblem.INVALID_MESSAGE
    if now_ms is not None and timestamp + expiry_window < now_ms:
        return SignatureProblem.INVALID_MESSAGE
    signature = body.get("signature")
    if not isinstance(signature, str):
        return SignatureProblem.INVALID_SIGNATURE
    try:
        raw_signature = base58.b58decode(signature)
    except ValueError:
        return SignatureProblem.INVALID_SIGNATURE
    if len(raw_signature) != 64:
        return SignatureProblem.INVALID_SIGNATURE
    signer = signer_of(body, operation)
    try:
        verify_key = VerifyKey(base58.b58decode(signer or ""))
    except ValueError:
        return SignatureProblem.INVALID_PUBLIC_KEY
    try:
        message = canonical_message(operation, payload_of(body, operation),
                                    timestamp=timestamp, expiry_window=expiry_window)
    except (TypeError, ValueError):
        return SignatureProblem.INVALID_MESSAGE
    try:
        verify_key.verify(message, raw_signature)
    except BadSignatureError:
        return SignatureProblem.VERIFICATION_FAILED
    return None


def verify_request(body: Mapping[str, Any], operation: str) -> bool:
    """True when `body` carries a valid signature for `operation` (expiry not checked)."""
    return inspect_request(body, operation) is None
