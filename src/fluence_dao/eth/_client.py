"""A JSON-RPC connection to any EVM chain, with every web3/requests error turned into an EthError."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict, TypeVar

from fluence_dao.errors import EthError, RpcUnavailableError, TransactionFailedError
from fluence_dao.util.json_types import JsonArray, JsonObject, JsonValue, json_name, to_json_object

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress
    from web3.types import RPCResponse

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Failure reasons as stable codes (in `err.details["reason"]`), matched against node messages
#: from geth, anvil, reth, erigon and nethermind.
_REASON_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("already_known", re.compile(r"already known|already imported|known transaction", re.I)),
    ("nonce_too_low", re.compile(r"nonce too low|nonce.*(already used|too small)|oldnonce", re.I)),
    ("nonce_too_high", re.compile(r"nonce too high|nonce gap", re.I)),
    ("insufficient_funds", re.compile(r"insufficient funds|insufficient balance|lack of funds|OutOfFunds", re.I)),
    (
        "underpriced",
        re.compile(r"underpriced|max fee per gas less than block base fee|fee cap.*too low|feecap|tip.*too low", re.I),
    ),
    ("out_of_gas", re.compile(r"out of gas|intrinsic gas too low|gas too low|exceeds block gas limit", re.I)),
    ("reverted", re.compile(r"revert", re.I)),
]


def classify_failure(message: str) -> str:
    """A stable reason code for a node's error message ('unknown' when nothing matches)."""
    for code, pattern in _REASON_PATTERNS:
        if pattern.search(message):
            return code
    return "unknown"


class RpcLog(TypedDict, total=False):
    """A log as eth_getLogs and eth_getTransactionReceipt return it (numbers and data as 0x-hex)."""

    address: str
    topics: list[str]
    data: str
    blockNumber: str
    transactionHash: str
    logIndex: str
    removed: bool


class RpcReceipt(TypedDict):
    """The part of eth_getTransactionReceipt's result read here."""

    logs: list[RpcLog]


