"""A small Ethereum JSON-RPC client over httpx (imported lazily), with foreign errors wrapped."""

from __future__ import annotations

import itertools
from typing import Any

from fluence_dao.errors import RpcUnavailableError, SubgraphError
from fluence_dao.util.json_types import JsonArray, JsonObject


def hex_bytes(value: str | None) -> bytes:
    """JSON-RPC DATA ("0x..."; None or "" is empty) as bytes."""
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def hex_int(value: Any) -> int:
    """JSON-RPC QUANTITY ("0x1f"; None is 0; an int passes) as an int."""
    if value is None:
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)


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

    def _post(self, body: Any, what: str) -> Any:
        import httpx

        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise RpcUnavailableError(f"JSON-RPC {what} to {self.url} failed: {err}", url=self.url) from err

    @staticmethod
    def _result(reply: Any, method: str) -> Any:
        if not isinstance(reply, dict):
            raise RpcError(f"JSON-RPC {method}: the node answered {type(reply).__name__}, not an object", method=method)
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {"message": str(reply["error"])}
            raise RpcError(
                f"JSON-RPC {method} failed: {error.get('message')}",
                method=method,
                code=error.get("code"),
                data=error.get("data"),
            )
        return reply.get("result")

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return self._result(self._post(body, method), method)

    def batch(self, method: str, params: list[JsonArray]) -> list[Any]:
        """One JSON-RPC batch of `method` calls: results in the order of `params`. A node that does not take
        batches gets the calls one by one."""
        ids = [next(self._ids) for _ in params]
        body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in zip(ids, params, strict=True)]
        replies = self._post(body, f"batch of {len(params)} {method}")
        if not isinstance(replies, list):  # batches unsupported: the node answered one error object
            return [self.call(method, *p) for p in params]
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise RpcError(
                f"JSON-RPC batch of {method}: no answer for {len(missing)} of {len(ids)} calls", method=method
            )
        return [self._result(by_id[i], method) for i in ids]

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block(self, number: int, full: bool = False) -> JsonObject | None:
        result: JsonObject | None = self.call("eth_getBlockByNumber", hex(number), full)
        return result

    def blocks(self, numbers: list[int], full: bool = False) -> list[JsonObject | None]:
        """Several blocks in one request (None for one the node does not have)."""
        return self.batch("eth_getBlockByNumber", [[hex(n), full] for n in numbers])

    def logs(self, from_block: int, to_block: int, addresses: list[str]) -> list[JsonObject]:
        result: list[JsonObject] = self.call(
            "eth_getLogs", {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": addresses}
        )
        return result
