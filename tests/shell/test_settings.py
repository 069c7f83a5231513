"""The settings file: every key of issue 10, its defaults, and located errors for bad input."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.pacifica.endpoints import MAINNET, TESTNET
from daemon.pacifica.signing import b58encode
from daemon.rulefiles import load_rulebook
from daemon.settings import (
    AccountSettings,
    AlertSettings,
    ExchangeSettings,
    KeySource,
    SettingsError,
    load_settings,
)

ADDRESS = "42trU9A5nfMxaz7k2AeWmDbfQ1rvxoKAf5vdqf6XBDVV"
MINIMAL = """\
exchange:
  network: testnet
accounts:
  - key_file: agent.key
rules: rules/
state: state/stopd.db
"""


def write(tmp_path: Path, text: str, name: str = "stopd.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, env or {})
    assert str(caught.value) == "\n".join(caught.value.problems)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems), caught.value.problems
    return [p[len(prefix):] for p in caught.value.problems]


def test_every_key_is_read_and_relative_paths_follow_the_settings_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, f"""\
exchange:
  rest_url: http://127.0.0.1:8787/api/v1
  ws_url: ws://127.0.0.1:8787/ws
  api_key_file: secrets/api.key
accounts:
  - address: {ADDRESS}
    key_file: keys/agent.key
  - key_credential: signing-key
  - key_env: STOPD_DEV_KEY
rules: ../rules/
state: /var/lib/stopd/stopd.db
metrics: 0.0.0.0:9500
reconcile_interval: 1m30s
stale_after: 20s
close_slippage: 1.25%
""")
    settings = load_settings(path, {})
    assert settings.source == path
    assert settings.exchange == ExchangeSettings(
        "http://127.0.0.1:8787/api/v1", "ws://127.0.0.1:8787/ws",
        (folder / "secrets/api.key").resolve())
    assert settings.accounts == (
        AccountSettings(ADDRESS, KeySource("file", str((folder / "keys/agent.key").resolve()))),
        AccountSettings(None, KeySource("credential", "signing-key")),
        AccountSettings(None, KeySource("env", "STOPD_DEV_KEY")),
    )
    assert settings.rules == (tmp_path / "rules").resolve()
    assert settings.state == Path("/var/lib/stopd/stopd.db")
    assert settings.metrics == ("0.0.0.0", 9500)
    assert settings.reconcile_interval == timedelta(seconds=90)
    assert settings.stale_after == timedelta(seconds=20)
    assert settings.close_slippage == Decimal("1.25")


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # relative paths must not depend on the working directory
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert (settings.exchange.rest_url, settings.exchange.ws_url) == (TESTNET.rest, TESTNET.ws)
    assert settings.exchange.api_key_file is None
    assert settings.accounts == (
        AccountSettings(None, KeySource("file", str((tmp_path / "agent.key").resolve()))),)
    assert settings.state == (tmp_path / "state/stopd.db").resolve()
    assert settings.metrics == ("127.0.0.1", 9464)
    assert settings.reconcile_interval == timedelta(seconds=15)
    assert settings.stale_after == timedelta(seconds=10)
    assert settings.close_slippage == Decimal("0.5")


def test_home_folders_are_expanded_and_odd_paths_are_left_to_their_readers(
        tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    text = MINIMAL.replace("rules: rules/", "rules: ~/rules").replace(
        "state: state/stopd.db", "state: ~nosuchuser/stopd.db").replace(
        "key_file: agent.key", "key_file: loop1/agent.key")
    settings = load_settings(write(tmp_path, text), {})
    assert settings.rules == (Path.home() / "rules").resolve()
    assert settings.state == tmp_path.resolve() / "~nosuchuser" / "stopd.db"
    assert settings.accounts[0].key.name.endswith("/agent.key")  # keys.py will say "loop"


def test_mainnet_and_a_custom_url_without_ws(tmp_path: Path) -> None:
    text = MINIMAL.replace("network: testnet", "network: mainnet")
    settings = load_settings(write(tmp_path, text), {})
    assert (settings.exchange.rest_url, settings.exchange.ws_url) == (MAINNET.rest, MAINNET.ws)
    text = MINIMAL.replace("network: testnet", "rest_url: https://proxy.example:8443/api/v1/")
    settings = load_settings(write(tmp_path, text), {})
    assert settings.exchange.rest_url == "https://proxy.example:8443/api/v1"
    assert settings.exchange.ws_url == "wss://proxy.example:8443/ws"


def test_state_defaults_to_the_systemd_state_directory_or_refuses_to_guess(
        tmp_path: Path) -> None:
    text = MINIMAL.replace("state: state/stopd.db\n", "")
    path = write(tmp_path, text)
    env = {"STATE_DIRECTORY": "/var/lib/stopd:/var/lib/other"}
    assert load_settings(path, env).state == Path("/var/lib/stopd/stopd.db")
    assert problems(tmp_path, text) == [
        "1:1: state: no `state:` path and no $STATE_DIRECTORY (systemd's StateDirectory=): "
        "write where the state file goes; the daemon will not guess"]


@pytest.mark.parametrize(("written", "expected"), [
    ("off", None), ("false", None), ('"off"', None), ("9470", ("127.0.0.1", 9470)),
    ("localhost:0", ("localhost", 0)), ("'[::1]:9464'", ("::1", 9464)),
])
def test_metrics_forms(tmp_path: Path, written: str, expected: object) -> None:
    path = write(tmp_path, MINIMAL + f"metrics: {written}\n")
    assert load_settings(path, {}).metrics == expected


def test_every_problem_is_located_at_once(tmp_path: Path) -> None:
    assert problems(tmp_path, """\