@dataclass(frozen=True)
class TxReceipt:
    """The parts of a mined transaction's receipt the project uses."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    sender: str = field(metadata=json_name("from"))
    to: str | None
    contract_address: str | None

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


class EthClient:
    """One RPC endpoint. Library errors never escape: see `guard()`.

    `expected_chain_id`, when given, is checked before the first call of any kind (a wrong endpoint is a clear
    error rather than answers from, or transactions signed for, the wrong chain).
    """

    def __init__(self, rpc_url: str, *, timeout_s: float = 10.0, expected_chain_id: int | None = None) -> None:
        from web3 import HTTPProvider, Web3

        self.rpc_url = rpc_url
        self.timeout_s = timeout_s
        self._expected_chain_id = expected_chain_id
        self._chain_id: int | None = None
        provider = HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
        self.w3 = Web3(provider)

    def __repr__(self) -> str:
        return f"EthClient({self.rpc_url!r})"

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Translate connection and RPC errors raised inside into RpcUnavailableError / EthError."""
        import requests
        from web3.exceptions import ContractLogicError, Web3Exception, Web3RPCError

        if self._expected_chain_id is not None and self._chain_id is None and what != "eth_chainId":
            self.chain_id()  # reads too: a wrong endpoint fails before its first answer is used
        try:
            yield
        except requests.exceptions.RequestException as err:
            raise RpcUnavailableError(
                f"RPC endpoint {self.rpc_url} is unavailable ({what}): {_short(err)}",
                rpc_url=self.rpc_url,
                operation=what,
            ) from err
        except ContractLogicError as err:
            message = str(err.message or err)
            reason = classify_failure(message)
            raise TransactionFailedError(
                f"{what}: {message}", reason="reverted" if reason == "unknown" else reason, node_message=message
            ) from err
        except Web3RPCError as err:
            message = _rpc_message(err)
            raise EthError(
                f"{what}: the node at {self.rpc_url} answered with an error: {message}",
                rpc_url=self.rpc_url,
                reason=classify_failure(message),
                node_message=message,
            ) from err
        except Web3Exception as err:
            raise EthError(f"{what}: {err}", rpc_url=self.rpc_url) from err

    def call(self, what: str, fn: Callable[[], T]) -> T:
        with self.guard(what):
            return fn()

    def chain_id(self) -> int:
        if self._chain_id is None:
            chain_id = int(self.call("eth_chainId", lambda: self.w3.eth.chain_id))
            if self._expected_chain_id is not None and chain_id != self._expected_chain_id:
                raise EthError(
                    f"{self.rpc_url} is chain {chain_id}, but chain {self._expected_chain_id} is configured: check the "
                    "RPC URL, FLUENCE_DAO_ETH__CHAIN_ID and FLUENCE_DAO_ETH__NETWORK",
                    rpc_url=self.rpc_url,
                    chain_id=chain_id,
                    expected_chain_id=self._expected_chain_id,
                )
            self._chain_id = chain_id
        return self._chain_id

    def is_reachable(self) -> bool:
        try:
            self.call("eth_chainId", lambda: self.w3.eth.chain_id)
        except EthError:
            return False
        return True

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def balance(self, address: str) -> int:
        checksum = to_checksum(address)
        return int(self.call(f"eth_getBalance {checksum}", lambda: self.w3.eth.get_balance(checksum)))

    def code(self, address: str) -> bytes:
        checksum = to_checksum(address)
        return bytes(self.call(f"eth_getCode {checksum}", lambda: self.w3.eth.get_code(checksum)))

    def pending_nonce(self, address: str) -> int:
        checksum = to_checksum(address)
        return int(
            self.call(
                f"eth_getTransactionCount {checksum}",
                lambda: self.w3.eth.get_transaction_count(checksum, "pending"),
            )
        )

    def rpc(self, method: str, params: JsonArray) -> JsonValue:
        """A raw JSON-RPC request (e.g. anvil's `evm_snapshot`); an error response raises EthError."""
        result: JsonValue = self._rpc_response(method, params).get("result")
        return result

    def rpc_as(self, method: str, params: JsonArray, shape: type[T]) -> T | None:
        """`rpc` for a method whose result has a known shape (`shape`, a TypedDict or a list of them); None when
        the node has no result (an unknown transaction, say)."""
        result: T | None = self._rpc_response(method, params).get("result")
        return result

    def _rpc_response(self, method: str, params: JsonArray) -> RPCResponse:
        from web3.types import RPCEndpoint

        response = self.call(method, lambda: self.w3.provider.make_request(RPCEndpoint(method), params))
        if "error" in response:
            error = response["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise EthError(
                f"{method}: the node at {self.rpc_url} answered with an error: {message}",
                rpc_url=self.rpc_url,
                reason=classify_failure(message),
                node_message=message,
            )
        return response

    def fee_fields(self) -> dict[str, int]:
        """EIP-1559 fee fields when the chain has a base fee, else a legacy gasPrice."""
        block = self.call("eth_getBlockByNumber latest", lambda: self.w3.eth.get_block("latest"))
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(self.call("eth_gasPrice", lambda: self.w3.eth.gas_price))}
        try:
            tip = int(self.call("eth_maxPriorityFeePerGas", lambda: self.w3.eth.max_priority_fee))
        except EthError:
            tip = 1_000_000_000
        return {"maxFeePerGas": 2 * int(base_fee) + tip, "maxPriorityFeePerGas": tip}

    def send_raw_transaction(self, raw: bytes, *, sender: str | None = None, nonce: int | None = None) -> str:
        """Submit a signed transaction; returns its hash. Rejections raise TransactionFailedError with the hash."""
        from eth_utils.crypto import keccak

        tx_hash = "0x" + keccak(raw).hex()
        try:
            with self.guard(f"eth_sendRawTransaction {tx_hash}"):
                self.w3.eth.send_raw_transaction(raw)
        except RpcUnavailableError:
            raise
        except EthError as err:
            node_message = str(err.details.get("node_message", err.message))
            if classify_failure(node_message) == "already_known":
                log.debug("%s was already in the node's pool", tx_hash)
                return tx_hash  # the very same signed transaction was sent before: it is pending
            raise _tx_failed(tx_hash, node_message, sender, nonce) from err
        log.debug("sent %s (from %s, nonce %s)", tx_hash, sender, nonce)
        return tx_hash

    def wait_for_receipt(self, tx_hash: str, *, timeout_s: float = 120.0) -> TxReceipt:
        """Poll for the receipt; a reverted transaction raises TransactionFailedError with the revert reason."""
        from web3.exceptions import TransactionNotFound

        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                with self.guard(f"eth_getTransactionReceipt {tx_hash}"):
                    raw = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                break
            except EthError as err:
                if not isinstance(err.__cause__, TransactionNotFound):
                    raise
            if time.monotonic() >= deadline:
                raise TransactionFailedError(
                    f"transaction {tx_hash} was not mined within {timeout_s}s",
                    tx_hash=tx_hash,
                    reason="not_mined",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        receipt = TxReceipt(
            tx_hash=tx_hash,
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            status=int(raw["status"]),
            sender=str(raw["from"]),
            to=str(raw["to"]) if raw.get("to") else None,
            contract_address=str(raw["contractAddress"]) if raw.get("contractAddress") else None,
        )
        if receipt.status != 1:
            reason, message = self._failure_reason(tx_hash, receipt)
            raise TransactionFailedError(
                f"transaction {tx_hash} from {receipt.sender} failed in block {receipt.block_number}: {message}",
                tx_hash=tx_hash,
                reason=reason,
                sender=receipt.sender,
                block_number=receipt.block_number,
                gas_used=receipt.gas_used,
            )
        return receipt

    def _failure_reason(self, tx_hash: str, receipt: TxReceipt) -> tuple[str, str]:
        """Replay a failed transaction with eth_call on the parent block to learn why it reverted."""
        try:
            tx = self.call("eth_getTransactionByHash", lambda: self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except EthError:
            return "reverted", "execution reverted"
        if int(tx["gas"]) == receipt.gas_used:
            return "out_of_gas", f"out of gas (used all {receipt.gas_used} gas)"
        call = {"from": tx["from"], "to": tx.get("to"), "data": tx.get("input"), "value": tx.get("value", 0)}
        try:
            with self.guard("replay"):
                self.w3.eth.call(call, receipt.block_number - 1)  # type: ignore[arg-type]
        except TransactionFailedError as err:
            message = str(err.details.get("node_message", "execution reverted"))
            return classify_failure(message), message
        except EthError:
            pass
        return "reverted", "execution reverted"


def _tx_failed(tx_hash: str, node_message: str, sender: str | None, nonce: int | None) -> TransactionFailedError:
    reason = classify_failure(node_message)
    hint = {
        "nonce_too_low": "the nonce was already used; resync the nonce from the chain",
        "insufficient_funds": f"fund {sender} (it cannot pay value + gas)",
        "underpriced": "raise maxFeePerGas / gasPrice",
        "out_of_gas": "raise the gas limit",
        "reverted": "the contract refused the call",
    }.get(reason, "")
    return TransactionFailedError(
        f"transaction {tx_hash} from {sender} (nonce {nonce}) rejected: {node_message}"
        + (f" ({hint})" if hint else ""),
        tx_hash=tx_hash,
        reason=reason,
        sender=sender,
        nonce=nonce,
        node_message=node_message,
    )


def to_checksum(address: str) -> ChecksumAddress:
    """A checksummed address, or EthError naming the bad value."""
    from eth_utils.address import is_address, to_checksum_address

    if not isinstance(address, str) or not is_address(address):
        raise EthError(f"not an Ethereum address: {address!r}", address=str(address))
    return to_checksum_address(address)


def _rpc_message(err: Exception) -> str:
    response = getattr(err, "rpc_response", None)
    if isinstance(response, dict):
        error = response.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
    message = getattr(err, "message", None)
    return str(message if message else err)


def _short(err: Exception) -> str:
    text = str(err)
    match = re.search(r"\[Errno [^\]]*\][^\"')]*", text)
    if match:
        return match.group(0).strip()
    return text[:200]
