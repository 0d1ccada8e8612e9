"""Ethereum through web3.py and eth-account: ENS names and text records, transactions and nonces, and the
project's contracts (compiled with solc from npm; the Governance contract the demo subgraph indexes).

Works against any EVM JSON-RPC endpoint with an ENS registry. web3 and requests errors never escape this
package: they become `RpcUnavailableError` (endpoint down), `TransactionFailedError` (reverted, underpriced,
out of gas, insufficient funds, nonce; with the tx hash and a `reason` code) or another `EthError`.
This package imports web3 at import time: CLI modules import it inside their commands.
"""

from fluence_dao.eth._abi import RESOLVER_ABI
from fluence_dao.eth._client import EthClient, RpcLog, RpcReceipt, TxReceipt, classify_failure, to_checksum
from fluence_dao.eth._ens import (
    TEXT_CHANGED_TOPICS,
    ZERO_ADDRESS,
    EnsClient,
    TextChange,
    TxRequest,
    decode_text_changed,
    labelhash,
    namehash,
    normalize_name,
    split_name,
)
from fluence_dao.eth._governance import (
    GovernanceArg,
    GovernanceContract,
    GovernanceDeployment,
    Proposal,
    deploy_contract,
    deploy_governance,
    deployment_file,
    governance_artifact,
    governance_calldata,
    governance_proposals,
    read_deployment,
)
from fluence_dao.eth._solc import ContractArtifact, compile_contracts
from fluence_dao.eth._tx import NonceManager, SendOptions, SignFunction, TxFields, TxSender, transaction_json

__all__ = [
    "RESOLVER_ABI",
    "TEXT_CHANGED_TOPICS",
    "ZERO_ADDRESS",
    "ContractArtifact",
    "EnsClient",
    "EthClient",
    "GovernanceArg",
    "GovernanceContract",
    "GovernanceDeployment",
    "NonceManager",
    "Proposal",
    "RpcLog",
    "RpcReceipt",
    "SendOptions",
    "SignFunction",
    "TextChange",
    "TxFields",
    "TxReceipt",
    "TxRequest",
    "TxSender",
    "classify_failure",
    "compile_contracts",
    "decode_text_changed",
    "deploy_contract",
    "deploy_governance",
    "deployment_file",
    "governance_artifact",
    "governance_calldata",
    "governance_proposals",
    "labelhash",
    "namehash",
    "normalize_name",
    "read_deployment",
    "split_name",
    "to_checksum",
    "transaction_json",
]