exchange:
  network: mainnet
  ws_url: wss://x.example/ws
accounts:
  - address: nope
    key_file: a
  - key_credential: ../x
  - key_file: a
    key_env: B
rules: 5
metrics: true
reconcile_intervall: 3s
stale_after: 0s
close_slippage: 0.5
""") == [
        "2:3: exchange: `ws_url` goes with `rest_url`; mainnet has its own stream URL",
        "5:14: accounts[0].address: `nope` is not an account address (base58 of 32 bytes)",
        "7:21: accounts[1].key_credential: a credential name is a file name under "
        "$CREDENTIALS_DIRECTORY, got `../x`",
        "8:5: accounts[2]: give exactly one of `key_file`, `key_credential` or `key_env` "
        "(found key_file, key_env)",
        "10:8: rules: a path must be text, got `5`",
        "11:10: metrics: expected `host:port` (such as `127.0.0.1:9464`) or `off`, got true",
        "12:1: reconcile_intervall: unknown key `reconcile_intervall`; did you mean "
        "`reconcile_interval`?",
        "13:14: stale_after: stale_after must be longer than zero",
        "14:17: close_slippage: write close_slippage as a percentage such as `0.5%`, got `0.5`",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["1:1: <file>: empty file: a settings file needs at least `exchange`, `accounts` "
          "and `rules`"]),
    ("- a\n", ["1:1: <document>: expected a mapping of keys to values, got a list"]),
    ("exchange: {}\naccounts: []\nrules: r\nstate: s\n", [
        "1:11: exchange: give either `network` (mainnet or testnet) or `rest_url` (with "
        "`ws_url`), not both and not neither",
        "2:11: accounts: must not be empty"]),
    ("exchange: {network: devnet}\naccounts: [{key_env: K}]\nstate: s\n", [
        "1:1: <document>: missing required key `rules`",
        "1:21: exchange.network: expected one of mainnet or testnet, got text `devnet`"]),
    (MINIMAL.replace("network: testnet", "rest_url: ftp://x"),
     ["2:13: exchange.rest_url: expected a http:// or https:// URL, got `ftp://x`"]),
    (MINIMAL + "close_slippage: 100%\n",
     ["7:17: close_slippage: close_slippage must be above 0% and below 100%, got `100%`"]),
    (MINIMAL + "metrics: 127.0.0.1:99999\n",
     ["7:10: metrics: the port in `127.0.0.1:99999` is not between 0 and 65535"]),
    (MINIMAL + "stale_after: 10\n",
     ["7:14: stale_after: expected a duration with a unit such as `30s`, `5m`, `2h` or `3d`, "
      "got `10`"]),
    (MINIMAL + "state: again\n",
     ["7:1: state: duplicate key `state` (first written at line 6)"]),
    (MINIMAL + "metrics:\n",
     ["7:1: metrics: empty value: write a value here (or `false` to turn an inherited "
      "component off)"]),
])
def test_bad_files(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_one_account_listed_twice_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace("  - key_file: agent.key\n",
                           f"  - {{address: {ADDRESS}, key_env: A}}\n"
                           f"  - {{address: {ADDRESS}, key_env: B}}\n"
                           "  - key_env: C\n  - key_env: C\n")
    assert problems(tmp_path, text) == [
        "5:5: accounts[1]: the same account as accounts[0] (line 4)",
        "7:5: accounts[3]: the same account as accounts[2] (line 6)"]


def test_unreadable_files_are_located_problems(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "missing.yaml", {})
    assert caught.value.problems == (f"{tmp_path}/missing.yaml:1:1: <file>: no such file or "
                                     "directory",)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, {})
    assert caught.value.problems == (f"{tmp_path}:1:1: <file>: not a regular file",)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"rules: caf\xe9\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    assert caught.value.problems == (
        f"{path}:1:11: <file>: not UTF-8 text (rule files must be UTF-8)",)


def test_the_shipped_example_loads_and_points_at_the_simulator_and_the_rules() -> None:
    root = Path(__file__).resolve().parents[2]
    settings = load_settings(root / "examples" / "stopd.yaml", {})
    assert settings.exchange == ExchangeSettings(
        "http://127.0.0.1:8787/api/v1", "ws://127.0.0.1:8787/ws", None)
    assert settings.rules == root / "rules"
    assert load_rulebook([settings.rules]).rules  # the rules it names are valid
    assert settings.state == root / "examples" / "state" / "stopd.db"
    assert [a.key for a in settings.accounts] == [
        KeySource("file", str(root / "examples" / "keys" / "agent.key"))]
    assert settings.metrics == ("127.0.0.1", 9464)
    assert settings.close_slippage == Decimal("0.5")


def test_a_key_pasted_where_its_path_or_name_belongs_is_never_echoed(tmp_path: Path) -> None:
    seed = b58encode(bytes(range(7, 39)))
    pair = b58encode(bytes(range(64)))
    array = "[" + ", ".join(str(n) for n in range(64)) + "]"
    text = f"""\
