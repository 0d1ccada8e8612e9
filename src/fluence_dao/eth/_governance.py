"""The Governance (referendum) contract the demo subgraph indexes: deploy, propose, vote, close.

Every transaction goes through a TxSender (a key, an external signer such as the signer module, or an account
the node holds unlocked on a dev chain), so nonces, fees, retries and errors are handled as for any other write.
`dao deploy` and `devnet up` record the deployment in <state dir>/subgraph/governance.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

from eth_hash.auto import keccak

from fluence_dao.errors import ConfigError, TransactionFailedError
from fluence_dao.eth._client import EthClient, RpcReceipt, TxReceipt, to_checksum
from fluence_dao.eth._solc import ContractArtifact, compile_contracts
from fluence_dao.eth._tx import TxSender
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.paths import project_root

if TYPE_CHECKING:
    from web3.contract import Contract

_SIGNATURES = {
    "propose": ["string", "uint256"],
    "vote": ["uint256", "bool", "uint256"],
    "close": ["uint256"],
}
PROPOSAL_CREATED = "0x" + keccak(b"ProposalCreated(uint256,address,string,uint256)").hex()

GovernanceArg = str | int | bool
"""An argument of propose, vote or close."""

Proposal = TypedDict(
    "Proposal",
    {
        "id": int,
        "proposer": str,
        "description": str | None,
        "end_block": int,
        "for": int,
        "against": int,
        "closed": bool,
        "passed": bool | None,
        "state": NotRequired[str],  # open, ended, passed or rejected: added by readers that know the current block
    },
)
"""A referendum as `governance_proposals` reads it."""


def governance_artifact() -> ContractArtifact:
    """Governance.sol compiled (cached): {"abi": [...], "bytecode": "0x..."}."""
    return compile_contracts(project_root() / "contracts" / "Governance.sol")["Governance"]


def governance_calldata(action: str, *args: GovernanceArg) -> bytes:
    """ABI-encoded calldata for propose(string,uint256), vote(uint256,bool,uint256) or close(uint256)."""
    import eth_abi.abi as eth_abi

    types = _SIGNATURES[action]
    return keccak(f"{action}({','.join(types)})".encode())[:4] + eth_abi.encode(types, list(args))


def deploy_contract(sender: TxSender, artifact: ContractArtifact, *args: object, what: str = "deploy") -> TxReceipt:
    """Deploy a compiled contract (constructor arguments ABI-encoded from its ABI); the receipt names the address."""
    import eth_abi.abi as eth_abi

    constructor: JsonObject = next((e for e in artifact["abi"] if e.get("type") == "constructor"), {"inputs": []})
    inputs = constructor.get("inputs")
    types = [str(i["type"]) for i in inputs if isinstance(i, dict)] if isinstance(inputs, list) else []
    data = bytes.fromhex(artifact["bytecode"].removeprefix("0x")) + (
        eth_abi.encode(types, list(args)) if types else b""
    )
    receipt = sender.send_and_wait(None, data, what=what)
    if not receipt.contract_address:
        raise TransactionFailedError(f"{what} produced no contract address", tx_hash=receipt.tx_hash)
    return receipt


@dataclass(frozen=True)
class GovernanceDeployment:
    address: str
    block_number: int
    chain_id: int

    def to_dict(self) -> JsonObject:
        return {"address": self.address, "block_number": self.block_number, "chain_id": self.chain_id}


def deployment_file(state_dir: Path) -> Path:
    """Where `dao deploy` records the Governance contract (read by `dao` commands and `subgraph serve`)."""
    return state_dir / "subgraph" / "governance.json"


def read_deployment(state_dir: Path) -> GovernanceDeployment | None:
    path = deployment_file(state_dir)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return GovernanceDeployment(str(raw["address"]), int(raw["block_number"]), int(raw["chain_id"]))
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"{path} does not hold a Governance deployment ({type(err).__name__}: {err}): remove it and run "
            "`fluence-dao dao deploy`",
            path=str(path),
        ) from None


def deploy_governance(sender: TxSender, state_dir: Path | None = None) -> GovernanceDeployment:
    """Compile (cached) and deploy Governance; record it under `state_dir` when given."""
    receipt = deploy_contract(sender, governance_artifact(), what="deploy Governance")
    assert receipt.contract_address is not None
    deployment = GovernanceDeployment(receipt.contract_address, receipt.block_number, sender.client.chain_id())
    if state_dir is not None:
        path = deployment_file(state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(deployment.to_dict(), indent=2) + "\n")
    return deployment


class GovernanceContract:
    """A deployed Governance contract; each write is sent by `sender` unless another TxSender is given."""

    def __init__(self, sender: TxSender, address: str) -> None:
        self.sender = sender
        self.client: EthClient = sender.client
        self.address = str(to_checksum(address))

    def __repr__(self) -> str:
        return f"GovernanceContract({self.address} @ {self.client.rpc_url})"

    @classmethod
    def deploy(cls, sender: TxSender, state_dir: Path | None = None) -> tuple[GovernanceContract, int]:
        """Deploy a new contract; returns it and its deployment block (where an indexer starts)."""
        deployment = deploy_governance(sender, state_dir)
        return cls(sender, deployment.address), deployment.block_number

    @property
    def contract(self) -> Contract:
        """The web3 contract object (ABI-decoded events and views)."""
        return self.client.w3.eth.contract(address=to_checksum(self.address), abi=governance_artifact()["abi"])

    def _send(self, action: str, args: list[GovernanceArg], sender: TxSender | None) -> TxReceipt:
        return (sender or self.sender).send_and_wait(
            self.address, governance_calldata(action, *args), what=f"Governance {action}"
        )

    def propose(self, description: str, duration_blocks: int = 100, *, sender: TxSender | None = None) -> int:
        """Open a referendum; returns its id (from the ProposalCreated log)."""
        return self.propose_with_receipt(description, duration_blocks, sender=sender)[0]

    def propose_with_receipt(
        self, description: str, duration_blocks: int = 100, *, sender: TxSender | None = None
    ) -> tuple[int, TxReceipt]:
        """Open a referendum; returns its id (from the ProposalCreated log) and the transaction's receipt."""
        receipt = self._send("propose", [description, duration_blocks], sender)
        raw = self.client.rpc_as("eth_getTransactionReceipt", [receipt.tx_hash], RpcReceipt)
        for entry in raw["logs"] if raw else []:
            topics = entry.get("topics", [])
            if entry.get("address", "").lower() == self.address.lower() and topics and topics[0] == PROPOSAL_CREATED:
                return int(topics[1], 16), receipt
        raise TransactionFailedError(
            f"Governance propose {receipt.tx_hash} emitted no ProposalCreated", tx_hash=receipt.tx_hash
        )

    def vote(self, proposal_id: int, support: bool, weight: int, *, sender: TxSender | None = None) -> TxReceipt:
        return self._send("vote", [proposal_id, support, weight], sender)

    def close(self, proposal_id: int, *, sender: TxSender | None = None) -> TxReceipt:
        return self._send("close", [proposal_id], sender)

    def proposals(self, from_block: int = 0) -> list[Proposal]:
        return governance_proposals(self.client, self.address, from_block)


