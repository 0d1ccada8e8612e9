"""Run a mapping's handlers on the marine substrate (marine.core) with graph-node's host functions (_host).

As graph-node does, every trigger gets a fresh instance in its own store (memory ceiling, wall-clock bound):
`_start` runs first, then the handler with one pointer to its argument. Host functions are linked by their name
(`store.set`, `bigInt.plus`), whatever module name the import uses; one this runner does not implement traps
with `unsupported host function <name>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path

from fluence_dao.errors import ModuleLoadError, ModuleTrapError, SubgraphError
from fluence_dao.marine.core import CoreInstance, CoreModule, StoreLimits
from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._events import Trigger, new_block, new_event
from fluence_dao.subgraph._host import BlockState, HostContext, HostFailure, bind, host_functions
from fluence_dao.subgraph._manifest import EntitySchema, EventHandler, Mapping
from fluence_dao.subgraph._rpc import ChainRpc, RpcBlock, hex_int
from fluence_dao.subgraph._store import Store
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.wasm_sections import static_data_end

log = logging.getLogger(__name__)

#: The exports the runner calls besides the handlers; the others are dropped before compiling (marine.core).
RUNTIME_EXPORTS = ("memory", "allocate", "id_of_type", "_start")

__all__ = ["BlockState", "HandlerError", "MappingRuntime", "Trigger", "UnsupportedHostFunctionError"]


class HandlerError(SubgraphError):
    """A handler failed: trap, abort, a host function error or an unsupported host function."""


class UnsupportedHostFunctionError(HandlerError):
    pass


class MappingRuntime:
    """Compiled mapping wasm for one data source or template, ready to run triggers."""

    def __init__(
        self,
        mapping: Mapping,
        schema: EntitySchema,
        store: Store,
        rpc: ChainRpc,
        templates: dict[str, Mapping],
        limits: StoreLimits | None = None,
    ) -> None:
        self.mapping = mapping
        self.ctx = HostContext(mapping, schema, store, rpc, templates)
        self.host = host_functions(self.ctx)
        path = str(mapping.wasm_path)
        try:
            wasm = Path(path).read_bytes()
        except OSError as err:
            raise SubgraphError(f"cannot load mapping {path}: {err}", path=path) from err
        handlers = [h.handler for h in mapping.handlers] + [b.handler for b in mapping.block_handlers]
        try:
            self._module = CoreModule(
                wasm,
                mapping.name,
                lambda _namespace, name, _params, _results: bind(self.ctx, self.host, name),
                keep_exports={*RUNTIME_EXPORTS, *handlers},
                limits=limits,
            )
        except ModuleLoadError as err:
            raise SubgraphError(f"cannot load mapping {path}: {err.message}", path=path) from err
        self._has_start = "_start" in self._module.exports
        # the same for every instance of the module: id_of_type answers, and string literals by address
        self._rt_ids: dict[int, int] = {}
        self._static_strings: dict[int, str] = {}
        # the block and transaction objects of this block's earlier triggers (AscHeap.cached)
        self._replay: dict[Hashable, tuple[int, bytes, int]] = {}
        self._replay_block: str | None = None
        try:
            self._static_end = static_data_end(wasm)
        except ValueError as err:
            raise SubgraphError(f"cannot load mapping {path}: {err}", path=path) from err

    # -- running --------------------------------------------------------------------------------------------
    def run(
        self,
        handler: EventHandler,
        trigger: Trigger,
        state: BlockState,
        address: bytes,
        context: JsonObject | None,
    ) -> None:
        """Run one event handler; raises HandlerError naming the handler, block, transaction and function."""
        number = hex_int(trigger.block["number"])
        where = (
            f"handler {handler.handler} of data source {self.mapping.name!r} at block {number} "
            f"(tx {trigger.log.get('transactionHash')}, log {hex_int(trigger.log.get('logIndex'))})"
        )
        block_hash = trigger.block.get("hash")
        if block_hash != self._replay_block:
            self._replay.clear()
            self._replay_block = block_hash
        self._invoke(
            handler.handler, where, lambda h: new_event(h, trigger, self._replay), number, state, address, context
        )

    def run_block(
        self, handler: str, block: RpcBlock, state: BlockState, address: bytes, context: JsonObject | None
    ) -> None:
        """Run one block handler with the block (ethereum.Block)."""
        number = hex_int(block["number"])
        where = f"block handler {handler} of data source {self.mapping.name!r} at block {number}"
        self._invoke(handler, where, lambda h: new_block(h, block), number, state, address, context)

    def _heap(self, instance: CoreInstance) -> AscHeap:
        def allocate(size: int) -> int:
            return int(instance.call("allocate", size))

        def type_id(index: int) -> int:
            return int(instance.call("id_of_type", index))

        return AscHeap(
            instance.memory,
            allocate,
            type_id,
            self._rt_ids,
            static_end=self._static_end,
            static_strings=self._static_strings,
        )

    def _invoke(
        self,
        handler_name: str,
        where: str,
        build_argument: Callable[[AscHeap], int],
        block_number: int,
        state: BlockState,
        address: bytes,
        context: JsonObject | None,
    ) -> None:
        ctx = self.ctx
        ctx.state, ctx.address, ctx.context, ctx.block_number = state, address, context, block_number
        try:
            instance = self._module.instantiate()
            heap = ctx.heap = self._heap(instance)
            if self._has_start:
                instance.call("_start")
                heap.sync()
            if not instance.has(handler_name):
                raise SubgraphError(f"{where}: the mapping exports no function {handler_name!r}")
            instance.call(handler_name, build_argument(heap))
        except HostFailure as err:
            cls = UnsupportedHostFunctionError if err.message.startswith("unsupported host function") else HandlerError
            raise cls(
                f"{where} failed in host function {err.function}: {err.message}",
                handler=handler_name,
                block=block_number,
                function=err.function,
            ) from None
        except ModuleTrapError as err:
            frames = err.details.get("frames")
            function = str(frames[0]) if isinstance(frames, list) and frames else handler_name
            raise HandlerError(
                f"{where} trapped in wasm function {function}: {err.details.get('trap', err.message)}",
                handler=handler_name,
                block=block_number,
                function=function,
            ) from None
        except ModuleLoadError as err:
            raise HandlerError(
                f"{where} failed: {err.message}", handler=handler_name, block=block_number, function=handler_name
            ) from None
        finally:
            ctx.heap = None
