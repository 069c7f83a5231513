"""Where Pacifica lives: the named networks, or any custom base URL (the simulator, a proxy)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Endpoints:
    rest: str  # base URL ending in /api/v1
    ws: str


MAINNET = Endpoints("https://api.pacifica.fi/api/v1", "wss://ws.pacifica.fi/ws")
TESTNET = Endpoints("https://test-api.pacifica.fi/api/v1", "wss://test-ws.pacifica.fi/ws")
NETWORKS = {"mainnet": MAINNET, "testnet": TESTNET}


def endpoints(network: str, *, ws: str | None = None) -> Endpoints:
    """`mainnet`, `testnet`, or a custom REST base URL (then `ws` names its stream URL).

    A custom URL without `ws` gets the simulator's layout: same host and port, path /ws.
    """
    named = NETWORKS.get(network.strip().lower())
    if named is not None:
        if ws is not None:
            raise ValueError(f"{network} has a fixed stream URL; pass ws only with a custom URL")
        return named
    rest = network.strip().rstrip("/")
    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{network!r} is neither mainnet, testnet nor an http(s) URL")
    if ws is None:
        scheme = "wss" if parts.scheme == "https" else "ws"
        ws = f"{scheme}://{parts.netloc}/ws"
    ws_parts = urlsplit(ws)
    if ws_parts.scheme not in ("ws", "wss") or not ws_parts.netloc:
        raise ValueError(f"{ws!r} is not a ws(s) URL")
    return Endpoints(rest, ws)
