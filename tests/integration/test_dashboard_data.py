"""The dashboard's data without a browser, on the session's devnet: a snapshot's records, history and chain facts;
the record history read in chunks over several refreshes, and read again when the chain went back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fluence_dao.dashboard import DashboardData, TextHistory
from fluence_dao.eth import TxSender

pytestmark = pytest.mark.integration

PROJECT = "public-record.eth"


def test_a_snapshot_has_the_records_their_history_and_the_block(devnet: Any, ens_env: Any) -> None:
    receipt = ens_env.ens.set_text(PROJECT, "wasm.signer", "bafy-dashboard", ens_env.gov)
    data = DashboardData(devnet.settings)
    try:
        state = data.state()
        assert data.state(max_age_s=60) is state  # served again while young
        assert json.loads(json.dumps(state)) == state
        assert state["chain"]["reachable"] and state["chain"]["block_number"] >= receipt.block_number
        rows = {(r["name"], r["key"]): r for r in state["records"]}
        signer = rows[(PROJECT, "wasm.signer")]
        assert signer["value"] == "bafy-dashboard" and signer["kind"] == "module"
        assert signer["history"][-1] == {
            "value": "bafy-dashboard",
            "block_number": receipt.block_number,
            "tx_hash": receipt.tx_hash,
            "log_index": 0,
        }
        assert "wasm.signer" in [m["key"] for m in state["modules"]]
        assert state["history"]["complete"] and state["history"]["scanned_to"] == state["chain"]["block_number"]
        assert state["tree"] == {"name": "alpha.public-record.eth", "key": "ipld-tip", "root": None}
    finally:
        data.close()


def test_the_history_is_read_in_chunks_over_several_refreshes(ens_env: Any) -> None:
    start = ens_env.client.block_number() + 1
    values = [f"bafy-{n}" for n in range(5)]
    for value in values:
        ens_env.ens.set_text(PROJECT, "wasm.ens", value, ens_env.gov)
    latest = ens_env.client.block_number()
    history = TextHistory((PROJECT,), from_block=start, per_key=3, chunk_blocks=1, chunks_per_refresh=2)
    refreshes = 0
    while not history.summary(latest)["complete"]:
        history.update(ens_env.ens, latest)
        refreshes += 1
        assert history.error is None and refreshes <= 5
    assert refreshes == 3  # 5 blocks, 2 a refresh
    assert [c["value"] for c in history.changes[(PROJECT, "wasm.ens")]] == values[-3:]


def test_the_history_is_read_again_when_the_chain_went_back(devnet: Any, ens_env: Any) -> None:
    client, ens = ens_env.client, ens_env.ens
    history = TextHistory((PROJECT,), from_block=client.block_number() + 1)
    snapshot = client.rpc("evm_snapshot", [])
    ens.set_text(PROJECT, "wasm.curl_adapter", "bafy-dropped", ens_env.gov)
    history.update(ens, client.block_number())
    assert history.latest(PROJECT, "wasm.curl_adapter")["value"] == "bafy-dropped"

    assert client.rpc("evm_revert", [snapshot]) is True
    gov = TxSender(client, devnet.settings.eth.effective_governance_key(devnet.rpc_url))  # nonces from the chain
    for value in ("bafy-kept", "bafy-kept-too"):
        ens.set_text(PROJECT, "wasm.curl_adapter", value, gov)
    history.update(ens, client.block_number())
    kept = [c["value"] for c in history.changes[(PROJECT, "wasm.curl_adapter")]]
    assert kept == ["bafy-kept", "bafy-kept-too"]


def test_without_a_devnet_it_says_so_and_creates_nothing(tmp_path: Any, isolated_env: None) -> None:
    from fluence_dao.config import load_settings
    from fluence_dao.errors import IpfsError

    state_dir = tmp_path / "state"
    data = DashboardData(load_settings({"state_dir": state_dir}, env_file=None))
    try:
        state = data.state()
        assert not state["peer"]["reachable"] and not state["chain"]["reachable"]
        assert "no devnet" in state["chain"]["error"] and state["records"] == [] and state["tree"]["root"] is None
        with pytest.raises(IpfsError, match="no IPFS to read the tree from"):
            data.tree("bafyreihf2lggwrouvf2dhjm4k6njziinkn6a4xj22i7yxgsmd3cl427jaa")
    finally:
        data.close()
    assert not state_dir.exists()  # read-only: not even the state dir
