"""Lowering Python values into guest memory and lifting them back: the Marine ABI's data layout.

The layout is the one marine-rs-sdk's generated glue reads and writes (crates/marine-macro-impl) and
that marine's interface-types lowerer/lifter (it-lilo) produce:

- scalars passed to/returned from functions directly: bool/i8/u8/i16/u16/i32/u32 as wasm i32,
  i64/u64 as i64, f32/f64 as f32/f64;
- a string or a vector is a (ptr: u32, len: u32) pair; `len` is the byte length of a string and the
  element count of a vector; empty ones are (0, 0);
- a record is one u32 pointer to its fields packed in declaration order with no padding: bool/i8/u8
  1 byte, i16/u16 2, i32/u32/f32 4, i64/u64/f64 8 (little endian), strings and vectors (ptr, len),
  nested records a u32 pointer;
- a vector of scalars is the packed elements (bool as one byte); a vector of strings or of vectors is
  a buffer of (ptr, len) u32 pairs; a vector of records is a buffer of u32 record pointers.

Every buffer the host writes is obtained from the guest's `allocate(count, type_tag)`. The guest later
frees it as a `Vec<T>` of that capacity, so `count` is the element count of the type the guest will
rebuild: `allocate(len, u8)` for string bytes and records, `allocate(2n, u32)` for n (ptr, len) pairs,
`allocate(n, u32)` for n record pointers, `allocate(n, T)` for n scalars. (marine's own lowerer passes
byte sizes, which over-allocates for wider types; a Rust guest accepts both, an allocator that frees
by size needs these exact counts.) `allocate` returning 0 for a non-empty buffer is a guest
out-of-memory, reported as AbiError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeAlias

from fluence_dao.errors import AbiError
from fluence_dao.util.marine_interface import FunctionSignature, MarineValue, MType, RecordType

# allocate() type tags (marine-rs-sdk crates/main/src/export_allocator.rs).
TYPE_TAGS: dict[str, int] = {
    "Boolean": 0, "U8": 1, "U16": 2, "U32": 3, "U64": 4, "I8": 5, "I16": 6, "I32": 7, "I64": 8, "F32": 9, "F64": 10,
}  # fmt: skip
POINTER_TAG = TYPE_TAGS["U32"]
BYTE_TAG = TYPE_TAGS["U8"]

_FORMATS: dict[str, str] = {
    "Boolean": "B", "I8": "b", "U8": "B", "I16": "h", "U16": "H", "I32": "i", "U32": "I", "I64": "q", "U64": "Q",
    "F32": "f", "F64": "d",
}  # fmt: skip
_INT_RANGES: dict[str, tuple[int, int]] = {
    "I8": (-(2**7), 2**7 - 1), "U8": (0, 2**8 - 1), "I16": (-(2**15), 2**15 - 1), "U16": (0, 2**16 - 1),
    "I32": (-(2**31), 2**31 - 1), "U32": (0, 2**32 - 1), "I64": (-(2**63), 2**63 - 1), "U64": (0, 2**64 - 1),
}  # fmt: skip
_WASM_TYPE: dict[str, str] = {
    "Boolean": "i32", "I8": "i32", "U8": "i32", "I16": "i32", "U16": "i32", "I32": "i32", "U32": "i32",
    "I64": "i64", "U64": "i64", "F32": "f32", "F64": "f64",
}  # fmt: skip

RecordResolver = Callable[[str], RecordType]
CallArgs: TypeAlias = "Sequence[object] | Mapping[str, object]"
"""A call's arguments: a list in signature order or a dict by argument name (values are checked when lowered)."""
WasmValue: TypeAlias = int | float
"""A raw wasm value as wasmtime passes it: i32/i64 as (signed) int, f32/f64 as float."""
WasmResult: TypeAlias = int | float | None
"""What a core function returns: its one value, or None without one."""
HostFunction: TypeAlias = Callable[..., WasmResult]
"""A Python function linked to a wasm import: called with the raw wasm arguments, returns the raw result."""

