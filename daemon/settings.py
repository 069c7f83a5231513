"""The daemon's settings file (docs/configuration.md) -> an immutable `Settings`.

The file is read with the rule language's YAML layer, so it gets the same guarantees (exact
decimals, no duplicate keys, bounded aliases and size) and its errors read exactly like rule
errors: `file:line:column: key.path: message`. Every problem is reported at once, and nothing
starts on any of them. Relative paths are relative to the settings file, not to wherever the
daemon happens to be started. Keys are only *located* here; reading them is daemon.keys' job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import base58
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, model_validator

from daemon.pacifica.endpoints import NETWORKS, endpoints
from daemon.rulefiles import read_source
from daemon.rules.errors import Problem, RuleErrors, sort_problems
from daemon.rules.locate import problems_from
from daemon.rules.values import canonical, duration, percentage, rule_error, shown
from daemon.rules.yamlsource import Document, decode, parse

DEFAULT_METRICS = ("127.0.0.1", 9464)
DEFAULT_RECONCILE_INTERVAL = timedelta(seconds=15)
DEFAULT_STALE_AFTER = timedelta(seconds=10)
DEFAULT_CLOSE_SLIPPAGE = Decimal("0.5")  # percent, as Pacifica's slippage_percent
DEFAULT_BARE_ALERT_AFTER = timedelta(seconds=30)
STATE_FILE_NAME = "stopd.db"

_EMPTY = "empty file: a settings file needs at least `exchange`, `accounts` and `rules`"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^\[[0-9A-Fa-f:.]+\]$")


class SettingsError(Exception):
    """A settings file the daemon will not start with; `problems` are its located lines."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where an account's signing key is read from (never the key itself).

    file: the absolute resolved path; credential: a NAME under $CREDENTIALS_DIRECTORY;
    env: the name of an environment variable (development only).
    """

    kind: Literal["file", "credential", "env"]
    name: str


@dataclass(frozen=True, slots=True)
class AccountSettings:
    address: str | None  # None: the key is the account's main key
    key: KeySource


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    rest_url: str
    ws_url: str
    api_key_file: Path | None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    webhook: str  # http(s) URL that alert documents are POSTed to (daemon/alerts.py)


@dataclass(frozen=True, slots=True)
class Settings:
    source: Path
    exchange: ExchangeSettings
    accounts: tuple[AccountSettings, ...]
    rules: Path
    state: Path
    metrics: tuple[str, int] | None
    reconcile_interval: timedelta = DEFAULT_RECONCILE_INTERVAL
    stale_after: timedelta = DEFAULT_STALE_AFTER
    close_slippage: Decimal = DEFAULT_CLOSE_SLIPPAGE  # percent: Decimal("0.5") is 0.5 %
    alerts: AlertSettings | None = None  # None: no webhook alerts
    bare_alert_after: timedelta = DEFAULT_BARE_ALERT_AFTER


# --- single values -------------------------------------------------------------------------

def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise rule_error(f"{what} must be text, got {shown(value)}")
    if "\0" in value:
        raise rule_error(f"{what} must not contain a NUL character")
    return value.strip()


def _decoded_length(text: str) -> int:
    try:
        return len(base58.b58decode(text))
    except ValueError:
        return -1


def _refuse_key_material(text: str, *, seed_too: bool = True) -> None:
    """A key pasted where its path or name belongs must not be echoed back in an error: the
    message says what the value looks like, and quotes none of it."""
    lengths = (32, 64) if seed_too else (64,)
    if text.startswith("[") or _decoded_length(text) in lengths:
        raise rule_error("this looks like a signing key itself: put the key in a file (mode "
                         "0600) or a systemd credential and name that here")


def _key_text(value: Any, what: str) -> str:
    text = _text(value, what)
    _refuse_key_material(text)
    return text


def _path_text(value: Any) -> str:
    return _text(value, "a path")


def _key_path(value: Any) -> str:
    return _key_text(value, "a path")


def _url(value: Any, schemes: tuple[str, ...]) -> str:
    text = _text(value, "a URL")
    parts = urlsplit(text)
    if parts.scheme not in schemes or not parts.netloc:
        raise rule_error(f"expected a {' or '.join(s + '://' for s in schemes)} URL, "
                         f"got {shown(text)}")
    return text


def _address(value: Any) -> str:
    text = _text(value, "an address")
    _refuse_key_material(text, seed_too=False)  # a seed has an address's shape: cannot tell
    if _decoded_length(text) != 32:
        raise rule_error(f"{shown(text)} is not an account address (base58 of 32 bytes)")
    return text


def _credential(value: Any) -> str:
    text = _key_text(value, "a credential name")
    if "/" in text or text in (".", ".."):
        raise rule_error(f"a credential name is a file name under $CREDENTIALS_DIRECTORY, "
                         f"got {shown(text)}")
    return text


def _env_name(value: Any) -> str:
    text = _key_text(value, "an environment variable name")
    if not _ENV_NAME.match(text):
        raise rule_error(f"{shown(text)} is not an environment variable name")
    return text


def _metrics(value: Any) -> tuple[str, int] | None:
    """`host:port`, a bare port (on 127.0.0.1), or off/false. Port 0 lets the system pick."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "false")):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return DEFAULT_METRICS[0], _port(value, value)
    if not isinstance(value, str) or ":" not in value:
        raise rule_error(f"expected `host:port` (such as `127.0.0.1:9464`) or `off`, "
                         f"got {shown(value)}")
    host, _, port = value.strip().rpartition(":")
    if not _HOST.match(host):
        raise rule_error(f"{shown(host)} is not a host name or address")
    if not port.isdigit():
        raise rule_error(f"expected `host:port` with a numeric port, got {shown(value)}")
    return host.strip("[]"), _port(int(port), value)


