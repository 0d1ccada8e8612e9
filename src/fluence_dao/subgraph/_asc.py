"""AssemblyScript objects in a mapping's linear memory (the layout graph-node's asc_abi uses, apiVersion >= 0.0.5).

Every object has a 20-byte header (mmInfo, gcInfo, gcInfo2, rtId, rtSize) before its payload; a pointer points at
the payload, so rtId sits at ptr-8 and rtSize (payload bytes) at ptr-4. The host allocates arenas through the
mapping's `allocate` export (the pointer it returns is 12 bytes before a 16-byte boundary, as AssemblyScript's
untyped allocations are), writes header and payload itself, and pads each object so the next one stays aligned.
"""

from __future__ import annotations

import ctypes
import json
import struct
from collections.abc import Callable
from typing import Any

from fluence_dao.subgraph._numbers import BigDecimal, bigint_from_le, bigint_to_le

HEADER_SIZE = 20
_MIN_ARENA = 10_000

# graph-node's IndexForAscTypeId: the argument of the mapping's `id_of_type` export.
IDX_STRING = 0
IDX_ARRAY_BUFFER = 1
IDX_UINT8_ARRAY = 6
IDX_BIG_DECIMAL = 12
IDX_ARRAY_ETHEREUM_VALUE = 15
IDX_ARRAY_STORE_VALUE = 16
IDX_ARRAY_JSON_VALUE = 17
IDX_ARRAY_STRING = 18
IDX_ARRAY_EVENT_PARAM = 19
IDX_ARRAY_TYPED_MAP_ENTRY_STRING_JSON_VALUE = 20
IDX_ARRAY_TYPED_MAP_ENTRY_STRING_STORE_VALUE = 21
IDX_EVENT_PARAM = 23
IDX_ETHEREUM_TRANSACTION = 24
IDX_ETHEREUM_BLOCK = 25
IDX_WRAPPED_BOOL = 28
IDX_ETHEREUM_VALUE = 30
IDX_STORE_VALUE = 31
IDX_JSON_VALUE = 32
IDX_ETHEREUM_EVENT = 33
IDX_TYPED_MAP_ENTRY_STRING_STORE_VALUE = 34
IDX_TYPED_MAP_ENTRY_STRING_JSON_VALUE = 35
IDX_TYPED_MAP_STRING_STORE_VALUE = 36
IDX_TYPED_MAP_STRING_JSON_VALUE = 37
IDX_TRANSACTION_RECEIPT = 1000
IDX_LOG = 1001
IDX_ARRAY_B256 = 1002
IDX_ARRAY_LOG = 1003
IDX_ARRAY_TYPED_MAP_STRING_STORE_VALUE = 1004

# graph-ts ValueKind (store values)
SV_STRING, SV_INT, SV_BIGDECIMAL, SV_BOOL, SV_ARRAY, SV_NULL, SV_BYTES, SV_BIGINT, SV_INT8, SV_TIMESTAMP = range(10)
# graph-ts ethereum.ValueKind
EV_ADDRESS, EV_FIXED_BYTES, EV_BYTES, EV_INT, EV_UINT, EV_BOOL, EV_STRING, EV_FIXED_ARRAY, EV_ARRAY, EV_TUPLE = range(
    10
)
# graph-ts JSONValueKind
JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT = range(6)

StoreValue = tuple[int, Any]
EthValue = tuple[int, Any]


_HEADER = struct.Struct("<IIIII")
_ZEROS = bytes(16)


