"""A small Ethereum JSON-RPC client over httpx (imported lazily), with foreign errors wrapped."""

from __future__ import annotations

import itertools
from typing import Any

from fluence_dao.errors import RpcUnavailableError, SubgraphError


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

    def call(self, method: str, *params: Any) -> Any:
        import httpx

        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            reply = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise RpcUnavailableError(f"JSON-RPC {method} to {self.url} failed: {err}", url=self.url) from err
        if "error" in reply:
            error = reply["error"]
            raise RpcError(
                f"JSON-RPC {method} failed: {error.get('message')}",
                method=method,
                code=error.get("code"),
                data=error.get("data"),
            )
        return reply.get("result")

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block(self, number: int, full: bool = False) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("eth_getBlockByNumber", hex(number), full)
        return result

    def logs(self, from_block: int, to_block: int, addresses: list[str]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call(
            "eth_getLogs", {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": addresses}
        )
        return result