def _port(port: int, written: Any) -> int:
    if not 0 <= port <= 65535:
        raise rule_error(f"the port in {shown(written)} is not between 0 and 65535")
    return port


def _slippage(value: Any) -> Decimal:
    ratio = percentage(value, "close_slippage")
    if ratio is None:
        raise rule_error(f"write close_slippage as a percentage such as `0.5%`, "
                         f"got {shown(value)}")
    if not 0 < ratio < 1:
        raise rule_error(f"close_slippage must be above 0% and below 100%, got {shown(value)}")
    return canonical(ratio.scaleb(2))


def _check(func: Any, *args: Any) -> PlainValidator:
    return PlainValidator(lambda value: func(value, *args))


PathText = Annotated[str, PlainValidator(_path_text)]
KeyPath = Annotated[str, PlainValidator(_key_path)]
RestUrl = Annotated[str, _check(_url, ("http", "https"))]
WsUrl = Annotated[str, _check(_url, ("ws", "wss"))]
Address = Annotated[str, PlainValidator(_address)]
CredentialName = Annotated[str, PlainValidator(_credential)]
EnvName = Annotated[str, PlainValidator(_env_name)]
Metrics = Annotated[tuple[str, int] | None, PlainValidator(_metrics)]
ReconcileInterval = Annotated[timedelta, _check(duration, "reconcile_interval")]
StaleAfter = Annotated[timedelta, _check(duration, "stale_after")]
CloseSlippage = Annotated[Decimal, PlainValidator(_slippage)]
BareAlertAfter = Annotated[timedelta, _check(duration, "bare_alert_after")]


# --- the file's grammar ---------------------------------------------------------------------

class _Strict(BaseModel):
    # A typo such as `reconcile_intervall:` must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExchangeModel(_Strict):
    network: Literal["mainnet", "testnet"] | None = None
    rest_url: RestUrl | None = None
    ws_url: WsUrl | None = None
    api_key_file: KeyPath | None = None

    @model_validator(mode="after")
    def _one_place(self) -> ExchangeModel:
        if (self.network is None) == (self.rest_url is None):
            raise rule_error("give either `network` (mainnet or testnet) or `rest_url` "
                             "(with `ws_url`), not both and not neither")
        if self.network is not None and self.ws_url is not None:
            raise rule_error(f"`ws_url` goes with `rest_url`; {self.network} has its own "
                             "stream URL")
        return self