def governance_proposals(client: EthClient, address: str, from_block: int = 0) -> list[Proposal]:
    """Every referendum of the Governance contract at `address`, oldest first: id, proposer, description (from its
    ProposalCreated log, None when the log is before `from_block`), end block, votes for and against, closed, and
    passed (for > against; None while open). Reads only: no key needed."""
    contract = client.w3.eth.contract(address=to_checksum(address), abi=governance_artifact()["abi"])
    with client.guard(f"Governance proposals at {address}"):
        count = int(contract.functions.proposalCount().call())
        logs = contract.events.ProposalCreated.get_logs(from_block=from_block)
        descriptions = {int(entry["args"]["id"]): str(entry["args"]["description"]) for entry in logs}
        rows: list[Proposal] = []
        for proposal_id in range(1, count + 1):
            proposer, end_block, votes_for, votes_against, closed = contract.functions.getReferendum(proposal_id).call()
            rows.append(
                {
                    "id": proposal_id,
                    "proposer": str(proposer),
                    "description": descriptions.get(proposal_id),
                    "end_block": int(end_block),
                    "for": int(votes_for),
                    "against": int(votes_against),
                    "closed": bool(closed),
                    "passed": (int(votes_for) > int(votes_against)) if closed else None,
                }
            )
    return rows
