"""graph-node's host functions, one module per namespace (the part of the import name before the dot).

A mapping imports host functions by their full name (`store.set`, `bigInt.plus`) from whatever module name asc
chose (`index`, `numbers`, `conversion`, `env`); the runner links them by name, as graph-node does. Each namespace
module offers `functions(ctx) -> {name: function}` over one HostContext. A name no module provides still links,
and traps when called with `unsupported host function <name>` (so a subgraph that never calls it runs).

Every function is wrapped by `bind`: it re-reads the guest memory first (the guest may have grown it), names
itself in any failure (HostFailure), and lets RpcUnavailableError through (an RPC outage is not the mapping's
fault: the block is retried later).
"""

from __future__ import annotations

from fluence_dao.errors import RpcUnavailableError
from fluence_dao.subgraph._host import (
    big_decimal,
    big_int,
    crypto,
    data_source,
    env,
    ethereum,
    json,
    log,
    store,
    type_conversion,
)
from fluence_dao.subgraph._host._context import BlockState, HostContext, HostFailure, HostFunction

NAMESPACES = (env, store, ethereum, big_int, big_decimal, type_conversion, json, crypto, log, data_source)

__all__ = ["NAMESPACES", "BlockState", "HostContext", "HostFailure", "HostFunction", "bind", "host_functions"]


def host_functions(ctx: HostContext) -> dict[str, HostFunction]:
    """Every host function this runner implements, by full name, bound to `ctx`."""
    table: dict[str, HostFunction] = {}
    for namespace in NAMESPACES:
        table.update(namespace.functions(ctx))
    return table


def bind(ctx: HostContext, table: dict[str, HostFunction], name: str) -> HostFunction:
    """The function the mapping's import `name` calls."""
    impl = table.get(name)

    if impl is None:

        def unsupported(*args: object) -> None:
            raise HostFailure(name, f"unsupported host function {name}")

        return unsupported

    def call(*args: int | float) -> int | float | None:
        heap = ctx.heap
        if heap is not None:
            heap.sync()  # the guest may have grown its memory since the host last looked
        try:
            return impl(*args)
        except (HostFailure, RpcUnavailableError):
            raise
        except Exception as err:  # a host function failed: name it
            raise HostFailure(name, f"host function {name} failed: {err}") from err

    return call
