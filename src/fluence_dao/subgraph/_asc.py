"""AssemblyScript objects in a mapping's linear memory (the layout graph-node's asc_abi uses, apiVersion >= 0.0.5).

Every object has a 20-byte header (mmInfo, gcInfo, gcInfo2, rtId, rtSize) before its payload; a pointer points at
the payload, so rtId sits at ptr-8 and rtSize (payload bytes) at ptr-4. The host allocates arenas through the
mapping's `allocate` export (the pointer it returns is 12 bytes before a 16-byte boundary, as AssemblyScript's
untyped allocations are), writes header and payload itself, and pads each object so the next one stays aligned.

Reads and writes go straight through a byte view of the guest memory (`struct.unpack_from` / `pack_into`, no
copies per field); the view is taken again whenever the guest may have grown its memory: at the start of each
host function (`sync`) and after each `allocate`.
"""

from __future__ import annotations

import codecs
import functools
import json
import struct
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from fluence_dao.subgraph._numbers import BigDecimal, bigint_from_le, bigint_to_le
from fluence_dao.util.json_types import JsonValue

HEADER_SIZE = 20
_MIN_ARENA = 10_000
_REPLAY_ROOM = 4096  # `cached` makes sure of this much room in the arena before building or replaying

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
_TYPED_ARRAY_OBJECT = struct.Struct("<IIIIIIIi")  # header + {buffer, dataStart, byteLength}: 32 bytes, no padding
_U32 = struct.Struct("<I")
_II = struct.Struct("<II")
_III = struct.Struct("<III")
_TYPED_ARRAY = struct.Struct("<IIi")
_ARRAY = struct.Struct("<IIii")
_ENUM = struct.Struct("<IIQ")
_PAD = [(16 - (HEADER_SIZE + n) % 16) % 16 for n in range(16)]
_utf16_decode = codecs.utf_16_le_decode


# An entity field as one write: its payload object(s), the StoreValue enum over it and the TypedMapEntry
# {key, value}. Headers as `new` writes them: StoreValue is 20 + 16 bytes padded to 48, the entry 20 + 8 to 32.
_ENUM_ENTRY = "5IIIQ12x5III4x"
_ENUM_ENTRY_SIZE = 48 + 32
_SCALAR_FIELD = struct.Struct("<" + _ENUM_ENTRY)


@functools.lru_cache(maxsize=1024)
def _field_struct(buffer: bool, size: int) -> struct.Struct:
    """String (buffer False) or ArrayBuffer + Uint8Array (buffer True) of `size` bytes, then enum and entry."""
    pad = _PAD[size & 15]
    typed_array = "8I" if buffer else ""
    return struct.Struct(f"<5I{size}s{pad}x{typed_array}{_ENUM_ENTRY}")


def _out_of_bounds(ptr: int, length: int, size: int) -> ValueError:
    return ValueError(f"mapping pointer out of bounds: {ptr}+{length} (memory is {size} bytes)")


