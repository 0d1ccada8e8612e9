"""Faults in the interval loop: with anvil stopped for several intervals the runs fail and are recorded, the loop
keeps running, and once anvil is back (same chain, from its saved state) updates resume with no nonce gap."""

from __future__ import annotations

import shutil
import time

import pytest

from fluence_dao.config import load_settings
from fluence_dao.devnet import Devnet
from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish, start_interval
from fluence_dao.peer import LocalNetwork, PeerConfig
from fluence_dao.peer.builtins.aqua_ipfs import AquaIpfsService
from fluence_dao.peer.builtins.operator import OperatorConfig, OperatorService

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _finished(network: LocalNetwork, script_id: str) -> list:
    script = network.relay.scheduler.get(script_id)
    assert script is not None, "the script was dropped"
    return [r for r in script.history if r.ok is not None]


def _drive_until(network: LocalNetwork, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        network.run_for(0.1)
        if condition():
            return
    raise AssertionError("condition not reached in time")


def test_anvil_outage_is_recorded_and_updates_resume_without_a_nonce_gap(tmp_path, require, isolated_env) -> None:
    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    settings = load_settings({"state_dir": tmp_path / "state", "devnet": {"state_interval_s": 0}}, env_file=None)
    devnet = Devnet(settings)
    info = devnet.up()
    context = FlowContext(settings, ipfs_repo=tmp_path / "ipfs")
    operator = OperatorConfig(info["rpc_url"], int(info["chain_id"]), info["ens"]["registry"],
                              settings.ens.project_name, settings.ens.signer_name)  # fmt: skip
    network = LocalNetwork(1, base_dir=tmp_path / "net", config=PeerConfig(
        allowed_binaries={"curl": shutil.which("curl")},
        extra_builtins={"operator": OperatorService(operator), "aqua-ipfs": AquaIpfsService(context.ipfs)},
        script_tick_s=0.1,
    ))  # fmt: skip
    session = PeerSession(network)
    try:
        publish(context)
        signer = deploy_signer(context, session)
        script_id = start_interval(context, session, every_s=1).script_id

        def successes() -> list:
            return [r for r in _finished(network, script_id) if isinstance(r.result, dict) and r.result["success"]]

        _drive_until(network, lambda: len(successes()) >= 2, 60)
        before = len(_finished(network, script_id))
        assert devnet.process("anvil").stop()  # SIGTERM: anvil saves its chain to --state
        _drive_until(network, lambda: len(_finished(network, script_id)) >= before + 2, 30)
        failed = [r for r in _finished(network, script_id)[before:] if not r.result["success"]]
        assert len(failed) >= 2
        assert all("pending nonce" in r.result["error"] or "resolver" in r.result["error"] for r in failed)

        devnet.up()  # the same chain, from its saved state, on the same port
        count = len(successes())
        _drive_until(network, lambda: len(successes()) >= count + 2, 60)

        nonces = [int(r.result["nonce"], 16) for r in successes()]
        assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))  # no gap, no duplicate
        chain_nonce = int(context.eth.rpc("eth_getTransactionCount", [signer.address, "latest"]), 16)
        assert chain_nonce == nonces[-1] + 1
    finally:
        network.stop()
        context.close()
        devnet.down()
