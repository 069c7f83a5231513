"""Logging: structlog to stderr, JSON lines for machines, readable lines on a terminal.

The daemon holds signing keys, so three things stand between a key and a log line:
- tracebacks are rendered without local variables (structlog's JSON recipe and rich's console
  default both show every frame's locals, where a key being parsed may sit);
- exceptions are rendered to text *before* redaction, so a secret inside an exception message
  is caught like any other value;
- a redaction processor, the last one before the renderer, replaces every registered secret
  encoding wherever it appears and blanks the values of secret-named keys; the rendered line
  is scrubbed once more, in case a renderer formats an object that carries one.
Standard-library loggers (httpx, websockets, apscheduler) go through the same chain.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

REDACTED = "[REDACTED]"
# Values under these keys are never shown, whatever they hold.
DENYLIST = frozenset({
    "private_key", "secret", "secret_key", "seed", "signing_key", "keypair_secret",
    "key_material", "mnemonic", "password", "api_key",
})
# Libraries that log every request at INFO; their warnings still come through.
_CHATTY = ("httpx", "httpcore", "websockets", "apscheduler", "aiohttp.access")

# Replaced whole, never changed in place: a thread logging while a key loads iterates a
# tuple that cannot change under it. Longest first, so no shorter secret cuts a longer one.
_secrets: tuple[str, ...] = ()
_lock = threading.Lock()


def register_secret(*encodings: str) -> None:
    """From now on, every log line shows `[REDACTED]` wherever one of these strings appears."""
    global _secrets
    with _lock:
        known = set(_secrets).union(e for e in encodings if len(e) >= 8)  # short: no secret
        _secrets = tuple(sorted(known, key=len, reverse=True))


def scrub(text: str) -> str:
    """`text` with every registered secret replaced: for what leaves the process other than
    through a log line (an alert's webhook document)."""
    return _scrub(text)


def _scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _denied(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return _scrub(repr(value))
    return value


def _denied(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in DENYLIST


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The last processor before rendering: no registered secret and no denylisted value."""
    return {key: REDACTED if _denied(key) else _redact_value(value)
            for key, value in event_dict.items()}


class _Scrubbed:
    """A renderer whose output is scrubbed again: what it formats may hold what we missed."""

    def __init__(self, renderer: Callable[[WrappedLogger, str, EventDict], str | bytes]) -> None:
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, method, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else rendered
        return _scrub(text)


def _console_traceback(exc_info: ExcInfo) -> str:
    """A readable traceback as text, locals never shown (rich's default would show them).

    Rich wraps long messages and highlights each number of a JSON array apart, which would
    split a secret where the redaction that follows could no longer see it: a traceback that
    holds one is rendered plainly, on unbroken lines, and the redaction finds it there.
    """
    plain = io.StringIO()
    structlog.dev.plain_traceback(plain, exc_info)
    text = plain.getvalue()
    if _scrub(text) != text or importlib.util.find_spec("rich") is None:  # rich is optional
        return text
    fancy = io.StringIO()
    structlog.dev.RichTracebackFormatter(show_locals=False, width=100, color_system=None)(
        fancy, exc_info)
    return fancy.getvalue()


def processors(*, json: bool) -> tuple[list[Processor], list[Processor]]:
    """(the chain every event goes through, the final rendering steps)."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if json:
        exceptions = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        renderer: Processor = _Scrubbed(structlog.processors.JSONRenderer())
    else:
        exceptions = ExceptionRenderer(_console_traceback)
        renderer = _Scrubbed(structlog.dev.ConsoleRenderer(colors=False))
    final: list[Processor] = [exceptions, redact, renderer]
    return shared, final


def configure_logging(*, json: bool | None = None, level: str = "info",
                      stream: TextIO | None = None) -> None:
    """Send every log line (ours and the libraries') to `stream` (stderr by default).

    `json=None` chooses by the stream: JSON lines unless it is a terminal.
    """
    stream = sys.stderr if stream is None else stream
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    shared, final = processors(json=json)
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
