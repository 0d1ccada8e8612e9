"""Run a mapping's event handlers in wasmtime with graph-node's host functions.

As graph-node does, every trigger gets a fresh instance: `_start` runs first, then the handler with one pointer
to the event. Host functions are linked by their name (`store.set`, `bigInt.plus`), whatever module name the
import uses. A host function this runner does not implement traps with `unsupported host function <name>`.
"""

from __future__ import annotations

import ctypes
import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak

from fluence_dao.errors import RpcUnavailableError, SubgraphError
from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._abi_types import AbiType, parse_call_signature, parse_type
from fluence_dao.subgraph._manifest import EntitySchema, EventHandler, Mapping
from fluence_dao.subgraph._numbers import BigDecimal
from fluence_dao.subgraph._store import Entity, Store

log = logging.getLogger(__name__)

_LOG_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


class HandlerError(SubgraphError):
    """A handler failed: trap, abort, a host function error or an unsupported host function."""


class UnsupportedHostFunctionError(HandlerError):
    pass


class _HostFailure(Exception):
    """Raised inside a host function; carries the host function's name out through wasmtime."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function
        self.message = message


class _RawNumber(str):
    """A JSON number kept as its source text (graph-ts JSONValue numbers are strings)."""


@dataclass
class BlockState:
    """Entity changes and created data sources of the block being processed."""

    changes: dict[tuple[str, str], Entity | None] = field(default_factory=dict)
    created: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)


@dataclass
class Trigger:
    """What a handler needs to know about its event."""

    log: dict[str, Any]
    block: dict[str, Any]
    transaction: dict[str, Any] | None
    transaction_log_index: int
    params: list[tuple[str, A.EthValue]]
    receipt: dict[str, Any] | None = None  # eth_getTransactionReceipt, for handlers with `receipt: true`


def _hex_bytes(value: str | None) -> bytes:
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def _hex_int(value: Any) -> int:
    if value is None:
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)


def eth_value_from_python(t: AbiType, value: Any) -> A.EthValue:
    """An eth_abi-decoded value as a graph-ts ethereum.Value."""
    if t.is_array:
        kind = A.EV_FIXED_ARRAY if t.array_len is not None else A.EV_ARRAY
        return kind, [eth_value_from_python(t.inner[0], v) for v in value]
    if t.base == "tuple":
        return A.EV_TUPLE, [eth_value_from_python(s, v) for s, v in zip(t.inner, value, strict=True)]
    if t.base == "address":
        return A.EV_ADDRESS, _hex_bytes(value) if isinstance(value, str) else bytes(value)
    if t.base == "bytes":
        return A.EV_BYTES, bytes(value)
    if t.base.startswith("bytes"):
        return A.EV_FIXED_BYTES, bytes(value)
    if t.base.startswith("uint"):
        return A.EV_UINT, int(value)
    if t.base.startswith("int"):
        return A.EV_INT, int(value)
    if t.base == "bool":
        return A.EV_BOOL, bool(value)
    if t.base == "string":
        return A.EV_STRING, str(value)
    raise ValueError(f"unsupported ABI type {t.canonical()}")


def eth_value_to_python(value: A.EthValue) -> Any:
    kind, v = value
    if kind in (A.EV_FIXED_ARRAY, A.EV_ARRAY):
        return [eth_value_to_python(x) for x in v]
    if kind == A.EV_TUPLE:
        return tuple(eth_value_to_python(x) for x in v)
    return v


def eth_value_type(value: A.EthValue) -> str:
    """The ABI type a graph-ts ethereum.Value encodes as (ethereum.encode)."""
    kind, v = value
    if kind == A.EV_ADDRESS:
        return "address"
    if kind == A.EV_FIXED_BYTES:
        return f"bytes{len(v)}"
    if kind == A.EV_BYTES:
        return "bytes"
    if kind == A.EV_INT:
        return "int256"
    if kind == A.EV_UINT:
        return "uint256"
    if kind == A.EV_BOOL:
        return "bool"
    if kind == A.EV_STRING:
        return "string"
    if kind == A.EV_TUPLE:
        return "(" + ",".join(eth_value_type(x) for x in v) + ")"
    inner = eth_value_type(v[0]) if v else "uint256"
    return f"{inner}[{len(v)}]" if kind == A.EV_FIXED_ARRAY else f"{inner}[]"


_SCALAR_KINDS = {
    "ID": {A.SV_STRING, A.SV_BYTES, A.SV_INT8},
    "String": {A.SV_STRING},
    "Int": {A.SV_INT},
    "BigInt": {A.SV_BIGINT},
    "BigDecimal": {A.SV_BIGDECIMAL},
    "Boolean": {A.SV_BOOL},
    "Bytes": {A.SV_BYTES},
    "Int8": {A.SV_INT8, A.SV_INT},
    "Timestamp": {A.SV_TIMESTAMP, A.SV_INT8},
}


class MappingRuntime:
    """Compiled mapping wasm for one data source or template, ready to run triggers."""

    def __init__(
        self,
        mapping: Mapping,
        schema: EntitySchema,
        store: Store,
        rpc: Any,
        templates: dict[str, Mapping],
        engine: Any,
        module_cache: dict[str, Any],
        timeout_epochs: int | None = None,
    ) -> None:
        import wasmtime

        self.mapping = mapping
        self.schema = schema
        self.store = store
        self.rpc = rpc
        self.templates = templates
        self._engine = engine
        self._timeout_epochs = timeout_epochs
        key = str(mapping.wasm_path)
        if key not in module_cache:
            try:
                module_cache[key] = wasmtime.Module.from_file(engine, key)
            except (wasmtime.WasmtimeError, OSError) as err:
                raise SubgraphError(f"cannot load mapping {key}: {err}", path=key) from err
        self._module = module_cache[key]
        self._linker = wasmtime.Linker(engine)
        self._type_ids: dict[int, int] = {}
        self._id_of_type: Any = None
        # Per-trigger state (set by run()).
        self._heap: A.AscHeap | None = None
        self._state = BlockState()
        self._address = b""
        self._context: dict[str, Any] | None = None
        self._block_number = 0
        self._host = self._host_table()
        self._has_start = any(e.name == "_start" for e in self._module.exports)
        for imp in self._module.imports:
            self._linker.define_func(imp.module, imp.name, imp.type, self._wrap(imp.name, imp.type))

    def _wrap(self, name: str, func_type: Any) -> Callable[..., Any]:
        impl = self._host.get(name)
        results = list(func_type.results)

        def call(*args: Any) -> Any:
            if impl is None:
                raise _HostFailure(name, f"unsupported host function {name}")
            if self._heap is not None:
                self._heap.invalidate()  # the guest may have grown its memory since the last host call
            try:
                result = impl(*args)
                if self._heap is not None:
                    self._heap.flush()
                return result
            except (_HostFailure, RpcUnavailableError):
                raise  # RPC outages are not the mapping's fault: the block is retried, the subgraph does not fail
            except Exception as err:  # a host function failed: name it
                raise _HostFailure(name, f"host function {name} failed: {err}") from err

        if not results:
            return lambda *args: (call(*args), None)[1]
        return call

    # -- running --------------------------------------------------------------------------------------------
    def run(
        self,
        handler: EventHandler,
        trigger: Trigger,
        state: BlockState,
        address: bytes,
        context: dict[str, Any] | None,
    ) -> None:
        """Run one event handler; raises HandlerError naming the handler, block, transaction and function."""
        number = _hex_int(trigger.block["number"])
        where = (
            f"handler {handler.handler} of data source {self.mapping.name!r} at block {number} "
            f"(tx {trigger.log.get('transactionHash')}, log {_hex_int(trigger.log.get('logIndex'))})"
        )
        self._invoke(handler.handler, where, lambda: self._new_event(trigger), number, state, address, context)

    def run_block(
        self, handler: str, block: dict[str, Any], state: BlockState, address: bytes, context: dict[str, Any] | None
    ) -> None:
        """Run one block handler with the block (ethereum.Block)."""
        number = _hex_int(block["number"])
        where = f"block handler {handler} of data source {self.mapping.name!r} at block {number}"
        self._invoke(handler, where, lambda: self._new_block(block), number, state, address, context)

    def _invoke(
        self,
        handler_name: str,
        where: str,
        build_argument: Callable[[], int],
        block_number: int,
        state: BlockState,
        address: bytes,
        context: dict[str, Any] | None,
    ) -> None:
        import wasmtime

        store = wasmtime.Store(self._engine)
        if self._timeout_epochs is not None:
            store.set_epoch_deadline(self._timeout_epochs)
        self._state = state
        self._address = address
        self._context = context
        self._block_number = block_number
        try:
            instance = self._linker.instantiate(store, self._module)
            memory = _export(store, instance, "memory")
            allocate = _export(store, instance, "allocate")
            id_of_type = _export(store, instance, "id_of_type")

            def type_id(index: int) -> int:
                cached = self._type_ids.get(index)
                if cached is None:
                    cached = self._type_ids[index] = int(id_of_type(store, index))
                return cached

            self._heap = A.AscHeap(store, memory, allocate, type_id)
            if self._has_start:
                _export(store, instance, "_start")(store)
            argument = build_argument()
            self._heap.flush()
            func = _export(store, instance, handler_name)
            if func is None:
                raise SubgraphError(f"{where}: the mapping exports no function {handler_name!r}")
            func(store, argument)
        except _HostFailure as err:
            cls = UnsupportedHostFunctionError if err.message.startswith("unsupported host function") else HandlerError
            raise cls(
                f"{where} failed in host function {err.function}: {err.message}",
                handler=handler_name,
                block=self._block_number,
                function=err.function,
            ) from None
        except wasmtime.Trap as err:
            cause = err.__cause__ or err.__context__
            if isinstance(cause, _HostFailure):
                cls = (
                    UnsupportedHostFunctionError
                    if cause.message.startswith("unsupported host function")
                    else HandlerError
                )
                raise cls(
                    f"{where} failed in host function {cause.function}: {cause.message}",
                    handler=handler_name,
                    block=self._block_number,
                    function=cause.function,
                ) from None
            frames = [f.func_name for f in (err.frames or []) if f.func_name]
            function = frames[0] if frames else handler_name
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            message = next((line for line in reversed(lines) if "trap" in line), lines[-1] if lines else "trap")
            raise HandlerError(
                f"{where} trapped in wasm function {function}: {message}",
                handler=handler_name,
                block=self._block_number,
                function=function,
            ) from None
        except wasmtime.WasmtimeError as err:
            raise HandlerError(
                f"{where} failed: {err}", handler=handler_name, block=self._block_number, function=handler_name
            ) from None
        finally:
            self._heap = None

    # -- event object ------------------------------------------------------------------------------------------
    def _new_block(self, b: dict[str, Any]) -> int:
        """ethereum.Block with the fields of graph-node's AscEthereumBlock_0_0_6 (apiVersion >= 0.0.6)."""
        h = self._heap
        assert h is not None

        def opt_bigint(v: Any) -> int:
            return 0 if v is None else h.new_bigint(_hex_int(v))

        block_ptrs = [
            h.new_bytes(_hex_bytes(b.get("hash"))),
            h.new_bytes(_hex_bytes(b.get("parentHash"))),
            h.new_bytes(_hex_bytes(b.get("sha3Uncles"))),
            h.new_bytes(_hex_bytes(b.get("miner"))),
            h.new_bytes(_hex_bytes(b.get("stateRoot"))),
            h.new_bytes(_hex_bytes(b.get("transactionsRoot"))),
            h.new_bytes(_hex_bytes(b.get("receiptsRoot"))),
            h.new_bigint(_hex_int(b.get("number"))),
            h.new_bigint(_hex_int(b.get("gasUsed"))),
            h.new_bigint(_hex_int(b.get("gasLimit"))),
            h.new_bigint(_hex_int(b.get("timestamp"))),
            h.new_bigint(_hex_int(b.get("difficulty"))),
            h.new_bigint(_hex_int(b.get("totalDifficulty"))),
            opt_bigint(b.get("size")),
            opt_bigint(b.get("baseFeePerGas")),
        ]
        return h.new(A.IDX_ETHEREUM_BLOCK, struct.pack("<15I", *block_ptrs))

    def _new_event(self, t: Trigger) -> int:
        h = self._heap
        assert h is not None
        block_ptr = self._new_block(t.block)
        tx = t.transaction or {}
        tx_ptrs = [
            h.new_bytes(_hex_bytes(tx.get("hash") or t.log.get("transactionHash"))),
            h.new_bigint(_hex_int(tx.get("transactionIndex", t.log.get("transactionIndex")))),
            h.new_bytes(_hex_bytes(tx.get("from"))),
            h.new_bytes(_hex_bytes(tx["to"])) if tx.get("to") else 0,
            h.new_bigint(_hex_int(tx.get("value"))),
            h.new_bigint(_hex_int(tx.get("gas"))),
            h.new_bigint(_hex_int(tx.get("gasPrice"))),
            h.new_bytes(_hex_bytes(tx.get("input"))),
            h.new_bigint(_hex_int(tx.get("nonce"))),
        ]
        tx_ptr = h.new(A.IDX_ETHEREUM_TRANSACTION, struct.pack("<9I", *tx_ptrs))
        params = [
            h.new(A.IDX_EVENT_PARAM, struct.pack("<II", h.new_string(name), h.new_eth_value(value)))
            for name, value in t.params
        ]
        params_ptr = h.new_array_ptrs(A.IDX_ARRAY_EVENT_PARAM, params)
        event = [
            h.new_bytes(_hex_bytes(t.log["address"])),
            h.new_bigint(_hex_int(t.log.get("logIndex"))),
            h.new_bigint(t.transaction_log_index),
            0,  # logType: null
            block_ptr,
            tx_ptr,
            params_ptr,
            self._new_receipt(t.receipt) if t.receipt is not None else 0,
        ]
        return h.new(A.IDX_ETHEREUM_EVENT, struct.pack("<8I", *event))

    def _new_receipt(self, r: dict[str, Any]) -> int:
        """ethereum.TransactionReceipt (graph-node's AscEthereumTransactionReceipt, with its logs)."""
        h = self._heap
        assert h is not None

        def opt_bytes(v: Any) -> int:
            return h.new_bytes(_hex_bytes(v)) if v else 0

        def opt_bigint(v: Any) -> int:
            return 0 if v is None else h.new_bigint(_hex_int(v))

        logs = []
        for entry in r.get("logs", []):
            topics = h.new_array_ptrs(A.IDX_ARRAY_B256, [h.new_bytes(_hex_bytes(t)) for t in entry.get("topics", [])])
            fields = [
                h.new_bytes(_hex_bytes(entry.get("address"))),
                topics,
                h.new_bytes(_hex_bytes(entry.get("data"))),
                opt_bytes(entry.get("blockHash")),
                opt_bigint(entry.get("blockNumber")),
                opt_bytes(entry.get("transactionHash")),
                opt_bigint(entry.get("transactionIndex")),
                opt_bigint(entry.get("logIndex")),
                0,  # transactionLogIndex: not in standard receipts (graph-node leaves it null too)
                0,  # logType: null
                h.new(A.IDX_WRAPPED_BOOL, struct.pack("<I", 1 if entry.get("removed") else 0)),
            ]
            logs.append(h.new(A.IDX_LOG, struct.pack("<11I", *fields)))
        fields = [
            h.new_bytes(_hex_bytes(r.get("transactionHash"))),
            h.new_bigint(_hex_int(r.get("transactionIndex"))),
            opt_bytes(r.get("blockHash")),
            opt_bigint(r.get("blockNumber")),
            h.new_bigint(_hex_int(r.get("cumulativeGasUsed"))),
            h.new_bigint(_hex_int(r.get("gasUsed"))),
            opt_bytes(r.get("contractAddress")),
            h.new_array_ptrs(A.IDX_ARRAY_LOG, logs),
            opt_bigint(r.get("status")),
            opt_bytes(r.get("root")),
            h.new_bytes(_hex_bytes(r.get("logsBloom"))),
        ]
        return h.new(A.IDX_TRANSACTION_RECEIPT, struct.pack("<11I", *fields))

    # -- store -------------------------------------------------------------------------------------------------
    def _load(self, entity: str, entity_id: str) -> Entity | None:
        key = (entity, entity_id)
        if key in self._state.changes:
            return self._state.changes[key]
        return self.store.get(entity, entity_id)

    def _validate(self, entity: str, entity_id: str, data: Entity) -> None:
        etype = self.schema.entity(entity)
        unknown = sorted(k for k in data if k not in etype.fields)
        if unknown:
            raise ValueError(
                f"Attempted to set undefined fields [{', '.join(unknown)}] for the entity type `{entity}`. "
                "Make sure those fields are defined in the schema."
            )
        for name, ftype in etype.fields.items():
            if ftype.is_derived:
                if name in data and data[name][0] != A.SV_NULL:
                    raise ValueError(f"entity {entity}[{entity_id}]: derived field `{name}` cannot be set")
                continue
            value = data.get(name)
            if value is None or value[0] == A.SV_NULL:
                if ftype.non_null:
                    raise ValueError(f"Entity {entity}[{entity_id}]: missing value for non-nullable field `{name}`")
                continue
            self._check_kind(entity, entity_id, name, ftype.base, ftype.is_list, value)

    def _check_kind(
        self, entity: str, entity_id: str, name: str, base: str, is_list: bool, value: A.StoreValue
    ) -> None:
        if is_list:
            if value[0] != A.SV_ARRAY:
                raise ValueError(f"Entity {entity}[{entity_id}]: field `{name}` must be a list")
            for item in value[1]:
                self._check_kind(entity, entity_id, name, base, False, item)
            return
        if base in _SCALAR_KINDS:
            allowed = _SCALAR_KINDS[base]
        elif self.schema.is_entity(base):
            id_type = self.schema.entity(base).fields["id"].base
            allowed = _SCALAR_KINDS.get(id_type, {A.SV_STRING})
        else:  # enum
            allowed = {A.SV_STRING}
        if value[0] not in allowed:
            raise ValueError(
                f"Entity {entity}[{entity_id}]: the value of field `{name}` has kind {value[0]}, "
                f"which does not match the schema type {base}"
            )

    def _store_set(self, entity: str, entity_id: str, data: Entity) -> None:
        if "id" in data and data["id"][1] != entity_id and data["id"][1] != _hex_bytes(entity_id):
            raise ValueError(
                f"Value of {entity} attribute 'id' conflicts with ID passed to `store.set()`: {data['id'][1]!r} != {entity_id!r}"
            )
        etype = self.schema.entity(entity)
        existing = self._load(entity, entity_id)
        if etype.immutable and existing is not None and (entity, entity_id) not in self._state.changes:
            raise ValueError(f"immutable entity {entity}[{entity_id}] already exists and cannot be updated")
        merged: Entity = dict(existing or {})
        for key, value in data.items():
            if value[0] == A.SV_NULL:
                merged.pop(key, None)
            else:
                merged[key] = value
        if "id" not in merged:
            id_kind = A.SV_BYTES if etype.fields["id"].base == "Bytes" else A.SV_STRING
            merged["id"] = (id_kind, _hex_bytes(entity_id) if id_kind == A.SV_BYTES else entity_id)
        self._validate(entity, entity_id, merged)
        self._state.changes[(entity, entity_id)] = merged

    # -- host functions ------------------------------------------------------------------------------------------
    def _host_table(self) -> dict[str, Callable[..., Any]]:
        def heap() -> A.AscHeap:
            assert self._heap is not None
            return self._heap

        def s(p: int) -> str:
            return heap().read_string(p)

        def bi(p: int) -> int:
            return heap().read_bigint(p)

        def bd(p: int) -> BigDecimal:
            return heap().read_bigdecimal(p)

        def new_bi(v: int) -> int:
            return heap().new_bigint(v)

        def new_bd(v: BigDecimal) -> int:
            return heap().new_bigdecimal(v)

        def tdiv(x: int, y: int) -> int:
            if y == 0:
                raise ValueError(f"attempted to divide BigInt `{x}` by zero")
            q = abs(x) // abs(y)
            return q if (x < 0) == (y < 0) else -q

        def tmod(x: int, y: int) -> int:
            if y == 0:
                raise ValueError(f"attempted to calculate the remainder of `{x}` with a divisor of zero")
            return x - tdiv(x, y) * y

        def abort(msg: int, file: int, line: int, col: int) -> None:
            h = heap()
            message = h.read_opt_string(msg)
            filename = h.read_opt_string(file)
            where = f"{filename}, line {line}, column {col}" if filename else "an unknown location"
            raise _HostFailure("abort", f"Mapping aborted at {where}, with message: {message or 'no message'}")

        def store_get(entity: int, entity_id: int) -> int:
            data = self._load(s(entity), s(entity_id))
            return 0 if data is None else heap().new_entity(data)

        def store_get_in_block(entity: int, entity_id: int) -> int:
            data = self._state.changes.get((s(entity), s(entity_id)))
            return 0 if data is None else heap().new_entity(data)

        def store_set(entity: int, entity_id: int, data: int) -> None:
            self._store_set(s(entity), s(entity_id), heap().read_entity(data))

        def store_remove(entity: int, entity_id: int) -> None:
            name = s(entity)
            self.schema.entity(name)
            self._state.changes[(name, s(entity_id))] = None

        def store_load_related(entity: int, entity_id: int, field_name: int) -> int:
            name, eid, fname = s(entity), s(entity_id), s(field_name)
            ftype = self.schema.entity(name).fields.get(fname)
            if ftype is None or not self.schema.is_entity(ftype.base):
                raise ValueError(f"`{name}.{fname}` is not a relation field")
            related = self._related(name, eid, fname)
            h = heap()
            return h.new_array_ptrs(A.IDX_ARRAY_TYPED_MAP_STRING_STORE_VALUE, [h.new_entity(e) for e in related])

        def log_log(level: int, msg: int) -> None:
            text = s(msg)
            log.log(_LOG_LEVELS.get(level, logging.INFO), "[%s] %s", self.mapping.name, text)
            if level == 0:
                raise _HostFailure("log.log", f"Critical error logged in mapping with log message: {text}")

        def bytes_to_string(p: int) -> int:
            text = heap().read_bytes(p).decode("utf-8", errors="replace").rstrip("\x00")
            return heap().new_string(text)

        def bytes_to_hex(p: int) -> int:
            return heap().new_string("0x" + heap().read_bytes(p).hex())

        def big_int_to_hex(p: int) -> int:
            v = bi(p)
            # graph-node prints the magnitude (no sign), without leading zeros; zero is "0x0".
            return heap().new_string("0x" + format(abs(v), "x"))

        def string_to_h160(p: int) -> int:
            text = s(p)
            raw = _hex_bytes(text)
            if len(raw) != 20:
                raise ValueError(f"Failed to convert string to Address: '{text}'")
            return heap().new_bytes(raw)

        def bytes_to_base58(p: int) -> int:
            import base58

            return heap().new_string(base58.b58encode(heap().read_bytes(p)).decode())

        def big_int_from_string(p: int) -> int:
            text = s(p)
            try:
                return new_bi(int(text, 10))
            except ValueError:
                raise ValueError(f"string is not a BigInt: `{text}`") from None

        def big_decimal_from_string(p: int) -> int:
            text = s(p)
            try:
                return new_bd(BigDecimal.parse(text))
            except ValueError:
                raise ValueError(f"string  is not a BigDecimal: '{text}'") from None

        def big_decimal_divided_by(x: int, y: int) -> int:
            a, b = bd(x), bd(y)
            if b.digits == 0:
                raise ValueError(f"attempted to divide BigDecimal `{a}` by zero")
            return new_bd(a / b)

        def big_int_divided_by_decimal(x: int, y: int) -> int:
            a, b = BigDecimal.from_int(bi(x)), bd(y)
            if b.digits == 0:
                raise ValueError(f"attempted to divide BigDecimal `{a}` by zero")
            return new_bd(a / b)

        def json_parse(p: int) -> Any:
            return json.loads(heap().read_bytes(p), parse_int=_RawNumber, parse_float=_RawNumber)

        def json_from_bytes(p: int) -> int:
            return self._new_json(json_parse(p))

        def json_try_from_bytes(p: int) -> int:
            h = heap()
            try:
                value = json_parse(p)
            except ValueError:
                error = h.new(28, struct.pack("<I", 1))  # WrappedBool
                return h.new(40, struct.pack("<II", 0, error))  # ResultJsonValueBool
            wrapped = h.new(29, struct.pack("<I", self._new_json(value)))  # WrappedJsonValue
            return h.new(40, struct.pack("<II", wrapped, 0))

        def json_to_i64(p: int) -> int:
            return int(s(p))

        def json_to_f64(p: int) -> float:
            return float(s(p))

        def json_to_big_int(p: int) -> int:
            return new_bi(int(s(p)))

        def keccak256(p: int) -> int:
            return heap().new_bytes(keccak(heap().read_bytes(p)))

        def ethereum_call(p: int) -> int:
            return self._ethereum_call(p)

        def ethereum_encode(p: int) -> int:
            import eth_abi.abi as eth_abi

            value = heap().read_eth_value(p)
            try:
                data = eth_abi.encode([eth_value_type(value)], [eth_value_to_python(value)])
            except Exception:  # graph-node returns null when encoding fails
                return 0
            return heap().new_bytes(data)

        def ethereum_decode(types: int, data: int) -> int:
            import eth_abi.abi as eth_abi

            type_text = s(types)
            try:
                t = parse_type(type_text)
                decoded = eth_abi.decode([t.canonical()], heap().read_bytes(data))[0]
                value = eth_value_from_python(t, decoded)
            except Exception:  # graph-node returns null when decoding fails
                return 0
            return heap().new_eth_value(value)

        def ethereum_get_balance(p: int) -> int:
            address = "0x" + heap().read_bytes(p).hex()
            return new_bi(_hex_int(self.rpc.call("eth_getBalance", address, hex(self._block_number))))

        def ethereum_has_code(p: int) -> int:
            address = "0x" + heap().read_bytes(p).hex()
            code = self.rpc.call("eth_getCode", address, hex(self._block_number))
            return heap().new(28, struct.pack("<I", 1 if code not in (None, "0x", "0x0") else 0))

        def data_source_create(name: int, params: int) -> None:
            self._create(s(name), heap().read_string_array(params), None)

        def data_source_create_with_context(name: int, params: int, context: int) -> None:
            ctx = heap().read_entity(context)
            self._create(s(name), heap().read_string_array(params), {k: _encode_ctx(v) for k, v in ctx.items()})

        def data_source_address() -> int:
            return heap().new_bytes(self._address)

        def data_source_network() -> int:
            return heap().new_string(self.mapping.network)

        def data_source_context() -> int:
            if self._context is None:
                return 0
            return heap().new_entity({k: _decode_ctx(v) for k, v in self._context.items()})

        def binop(fn: Callable[[int, int], int]) -> Callable[[int, int], int]:
            return lambda x, y: new_bi(fn(bi(x), bi(y)))

        def bdop(fn: Callable[[BigDecimal, BigDecimal], BigDecimal]) -> Callable[[int, int], int]:
            return lambda x, y: new_bd(fn(bd(x), bd(y)))

        return {
            "abort": abort,
            "store.get": store_get,
            "store.get_in_block": store_get_in_block,
            "store.set": store_set,
            "store.remove": store_remove,
            "store.loadRelated": store_load_related,
            "log.log": log_log,
            "typeConversion.bytesToString": bytes_to_string,
            "typeConversion.bytesToHex": bytes_to_hex,
            "typeConversion.bigIntToString": lambda p: heap().new_string(str(bi(p))),
            "typeConversion.bigIntToHex": big_int_to_hex,
            "typeConversion.stringToH160": string_to_h160,
            "typeConversion.bytesToBase58": bytes_to_base58,
            "bigInt.plus": binop(lambda x, y: x + y),
            "bigInt.minus": binop(lambda x, y: x - y),
            "bigInt.times": binop(lambda x, y: x * y),
            "bigInt.dividedBy": binop(tdiv),
            "bigInt.mod": binop(tmod),
            "bigInt.bitOr": binop(lambda x, y: x | y),
            "bigInt.bitAnd": binop(lambda x, y: x & y),
            "bigInt.pow": lambda x, e: new_bi(bi(x) ** (e & 0xFF)),
            "bigInt.leftShift": lambda x, bits: new_bi(bi(x) << (bits & 0xFF)),
            "bigInt.rightShift": lambda x, bits: new_bi(bi(x) >> (bits & 0xFF)),
            "bigInt.fromString": big_int_from_string,
            "bigInt.dividedByDecimal": big_int_divided_by_decimal,
            "bigDecimal.toString": lambda p: heap().new_string(str(bd(p))),
            "bigDecimal.fromString": big_decimal_from_string,
            "bigDecimal.plus": bdop(lambda x, y: x + y),
            "bigDecimal.minus": bdop(lambda x, y: x - y),
            "bigDecimal.times": bdop(lambda x, y: x * y),
            "bigDecimal.dividedBy": big_decimal_divided_by,
            "bigDecimal.equals": lambda x, y: 1 if bd(x) == bd(y) else 0,
            "json.fromBytes": json_from_bytes,
            "json.try_fromBytes": json_try_from_bytes,
            "json.toI64": json_to_i64,
            "json.toU64": json_to_i64,
            "json.toF64": json_to_f64,
            "json.toBigInt": json_to_big_int,
            "crypto.keccak256": keccak256,
            "ethereum.call": ethereum_call,
            "ethereum.encode": ethereum_encode,
            "ethereum.decode": ethereum_decode,
            "ethereum.getBalance": ethereum_get_balance,
            "ethereum.hasCode": ethereum_has_code,
            "dataSource.create": data_source_create,
            "dataSource.createWithContext": data_source_create_with_context,
            "dataSource.address": data_source_address,
            "dataSource.network": data_source_network,
            "dataSource.context": data_source_context,
        }

    def _new_json(self, value: Any) -> int:
        h = self._heap
        assert h is not None
        if isinstance(value, _RawNumber):
            return h.new_enum(A.IDX_JSON_VALUE, A.JV_NUMBER, h.new_string(str(value)))
        if isinstance(value, list):
            items = [self._new_json(v) for v in value]
            return h.new_enum(A.IDX_JSON_VALUE, A.JV_ARRAY, h.new_array_ptrs(A.IDX_ARRAY_JSON_VALUE, items))
        if isinstance(value, dict):
            entries = [
                h.new(A.IDX_TYPED_MAP_ENTRY_STRING_JSON_VALUE, struct.pack("<II", h.new_string(k), self._new_json(v)))
                for k, v in value.items()
            ]
            array = h.new_array_ptrs(A.IDX_ARRAY_TYPED_MAP_ENTRY_STRING_JSON_VALUE, entries)
            return h.new_enum(
                A.IDX_JSON_VALUE, A.JV_OBJECT, h.new(A.IDX_TYPED_MAP_STRING_JSON_VALUE, struct.pack("<I", array))
            )
        return h.new_json_value(value)

    def _related(self, entity: str, entity_id: str, field_name: str) -> list[Entity]:
        """Entities referenced by `entity.field` (derived fields: those pointing back), including this block's changes."""
        ftype = self.schema.entity(entity).fields[field_name]
        target = ftype.base
        if ftype.derived_from:
            back = ftype.derived_from
            found: dict[str, Entity] = {
                _entity_id(data): data for data in self.store.referencing(target, back, entity_id)
            }
            for (etype, eid), data in self._state.changes.items():
                if etype != target:
                    continue
                if data is None:
                    found.pop(eid, None)
                else:
                    found[eid] = data

            def points_back(data: Entity) -> bool:
                value = data.get(back)
                if value is None:
                    return False
                if value[0] == A.SV_ARRAY:
                    return any(str(v[1]) == entity_id for v in value[1])
                return str(value[1]) == entity_id

            return [d for d in found.values() if points_back(d)]
        parent = self._load(entity, entity_id)
        if parent is None or field_name not in parent:
            return []
        value = parent[field_name]
        ids = [v[1] for v in value[1]] if value[0] == A.SV_ARRAY else [value[1]]
        out = []
        for rid in ids:
            rid_text = "0x" + rid.hex() if isinstance(rid, bytes) else str(rid)
            data = self._load(target, rid_text)
            if data is not None:
                out.append(data)
        return out

    def _create(self, name: str, params: list[str], context: dict[str, Any] | None) -> None:
        if name not in self.templates:
            raise ValueError(
                f"Failed to create data source from name `{name}`: No template with this name in parent data source "
                f"`{self.mapping.name}`. Available names: {', '.join(self.templates)}."
            )
        if not params:
            raise ValueError(f"data source template `{name}` needs an address parameter")
        self._state.created.append((name, params[0].lower(), context))

    def _ethereum_call(self, p: int) -> int:
        import eth_abi.abi as eth_abi

        h = self._heap
        assert h is not None
        # SmartContractCall {contractName, contractAddress, functionName, functionSignature, functionArgs}
        _name_ptr, address_ptr, fn_name_ptr, signature_ptr, args_ptr = struct.unpack("<5I", h.read(p, 20))
        address = "0x" + h.read_bytes(address_ptr).hex()
        signature = h.read_string(signature_ptr) if signature_ptr else h.read_string(fn_name_ptr)
        name, inputs, outputs = parse_call_signature(signature)
        args = [eth_value_to_python(h.read_eth_value(a)) for a in h.read_array_ptrs(args_ptr)]
        selector = keccak(f"{name}({','.join(t.canonical() for t in inputs)})".encode())[:4]
        calldata = selector + eth_abi.encode([t.canonical() for t in inputs], args)
        from fluence_dao.subgraph._rpc import RpcError

        try:
            result = self.rpc.call("eth_call", {"to": address, "data": "0x" + calldata.hex()}, hex(self._block_number))
        except RpcError as err:
            if err.details.get("code") != 3 and "revert" not in err.message.lower():
                raise RpcUnavailableError(
                    f"ethereum.call {signature} on {address} at block {self._block_number}: {err.message}"
                ) from err
            log.info("ethereum.call %s on %s reverted: %s", signature, address, err)
            return 0  # a revert: graph-ts `tryCall` sees null, `call` aborts
        raw = _hex_bytes(result)
        if not raw and outputs:
            return 0
        decoded = eth_abi.decode([t.canonical() for t in outputs], raw)
        values = [h.new_eth_value(eth_value_from_python(t, v)) for t, v in zip(outputs, decoded, strict=True)]
        return h.new_array_ptrs(A.IDX_ARRAY_ETHEREUM_VALUE, values)


def _entity_id(data: Entity) -> str:
    value = data["id"][1]
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _export(store: Any, instance: Any, name: str) -> Any:
    """One named export of an instance. wasmtime-py's `Instance.exports()` wraps every export (mappings export
    ~200 `TypeId.*` globals), which dominated per-trigger cost; this asks wasmtime for just one name."""
    from wasmtime import _ffi as ffi
    from wasmtime._extern import wrap_extern

    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_instance_export_get(
        store._context(),
        ctypes.byref(instance._instance),
        ctypes.create_string_buffer(raw),
        len(raw),
        ctypes.byref(item),
    )
    return wrap_extern(item) if found else None


def _encode_ctx(value: A.StoreValue) -> Any:
    from fluence_dao.subgraph._store import _encode_value

    return _encode_value(value)


def _decode_ctx(raw: Any) -> A.StoreValue:
    from fluence_dao.subgraph._store import _decode_value

    return _decode_value(raw)
