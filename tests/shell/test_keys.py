"""Key loading: OpenSSH's permission rule, systemd credentials, and no key material anywhere."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import traceback
from pathlib import Path

import pytest
import structlog
from keys_support import (
    ADDRESS,
    ENCODINGS,
    FORMS,
    PAIR_B58,
    SEED_B58,
    write_key,
)

from daemon.keys import KeyLoadError, load_api_key, load_keypair
from daemon.logs import configure_logging
from daemon.pacifica.signing import Keypair
from daemon.settings import KeySource


def no_secret_in(text: str) -> None:
    for encoding in ENCODINGS:
        assert encoding not in text
    # A base58 keypair cut at 80 characters (a truncated repr) must not appear either.
    assert PAIR_B58[:40] not in text
    assert SEED_B58[:30] not in text


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_private_key_file_loads_in_every_form(tmp_path: Path, form: str) -> None:
    path = write_key(tmp_path / "agent.key", FORMS[form])
    keypair = load_keypair(KeySource("file", str(path)), {})
    assert keypair.public_key == ADDRESS


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610, 0o601])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "agent.key", mode=mode)
    with pytest.raises(KeyLoadError) as caught:
        load_keypair(KeySource("file", str(path)), {})
    assert str(caught.value) == (
        f"{path}: permissions {mode:04o} are too open: a key file must not be accessible by "
        "group or others (chmod 600 it)")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_key_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path = write_key(tmp_path / "agent.key")
    os.chown(path, 4242, 4242)
    with pytest.raises(KeyLoadError, match=r"owned by uid 4242, not by the user running"):
        load_keypair(KeySource("file", str(path)), {})


def test_a_fifo_or_a_missing_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyLoadError, match=r"fifo: not a regular file$"):
        load_keypair(KeySource("file", str(fifo)), {})
    with pytest.raises(KeyLoadError, match=r"missing: cannot open: No such file or directory"):
        load_keypair(KeySource("file", str(tmp_path / "missing")), {})


def test_credentials_need_only_the_other_bits_closed(tmp_path: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    write_key(tmp_path / "signing-key", mode=0o440)  # how systemd shows it, through an ACL
    assert load_keypair(KeySource("credential", "signing-key"), env).public_key == ADDRESS
    write_key(tmp_path / "open-key", mode=0o444)
    with pytest.raises(KeyLoadError, match=r"open-key: credential is accessible by others "
                                           r"\(mode 0444\)"):
        load_keypair(KeySource("credential", "open-key"), env)
    with pytest.raises(KeyLoadError, match=r"^credential signing-key: \$CREDENTIALS_DIRECTORY "
                                           r"is not set"):
        load_keypair(KeySource("credential", "signing-key"), {})
    # A key_file that points into the credentials folder is a credential too.
    assert load_keypair(KeySource("file", str(tmp_path / "signing-key")), env).public_key \
        == ADDRESS


def test_an_environment_key_works_and_warns(tmp_path: Path) -> None:
    buffer = io.StringIO()
    configure_logging(json=True, stream=buffer)
    try:
        keypair = load_keypair(KeySource("env", "STOPD_KEY"), {"STOPD_KEY": SEED_B58})
    finally:
        structlog.reset_defaults()
    assert keypair.public_key == ADDRESS
    line = json.loads(buffer.getvalue())
    assert line["level"] == "warning"
    assert line["variable"] == "STOPD_KEY"
    assert "development only" in line["event"]
    with pytest.raises(KeyLoadError, match=r"^environment variable STOPD_KEY is not set"):
        load_keypair(KeySource("env", "STOPD_KEY"), {})


@pytest.mark.parametrize("text", [
    SEED_B58[:-3], PAIR_B58[:-1] + ("2" if PAIR_B58[-1] != "2" else "3"),
    PAIR_B58 + "0OIl", "[" + FORMS["json"][1:-1] + ", 1]",
])
def test_a_bad_key_names_the_file_and_leaks_nothing(tmp_path: Path, text: str) -> None:
    path = write_key(tmp_path / "agent.key", text)
    with pytest.raises(KeyLoadError) as caught:
        load_keypair(KeySource("file", str(path)), {})
    message = str(caught.value)
    assert message.startswith(f"{path}: unusable signing key: ")
    # Even a traceback with every frame's locals shows no key material (the first frame,
    # this test's own, holds `text` and is skipped).
    error = caught.value
    assert error.__traceback__ is not None
    assert error.__traceback__.tb_next is not None
    rendered = "".join(traceback.TracebackException(
        type(error), error, error.__traceback__.tb_next, capture_locals=True).format())
    assert "load_keypair" in rendered
    assert text not in rendered
    assert text[:30] not in rendered
    no_secret_in(rendered)


def test_the_keypair_never_shows_its_secret(tmp_path: Path) -> None:
    keypair = load_keypair(KeySource("file", str(write_key(tmp_path / "k"))), {})
    shown = [str(keypair), repr(keypair), f"{keypair}", f"{keypair!r}", format(keypair, ""),
             str([keypair]), str({"key": keypair})]
    assert all(ADDRESS in text for text in shown)
    for text in shown:
        no_secret_in(text)
    with pytest.raises(TypeError):
        pickle.dumps(keypair)
    with pytest.raises(TypeError):
        copy.deepcopy(keypair)
    assert not hasattr(keypair, "__dict__")  # nothing but the private key object and address
    # structlog's own renderers, without our redaction, show only the public key.
    event = {"event": "loaded", "keypair": keypair}
    rendered = [
        structlog.processors.JSONRenderer()(None, "info", dict(event)),
        structlog.processors.LogfmtRenderer()(None, "info", dict(event)),
        structlog.processors.KeyValueRenderer()(None, "info", dict(event)),
        structlog.dev.ConsoleRenderer(colors=False)(None, "info", dict(event)),
    ]
    for text in rendered:
        assert ADDRESS in text
        no_secret_in(text)


def test_secret_encodings_cover_every_accepted_form(tmp_path: Path) -> None:
    keypair = Keypair.from_secret(SEED_B58)
    encodings = keypair.secret_encodings()
    for form in FORMS.values():
        assert form in encodings


def test_the_api_key_file_follows_the_same_rule(tmp_path: Path) -> None:
    path = write_key(tmp_path / "api.key", "pf-api-key-0123456789")
    assert load_api_key(path, {}) == "pf-api-key-0123456789"
    os.chmod(path, 0o640)
    with pytest.raises(KeyLoadError, match=r"api.key: permissions 0640 are too open"):
        load_api_key(path, {})
    write_key(path, "two words")
    with pytest.raises(KeyLoadError) as caught:
        load_api_key(path, {})
    assert str(caught.value) == f"{path}: expected one API config key on one line"