_SCALAR, _INT, _STRING, _BYTES, _RECORD, _SEQUENCE = range(6)


class _RecordPlan:
    """A record's layout, worked out once: one struct for all its fields and how to treat each."""

    __slots__ = ("fields", "names", "record", "struct")

    def __init__(self, record: RecordType) -> None:
        self.record = record
        self.names = tuple(f.name for f in record.fields)
        fmt = "<"
        fields: list[tuple[str, int, MType, tuple[int, int] | None]] = []
        for fld in record.fields:
            ty = fld.ty
            if ty.is_scalar:
                fmt += _FORMATS[ty.kind]
                int_range = _INT_RANGES.get(ty.kind)
                fields.append((fld.name, _INT if int_range else _SCALAR, ty, int_range))
            elif ty.kind == "Record":
                fmt += "I"
                fields.append((fld.name, _RECORD, ty, None))
            else:
                fmt += "II"
                code = _STRING if ty.is_string else _BYTES if ty.is_bytes else _SEQUENCE
                fields.append((fld.name, code, ty, None))
        self.struct = struct.Struct(fmt)
        self.fields = tuple(fields)


_plans: dict[int, _RecordPlan] = {}


def _plan(record: RecordType) -> _RecordPlan:
    """The plan of `record` (cached by identity; the plan keeps the record alive, so ids are not reused)."""
    plan = _plans.get(id(record))
    if plan is None or plan.record is not record:
        plan = _plans[id(record)] = _RecordPlan(record)
    return plan


class GuestMemory(Protocol):
    """What lowering and lifting need from a guest: its linear memory and its allocator."""

    def read(self, ptr: int, size: int) -> bytes: ...

    def write(self, ptr: int, data: bytes) -> None: ...

    def allocate(self, count: int, type_tag: int) -> int: ...


# ---------------------------------------------------------------------------------------------------
# raw wasm signatures


def raw_param_types(ty: MType) -> list[str]:
    """Wasm value types one argument of this type occupies."""
    if ty.is_scalar:
        return [_WASM_TYPE[ty.kind]]
    if ty.kind == "Record":
        return ["i32"]
    return ["i32", "i32"]


def raw_signature(sig: FunctionSignature) -> tuple[list[str], list[str]]:
    """(params, results) of the core wasm function behind a Marine signature."""
    params = [t for arg in sig.arguments for t in raw_param_types(arg.ty)]
    results = [_WASM_TYPE[sig.output.kind]] if sig.output is not None and sig.output.is_scalar else []
    return params, results


# ---------------------------------------------------------------------------------------------------
# scalar conversions


