"""A small Ethereum JSON-RPC client over httpx (imported lazily), with foreign errors wrapped, and the shapes of
the results the indexer reads (as TypedDicts: JSON-RPC QUANTITY and DATA values are 0x-hex strings)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Protocol, TypedDict, cast

from fluence_dao.errors import RpcUnavailableError, SubgraphError
from fluence_dao.util.json_types import JsonArray, JsonObject, JsonValue


class RpcLog(TypedDict, total=False):
    """A log of eth_getLogs or of a receipt."""

    address: str
    topics: list[str]
    data: str
    blockNumber: str
    blockHash: str
    transactionHash: str
    transactionIndex: str
    logIndex: str
    transactionLogIndex: str
    removed: bool


#: A transaction of a full block (`from` is a Python keyword, hence this form).
RpcTransaction = TypedDict(
    "RpcTransaction",
    {
        "hash": str,
        "transactionIndex": str,
        "from": str,
        "to": str | None,
        "value": str,
        "gas": str,
        "gasPrice": str,
        "input": str,
        "nonce": str,
    },
    total=False,
)


class RpcBlock(TypedDict, total=False):
    """eth_getBlockByNumber (transactions as objects with `full`, else as hashes)."""

    number: str
    hash: str
    parentHash: str
    sha3Uncles: str
    miner: str
    stateRoot: str
    transactionsRoot: str
    receiptsRoot: str
    gasUsed: str
    gasLimit: str
    timestamp: str
    difficulty: str
    totalDifficulty: str
    size: str
    baseFeePerGas: str
    transactions: list[RpcTransaction | str]


class RpcReceipt(TypedDict, total=False):
    """eth_getTransactionReceipt."""

    transactionHash: str
    transactionIndex: str
    blockHash: str
    blockNumber: str
    cumulativeGasUsed: str
    gasUsed: str
    contractAddress: str | None
    logs: list[RpcLog]
    status: str
    root: str | None
    logsBloom: str


class ChainRpc(Protocol):
    """What the indexer and the host functions ask of the chain (EthRpc, or a wrapper around one)."""

    def call(self, method: str, *params: JsonValue) -> JsonValue: ...

    def block_number(self) -> int: ...

    def block(self, number: int, full: bool = False) -> RpcBlock | None: ...

    def logs(self, from_block: int, to_block: int, addresses: list[str]) -> list[RpcLog]: ...

    def receipt(self, tx_hash: str) -> RpcReceipt | None: ...


def hex_bytes(value: JsonValue) -> bytes:
    """JSON-RPC DATA ("0x..."; None or "" is empty) as bytes."""
    if not value:
        return b""
    if not isinstance(value, str):
        raise RpcError(f"not JSON-RPC DATA (a 0x-hex string): {value!r}")
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def hex_int(value: JsonValue) -> int:
    """JSON-RPC QUANTITY ("0x1f"; None is 0; an int passes) as an int."""
    if value is None:
        return 0
    if isinstance(value, str):
        return int(value, 16)
    if isinstance(value, int | float):
        return int(value)
    raise RpcError(f"not a JSON-RPC QUANTITY (a 0x-hex string): {value!r}")


class RpcError(SubgraphError):
    """The node answered a JSON-RPC call with an error object."""


class EthRpc:
    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        import httpx

        self.url = url
        self._client = httpx.Client(timeout=timeout_s)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._client.close()

    def _post(self, body: JsonValue, what: str) -> JsonValue:
        import httpx

        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            reply: JsonValue = response.json()
            return reply
        except (httpx.HTTPError, ValueError) as err:
            raise RpcUnavailableError(f"JSON-RPC {what} to {self.url} failed: {err}", url=self.url) from err

    @staticmethod
    def _result(reply: JsonValue, method: str) -> JsonValue:
        if not isinstance(reply, dict):
            raise RpcError(f"JSON-RPC {method}: the node answered {type(reply).__name__}, not an object", method=method)
        if "error" in reply:
            raw = reply["error"]
            error: Mapping[str, JsonValue] = raw if isinstance(raw, Mapping) else {"message": str(raw)}
            raise RpcError(
                f"JSON-RPC {method} failed: {error.get('message')}",
                method=method,
                code=error.get("code"),
                data=error.get("data"),
            )
        return reply.get("result")

    def call(self, method: str, *params: JsonValue) -> JsonValue:
        body: JsonObject = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return self._result(self._post(body, method), method)

    def batch(self, method: str, params: list[JsonArray]) -> list[JsonValue]:
        """One JSON-RPC batch of `method` calls: results in the order of `params`. A node that does not take
        batches gets the calls one by one."""
        ids = [next(self._ids) for _ in params]
        body: JsonArray = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in zip(ids, params, strict=True)
        ]
        replies = self._post(body, f"batch of {len(params)} {method}")
        if not isinstance(replies, list):  # batches unsupported: the node answered one error object
            return [self.call(method, *p) for p in params]
        by_id = {r.get("id"): r for r in replies if isinstance(r, Mapping)}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise RpcError(
                f"JSON-RPC batch of {method}: no answer for {len(missing)} of {len(ids)} calls", method=method
            )
        return [self._result(by_id[i], method) for i in ids]

    def block_number(self) -> int:
        return hex_int(self.call("eth_blockNumber"))

    # The results below are cast to their documented shapes: the node is trusted to answer as JSON-RPC says.
    def block(self, number: int, full: bool = False) -> RpcBlock | None:
        return cast("RpcBlock | None", self.call("eth_getBlockByNumber", hex(number), full))

    def blocks(self, numbers: list[int], full: bool = False) -> list[RpcBlock | None]:
        """Several blocks in one request (None for one the node does not have)."""
        return cast("list[RpcBlock | None]", self.batch("eth_getBlockByNumber", [[hex(n), full] for n in numbers]))

    def logs(self, from_block: int, to_block: int, addresses: list[str]) -> list[RpcLog]:
        query: JsonValue = {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": addresses}
        return cast("list[RpcLog]", self.call("eth_getLogs", query))

    def receipt(self, tx_hash: str) -> RpcReceipt | None:
        return cast("RpcReceipt | None", self.call("eth_getTransactionReceipt", tx_hash))