class AccountModel(_Strict):
    address: Address | None = None
    key_file: KeyPath | None = None
    key_credential: CredentialName | None = None
    key_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_key(self) -> AccountModel:
        given = [name for name in ("key_file", "key_credential", "key_env")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise rule_error("give exactly one of `key_file`, `key_credential` or `key_env`"
                             + (f" (found {', '.join(given)})" if given else ""))
        return self


class AlertsModel(_Strict):
    webhook: RestUrl


class SettingsModel(_Strict):
    exchange: ExchangeModel
    accounts: Annotated[list[AccountModel], Field(min_length=1)]
    rules: PathText
    state: PathText | None = None
    metrics: Metrics = DEFAULT_METRICS
    reconcile_interval: ReconcileInterval = DEFAULT_RECONCILE_INTERVAL
    stale_after: StaleAfter = DEFAULT_STALE_AFTER
    close_slippage: CloseSlippage = DEFAULT_CLOSE_SLIPPAGE
    alerts: AlertsModel | None = None
    bare_alert_after: BareAlertAfter = DEFAULT_BARE_ALERT_AFTER


# --- loading --------------------------------------------------------------------------------

def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings file at `path`; raise SettingsError with every problem.

    `env` (default: the process environment) supplies $STATE_DIRECTORY, systemd's state
    folder, used when the file names no `state`.
    """
    env = os.environ if env is None else env
    filename = str(path)
    raw = read_source(filename)
    if isinstance(raw, Problem):
        raise SettingsError((str(raw),))
    try:
        document = parse(decode(raw, filename), filename, empty=_EMPTY)
    except RuleErrors as exc:
        raise SettingsError(tuple(str(p) for p in exc.errors)) from None
    try:
        model = SettingsModel.model_validate(document.data)
    except ValidationError as exc:
        problems = problems_from(exc, document, SettingsModel)
        raise SettingsError(tuple(str(p) for p in sort_problems(problems))) from None
    return _settings(model, document, Path(path).absolute(), env)


def _settings(model: SettingsModel, document: Document, source: Path,
              env: Mapping[str, str]) -> Settings:
    base = source.parent
    problems: list[Problem] = []
    state = _state_path(model.state, base, env, document, problems)
    problems.extend(_duplicate_accounts(model, document))
    if problems:
        raise SettingsError(tuple(str(p) for p in sort_problems(problems)))
    assert state is not None
    return Settings(
        source=source,
        exchange=_exchange(model.exchange, base),
        accounts=tuple(AccountSettings(a.address, _key_source(a, base)) for a in model.accounts),
        rules=_resolve(model.rules, base),
        state=state,
        metrics=model.metrics,
        reconcile_interval=model.reconcile_interval,
        stale_after=model.stale_after,
        close_slippage=model.close_slippage,
        alerts=None if model.alerts is None else AlertSettings(model.alerts.webhook),
        bare_alert_after=model.bare_alert_after,
    )


def _resolve(text: str, base: Path) -> Path:
    # os.path leaves an unknown ~user or a symlink loop as written where pathlib would raise;
    # the component that opens the path then says what is wrong with it.
    return Path(os.path.realpath(base / os.path.expanduser(text)))


def _exchange(model: ExchangeModel, base: Path) -> ExchangeSettings:
    if model.network is not None:
        urls = NETWORKS[model.network]
    else:
        assert model.rest_url is not None
        urls = endpoints(model.rest_url, ws=model.ws_url)  # both URLs are checked already
    api_key_file = None if model.api_key_file is None else _resolve(model.api_key_file, base)
    return ExchangeSettings(urls.rest, urls.ws, api_key_file)


def _key_source(model: AccountModel, base: Path) -> KeySource:
    if model.key_file is not None:
        return KeySource("file", str(_resolve(model.key_file, base)))
    if model.key_credential is not None:
        return KeySource("credential", model.key_credential)
    assert model.key_env is not None
    return KeySource("env", model.key_env)


def _state_path(written: str | None, base: Path, env: Mapping[str, str], document: Document,
                problems: list[Problem]) -> Path | None:
    if written is not None:
        return _resolve(written, base)
    # systemd joins several StateDirectory= entries with ':'; the first is the unit's own.
    folder = env.get("STATE_DIRECTORY", "").split(":")[0]
    if folder and Path(folder).is_absolute():
        return Path(folder) / STATE_FILE_NAME
    problems.append(document.problem(
        ("state",), "no `state:` path and no $STATE_DIRECTORY (systemd's StateDirectory=): "
                    "write where the state file goes; the daemon will not guess"))
    return None


def _duplicate_accounts(model: SettingsModel, document: Document) -> list[Problem]:
    """The same account twice would run two protectors over one position."""
    problems: list[Problem] = []
    seen: dict[object, int] = {}
    for index, account in enumerate(model.accounts):
        identity: object = account.address or (account.key_file, account.key_credential,
                                               account.key_env)
        first = seen.setdefault(identity, index)
        if first != index:
            line = document.locate(("accounts", first))[1].line
            problems.append(document.problem(
                ("accounts", index), f"the same account as accounts[{first}] (line {line})"))
    return problems
