"""Session fixtures for integration tests: real processes on 127.0.0.1, started once per session.

Sections (add yours below, one section per component, keep each self-contained):
- anvil + ENS: `devnet` (session: anvil on a free port, its own state dir, ENS deployed and the project names
  registered), `ens_env` (function: an evm_snapshot/evm_revert wrapper with fresh, funded senders), `w3`
  (session: web3.py on the devnet).
- marine-js: `marine_js` (session: runs modules in Fluence's own runtime under node, for cross-runtime checks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from _helpers import require_marine_js, skip_or_fail

#: Read from the process environment by util/paths, not Settings: keep them.
_PROCESS_ONLY = ("FLUENCE_DAO_PROJECT_ROOT", "FLUENCE_DAO_CACHE_DIR")


def assert_loopback(url: str) -> None:
    """Tests talk to 127.0.0.1 only."""
    assert urlparse(url).hostname == "127.0.0.1", f"integration tests must use 127.0.0.1, got {url}"


# --------------------------------------------------------------------------------------------- anvil + ENS


@pytest.fixture(scope="session")
def isolated_env() -> Iterator[None]:
    """No FLUENCE_DAO_* variable from the developer's shell leaks into integration tests (a .env in the
    cwd is ignored by passing env_file=None where settings are built here)."""
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("FLUENCE_DAO_") and k not in _PROCESS_ONLY]:
            patch.delenv(key)
        yield


@dataclass
class DevnetSession:
    """The session's devnet: settings (state dir), devnet.json, and clients on it."""

    settings: Any  # fluence_dao.config.Settings
    info: dict[str, Any]
    rpc_url: str
    registry: str
    resolver: str
    state_dir: Path

    def client(self) -> Any:
        from fluence_dao.eth import EthClient

        return EthClient(self.rpc_url, timeout_s=10.0, expected_chain_id=int(self.info["chain_id"]))

    def cli_env(self) -> dict[str, str]:
        """Environment for CliRunner so `fluence-dao ens ...` finds this devnet."""
        return {"FLUENCE_DAO_STATE_DIR": str(self.state_dir)}


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Iterator[DevnetSession]:
    """anvil on a free 127.0.0.1 port with its own state dir; ENS deployed; public-record.eth and
    alpha.public-record.eth registered to the governance account (anvil account 0). Stopped at session end."""
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet, anvil_binary
    from fluence_dao.errors import ToolNotFoundError

    state_dir = tmp_path_factory.mktemp("devnet-state")
    settings = load_settings({"state_dir": state_dir, "devnet": {"state_interval_s": 0}}, env_file=None)
    try:
        anvil_binary(settings)
    except ToolNotFoundError as err:
        skip_or_fail(err.message)
    devnet = Devnet(settings)
    info = devnet.up()
    try:
        assert_loopback(info["rpc_url"])
        yield DevnetSession(
            settings=settings,
            info=info,
            rpc_url=info["rpc_url"],
            registry=info["ens"]["registry"],
            resolver=info["ens"]["public_resolver"],
            state_dir=state_dir,
        )
    finally:
        devnet.down()


@dataclass
class EnsEnv:
    """One test's view of the devnet: fresh clients and senders (nonce state starts from the chain)."""

    devnet: DevnetSession
    client: Any  # EthClient
    ens: Any  # EnsClient
    gov: Any  # TxSender for the governance key

    def new_account(self, fund_wei: int = 0) -> tuple[Any, Any]:
        """(eth_account LocalAccount, TxSender) for a new random key, funded by governance if asked."""
        from eth_account import Account

        from fluence_dao.eth import TxSender

        account = Account.create()
        if fund_wei:
            self.gov.transfer(account.address, fund_wei)
        return account, TxSender(self.client, account.key.hex())


@pytest.fixture
def ens_env(devnet: DevnetSession) -> Iterator[EnsEnv]:
    """Isolates a test: evm_snapshot before, evm_revert after (senders are per test, so no stale nonces)."""
    from fluence_dao.eth import EnsClient, TxSender

    client = devnet.client()
    snapshot = client.rpc("evm_snapshot", [])
    try:
        key = devnet.settings.eth.effective_governance_key(devnet.rpc_url)
        yield EnsEnv(devnet=devnet, client=client, ens=EnsClient(client, devnet.registry), gov=TxSender(client, key))
    finally:
        assert client.rpc("evm_revert", [snapshot]) is True


@pytest.fixture(scope="session")
def w3(devnet: DevnetSession) -> Any:
    """web3.py on the session's devnet (an independent view of the chain, for expected values)."""
    from web3 import Web3

    return Web3(Web3.HTTPProvider(devnet.rpc_url))


# --------------------------------------------------------------------------------------------- marine-js

MARINE_JS_DRIVER = Path(__file__).resolve().parents[1] / "js" / "marine_js_modules.mjs"


@pytest.fixture(scope="session")
def marine_js(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`marine_js(modules, calls, random=()) -> OUT`: the modules ([(name, wasm bytes or path)]) as one service in
    npm @fluencelabs/marine-js under node, the calls ([fn, args, call_parameters?]) made in order; OUT as
    tests/js/marine_js_modules.mjs writes it (results, logs, loaded, load_error, draws). `random` feeds WASI
    random_get. Skips locally / fails in CI without node and marine-js."""
    import json
    import subprocess

    from fluence_dao.util.paths import node_modules

    node, _ = require_marine_js()
    work = tmp_path_factory.mktemp("marine-js")
    runs = iter(range(1 << 30))

    def run(modules: list[tuple[str, bytes | Path]], calls: list[list[Any]], random: list[bytes] = ()) -> Any:
        here = work / str(next(runs))
        here.mkdir()
        paths = []
        for name, wasm in modules:
            if isinstance(wasm, bytes):
                (here / f"{name}.wasm").write_bytes(wasm)
                wasm = here / f"{name}.wasm"
            paths.append([name, str(wasm)])
        spec, out = here / "spec.json", here / "out.json"
        spec.write_text(json.dumps({"modules": paths, "calls": calls, "random": [r.hex() for r in random]}))
        proc = subprocess.run(
            [node, str(MARINE_JS_DRIVER), str(node_modules()), str(spec), str(out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(out.read_text())

    return run