def check_scalar(ty: MType, value: object, where: str) -> int | float | bool:
    """Validate a Python value for a scalar type; return it normalised (bool, int or float)."""
    kind = ty.kind
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise AbiError(f"{where}: expected bool, got {type(value).__name__} {value!r}", where=where)
        return value
    if kind in ("F32", "F64"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AbiError(f"{where}: expected a number for {ty.describe()}, got {value!r}", where=where)
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AbiError(f"{where}: expected an int for {ty.describe()}, got {type(value).__name__} {value!r}")
    low, high = _INT_RANGES[kind]
    if not low <= value <= high:
        raise AbiError(f"{where}: {value} is out of range for {ty.describe()} ({low}..{high})", where=where)
    return value


def scalar_to_wasm(ty: MType, value: int | float | bool) -> int | float:
    """A validated scalar as the wasm value passed to or returned from a core function."""
    kind = ty.kind
    if kind == "Boolean":
        return 1 if value else 0
    if kind in ("F32", "F64"):
        return float(value)
    number = int(value)
    if kind in ("U32", "U16", "U8") and number >= 2**31:
        return number - 2**32
    if kind == "U64" and number >= 2**63:
        return number - 2**64
    return number


def scalar_from_wasm(ty: MType, raw: WasmValue) -> int | float | bool:
    """A wasm value (as wasmtime gives it: signed ints) as the Python value of a scalar type."""
    kind = ty.kind
    if kind == "Boolean":
        return int(raw) != 0
    if kind in ("F32", "F64"):
        return float(raw)
    number = int(raw)
    bits = {"I8": 8, "U8": 8, "I16": 16, "U16": 16, "I32": 32, "U32": 32, "I64": 64, "U64": 64}[kind]
    number &= (1 << bits) - 1
    if kind.startswith("I") and number >= 1 << (bits - 1):
        number -= 1 << bits
    return number


# ---------------------------------------------------------------------------------------------------
# lowering


class Lowerer:
    """Writes Python values into one guest's memory; returns the raw wasm arguments."""

    def __init__(self, memory: GuestMemory, records: RecordResolver) -> None:
        self.memory = memory
        self.records = records
        # allocate + write in one call, when the memory offers it (the module's instance does)
        self._put: Callable[[bytes, int, int], int] | None = getattr(memory, "put", None)

    def _alloc_write(self, data: bytes, count: int, tag: int, where: str, suffix: str = "") -> int:
        if not data:
            return 0
        put = self._put
        if put is not None:
            ptr = put(data, count, tag)
        else:
            ptr = self.memory.allocate(count, tag)
            if ptr != 0:
                self.memory.write(ptr, data)
        if ptr == 0:
            where += suffix
            raise AbiError(
                f"{where}: the guest could not allocate {len(data)} bytes (allocate returned 0: out of memory)",
                where=where,
            )
        return ptr

    def lower_arguments(self, sig: FunctionSignature, args: CallArgs) -> list[WasmValue]:
        values = normalise_arguments(sig, args)
        raw: list[WasmValue] = []
        for arg, value in zip(sig.arguments, values, strict=True):
            ty = arg.ty
            if ty.is_string and type(value) is str:  # the common case, without building `where`
                raw.extend(self._lower_str(value, f"argument {arg.name!r} of {sig.name}", ""))
            else:
                raw.extend(self.lower(ty, value, f"argument {arg.name!r} of {sig.name}"))
        return raw

    def lower(self, ty: MType, value: object, where: str) -> list[WasmValue]:
        """One value as raw wasm arguments (1 or 2 numbers)."""
        if ty.is_scalar:
            return [scalar_to_wasm(ty, check_scalar(ty, value, where))]
        if ty.kind == "Record":
            return [self.lower_record(self.records(str(ty.record)), value, where)]
        ptr, length = self.lower_sequence(ty, value, where)
        return [ptr, length]

    def _lower_str(self, value: str, where: str, suffix: str) -> tuple[int, int]:
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as err:
            where += suffix
            raise AbiError(f"{where}: the string cannot be encoded as UTF-8 ({err.reason})", where=where) from err
        return self._alloc_write(data, len(data), BYTE_TAG, where, suffix), len(data)

    def lower_sequence(self, ty: MType, value: object, where: str) -> tuple[int, int]:
        """A string or vector -> (ptr, len)."""
        if ty.is_string:
            if not isinstance(value, str):
                raise AbiError(f"{where}: expected str, got {type(value).__name__}", where=where)
            return self._lower_str(value, where, "")
        assert ty.element is not None
        element = ty.element
        if ty.is_bytes:
            data = as_bytes(value, where)
            return self._alloc_write(data, len(data), BYTE_TAG, where), len(data)
        if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Sequence):
            raise AbiError(f"{where}: expected a list for {ty.describe()}, got {type(value).__name__}", where=where)
        count = len(value)
        if count == 0:
            return 0, 0
        if element.is_scalar:
            fmt = "<" + _FORMATS[element.kind] * count
            checked = [check_scalar(element, v, f"{where}[{i}]") for i, v in enumerate(value)]
            if element.kind == "Boolean":
                checked = [1 if v else 0 for v in checked]
            return self._alloc_write(struct.pack(fmt, *checked), count, TYPE_TAGS[element.kind], where), count
        if element.kind == "Record":
            record = self.records(str(element.record))
            ptrs = [self.lower_record(record, v, f"{where}[{i}]") for i, v in enumerate(value)]
            return self._alloc_write(struct.pack(f"<{count}I", *ptrs), count, POINTER_TAG, where), count
        pairs: list[int] = []
        for i, v in enumerate(value):
            pairs.extend(self.lower_sequence(element, v, f"{where}[{i}]"))
        return self._alloc_write(struct.pack(f"<{2 * count}I", *pairs), 2 * count, POINTER_TAG, where), count

    def lower_record(self, record: RecordType, value: object, where: str) -> int:
        """A record -> pointer to its packed fields (0 for a record without fields).

        Fields are lowered in declaration order (nested buffers before the record's own), the same
        allocation order as a field-by-field walk; `where` of a field is only built for an error.
        """
        plan = _plan(record)
        values = _field_values(plan, value)
        if values is None:
            values = record_values(record, value, where)  # the slow path names what is wrong
        parts: list[WasmValue] = []
        for (name, code, ty, int_range), v in zip(plan.fields, values, strict=True):
            if code == _STRING and type(v) is str:
                parts.extend(self._lower_str(v, where, "." + name))
            elif code == _INT and type(v) is int and int_range is not None and int_range[0] <= v <= int_range[1]:
                parts.append(v)
            elif code in (_INT, _SCALAR):
                checked = check_scalar(ty, v, f"{where}.{name}")
                parts.append(int(checked) if ty.kind == "Boolean" else checked)
            elif code == _RECORD:
                parts.append(self.lower_record(self.records(str(ty.record)), v, f"{where}.{name}"))
            else:
                parts.extend(self.lower_sequence(ty, v, f"{where}.{name}"))
        out = plan.struct.pack(*parts)
        return self._alloc_write(out, len(out), BYTE_TAG, where)


