"""The stack an attacker on the same machine meets, brought up as a user does, once for the security suite:
`devnet up`, `publish`, `deploy-signer`, `start-interval --every 1` through the CLI, in a private state dir.

An attacker is a client key that is neither the host, a management peer nor a service creator (`attacker_key`);
the operator is the CLI's own client key (`<state_dir>/client/key`, the management key).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _helpers import run_cli

AQUA = Path(__file__).resolve().parent / "attacks.aqua"


@dataclass
class Stack:
    state_dir: Path
    daemon_address: str
    peer_id: str
    rpc_url: str
    signer_service: str
    signer_address: str
    script_id: str

    def cli(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return run_cli(self.state_dir, *args, check=check, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json").stdout)

    def management_key(self) -> Any:
        from fluence_dao.peer.particle import KeyPair

        return KeyPair.load_or_create(self.state_dir / "client" / "key")

    def network(self, key: Any) -> Any:
        from fluence_dao.peer.remote import RemoteNetwork

        return RemoteNetwork(self.daemon_address, key)

    def rpc(self, method: str, params: list[Any]) -> Any:
        import httpx

        reply = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        return reply.json()["result"]

    def signer_updates(self) -> list[dict[str, Any]]:
        """Transactions the signer sent, oldest first (nonce, hash, fees), read from the chain."""
        count = int(self.rpc("eth_getTransactionCount", [self.signer_address, "latest"]), 16)
        return [
            self.rpc("eth_getTransactionBySenderAndNonce", [self.signer_address, hex(nonce)]) for nonce in range(count)
        ]

    def wait_for_updates(self, more_than: int, timeout_s: float = 60.0) -> int:
        """Wait until the signer has sent more than `more_than` transactions; returns the count."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            count = int(self.rpc("eth_getTransactionCount", [self.signer_address, "latest"]), 16)
            if count > more_than:
                return count
            time.sleep(0.5)
        raise AssertionError(f"the interval sent no new transaction within {timeout_s} s (still {count})")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, require) -> Iterator[Stack]:
    for tool in ("node",):
        require(shutil.which(tool), f"{tool} is not installed")
    state = tmp_path_factory.mktemp("security") / "state"
    up = json.loads(run_cli(state, "devnet", "up", "--json").stdout)
    try:
        run_cli(state, "publish", "--json")
        signer = json.loads(run_cli(state, "deploy-signer", "--json").stdout)
        started = json.loads(run_cli(state, "start-interval", "--every", "1", "--json").stdout)
        daemon = json.loads((state / "peer" / "daemon.json").read_text())
        yield Stack(
            state_dir=state,
            daemon_address=daemon["address"],
            peer_id=daemon["peer_id"],
            rpc_url=up["rpc_url"],
            signer_service=signer["service_id"],
            signer_address=signer["address"],
            script_id=started["script_id"],
        )
    finally:
        run_cli(state, "devnet", "down", check=False)


@pytest.fixture(scope="session")
def attacks(require) -> Any:
    from fluence_dao.aqua import compile_aqua

    require(shutil.which("node"), "node is not installed")
    return compile_aqua(AQUA)


@pytest.fixture
def attacker_key() -> Any:
    """A fresh client key: not the host, not a management peer, creator of nothing."""
    from fluence_dao.peer.particle import KeyPair

    return KeyPair.generate()
