"""Compile the project's Solidity contracts with the pinned npm `solc` and drive the Governance contract.

Compilation runs `node contracts/compile.mjs` (solcjs 0.8.28 from node_modules, ~3 s) and caches the
{abi, bytecode} JSON by source hash, so tests and `devnet up` compile from source instead of using committed
artifacts. The Governance helpers send transactions from unlocked dev accounts (anvil's), through web3.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluence_dao._util.paths import cache_dir, project_root
from fluence_dao.errors import BuildError, ToolNotFoundError, TransactionFailedError


def compile_contracts(*sources: Path | str) -> dict[str, dict[str, Any]]:
    """Compile Solidity files; returns {contract name: {"abi": [...], "bytecode": "0x..."}} (cached)."""
    paths = [Path(s).resolve() for s in sources]
    digest = hashlib.sha256((project_root() / "contracts" / "compile.mjs").read_bytes())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    out_dir = cache_dir() / "solc" / digest.hexdigest()[:24]
    if not out_dir.is_dir() or not any(out_dir.glob("*.json")):
        node = shutil.which("node")
        if node is None:
            raise ToolNotFoundError("node is not on PATH: install Node.js 20+ to compile contracts", tool="node")
        root = project_root()
        tmp = out_dir.with_suffix(".tmp")
        proc = subprocess.run(
            [node, str(root / "contracts" / "compile.mjs"), str(tmp), *map(str, paths)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise BuildError(f"solc failed for {', '.join(p.name for p in paths)}:\n{proc.stderr.strip()}")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    return {p.stem: json.loads(p.read_text()) for p in out_dir.glob("*.json")}


def governance_artifact() -> dict[str, Any]:
    return compile_contracts(project_root() / "contracts" / "Governance.sol")["Governance"]


@dataclass(frozen=True)
class Deployed:
    address: str
    block_number: int
    abi: list[dict[str, Any]]


def deploy(w3: Any, artifact: dict[str, Any], sender: str | None = None, *args: Any) -> Deployed:
    sender = sender or w3.eth.accounts[0]
    contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = contract.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise TransactionFailedError(f"deploying {artifact.get('contractName')} reverted", tx_hash=tx_hash.hex())
    return Deployed(receipt["contractAddress"], receipt["blockNumber"], artifact["abi"])


class Governance:
    """The deployed Governance contract: propose, vote, close (each returns the receipt)."""

    def __init__(self, w3: Any, address: str, abi: list[dict[str, Any]] | None = None) -> None:
        self.w3 = w3
        self.address = w3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=abi or governance_artifact()["abi"])

    @classmethod
    def deploy(cls, w3: Any, sender: str | None = None) -> tuple[Governance, int]:
        deployed = deploy(w3, governance_artifact(), sender)
        return cls(w3, deployed.address, deployed.abi), deployed.block_number

    def _send(self, call: Any, sender: str | None) -> Any:
        from web3.exceptions import ContractLogicError

        try:
            tx_hash = call.transact({"from": sender or self.w3.eth.accounts[0]})
        except ContractLogicError as err:
            raise TransactionFailedError(f"Governance transaction reverted: {err}", reason=str(err)) from err
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise TransactionFailedError("Governance transaction reverted", tx_hash=tx_hash.hex())
        return receipt

    def propose(self, description: str, duration_blocks: int = 100, sender: str | None = None) -> int:
        receipt = self._send(self.contract.functions.propose(description, duration_blocks), sender)
        event = self.contract.events.ProposalCreated().process_receipt(receipt)[0]
        return int(event["args"]["id"])

    def vote(self, proposal_id: int, support: bool, weight: int, sender: str | None = None) -> Any:
        return self._send(self.contract.functions.vote(proposal_id, support, weight), sender)

    def close(self, proposal_id: int, sender: str | None = None) -> Any:
        return self._send(self.contract.functions.close(proposal_id), sender)


# -- the Governance contract through fluence_dao.eth (signed with a key; works on any network) ------------------


@dataclass(frozen=True)
class GovernanceDeployment:
    address: str
    block_number: int
    chain_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "block_number": self.block_number, "chain_id": self.chain_id}


def deployment_file(state_dir: Path) -> Path:
    """Where `dao deploy` records the Governance contract (read by `dao` commands and `subgraph serve`)."""
    return state_dir / "subgraph" / "governance.json"


def read_deployment(state_dir: Path) -> GovernanceDeployment | None:
    path = deployment_file(state_dir)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return GovernanceDeployment(raw["address"], int(raw["block_number"]), int(raw["chain_id"]))


def deploy_governance(sender: Any, state_dir: Path | None = None) -> GovernanceDeployment:
    """Compile (cached) and deploy Governance with a `fluence_dao.eth.TxSender`; record it under `state_dir`."""
    artifact = governance_artifact()
    receipt = sender.send_and_wait(None, artifact["bytecode"], what="deploy Governance")
    if not receipt.contract_address:
        raise TransactionFailedError("deploying Governance produced no contract address", tx_hash=receipt.tx_hash)
    deployment = GovernanceDeployment(receipt.contract_address, receipt.block_number, sender.client.chain_id())
    if state_dir is not None:
        path = deployment_file(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(deployment.to_dict(), indent=2) + "\n")
    return deployment


def _selector(signature: str) -> bytes:
    from eth_hash.auto import keccak

    return keccak(signature.encode())[:4]


def governance_calldata(action: str, *args: Any) -> bytes:
    """ABI-encoded calldata for propose(string,uint256), vote(uint256,bool,uint256) or close(uint256)."""
    import eth_abi.abi as eth_abi

    types = {"propose": ["string", "uint256"], "vote": ["uint256", "bool", "uint256"], "close": ["uint256"]}[action]
    return _selector(f"{action}({','.join(types)})") + eth_abi.encode(types, list(args))