def as_bytes(value: object, where: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        try:
            return bytes(value)
        except (ValueError, TypeError) as err:
            raise AbiError(f"{where}: a list for Vec<u8> must hold ints 0..255 ({err})", where=where) from err
    raise AbiError(f"{where}: expected bytes for Vec<u8>, got {type(value).__name__}", where=where)


def normalise_arguments(sig: FunctionSignature, args: CallArgs) -> list[object]:
    """Arguments given as a list (positional) or a dict (by name) -> a list in signature order."""
    if type(args) in (list, tuple) and len(args) == len(sig.arguments):  # the common case, no ABC checks
        return list(args)
    names = [a.name for a in sig.arguments]
    if isinstance(args, Mapping):
        missing = [n for n in names if n not in args]
        extra = [k for k in args if k not in names]
        if missing or extra:
            raise AbiError(
                f"{sig.name}: arguments do not match {sig.describe()}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unexpected {extra}" if extra else ""),
                function=sig.name,
            )
        return [args[n] for n in names]
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise AbiError(f"{sig.name}: arguments must be a list or a dict, got {type(args).__name__}")
    if len(args) != len(names):
        raise AbiError(
            f"{sig.name} takes {len(names)} argument(s), got {len(args)}: {sig.describe()}", function=sig.name
        )
    return list(args)


def _field_values(plan: _RecordPlan, value: object) -> list[object] | None:
    """Field values of a dict with exactly the record's fields, in declaration order; None otherwise."""
    if type(value) is not dict or len(value) != len(plan.names):
        return None
    try:
        return [value[n] for n in plan.names]
    except KeyError:
        return None


