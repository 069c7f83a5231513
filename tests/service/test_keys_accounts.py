"""Keys and accounts: two accounts in one process (one main key, one agent wallet) are both
protected; the key never appears in any output, a failing start included; a 0644 key file is
refused; bad settings stop the start with file:line:column and exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import base58
from conftest import finish, make_world
from service_support import AccountSpec, World, eventually, keypair, secret_text, seed_key, stopd

from daemon.domain import Side
from daemon.sim import Simulator


def secrets_of(spec: AccountSpec) -> list[str]:
    key = spec.key
    return [secret_text(key), base58.b58encode(bytes(key)).decode(), str(list(bytes(key)))[:40]]


async def test_two_accounts_main_and_agent(sim: Simulator, tmp_path: Path) -> None:
    main_b = seed_key(22)
    agent = seed_key(23)
    binder = World(sim, tmp_path, [], tmp_path, tmp_path, tmp_path, None).trader(
        AccountSpec(main_b))
    await binder.bind_agent_wallet(keypair(agent).public_key)
    first = AccountSpec(seed_key(21))
    second = AccountSpec(agent, address=keypair(main_b).public_key)
    world = await make_world(sim, tmp_path, [first, second])
    world.traders.append(binder)
    try:
        await world.open(world.trader(first), "BTC", Side.BID, "0.01")
        daemon = world.daemon()
        daemon.start()
        await world.open(world.trader(second), "ETH", Side.ASK, "1")
        await eventually(lambda: world.covered(first) and world.covered(second)
                         and bool(world.our_stops(second)), 8,
                         "both accounts covered", daemon=daemon)
        assert world.our_stops(first)
        assert world.our_stops(second)
        assert await daemon.stop() == 0
        output = daemon.output()
        for spec in (first, second):
            for secret in secrets_of(spec):
                assert secret not in output
        assert world.duplicates(first) == []
        assert world.duplicates(second) == []
    finally:
        await finish(world)


async def test_bad_keys_and_settings_refused_without_leaking(world: World) -> None:
    spec = world.accounts[0]
    key_file = world.tmp / "account0.key"
    key_file.chmod(0o644)
    code, out, err = await stopd("run", "--config", str(world.config))
    assert code != 0
    assert str(key_file) in err + out
    key_file.chmod(0o600)

    # A key file that is not a key: named, never shown.
    key_file.write_text(secret_text(spec.key)[:-3] + "0OI")
    code, out, err = await stopd("run", "--config", str(world.config))
    assert code != 0
    assert str(key_file) in err + out
    for secret in secrets_of(spec):
        assert secret[:20] not in out + err

    # Bad settings: file:line:column: key.path: message, exit 2, nothing started.
    world.config.write_text(world.config.read_text().replace("reconcile_interval: 2s",
                                                             "reconcile_interval: soon"))
    code, out, err = await stopd("run", "--config", str(world.config))
    assert code == 2
    assert re.search(rf"{re.escape(str(world.config))}:\d+:\d+: reconcile_interval: ", err), err
    assert world.order_log() == []


async def test_a_second_daemon_on_the_same_state_is_refused_with_a_message(
        world: World) -> None:
    """The state file has one writer: a second `stopd run` on it says so, names the file,
    and exits 1 with no traceback (the first keeps protecting)."""
    daemon = world.daemon()
    daemon.start()
    await daemon.ready()
    code, _, err = await stopd("run", "--config", str(world.config))
    assert code == 1, err
    assert "Traceback" not in err, err
    assert str(world.state) in err, err
    assert daemon.running
    assert await daemon.stop() == 0


async def test_an_agent_key_not_bound_stops_the_start_with_what_to_do(sim: Simulator,
                                                                       tmp_path: Path) -> None:
    # Every order from an unbound agent would be refused with "Unauthorized", so running on
    # would leave every position bare while looking healthy: the start says why and stops.
    main = seed_key(31)
    agent = seed_key(32)
    spec = AccountSpec(agent, address=keypair(main).public_key)
    world = await make_world(sim, tmp_path, [spec])
    try:
        code, out, err = await stopd("run", "--config", str(world.config))
        assert code != 0
        assert "not bound" in err, err
        assert keypair(agent).public_key in err
        for secret in secrets_of(spec):
            assert secret[:20] not in out + err
        assert world.order_log() == []
    finally:
        await finish(world)
