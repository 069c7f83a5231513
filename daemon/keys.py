"""Signing keys and the API config key, read the way a careful key-holding daemon reads them.

A key file must be a regular file owned by the running user and unreadable by group and
others (OpenSSH's rule for private keys). Under $CREDENTIALS_DIRECTORY only the "other" bits
are checked: systemd shows credentials 0440 through an ACL, and the folder itself is private
to the unit. Environment variables are for development: they are inherited by children and
visible over D-Bus, so using one logs a warning.

No message ever quotes key material: errors name the path, credential or variable, and are
raised `from None` after the text is dropped, so no traceback frame holds it either. Every
loaded secret is registered with daemon.logs, whose redaction is the last line of defence.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import structlog

from daemon.logs import register_secret
from daemon.pacifica.signing import Keypair
from daemon.settings import KeySource

MAX_KEY_BYTES = 4096  # a Solana JSON keypair is ~250 bytes; anything far larger is not a key

log = structlog.get_logger(__name__)


class KeyLoadError(Exception):
    """A key that cannot be used; the message names where it came from, never what it holds."""


def load_keypair(source: KeySource, env: Mapping[str, str]) -> Keypair:
    """The signing keypair from a key file, a systemd credential or (development) a variable."""
    if source.kind == "env":
        where = f"environment variable {source.name}"
        text = env.get(source.name)
        if text is None or not text.strip():
            raise KeyLoadError(f"{where} is not set or empty")
        log.warning("signing key read from the environment: for development only; use "
                    "key_file or key_credential in production", variable=source.name)
    else:
        path = _key_path(source, env)
        where = str(path)
        text = _read_private(path, env)
    keypair = _parse(text)
    del text
    if isinstance(keypair, str):
        raise KeyLoadError(f"{where}: {keypair}") from None
    register_secret(*keypair.secret_encodings())
    return keypair


def load_api_key(path: Path, env: Mapping[str, str] | None = None) -> str:
    """The API config key (PF-API-KEY) from a file, under the same permission rule as keys."""
    env = os.environ if env is None else env
    text = _read_private(path, env).strip()
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        del text
        raise KeyLoadError(f"{path}: expected one API config key on one line") from None
    register_secret(text)
    return text


def _key_path(source: KeySource, env: Mapping[str, str]) -> Path:
    if source.kind == "file":
        return Path(source.name)
    folder = env.get("CREDENTIALS_DIRECTORY")
    if not folder:
        raise KeyLoadError(f"credential {source.name}: $CREDENTIALS_DIRECTORY is not set "
                           "(run under systemd with LoadCredential=, or use key_file)")
    return Path(folder) / source.name


def _under_credentials(path: Path, env: Mapping[str, str]) -> bool:
    folder = env.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return False
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _read_private(path: Path, env: Mapping[str, str]) -> str:
    """The file's text, after the permission checks, which run on the opened file itself so
    that a swap between check and read changes nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise KeyLoadError(f"{path}: cannot open: {exc.strerror or type(exc).__name__}") \
            from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        problem = _permission_problem(info, credential=_under_credentials(path, env))
        if problem is not None:
            raise KeyLoadError(f"{path}: {problem}") from None
        raw = handle.read(MAX_KEY_BYTES + 1)
    if len(raw) > MAX_KEY_BYTES:
        raise KeyLoadError(f"{path}: larger than {MAX_KEY_BYTES} bytes; not a key file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyLoadError(f"{path}: not UTF-8 text") from None


def _permission_problem(info: os.stat_result, *, credential: bool) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    mode = stat.S_IMODE(info.st_mode)
    if credential:
        if mode & 0o007:
            return (f"credential is accessible by others (mode {mode:04o}); "
                    "it must not be readable by others")
        return None
    if info.st_uid != os.geteuid():
        return (f"owned by uid {info.st_uid}, not by the user running the daemon "
                f"(uid {os.geteuid()}); refusing a key someone else controls")
    if mode & 0o077:
        return (f"permissions {mode:04o} are too open: a key file must not be accessible by "
                "group or others (chmod 600 it)")
    return None


def _parse(text: str) -> Keypair | str:
    """The keypair, or the reason it is not one (never quoting the text)."""
    try:
        return Keypair.from_secret(text)
    except ValueError as exc:
        return str(exc)