class AscHeap:
    """Reads and writes AssemblyScript objects in one mapping instance.

    `memory()` returns the guest memory as a writable view (valid until the guest runs again), `allocate(size)`
    calls the guest's allocator, `type_id(index)` the guest's `id_of_type`; `rt_ids` caches its answers and may
    be shared by instances of the same module. Strings below `static_end` lie in the module's data segments (string
    literals: field and entity names), which no instance changes; `static_strings` caches them by address and may
    be shared by instances of the same module too.
    """

    def __init__(
        self,
        memory: Callable[[], memoryview],
        allocate: Callable[[int], int],
        type_id: Callable[[int], int],
        rt_ids: dict[int, int] | None = None,
        *,
        static_end: int = 0,
        static_strings: dict[int, str] | None = None,
    ) -> None:
        self._static_end = static_end
        self._static_strings: dict[int, str] = {} if static_strings is None else static_strings
        self._memory = memory
        self._allocate = allocate
        self._type_id = type_id
        self._rt_ids: dict[int, int] = {} if rt_ids is None else rt_ids
        self._arena_ptr = 0
        self._arena_free = 0
        self._arenas = 0
        self._keys: dict[str, int] = {}  # field and parameter names written so far (strings are immutable)
        self.mem = memory()

    # -- raw memory -------------------------------------------------------------------------------------
    def sync(self) -> None:
        """Take the memory view again (call whenever the guest may have grown its memory)."""
        self.mem = self._memory()

    def read(self, ptr: int, length: int) -> bytes:
        mem = self.mem
        if ptr < 0 or length < 0 or ptr + length > len(mem):
            raise _out_of_bounds(ptr, length, len(mem))
        return mem[ptr : ptr + length].tobytes()

    def write(self, ptr: int, data: bytes) -> None:
        mem = self.mem
        if ptr < 0 or ptr + len(data) > len(mem):
            raise _out_of_bounds(ptr, len(data), len(mem))
        mem[ptr : ptr + len(data)] = data

    def u32(self, ptr: int) -> int:
        if ptr < 0:
            raise _out_of_bounds(ptr, 4, len(self.mem))
        try:
            return int(_U32.unpack_from(self.mem, ptr)[0])
        except struct.error:
            raise _out_of_bounds(ptr, 4, len(self.mem)) from None

    def _unpack(self, fmt: struct.Struct, ptr: int) -> tuple[int, ...]:
        """The integers of `fmt` (integer formats only) at `ptr`, bounds-checked."""
        if ptr < 0:
            raise _out_of_bounds(ptr, fmt.size, len(self.mem))
        try:
            return fmt.unpack_from(self.mem, ptr)
        except struct.error:
            raise _out_of_bounds(ptr, fmt.size, len(self.mem)) from None

    def rt_size(self, ptr: int) -> int:
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript value that is null")
        return self.u32(ptr - 4)

    def raw_new(self, size: int) -> int:
        """Reserve `size` bytes in the current arena (a new arena from `allocate` when it is full)."""
        if size > self._arena_free:
            arena = max(size + 12, _MIN_ARENA)
            start = int(self._allocate(arena)) & 0xFFFFFFFF
            self.mem = self._memory()  # allocating may have grown the memory (and moved it)
            if start + arena > len(self.mem):
                raise ValueError(f"the mapping's allocate({arena}) returned {start}, outside its memory")
            self._arena_ptr, self._arena_free = start + 12, arena - 12
            self._arenas += 1
        ptr = self._arena_ptr
        self._arena_ptr += size
        self._arena_free -= size
        return ptr

    def _ensure(self, size: int) -> None:
        """Start a new arena unless `size` more bytes fit in the current one."""
        if size > self._arena_free:
            self.raw_new(size)
            self._arena_ptr -= size
            self._arena_free += size

    def cached(self, cache: dict[Hashable, tuple[int, bytes, int]], key: Hashable, build: Callable[[], int]) -> int:
        """The objects `build()` writes, replayed from `cache` when they would land at the same address again.

        Instances of one module allocate deterministically, so an object graph written at the same point of
        two triggers (the block, the transaction) lands at the same address: the bytes of the first are copied
        instead of built again. `cache` belongs to one module; anything else falls back to `build()`.
        """
        self._ensure(_REPLAY_ROOM)
        start, free, arenas = self._arena_ptr, self._arena_free, self._arenas
        hit = cache.get(key)
        if hit is not None and hit[0] == start and len(hit[1]) <= free:
            data = hit[1]
            self.mem[start : start + len(data)] = data
            self._arena_ptr += len(data)
            self._arena_free -= len(data)
            return hit[2]
        result = build()
        if self._arenas == arenas:  # one arena held everything
            cache[key] = (start, self.mem[start : self._arena_ptr].tobytes(), result)
        return result

    def _rt_id(self, type_index: int) -> int:
        rt_id = self._rt_ids.get(type_index)
        if rt_id is None:
            rt_id = self._rt_ids[type_index] = self._type_id(type_index)
        return rt_id

    def new(self, type_index: int, payload: bytes, content_len: int | None = None) -> int:
        """Allocate an object of the given IndexForAscTypeId with `payload`; returns the payload pointer."""
        size = len(payload)
        pad = _PAD[size & 15]
        ptr = self.raw_new(HEADER_SIZE + size + pad)
        mem = self.mem
        _HEADER.pack_into(
            mem, ptr, 16 + size + pad, 0, 0, self._rt_id(type_index), size if content_len is None else content_len
        )
        ptr += HEADER_SIZE
        mem[ptr : ptr + size] = payload
        return ptr

    def _new_fixed(self, type_index: int, fmt: struct.Struct, *values: int) -> int:
        """An object whose payload is `fmt` packed (no intermediate bytes)."""
        size = fmt.size
        pad = _PAD[size & 15]
        ptr = self.raw_new(HEADER_SIZE + size + pad)
        mem = self.mem
        _HEADER.pack_into(mem, ptr, 16 + size + pad, 0, 0, self._rt_id(type_index), size)
        fmt.pack_into(mem, ptr + HEADER_SIZE, *values)
        return ptr + HEADER_SIZE

    # -- primitives ---------------------------------------------------------------------------------------
    def read_string(self, ptr: int) -> str:
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript string that is null")
        static = ptr < self._static_end
        if static:
            text = self._static_strings.get(ptr)
            if text is not None:
                return text
        size = self.u32(ptr - 4)
        mem = self.mem
        if ptr + size > len(mem):
            raise _out_of_bounds(ptr, size, len(mem))
        text = str(_utf16_decode(mem[ptr : ptr + size], "replace", True)[0])
        if static and ptr > 4 and ptr + size <= self._static_end:
            self._static_strings[ptr] = text
        return text

    def read_opt_string(self, ptr: int) -> str | None:
        return None if ptr == 0 else self.read_string(ptr)

    def new_string(self, value: str) -> int:
        return self.new(IDX_STRING, value.encode("utf-16-le"))

    def new_key(self, value: str) -> int:
        """A string the mapping only reads (an entity field or event parameter name): written once per instance."""
        ptr = self._keys.get(value)
        if ptr is None:
            ptr = self._keys[value] = self.new(IDX_STRING, value.encode("utf-16-le"))
        return ptr

    def read_bytes(self, ptr: int) -> bytes:
        """A TypedArray (Uint8Array, Bytes, BigInt, Address): {buffer, dataStart, byteLength}."""
        if ptr == 0:
            raise ValueError("tried to read AssemblyScript bytes that are null")
        _buffer, data_start, byte_length = self._unpack(_III, ptr)
        return self.read(data_start, byte_length)

    def new_bytes(self, value: bytes) -> int:
        """An ArrayBuffer and the Uint8Array over it, reserved and written together."""
        size = len(value)
        pad = _PAD[size & 15]
        first = HEADER_SIZE + size + pad
        ptr = self.raw_new(first + _TYPED_ARRAY_OBJECT.size)
        mem = self.mem
        _HEADER.pack_into(mem, ptr, 16 + size + pad, 0, 0, self._rt_id(IDX_ARRAY_BUFFER), size)
        buffer = ptr + HEADER_SIZE
        mem[buffer : buffer + size] = value
        ptr += first
        _TYPED_ARRAY_OBJECT.pack_into(mem, ptr, 28, 0, 0, self._rt_id(IDX_UINT8_ARRAY), 12, buffer, buffer, size)
        return ptr + HEADER_SIZE

    def read_bigint(self, ptr: int) -> int:
        return bigint_from_le(self.read_bytes(ptr))

    def new_bigint(self, value: int) -> int:
        return self.new_bytes(bigint_to_le(value))

    def read_bigdecimal(self, ptr: int) -> BigDecimal:
        digits_ptr, exp_ptr = self._unpack(_II, ptr)
        return BigDecimal.make(self.read_bigint(digits_ptr), self.read_bigint(exp_ptr))

    def new_bigdecimal(self, value: BigDecimal) -> int:
        digits = self.new_bigint(value.digits)
        exp = self.new_bigint(value.exp)
        return self._new_fixed(IDX_BIG_DECIMAL, _II, digits, exp)

    def read_array_ptrs(self, ptr: int) -> list[int]:
        """An Array<T> of pointers or i32: {buffer, dataStart, byteLength, length}."""
        if ptr == 0:
            raise ValueError("tried to read an AssemblyScript array that is null")
        _buffer, data_start, _byte_length, length = self._unpack(_ARRAY, ptr)
        if length <= 0:
            return []
        mem = self.mem
        if data_start < 0 or data_start + 4 * length > len(mem):
            raise _out_of_bounds(data_start, 4 * length, len(mem))
        return list(struct.unpack_from(f"<{length}I", mem, data_start))

    def new_array_ptrs(self, type_index: int, ptrs: list[int]) -> int:
        data = struct.pack(f"<{len(ptrs)}I", *ptrs)
        buffer = self.new(IDX_ARRAY_BUFFER, data)
        return self._new_fixed(type_index, _ARRAY, buffer, buffer, len(data), len(ptrs))

    def read_enum(self, ptr: int) -> tuple[int, int]:
        kind, _pad, payload = self._unpack(_ENUM, ptr)
        return kind, payload

    def new_enum(self, type_index: int, kind: int, payload: int) -> int:
        return self._new_fixed(type_index, _ENUM, kind, 0, payload & 0xFFFFFFFFFFFFFFFF)

    def new_wrapped(self, type_index: int, *values: int) -> int:
        """A small object of u32 fields (WrappedBool, Result{value, error}, EventParam ...)."""
        return self._new_fixed(type_index, struct.Struct(f"<{len(values)}I"), *values)

    def read_string_array(self, ptr: int) -> list[str]:
        return [self.read_string(p) for p in self.read_array_ptrs(ptr)]

    # -- store values -------------------------------------------------------------------------------------
    def read_store_value(self, ptr: int) -> StoreValue:
        kind, _pad, payload = self._unpack(_ENUM, ptr)
        p = payload & 0xFFFFFFFF
        if kind == SV_STRING:
            return kind, self.read_string(p)
        if kind == SV_BIGINT:
            return kind, self.read_bigint(p)
        if kind == SV_INT:
            return kind, p - (1 << 32) if p & 0x80000000 else p
        if kind == SV_BOOL:
            return kind, payload != 0
        if kind == SV_BYTES:
            return kind, self.read_bytes(p)
        if kind == SV_BIGDECIMAL:
            return kind, self.read_bigdecimal(p)
        if kind == SV_ARRAY:
            return kind, [self.read_store_value(q) for q in self.read_array_ptrs(p)]
        if kind == SV_NULL:
            return kind, None
        if kind in (SV_INT8, SV_TIMESTAMP):
            return kind, payload - (1 << 64) if payload & (1 << 63) else payload
        raise ValueError(f"unknown store value kind {kind}")

    def new_store_value(self, value: StoreValue) -> int:
        kind, v = value
        if kind == SV_STRING:
            payload = self.new_string(v)
        elif kind == SV_BIGINT:
            payload = self.new_bigint(v)
        elif kind == SV_INT:
            payload = v & 0xFFFFFFFF
        elif kind == SV_BOOL:
            payload = 1 if v else 0
        elif kind == SV_BYTES:
            payload = self.new_bytes(v)
        elif kind == SV_BIGDECIMAL:
            payload = self.new_bigdecimal(v)
        elif kind == SV_ARRAY:
            payload = self.new_array_ptrs(IDX_ARRAY_STORE_VALUE, [self.new_store_value(x) for x in v])
        elif kind == SV_NULL:
            payload = 0
        else:  # Int8, Timestamp
            payload = v
        return self.new_enum(IDX_STORE_VALUE, kind, payload)

    def read_entity(self, ptr: int) -> dict[str, StoreValue]:
        """An Entity (TypedMap<string, Value>): {entries: Array<TypedMapEntry{key, value}>}."""
        entries_ptr = self.u32(ptr)
        out: dict[str, StoreValue] = {}
        for entry in self.read_array_ptrs(entries_ptr):
            key_ptr, value_ptr = self._unpack(_II, entry)
            out[self.read_string(key_ptr)] = self.read_store_value(value_ptr)
        return out

    def new_entity(self, data: dict[str, StoreValue]) -> int:
        entries = [self._new_field(self.new_key(key), value) for key, value in data.items()]
        array = self.new_array_ptrs(IDX_ARRAY_TYPED_MAP_ENTRY_STRING_STORE_VALUE, entries)
        return self._new_fixed(IDX_TYPED_MAP_STRING_STORE_VALUE, _U32, array)

    def _new_field(self, key_ptr: int, value: StoreValue) -> int:
        """TypedMapEntry{key, StoreValue}; scalars, strings, bytes and BigInts in one write (the hot path of
        `store.get`), the rest through `new_store_value`."""
        kind, v = value
        value_id = self._rt_id(IDX_STORE_VALUE)
        entry_id = self._rt_id(IDX_TYPED_MAP_ENTRY_STRING_STORE_VALUE)
        if kind in (SV_STRING, SV_BIGINT, SV_BYTES):
            buffer = kind != SV_STRING
            raw = bigint_to_le(v) if kind == SV_BIGINT else (v if buffer else v.encode("utf-16-le"))
            size = len(raw)
            fmt = _field_struct(buffer, size)
            ptr = self.raw_new(fmt.size)
            first = ptr + HEADER_SIZE
            after = first + size + _PAD[size & 15]
            if buffer:
                array = after + HEADER_SIZE
                enum = array + 32
                fmt.pack_into(
                    self.mem, ptr,
                    16 + size + _PAD[size & 15], 0, 0, self._rt_id(IDX_ARRAY_BUFFER), size, raw,
                    28, 0, 0, self._rt_id(IDX_UINT8_ARRAY), 12, first, first, size,
                    44, 0, 0, value_id, 16, kind, 0, array,
                    28, 0, 0, entry_id, 8, key_ptr, enum,
                )  # fmt: skip
            else:
                enum = after + HEADER_SIZE
                fmt.pack_into(
                    self.mem, ptr,
                    16 + size + _PAD[size & 15], 0, 0, self._rt_id(IDX_STRING), size, raw,
                    44, 0, 0, value_id, 16, kind, 0, first,
                    28, 0, 0, entry_id, 8, key_ptr, enum,
                )  # fmt: skip
            return enum + 48
        if kind in (SV_INT, SV_BOOL, SV_NULL, SV_INT8, SV_TIMESTAMP):
            if kind == SV_BOOL:
                payload = 1 if v else 0
            elif kind == SV_NULL:
                payload = 0
            else:
                payload = v & (0xFFFFFFFF if kind == SV_INT else 0xFFFFFFFFFFFFFFFF)
            ptr = self.raw_new(_ENUM_ENTRY_SIZE)
            enum = ptr + HEADER_SIZE
            _SCALAR_FIELD.pack_into(
                self.mem, ptr, 44, 0, 0, value_id, 16, kind, 0, payload, 28, 0, 0, entry_id, 8, key_ptr, enum
            )
            return enum + 48
        return self._new_fixed(IDX_TYPED_MAP_ENTRY_STRING_STORE_VALUE, _II, key_ptr, self.new_store_value(value))

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
    def new_json_value(self, value: JsonValue, raw_number: str | None = None) -> int:
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
        if not isinstance(value, Mapping):
            raise TypeError(f"not a JSON value: {type(value).__name__}")
        entries = [
            self._new_fixed(IDX_TYPED_MAP_ENTRY_STRING_JSON_VALUE, _II, self.new_string(k), self.new_json_value(v))
            for k, v in value.items()
        ]
        array = self.new_array_ptrs(IDX_ARRAY_TYPED_MAP_ENTRY_STRING_JSON_VALUE, entries)
        obj = self._new_fixed(IDX_TYPED_MAP_STRING_JSON_VALUE, _U32, array)
        return self.new_enum(IDX_JSON_VALUE, JV_OBJECT, obj)
