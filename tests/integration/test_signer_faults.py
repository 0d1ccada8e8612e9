"""Faults in the interval loop: with anvil stopped for several intervals the runs fail and are recorded, the loop
keeps running, and once anvil is back (same chain, from its saved state) updates resume with no nonce gap."""

from __future__ import annotations

import shutil
import time

import pytest

from fluence_dao.config import load_settings
from fluence_dao.devnet import Devnet
from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish, start_interval
from fluence_dao.peer import LocalNetwork

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


class Stack:
    """Its own devnet (tests here stop anvil or its mining) with the signer deployed and an interval running."""

    def __init__(self, tmp_path) -> None:
        settings = load_settings({"state_dir": tmp_path / "state", "devnet": {"state_interval_s": 0}}, env_file=None)
        self.devnet = Devnet(settings)
        self.devnet.up()
        self.context = FlowContext(settings, ipfs_repo=tmp_path / "ipfs")
        self.network = LocalNetwork(1, base_dir=tmp_path / "net", config=self.context.peer_config())
        session = PeerSession(self.network)
        publish(self.context)
        self.signer = deploy_signer(self.context, session)
        self.script_id = start_interval(self.context, session, every_s=1).script_id

    def finished(self) -> list:
        return _finished(self.network, self.script_id)

    def successes(self) -> list:
        return [r for r in self.finished() if isinstance(r.result, dict) and r.result["success"]]

    def rpc(self, method: str, params: list):
        return self.context.eth.rpc(method, params)

    def close(self) -> None:
        self.network.stop()
        self.context.close()
        self.devnet.down()


@pytest.fixture
def stack(tmp_path, require, isolated_env):
    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    stack = Stack(tmp_path)
    yield stack
    stack.close()


def test_anvil_outage_is_recorded_and_updates_resume_without_a_nonce_gap(stack) -> None:
    network = stack.network
    _drive_until(network, lambda: len(stack.successes()) >= 2, 60)
    before = len(stack.finished())
    assert stack.devnet.process("anvil").stop()  # SIGTERM: anvil saves its chain to --state
    _drive_until(network, lambda: len(stack.finished()) >= before + 2, 30)
    failed = [r for r in stack.finished()[before:] if not r.result["success"]]
    assert len(failed) >= 2
    assert all("pending nonce" in r.result["error"] or "resolver" in r.result["error"] for r in failed)

    stack.devnet.up()  # the same chain, from its saved state, on the same port
    count = len(stack.successes())
    _drive_until(network, lambda: len(stack.successes()) >= count + 2, 60)

    nonces = [int(r.result["nonce"], 16) for r in stack.successes()]
    assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))  # no gap, no duplicate
    chain_nonce = int(stack.rpc("eth_getTransactionCount", [stack.signer.address, "latest"]), 16)
    assert chain_nonce == nonces[-1] + 1


def test_a_stuck_transaction_is_replaced_with_higher_fees(stack) -> None:
    network = stack.network
    _drive_until(network, lambda: len(stack.successes()) >= 1, 60)
    assert stack.rpc("evm_setAutomine", [False]) is None
    seen = len(stack.finished())

    def sent(replaced: bool) -> list:
        return [r.result for r in stack.finished()[seen:] if r.result["success"] and r.result["replaced"] is replaced]

    _drive_until(network, lambda: bool(sent(False)), 30)
    stuck = sent(False)[0]
    assert stuck["block_number"] == "" and stuck["error"] == "sent; receipt pending"
    stuck_fee = int(stack.rpc("eth_getTransactionByHash", [stuck["tx_hash"]])["maxFeePerGas"], 16)
    _drive_until(network, lambda: bool(sent(True)), 30)
    replacements = sent(True)
    assert all(r["nonce"] == stuck["nonce"] for r in replacements)  # the same nonce, not the next one
    first_fee = int(stack.rpc("eth_getTransactionByHash", [replacements[0]["tx_hash"]])["maxFeePerGas"], 16)
    assert first_fee >= stuck_fee * 1.1  # outbids it, as nodes require for a replacement

    stack.rpc("evm_setAutomine", [True])
    stack.rpc("evm_mine", [])
    mined_before = len(stack.successes())
    _drive_until(
        network, lambda: len([r for r in stack.successes()[mined_before:] if r.result["block_number"]]) >= 2, 60
    )
    assert stack.rpc("eth_getTransactionReceipt", [stuck["tx_hash"]]) is None  # replaced, never mined
    replacements = sent(True)
    mined = [r for r in replacements if stack.rpc("eth_getTransactionReceipt", [r["tx_hash"]]) is not None]
    assert len(mined) == 1  # one transaction for the stuck nonce made it, the latest replacement
    latest = int(stack.rpc("eth_getTransactionCount", [stack.signer.address, "latest"]), 16)
    confirmed = [int(r.result["nonce"], 16) for r in stack.successes() if r.result["block_number"]]
    assert latest == max(confirmed) + 1
