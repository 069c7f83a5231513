"""No float on the money path: proved statically over the source and dynamically on the wire.

Static: every module under daemon/ is money path unless it is listed below with the reason its
floats are not money (seconds, probabilities, a random-walk step count). A new module is money
path by default, so the list can only be widened on purpose.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import websockets

from daemon.pacifica.signing import Keypair, sign_request
from daemon.sim import Simulator

ROOT = Path(__file__).resolve().parents[1] / "daemon"

NOT_MONEY = {
    "budget.py": "monotonic times and waits in seconds; credits are Decimal",
    "pacifica/feed.py": "timeouts, backoff and frame ages in seconds",
    "pacifica/feedfailure.py": "when a connection failed, monotonic seconds",
    "pacifica/retry.py": "backoff delays in seconds and a jitter draw",
    "pacifica/errors.py": "the rate-limit wait in seconds",
    "pacifica/signing.py": "names float only to refuse it in a signed payload",
    "pacifica/transport.py": "HTTP timeouts in seconds",
    "demo.py": "pauses and step timeouts, in seconds",
    "demowatch.py": "the poll interval and bare stretches, in seconds",
    "notify.py": "the systemd watchdog interval in seconds",
    "submitter.py": "monotonic times and the stop grace, in seconds",
    "execute.py": "monotonic times and rate-limit waits, in seconds",
    "metrics.py": "durations in seconds; Prometheus samples are floats (credits only shown)",
    "alerts.py": "retry waits, HTTP timeouts and bare stretches in seconds",
    "watchdog.py": "feed ages and worker stalls in seconds",
    "operations.py": "request durations and frame ages in seconds",
    "account.py": "monotonic times, stale_after and reconcile intervals in seconds",
    "dispatch.py": "monotonic times and backoff waits in seconds",
    "scheduler.py": "job intervals in seconds",
    "service.py": "job intervals and timeouts in seconds; credits are Decimal",
    "status.py": "snapshot ages and feed ages in seconds; prices are shown as strings",
    "sim/cli.py": "walk interval and socket timeouts in seconds",
    "sim/config.py": "socket lifetimes in seconds",
    "sim/faults.py": "a 5xx probability",
    "sim/ws.py": "socket clocks in seconds",
    "sim/pricepaths.py": "a Gaussian step count in whole ticks and step waits in seconds",
    "sim/server.py": "the price driver's clock in seconds",
}


def _float_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"{path}:{node.lineno}: float literal {node.value!r}")
        elif isinstance(node, ast.Name) and node.id == "float":
            found.append(f"{path}:{node.lineno}: uses float")
        elif isinstance(node, ast.keyword) and node.arg == "parse_float":
            continue
    return found


def test_money_path_modules_never_name_float() -> None:
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 20, "the scan must see the package"
    offences = []
    for module in modules:
        relative = module.relative_to(ROOT).as_posix()
        if relative not in NOT_MONEY:
            offences.extend(_float_uses(module))
    assert offences == []


def test_exempt_modules_still_exist() -> None:
    # A stale exemption would silently cover whatever later takes its name.
    assert [name for name in NOT_MONEY if not (ROOT / name).exists()] == []


def _no_floats(text: str) -> Any:
    def refuse(literal: str) -> Decimal:
        raise AssertionError(f"JSON float on the wire: {literal} in {text[:200]}")

    return json.loads(text, parse_float=refuse)


SECRET = "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMikjwpAW9DMZzU2Pqakc5it8X3N5vPmqdN7KF4CCUpmKhq"


async def test_every_money_field_on_the_wire_is_a_decimal_string(sim: Simulator) -> None:
    """A full round trip (open, protect, trigger) through REST and streams carries no float."""
    keypair = Keypair.from_secret(SECRET)
    account = keypair.public_key
    frames: list[str] = []
    async with httpx.AsyncClient(base_url=sim.base_url) as http, \
            websockets.connect(sim.ws_url) as ws:
        for source in ("prices", "account_positions", "account_orders",
                       "account_order_updates"):
            params: dict[str, str] = {"source": source}
            if source != "prices":
                params["account"] = account
            await ws.send(json.dumps({"method": "subscribe", "params": params}))

        async def post(path: str, operation: str, payload: dict[str, Any]) -> Any:
            body = sign_request(keypair, operation, payload,
                                timestamp=sim.now_ms(), expiry_window=30_000)
            answer = await http.post(path, json=body)
            assert answer.status_code == 200, answer.text
            return _no_floats(answer.text)

        await sim.set_prices({"BTC": Decimal("60000")})
        await post("/orders/create_market", "create_market_order",
                   {"symbol": "BTC", "side": "bid", "amount": "0.01",
                    "slippage_percent": "0.5", "reduce_only": False})
        await post("/orders/stop/create", "create_stop_order",
                   {"symbol": "BTC", "side": "ask", "reduce_only": True,
                    "stop_order": {"stop_price": "59000", "amount": "0.01",
                                   "trigger_price_type": "mark_price",
                                   "client_order_id": "0b6a3c7e-1f2d-4c5b-8a9e-0d1c2b3a4f5e"}})
        for path in ("/info", "/info/prices", f"/account?account={account}",
                     f"/positions?account={account}", f"/orders?account={account}"):
            answer = await http.get(path)
            assert answer.status_code == 200, (path, answer.text)
            _no_floats(answer.text)
        await sim.set_prices({"BTC": Decimal("58900")})
        answer = await http.get(f"/orders/history?account={account}")
        history = _no_floats(answer.text)
        assert any(row["order_type"] in ("stop_market", "stop_loss_market")
                   for row in history["data"]), history
        for _ in range(12):
            frames.append(str(await ws.recv()))
    for frame in frames:
        _no_floats(frame)
    assert any('"account_order_updates"' in frame for frame in frames)
