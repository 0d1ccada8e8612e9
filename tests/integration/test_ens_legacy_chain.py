"""The eth package on a chain without EIP-1559 (anvil --hardfork berlin): legacy gas price, same ENS code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluence_dao.config import ANVIL_ACCOUNT0_KEY, load_settings
from fluence_dao.devnet import anvil_binary, deploy_ens, ensure_name, rpc_chain_id
from fluence_dao.errors import ToolNotFoundError
from fluence_dao.eth import EnsClient, EthClient, TxSender
from fluence_dao.util.net import free_port
from fluence_dao.util.process import ManagedProcess, ProcessSpec

pytestmark = pytest.mark.integration


def test_records_on_a_pre_london_chain(tmp_path: Path, require: Any) -> None:
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    try:
        anvil = anvil_binary(settings)
    except ToolNotFoundError as err:
        require(False, err.message)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        ProcessSpec(
            name="anvil-berlin",
            argv=[str(anvil), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "5151", "--hardfork", "berlin"],
            log_path=tmp_path / "anvil.log",
            pid_path=tmp_path / "anvil.pid",
            health=lambda: rpc_chain_id(url) == 5151,
            port=port,
        )
    )
    proc.start()
    try:
        client = EthClient(url, expected_chain_id=5151)
        assert set(client.fee_fields()) == {"gasPrice"}
        gov = TxSender(client, ANVIL_ACCOUNT0_KEY)
        deployment = deploy_ens(gov)
        ens = EnsClient(client, deployment.registry)
        assert ensure_name(ens, "alpha.public-record.eth", deployment.public_resolver, gov) is True
        assert ensure_name(ens, "alpha.public-record.eth", deployment.public_resolver, gov) is False
        receipt = ens.set_text("alpha.public-record.eth", "k", "legacy", gov)
        assert ens.text("alpha.public-record.eth", "k") == "legacy"
        assert int(client.w3.eth.get_transaction(receipt.tx_hash)["type"]) == 0
        assert ens.owner("public-record.eth") == gov.address
    finally:
        proc.stop()
