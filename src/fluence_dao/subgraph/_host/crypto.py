"""`crypto.keccak256`."""

from __future__ import annotations

from eth_hash.auto import keccak

from fluence_dao.subgraph._host._context import HostContext, HostFunction


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def keccak256(p: int) -> int:
        h = ctx.h
        return h.new_bytes(keccak(h.read_bytes(p)))

    return {"crypto.keccak256": keccak256}
