"""What every host function sees: the mapping, the entity store and the chain, and the trigger being run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._manifest import EntitySchema, Mapping
from fluence_dao.subgraph._rpc import ChainRpc
from fluence_dao.subgraph._store import Entity, Store
from fluence_dao.util.json_types import JsonObject

#: A host function: called by wasmtime with the guest's numbers, returns a number or None.
HostFunction = Callable[..., int | float | None]


_T = TypeVar("_T")


def binary_op(
    ctx: HostContext,
    read: Callable[[AscHeap, int], _T],
    new: Callable[[AscHeap, _T], int],
    fn: Callable[[_T, _T], _T],
) -> HostFunction:
    """A host function `(x, y) -> fn(x, y)` over two guest objects read by `read`, its result written by `new`."""

    def op(x: int, y: int) -> int:
        h = ctx.h
        return new(h, fn(read(h, x), read(h, y)))

    return op


class HostFailure(Exception):
    """Raised inside a host function; carries the host function's name out through wasmtime."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function
        self.message = message


@dataclass
class BlockState:
    """Entity changes and created data sources of the block being processed."""

    changes: dict[tuple[str, str], Entity | None] = field(default_factory=dict)
    created: list[tuple[str, str, JsonObject | None]] = field(default_factory=list)


@dataclass
class HostContext:
    """One mapping's host state. `heap` and the trigger fields are set for each trigger by the runtime."""

    mapping: Mapping
    schema: EntitySchema
    store: Store
    rpc: ChainRpc
    templates: dict[str, Mapping]
    heap: AscHeap | None = None
    state: BlockState = field(default_factory=BlockState)
    address: bytes = b""
    context: JsonObject | None = None
    block_number: int = 0

    @property
    def h(self) -> AscHeap:
        """The running instance's heap (host functions run only inside a trigger)."""
        if self.heap is None:
            raise RuntimeError("no mapping instance is running")
        return self.heap