exchange:
  network: testnet
  api_key_file: {seed}
accounts:
  - key_file: {pair}
  - key_env: {seed}
  - key_credential: '{array}'
  - address: {pair}
    key_file: k
rules: r
state: s
"""
    found = problems(tmp_path, text)
    looks = ("this looks like a signing key itself: put the key in a file (mode 0600) or a "
             "systemd credential and name that here")
    assert found == [
        f"3:17: exchange.api_key_file: {looks}",
        f"5:15: accounts[0].key_file: {looks}",
        f"6:14: accounts[1].key_env: {looks}",
        f"7:21: accounts[2].key_credential: {looks}",
        f"8:14: accounts[3].address: {looks}",
    ]
    shown = "\n".join(found)
    for secret in (seed, pair, array):
        assert secret[:8] not in shown


LINES = [*MINIMAL.splitlines(),
    "metrics: off", "metrics: [1, 2]", "reconcile_interval: 1d", "stale_after: {a: 1}",
    "close_slippage: .nan", "close_slippage: 1e400%", "exchange: []", "accounts: {}",
    "  - {key_env: 'A B'}", "  rest_url: http://[::1", "state: &a x", "rules: *a", "<<: {}",
    "  - address: 42trU9A5nfMxaz7k2AeWmDbfQ1rvxoKAf5vdqf6XBDVV", "\t", "'", "- ",
    "api_key_file: ~", "metrics: ':'", "metrics: '[::1]:x'", "rules: ~nosuchuser/r"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=30)), max_size=12))
def test_any_text_is_either_settings_or_located_errors(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stopd.yaml"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        found: tuple[str, ...] = ("loaded",)
        try:
            load_settings(path, {})
        except SettingsError as exc:  # anything else escaping fails the test
            found = exc.problems
    assert found
    assert all(p == "loaded" or (p.startswith(f"{path}:") and "\n" not in p) for p in found)


def test_webhook_alerts_are_off_by_default_and_read_when_given(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert settings.alerts is None
    assert settings.bare_alert_after == timedelta(seconds=30)
    text = MINIMAL + "alerts:\n  webhook: https://hooks.example/T0/B1?token=x\n" \
                     "bare_alert_after: 1m\n"
    settings = load_settings(write(tmp_path, text), {})
    assert settings.alerts == AlertSettings("https://hooks.example/T0/B1?token=x")
    assert settings.bare_alert_after == timedelta(minutes=1)


@pytest.mark.parametrize(("text", "expected"), [
    ("alerts:\n  webhook: ftp://x\n",
     "8:12: alerts.webhook: expected a http:// or https:// URL, got `ftp://x`"),
    ("alerts:\n  web_hook: http://x\n",
     "8:3: alerts.web_hook: unknown key `web_hook`; did you mean `webhook`?"),
    ("bare_alert_after: 30\n",
     "7:19: bare_alert_after: expected a duration with a unit such as `30s`, `5m`, `2h` or "
     "`3d`, got `30`"),
])
def test_bad_alert_settings_are_located(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, MINIMAL + text)