class AscHeap:
    """Reads and writes AssemblyScript objects in one mapping instance."""

    def __init__(self, store: Any, memory: Any, allocate: Callable[..., int], type_id: Callable[[int], int]) -> None:
        self._store = store
        self._memory = memory
        self._allocate = allocate
        self._type_id = type_id
        self._arena_ptr = 0
        self._arena_free = 0
        self._base_addr = 0
        self._size = -1
        self._rt_ids: dict[int, int] = {}
        # Objects the host created but has not yet copied into guest memory (one memmove per host call).
        self._pending = bytearray()
        self._pending_start = 0

    # -- raw memory -------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the cached memory base and size (call whenever the guest may have grown its memory)."""
        self._size = -1

    def _refresh(self) -> None:
        self._base_addr = ctypes.addressof(self._memory.data_ptr(self._store).contents)
        self._size = self._memory.data_len(self._store)

    def _check(self, ptr: int, length: int) -> None:
        if self._size < 0:
            self._refresh()
        if ptr < 0 or length < 0 or ptr + length > self._size:
            raise ValueError(f"mapping pointer out of bounds: {ptr}+{length}")

    def flush(self) -> None:
        """Copy pending host-created objects into guest memory (before the guest runs or memory is read)."""
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            self.write(self._pending_start, data)

    def read(self, ptr: int, length: int) -> bytes:
        if self._pending:
            self.flush()
        self._check(ptr, length)
        return ctypes.string_at(self._base_addr + ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        self._check(ptr, len(data))
        ctypes.memmove(self._base_addr + ptr, data, len(data))

    def u32(self, ptr: int) -> int:
        return int(struct.unpack("<I", self.read(ptr, 4))[0])

    def rt_size(self, ptr: int) -> int:
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript value that is null")
        return self.u32(ptr - 4)

    def raw_new(self, data: bytes) -> int:
        """Reserve len(data) bytes in the current arena (a new arena from `allocate` when it is full)."""
        size = len(data)
        if size > self._arena_free:
            self.flush()
            arena = max(size, _MIN_ARENA)
            start = int(self._allocate(self._store, arena))
            self.invalidate()  # allocating may have grown the memory (and moved its base)
            self._arena_ptr, self._arena_free = start + 12, arena - 12
        ptr = self._arena_ptr
        if not self._pending:
            self._pending_start = ptr
        self._pending += data
        self._arena_ptr += size
        self._arena_free -= size
        return ptr

    def new(self, type_index: int, payload: bytes, content_len: int | None = None) -> int:
        """Allocate an object of the given IndexForAscTypeId with `payload`; returns the payload pointer."""
        size = len(payload)
        pad = (16 - (HEADER_SIZE + size) % 16) % 16
        rt_id = self._rt_ids.get(type_index)
        if rt_id is None:
            rt_id = self._rt_ids[type_index] = self._type_id(type_index)
        header = _HEADER.pack(16 + size + pad, 0, 0, rt_id, size if content_len is None else content_len)
        return self.raw_new(header + payload + _ZEROS[:pad]) + HEADER_SIZE

    # -- primitives ---------------------------------------------------------------------------------------
    def read_string(self, ptr: int) -> str:
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript string that is null")
        return self.read(ptr, self.rt_size(ptr)).decode("utf-16-le", errors="replace")

    def read_opt_string(self, ptr: int) -> str | None:
        return None if ptr == 0 else self.read_string(ptr)

    def new_string(self, value: str) -> int:
        return self.new(IDX_STRING, value.encode("utf-16-le"))

    def read_bytes(self, ptr: int) -> bytes:
        """A TypedArray (Uint8Array, Bytes, BigInt, Address): {buffer, dataStart, byteLength}."""
        if ptr == 0:
            raise ValueError("tried to read AssemblyScript bytes that are null")
        _buffer, data_start, byte_length = struct.unpack("<III", self.read(ptr, 12))
        return self.read(data_start, byte_length)

    def new_bytes(self, value: bytes) -> int:
        buffer = self.new(IDX_ARRAY_BUFFER, value)
        return self.new(IDX_UINT8_ARRAY, struct.pack("<IIi", buffer, buffer, len(value)))

    def read_bigint(self, ptr: int) -> int:
        return bigint_from_le(self.read_bytes(ptr))

    def new_bigint(self, value: int) -> int:
        return self.new_bytes(bigint_to_le(value))

    def read_bigdecimal(self, ptr: int) -> BigDecimal:
        digits_ptr, exp_ptr = struct.unpack("<II", self.read(ptr, 8))
        return BigDecimal.make(self.read_bigint(digits_ptr), self.read_bigint(exp_ptr))

    def new_bigdecimal(self, value: BigDecimal) -> int:
        digits = self.new_bigint(value.digits)
        exp = self.new_bigint(value.exp)
        return self.new(IDX_BIG_DECIMAL, struct.pack("<II", digits, exp))

    def read_array_ptrs(self, ptr: int) -> list[int]:
        """An Array<T> of pointers or i32: {buffer, dataStart, byteLength, length}."""
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript array that is null")
        _buffer, data_start, _byte_length, length = struct.unpack("<IIii", self.read(ptr, 16))
        return list(struct.unpack(f"<{length}I", self.read(data_start, 4 * length))) if length else []

    def new_array_ptrs(self, type_index: int, ptrs: list[int]) -> int:
        data = struct.pack(f"<{len(ptrs)}I", *ptrs)
        buffer = self.new(IDX_ARRAY_BUFFER, data)
        return self.new(type_index, struct.pack("<IIii", buffer, buffer, len(data), len(ptrs)))

    def read_enum(self, ptr: int) -> tuple[int, int]:
        kind, _pad, payload = struct.unpack("<IIQ", self.read(ptr, 16))
        return kind, payload

    def new_enum(self, type_index: int, kind: int, payload: int) -> int:
        return self.new(type_index, struct.pack("<IIQ", kind, 0, payload & 0xFFFFFFFFFFFFFFFF))

    def read_string_array(self, ptr: int) -> list[str]:
        return [self.read_string(p) for p in self.read_array_ptrs(ptr)]

    # -- store values -------------------------------------------------------------------------------------
    def read_store_value(self, ptr: int) -> StoreValue:
        kind, payload = self.read_enum(ptr)
        p = payload & 0xFFFFFFFF
        if kind == SV_STRING:
            return kind, self.read_string(p)
        if kind == SV_INT:
            return kind, struct.unpack("<i", struct.pack("<I", p))[0]
        if kind == SV_BIGDECIMAL:
            return kind, self.read_bigdecimal(p)
        if kind == SV_BOOL:
            return kind, payload != 0
        if kind == SV_ARRAY:
            return kind, [self.read_store_value(q) for q in self.read_array_ptrs(p)]
        if kind == SV_NULL:
            return kind, None
        if kind in (SV_BYTES,):
            return kind, self.read_bytes(p)
        if kind == SV_BIGINT:
            return kind, self.read_bigint(p)
        if kind in (SV_INT8, SV_TIMESTAMP):
            return kind, struct.unpack("<q", struct.pack("<Q", payload))[0]
        raise ValueError(f"unknown store value kind {kind}")

    def new_store_value(self, value: StoreValue) -> int:
        kind, v = value
        if kind == SV_STRING:
            payload = self.new_string(v)
        elif kind == SV_INT:
            payload = v & 0xFFFFFFFF
        elif kind == SV_BIGDECIMAL:
            payload = self.new_bigdecimal(v)
        elif kind == SV_BOOL:
            payload = 1 if v else 0
        elif kind == SV_ARRAY:
            payload = self.new_array_ptrs(IDX_ARRAY_STORE_VALUE, [self.new_store_value(x) for x in v])
        elif kind == SV_NULL:
            payload = 0
        elif kind == SV_BYTES:
            payload = self.new_bytes(v)
        elif kind == SV_BIGINT:
            payload = self.new_bigint(v)
        else:  # Int8, Timestamp
            payload = v
        return self.new_enum(IDX_STORE_VALUE, kind, payload)

    def read_entity(self, ptr: int) -> dict[str, StoreValue]:
        """An Entity (TypedMap<string, Value>): {entries: Array<TypedMapEntry{key, value}>}."""
        entries_ptr = self.u32(ptr)
        out: dict[str, StoreValue] = {}
        for entry in self.read_array_ptrs(entries_ptr):
            key_ptr, value_ptr = struct.unpack("<II", self.read(entry, 8))
            out[self.read_string(key_ptr)] = self.read_store_value(value_ptr)
        return out

    def new_entity(self, data: dict[str, StoreValue]) -> int:
        entries = []
        for key, value in data.items():
            entries.append(
                self.new(
                    IDX_TYPED_MAP_ENTRY_STRING_STORE_VALUE,
                    struct.pack("<II", self.new_string(key), self.new_store_value(value)),
                )
            )
        array = self.new_array_ptrs(IDX_ARRAY_TYPED_MAP_ENTRY_STRING_STORE_VALUE, entries)
        return self.new(IDX_TYPED_MAP_STRING_STORE_VALUE, struct.pack("<I", array))

    # -- ethereum values ----------------------------------------------------------------------------------
    def read_eth_value(self, ptr: int) -> EthValue:
        kind, payload = self.read_enum(ptr)
        p = payload & 0xFFFFFFFF
        if kind in (EV_ADDRESS, EV_FIXED_BYTES, EV_BYTES):
            return kind, self.read_bytes(p)
        if kind in (EV_INT, EV_UINT):
            return kind, self.read_bigint(p)
        if kind == EV_BOOL:
            return kind, payload != 0
        if kind == EV_STRING:
            return kind, self.read_string(p)
        if kind in (EV_FIXED_ARRAY, EV_ARRAY, EV_TUPLE):
            return kind, [self.read_eth_value(q) for q in self.read_array_ptrs(p)]
        raise ValueError(f"unknown ethereum value kind {kind}")

    def new_eth_value(self, value: EthValue) -> int:
        kind, v = value
        if kind in (EV_ADDRESS, EV_FIXED_BYTES, EV_BYTES):
            payload = self.new_bytes(v)
        elif kind in (EV_INT, EV_UINT):
            payload = self.new_bigint(v)
        elif kind == EV_BOOL:
            payload = 1 if v else 0
        elif kind == EV_STRING:
            payload = self.new_string(v)
        else:
            payload = self.new_array_ptrs(IDX_ARRAY_ETHEREUM_VALUE, [self.new_eth_value(x) for x in v])
        return self.new_enum(IDX_ETHEREUM_VALUE, kind, payload)

    # -- JSON values --------------------------------------------------------------------------------------
    def new_json_value(self, value: Any, raw_number: str | None = None) -> int:
        if value is None:
            return self.new_enum(IDX_JSON_VALUE, JV_NULL, 0)
        if isinstance(value, bool):
            return self.new_enum(IDX_JSON_VALUE, JV_BOOL, 1 if value else 0)
        if isinstance(value, int | float):
            return self.new_enum(IDX_JSON_VALUE, JV_NUMBER, self.new_string(raw_number or json.dumps(value)))
        if isinstance(value, str):
            return self.new_enum(IDX_JSON_VALUE, JV_STRING, self.new_string(value))
        if isinstance(value, list):
            items = [self.new_json_value(x) for x in value]
            return self.new_enum(IDX_JSON_VALUE, JV_ARRAY, self.new_array_ptrs(IDX_ARRAY_JSON_VALUE, items))
        entries = [
            self.new(
                IDX_TYPED_MAP_ENTRY_STRING_JSON_VALUE, struct.pack("<II", self.new_string(k), self.new_json_value(v))
            )
            for k, v in value.items()
        ]
        array = self.new_array_ptrs(IDX_ARRAY_TYPED_MAP_ENTRY_STRING_JSON_VALUE, entries)
        obj = self.new(IDX_TYPED_MAP_STRING_JSON_VALUE, struct.pack("<I", array))
        return self.new_enum(IDX_JSON_VALUE, JV_OBJECT, obj)