def record_values(record: RecordType, value: object, where: str) -> list[object]:
    """Field values in declaration order from a dict (or a list for a tuple struct)."""
    names = [f.name for f in record.fields]
    if not record.named and isinstance(value, list | tuple):
        if len(value) != len(names):
            raise AbiError(f"{where}: record {record.name} has {len(names)} fields, got {len(value)}", where=where)
        return list(value)
    if not isinstance(value, Mapping):
        raise AbiError(f"{where}: expected a dict for record {record.name}, got {type(value).__name__}", where=where)
    missing = [n for n in names if n not in value]
    if missing:
        raise AbiError(f"{where}: record {record.name} is missing field {missing[0]!r}", where=where, field=missing[0])
    extra = [k for k in value if k not in names]
    if extra:
        raise AbiError(f"{where}: record {record.name} has no field {extra[0]!r}", where=where, field=str(extra[0]))
    return [value[n] for n in names]


# ---------------------------------------------------------------------------------------------------
# lifting


class Lifter:
    """Reads values out of one guest's memory."""

    def __init__(self, memory: GuestMemory, records: RecordResolver) -> None:
        self.memory = memory
        self.records = records

    def lift_sequence(self, ty: MType, ptr: int, length: int) -> MarineValue:
        """A string or vector from its (ptr, len)."""
        if ty.is_string:
            data = self.memory.read(ptr, length) if length else b""
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError as err:
                raise AbiError(f"the guest returned a string that is not UTF-8: {err}") from err
        assert ty.element is not None
        element = ty.element
        if ty.is_bytes:
            return self.memory.read(ptr, length) if length else b""
        if length == 0:
            return []
        if element.is_scalar:
            raw = self.memory.read(ptr, length * element.serialized_size)
            values: list[int | float] = list(struct.unpack("<" + _FORMATS[element.kind] * length, raw))
            if element.kind == "Boolean":
                return [v != 0 for v in values]
            return values
        if element.kind == "Record":
            record = self.records(str(element.record))
            ptrs = struct.unpack(f"<{length}I", self.memory.read(ptr, 4 * length))
            return [self.lift_record(record, p) for p in ptrs]
        pairs = struct.unpack(f"<{2 * length}I", self.memory.read(ptr, 8 * length))
        return [self.lift_sequence(element, pairs[2 * i], pairs[2 * i + 1]) for i in range(length)]

    def lift_record(self, record: RecordType, ptr: int) -> dict[str, MarineValue]:
        plan = _plan(record)
        size = plan.struct.size
        raw = plan.struct.unpack(self.memory.read(ptr, size) if size else b"")
        out: dict[str, MarineValue] = {}
        pos = 0
        for name, code, ty, _ in plan.fields:
            if code in (_INT, _SCALAR):
                value = raw[pos]
                out[name] = value != 0 if ty.kind == "Boolean" else value
                pos += 1
            elif code == _RECORD:
                out[name] = self.lift_record(self.records(str(ty.record)), raw[pos])
                pos += 1
            else:
                out[name] = self.lift_sequence(ty, raw[pos], raw[pos + 1])
                pos += 2
        return out

    def lift_raw(self, ty: MType, raw: Sequence[WasmValue]) -> MarineValue:
        """One value from the raw wasm arguments it occupies (a host import's parameters)."""
        if ty.is_scalar:
            return scalar_from_wasm(ty, raw[0])
        if ty.kind == "Record":
            return self.lift_record(self.records(str(ty.record)), int(raw[0]) & 0xFFFFFFFF)
        return self.lift_sequence(ty, int(raw[0]) & 0xFFFFFFFF, int(raw[1]) & 0xFFFFFFFF)

    def lift_arguments(self, sig: FunctionSignature, raw: Sequence[WasmValue]) -> list[MarineValue]:
        values: list[MarineValue] = []
        pos = 0
        for arg in sig.arguments:
            width = len(raw_param_types(arg.ty))
            values.append(self.lift_raw(arg.ty, raw[pos : pos + width]))
            pos += width
        return values
