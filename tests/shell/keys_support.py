"""A test signing key in every form Keypair.from_secret accepts, and helpers to write it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nacl.signing import SigningKey

from daemon.pacifica.signing import b58encode

SEED = bytes(range(1, 33))
PUBLIC = bytes(SigningKey(SEED).verify_key)
SEED_B58 = b58encode(SEED)
PAIR_B58 = b58encode(SEED + PUBLIC)
PAIR_JSON = json.dumps(list(SEED + PUBLIC))
ADDRESS = b58encode(PUBLIC)
FORMS = {"seed": SEED_B58, "keypair": PAIR_B58, "json": PAIR_JSON}
# What must never appear anywhere: each form, and the compact JSON spelling.
ENCODINGS = (SEED_B58, PAIR_B58, PAIR_JSON, json.dumps(list(SEED + PUBLIC), separators=(",", ":")),
             SEED.hex())


def write_key(path: Path, text: str = SEED_B58, mode: int = 0o600) -> Path:
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path
