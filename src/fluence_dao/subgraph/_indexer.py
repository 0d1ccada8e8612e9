"""Index a built subgraph from an Ethereum JSON-RPC endpoint into a Store.

eth_getLogs in block ranges from the data sources' start blocks; each block's triggers run in graph-node's order
(`once` block handlers, event handlers by log index, then block handlers with no filter or `polling`), and the
block's entity changes are committed with the cursor in one transaction. Data sources created
from templates start in their creation block (their triggers there run after the block's other triggers, as in
graph-node). Before each pass the cursor's hash is checked against the chain; on a mismatch the store is reverted
to the newest stored block still on the chain (within `reorg_depth` blocks) and indexing continues from there.
A failing handler stops indexing: the error (handler, block, function) is stored and shown in `status` and
`_meta.hasIndexingErrors`; the entities stay at the last good block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from eth_hash.auto import keccak

from fluence_dao.errors import FluenceDaoError, SubgraphError
from fluence_dao.marine.core import StoreLimits
from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._abi_types import AbiType, AbiValue, decode_elementary, eth_value_from_python
from fluence_dao.subgraph._manifest import EventHandler, Manifest, Mapping, load_manifest, load_schema
from fluence_dao.subgraph._numbers import BigDecimal
from fluence_dao.subgraph._rpc import ChainRpc, RpcBlock, RpcLog, RpcReceipt, RpcTransaction
from fluence_dao.subgraph._runtime import BlockState, HandlerError, MappingRuntime, Trigger
from fluence_dao.subgraph._store import BlockPtr, DynamicDataSource, Store, encode_value
from fluence_dao.util.json_types import JsonObject, JsonValue, to_json

log = logging.getLogger(__name__)

_CONTEXT_KINDS = {
    "String": A.SV_STRING,
    "Int": A.SV_INT,
    "BigDecimal": A.SV_BIGDECIMAL,
    "Bool": A.SV_BOOL,
    "Bytes": A.SV_BYTES,
    "BigInt": A.SV_BIGINT,
    "Int8": A.SV_INT8,
}


class _ChainMoved(Exception):
    """The chain changed under a pass (a log's block hash no longer matches): re-check for a reorg."""


@dataclass(frozen=True)
class IndexerConfig:
    reorg_depth: int = 64
    range_size: int = 2000
    poll_interval_s: float = 0.5
    handler_timeout_s: float = 60  # a handler running longer is interrupted (graph-node has a timeout too)
    max_memory_bytes: int = 256 * 2**20  # a mapping instance's linear memory ceiling (marine's default)


@dataclass
class _Source:
    mapping: Mapping
    address: str
    context: JsonObject | None
    start_block: int  # first block whose logs it handles


def _manifest_context(raw: dict[str, tuple[str, JsonValue]] | None) -> JsonObject | None:
    if not raw:
        return None
    out: JsonObject = {}
    for key, (kind_name, data) in raw.items():
        kind = _CONTEXT_KINDS.get(kind_name)
        if kind is None:
            raise SubgraphError(f"context entry {key!r}: unsupported type {kind_name!r}", key=key)
        value: object = data
        if kind == A.SV_BIGINT or kind in (A.SV_INT, A.SV_INT8):
            value = int(data) if isinstance(data, int | float) else int(str(data))
        elif kind == A.SV_BIGDECIMAL:
            value = BigDecimal.parse(str(data))
        elif kind == A.SV_BYTES:
            value = bytes.fromhex(str(data).removeprefix("0x"))
        out[key] = encode_value((kind, value))
    return out


class _BlockPrefetch:
    """Full blocks (with transactions) fetched by a thread ahead of the block being processed, so the node
    serialises the next blocks while the mappings run; blocks with few logs go several to a JSON-RPC batch
    (a request costs more than a small block). Errors surface where the block is used."""

    AHEAD = 2  # batches in flight
    BATCH_BLOCKS = 16
    BATCH_LOGS = 100  # a batch stops growing once its blocks hold this many logs (big blocks go alone)

    def __init__(self, rpc: ChainRpc, numbers: list[int], logs: dict[int, list[RpcLog]]) -> None:
        self._rpc = rpc
        self._batches: list[list[int]] = []
        for number in numbers:
            last = self._batches[-1] if self._batches else None
            if last and len(last) < self.BATCH_BLOCKS and sum(len(logs[n]) for n in last) < self.BATCH_LOGS:
                last.append(number)
            else:
                self._batches.append([number])
        self._batch_of = {n: i for i, batch in enumerate(self._batches) for n in batch}
        self._futures: dict[int, Future[dict[int, RpcBlock | None]]] = {}
        self._submitted = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="subgraph-blocks") if len(numbers) > 1 else None
        self._fill(0)

    def _fetch(self, batch: list[int]) -> dict[int, RpcBlock | None]:
        many = getattr(self._rpc, "blocks", None)
        if many is not None and len(batch) > 1:
            return dict(zip(batch, many(batch, True), strict=True))
        return {n: self._rpc.block(n, True) for n in batch}

    def _fill(self, current: int) -> None:
        while self._pool is not None and self._submitted < min(len(self._batches), current + self.AHEAD):
            self._futures[self._submitted] = self._pool.submit(self._fetch, self._batches[self._submitted])
            self._submitted += 1

    def get(self, number: int) -> RpcBlock | None:
        index = self._batch_of.get(number)
        if index is None or self._pool is None:
            return self._rpc.block(number, True)
        self._fill(index)
        blocks = self._futures[index].result()
        if number == self._batches[index][-1]:
            del self._futures[index]
        return blocks[number]

    def __enter__(self) -> _BlockPrefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Indexer:
    def __init__(
        self,
        build_dir: Path | str,
        store: Store,
        rpc: ChainRpc,
        addresses: dict[str, str] | None = None,
        start_blocks: dict[str, int] | None = None,
        config: IndexerConfig | None = None,
    ) -> None:
        self.manifest: Manifest = load_manifest(build_dir)
        self.schema = load_schema(self.manifest.schema_path)
        self.store = store
        self.rpc = rpc
        self.config = config or IndexerConfig()
        addresses = {k: v.lower() for k, v in (addresses or {}).items()}
        start_blocks = start_blocks or {}
        for name in [*addresses, *start_blocks]:
            if name not in {ds.name for ds in self.manifest.data_sources}:
                raise SubgraphError(
                    f"no data source named {name!r} (have: {', '.join(ds.name for ds in self.manifest.data_sources)})",
                    name=name,
                )
        self._static: list[_Source] = []
        for ds in self.manifest.data_sources:
            address = addresses.get(ds.name, ds.address or "")
            if not address:
                raise SubgraphError(f"data source {ds.name!r} has no address", name=ds.name)
            self._static.append(
                _Source(ds, address, _manifest_context(ds.context), start_blocks.get(ds.name, ds.start_block))
            )
        self.deployment = (
            "Qm"
            + keccak(
                (self.manifest.directory / "subgraph.yaml").read_bytes()
                + repr(sorted((s.mapping.name, s.address, s.start_block) for s in self._static)).encode()
            ).hex()[:44]
        )
        stored = store.get_meta("deployment")
        if stored is None:
            store.set_meta("deployment", self.deployment)
        elif stored != self.deployment:
            raise SubgraphError(
                f"the database {store.path} belongs to another deployment ({stored}, this one is {self.deployment}): "
                "use a new database file for a changed subgraph or changed addresses",
                path=store.path,
            )
        self._limits = StoreLimits(self.config.max_memory_bytes, self.config.handler_timeout_s)
        self._runtimes: dict[str, MappingRuntime] = {}
        self.head: int | None = None

    def close(self) -> None:
        """Close the store (the indexer cannot be used afterwards)."""
        self.store.close()

    # -- data sources ---------------------------------------------------------------------------------------
    def _runtime(self, mapping: Mapping) -> MappingRuntime:
        key = ("template:" if mapping.is_template else "ds:") + mapping.name
        if key not in self._runtimes:
            self._runtimes[key] = MappingRuntime(
                mapping,
                self.schema,
                self.store,
                self.rpc,
                self.manifest.templates,
                self._limits,
            )
        return self._runtimes[key]

    def _sources(self) -> list[_Source]:
        sources = list(self._static)
        for ds in self.store.data_sources():
            template = self.manifest.templates.get(ds.template)
            if template is None:
                raise SubgraphError(f"stored data source uses unknown template {ds.template!r}")
            sources.append(_Source(template, ds.address, ds.context, ds.creation_block + 1))
        return sources

    # -- status ---------------------------------------------------------------------------------------------
    def status(self) -> JsonObject:
        cursor = self.store.cursor()
        error = self.store.error()
        return {
            "deployment": self.deployment,
            "synced_block": None if cursor is None else {"number": cursor.number, "hash": cursor.hash},
            "chain_head": self.head,
            "failed": error is not None,
            "error": error,
            "data_sources": [
                {
                    "name": s.mapping.name,
                    "address": s.address,
                    "start_block": s.start_block,
                    "template": s.mapping.is_template,
                }
                for s in self._sources()
            ],
        }

    # -- indexing -------------------------------------------------------------------------------------------
    def sync(self, until: int | None = None) -> BlockPtr | None:
        """Index up to the chain head (or `until`); returns the cursor. Stops early if a handler fails."""
        for _attempt in range(10):
            if self.store.error() is not None:
                return self.store.cursor()
            try:
                return self._sync_once(until)
            except _ChainMoved:
                log.info("chain changed during a pass; re-checking for a reorg")
        raise SubgraphError("the chain kept changing during indexing (10 attempts)")

    def _sync_once(self, until: int | None) -> BlockPtr | None:
        head = self.rpc.block_number()
        self.head = head
        target = head if until is None else min(head, until)
        cursor = self._handle_reorg(head)
        start = cursor.number + 1 if cursor else min((s.start_block for s in self._static), default=0)
        while start <= target:
            end = min(start + self.config.range_size - 1, target)
            start = self._process_range(start, end)
            if self.store.error() is not None:
                break
        return self.store.cursor()

    def _handle_reorg(self, head: int) -> BlockPtr | None:
        cursor = self.store.cursor()
        if cursor is None:
            return None
        block = self.rpc.block(cursor.number) if cursor.number <= head else None
        if block is not None and block["hash"] == cursor.hash:
            return cursor
        for ptr in self.store.recent_blocks():
            if ptr.number > head:
                continue
            chain = self.rpc.block(ptr.number)
            if chain is not None and chain["hash"] == ptr.hash:
                log.warning("reorg: reverting from block %d to %d", cursor.number, ptr.number)
                self.store.revert_to(ptr)
                return ptr
        raise SubgraphError(
            f"reorg deeper than the {self.config.reorg_depth} blocks kept (cursor {cursor.number}): reindex into a new database",
            block=cursor.number,
        )

    def _process_range(self, start: int, end: int) -> int:
        """Process blocks start..end; returns the next block to process (earlier than end+1 if a data source
        was created, so the rest of the range is fetched again with its address)."""
        sources = [s for s in self._sources() if s.start_block <= end]
        addresses = sorted({s.address for s in sources})
        end_block = self.rpc.block(end)  # fetched before the logs: if it changes meanwhile, the logs may be stale
        if end_block is None:
            raise _ChainMoved()
        logs = self.rpc.logs(start, end, addresses) if addresses else []
        by_block: dict[int, list[RpcLog]] = {}
        for entry in logs:
            if entry.get("removed"):
                continue
            by_block.setdefault(int(entry["blockNumber"], 16), []).append(entry)
        for source in sources:
            for handler in source.mapping.block_handlers:
                for number in range(max(start, source.start_block), end + 1):
                    if handler.applies(number, source.start_block):
                        by_block.setdefault(number, [])
        numbers = sorted(by_block)
        with _BlockPrefetch(self.rpc, numbers, by_block) as blocks:
            for number in numbers:
                entries = sorted(by_block[number], key=lambda e: int(e["logIndex"], 16))
                created = self._process_block(number, entries, sources, blocks.get(number))
                if self.store.error() is not None:
                    return end + 1
                if created:
                    return number + 1
        block = self.rpc.block(end)
        if block is None or block["hash"] != end_block["hash"]:
            raise _ChainMoved()
        self.store.advance(BlockPtr(end, block["hash"], int(block["timestamp"], 16)), self.config.reorg_depth)
        return end + 1

    def _process_block(
        self, number: int, entries: list[RpcLog], sources: list[_Source], block: RpcBlock | None
    ) -> bool:
        """Run one block's triggers and commit its changes; `block` is the full block (with transactions)."""
        if block is None or any(e["blockHash"] != block["hash"] for e in entries):
            raise _ChainMoved()
        txs = {tx["hash"]: tx for tx in block.get("transactions", []) if isinstance(tx, dict)}
        state = BlockState()
        active = [s for s in sources if s.start_block <= number]
        try:
            # graph-node's trigger order: `once` block handlers, then events by log index, then block handlers.
            self._run_block_handlers(block, active, state, once=True)
            self._run_triggers(entries, active, block, txs, state)
            self._run_block_handlers(block, active, state, once=False)
            done = 0
            new_sources: list[DynamicDataSource] = []
            while done < len(state.created):
                batch = state.created[done:]
                done = len(state.created)
                fresh = []
                for template_name, address, context in batch:
                    template = self.manifest.templates[template_name]
                    new_sources.append(DynamicDataSource(template_name, address, context, number))
                    fresh.append(_Source(template, address, context, number))
                more = self.rpc.logs(number, number, sorted({s.address for s in fresh}))
                more = sorted((e for e in more if not e.get("removed")), key=lambda e: int(e["logIndex"], 16))
                self._run_triggers(more, fresh, block, txs, state)
        except HandlerError as err:
            log.error("%s", err.message)
            self.store.set_error({"message": err.message, **{k: to_json(v) for k, v in err.details.items()}})
            return False
        self.store.commit_block(
            BlockPtr(number, block["hash"], int(block["timestamp"], 16)),
            state.changes,
            new_sources,
            self.config.reorg_depth,
        )
        return bool(new_sources)

    def _run_triggers(
        self,
        entries: list[RpcLog],
        sources: list[_Source],
        block: RpcBlock,
        txs: dict[str, RpcTransaction],
        state: BlockState,
    ) -> None:
        receipts: dict[str, RpcReceipt | None] = {}
        for entry in entries:
            topics = [bytes.fromhex(t[2:]) for t in entry.get("topics", [])]
            if not topics:
                continue
            address = entry["address"].lower()
            for source in sources:
                if source.address != address:
                    continue
                for handler in source.mapping.handler_for(topics[0]):
                    params = self._decode(handler, topics, entry)
                    if params is None:
                        continue
                    receipt = None
                    if handler.receipt:
                        tx_hash = entry["transactionHash"]
                        if tx_hash not in receipts:
                            receipts[tx_hash] = self.rpc.receipt(tx_hash)
                        receipt = receipts[tx_hash]
                    trigger = Trigger(
                        entry,
                        block,
                        txs.get(entry.get("transactionHash", "")),
                        int(entry.get("transactionLogIndex", entry["logIndex"]), 16),
                        params,
                        receipt,
                    )
                    self._runtime(source.mapping).run(
                        handler, trigger, state, bytes.fromhex(address[2:]), source.context
                    )

    def _run_block_handlers(self, block: RpcBlock, sources: list[_Source], state: BlockState, once: bool) -> None:
        number = int(block["number"], 16)
        for source in sources:
            for handler in source.mapping.block_handlers:
                if (handler.kind == "once") == once and handler.applies(number, source.start_block):
                    self._runtime(source.mapping).run_block(
                        handler.handler, block, state, bytes.fromhex(source.address[2:]), source.context
                    )

    @staticmethod
    def _decode(handler: EventHandler, topics: list[bytes], entry: RpcLog) -> list[tuple[str, A.EthValue]] | None:
        params = handler.event.params
        indexed = [p for p in params if p.indexed]
        if len(topics) != len(indexed) + 1:
            log.warning("log %s does not match %s (topics)", entry.get("transactionHash"), handler.event.canonical)
            return None
        plain = [p for p in params if not p.indexed]
        try:
            data = bytes.fromhex(entry["data"][2:])
            decoded = _decode_values([p.type for p in plain], data) if plain else []
        except Exception:
            log.warning("log %s does not match %s (data)", entry.get("transactionHash"), handler.event.canonical)
            return None
        out: list[tuple[str, A.EthValue]] = []
        topic_iter = iter(topics[1:])
        data_iter = iter(decoded)
        for p in params:
            if p.indexed:
                topic = next(topic_iter)
                if p.type.is_dynamic or p.type.base == "tuple" or p.type.is_array:
                    out.append((p.name, (A.EV_FIXED_BYTES, topic)))
                else:
                    out.append((p.name, eth_value_from_python(p.type, _decode_values([p.type], topic)[0])))
            else:
                out.append((p.name, eth_value_from_python(p.type, next(data_iter))))
        return out

    def run_forever(self, stop: threading.Event) -> None:
        """Follow the chain until `stop` is set; RPC outages are logged and retried."""
        while not stop.is_set():
            try:
                self.sync()
            except FluenceDaoError as err:  # keep serving queries; anything else is a bug and ends the thread
                log.error("indexing pass failed: %s", err.message)
            stop.wait(self.config.poll_interval_s)


def _decode_values(types: list[AbiType], data: bytes) -> list[AbiValue]:
    """ABI-decode `data` as `types`: elementary types directly, anything else (or invalid data) by eth_abi."""
    fast = decode_elementary(types, data)
    if fast is not None:
        return fast
    from eth_abi.abi import decode  # lazy: only logs with tuples or arrays need it

    return list(decode([t.canonical() for t in types], data))


def wait_for(predicate: Callable[[], object], timeout_s: float = 30.0, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False
