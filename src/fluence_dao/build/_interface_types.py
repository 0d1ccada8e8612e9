"""Generate the binary `interface-types` section from a module's `__m_generated_section__*` JSON.

Fluence's own runtimes (nox, marine-js) refuse a module without this section; our host reads only the JSON
sections. The layout follows what marine's `it-generator` emits, so that for the same JSON it produces the
same bytes (the test reproduces avm.wasm's own section byte for byte):

- types 0-5 and exports 0-5 are the default API (allocate, release_objects, get_result_size,
  get_result_ptr, set_result_size, set_result_ptr);
- then every record in section order (a forward reference reserves the record's type index);
- then, per exported function, two identical function types N (adapter) and N+1 (core), the export
  {name, N+1}, the adapter {N, instructions} and the implementation {N+1, N};
- then, per function imported from another module of the service (not `host` / `__marine_host_api_v*`),
  an adapter type, two raw core types, two imports, an adapter and an implementation.

Encoding (interface-types' binary encoder): top-level counts are ULEB128, but strings and inner lists
(arguments, outputs, record fields, instructions) carry a one-byte length in the decoder. Names over 255
bytes or inner lists over 127 items cannot be represented; marine's tool silently corrupts them, we refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from fluence_dao.errors import BuildError, ModuleLoadError
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.marine_interface import (
    Argument,
    ExternModule,
    FunctionSignature,
    ImportSignature,
    MType,
    RecordType,
    SectionItem,
    parse_section,
)
from fluence_dao.util.varint import encode_uvarint

IT_VERSION = "0.27.0"

# IType tags (interface-types `IType::to_bytes`).
_SIMPLE_ITYPES = {
    "S8": 0x00, "S16": 0x01, "S32": 0x02, "S64": 0x03, "U8": 0x04, "U16": 0x05, "U32": 0x06, "U64": 0x07,
    "F32": 0x08, "F64": 0x09, "String": 0x0A, "Boolean": 0x0B, "I32": 0x0C, "I64": 0x0D, "ByteArray": 0x3C,
}  # fmt: skip
_ARRAY = 0x36
_RECORD = 0x0E

# Marine JSON type names -> IType names, for the scalar types.
_SCALARS = {
    "I8": "S8", "I16": "S16", "I32": "S32", "I64": "S64", "U8": "U8", "U16": "U16", "U32": "U32",
    "U64": "U64", "F32": "F32", "F64": "F64", "Boolean": "Boolean", "Utf8Str": "String", "Utf8String": "String",
}  # fmt: skip

# Instruction opcodes (interface-types `Instruction::to_bytes`).
_ARG_GET, _CALL_CORE = 0x00, 0x01
_OP = {
    "bool.from_i32": 0x3E, "s8.from_i32": 0x02, "s16.from_i32": 0x04, "s32.from_i32": 0x06,
    "s64.from_i64": 0x09, "i32.from_bool": 0x3F, "i32.from_s8": 0x0A, "i32.from_s16": 0x0B,
    "i32.from_s32": 0x0C, "i64.from_s64": 0x11, "u8.from_i32": 0x12, "u16.from_i32": 0x14,
    "u32.from_i32": 0x16, "u64.from_i64": 0x19, "i32.from_u8": 0x1A, "i32.from_u16": 0x1B,
    "i32.from_u32": 0x1C, "i64.from_u64": 0x21, "string.lift_memory": 0x22, "string.lower_memory": 0x23,
    "string.size": 0x24, "byte_array.lift_memory": 0x43, "dup": 0x34, "swap2": 0x35,
}  # fmt: skip
_ARRAY_LIFT, _ARRAY_LOWER, _RECORD_LIFT, _RECORD_LOWER, _PUSH_I32 = 0x37, 0x38, 0x3A, 0x3B, 0x40

# Default export API: (name, arguments, outputs); ids are the positions.
_DEFAULT_API: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("allocate", (("size", "I32"),), ("I32",)),
    ("release_objects", (), ()),
    ("get_result_size", (), ("I32",)),
    ("get_result_ptr", (), ("I32",)),
    ("set_result_size", (("result_size", "I32"),), ()),
    ("set_result_ptr", (("result_ptr", "I32"),), ()),
)
_ALLOCATE, _RELEASE_OBJECTS, _GET_RESULT_SIZE, _GET_RESULT_PTR, _SET_RESULT_SIZE, _SET_RESULT_PTR = range(6)
_U8_TYPE_TAG = 1  # allocate's element type for string bytes

_INNER_LIST_MAX = 127
_NAME_MAX = 255


@dataclass(frozen=True)
class _Array:
    inner: IType


@dataclass(frozen=True)
class _RecordRef:
    type_index: int


IType: TypeAlias = "str | _Array | _RecordRef"
"""An interface-types type: a simple name ("U64", "String", "ByteArray"), an array, or a record by type index."""


@dataclass
class _Interfaces:
    types: list[bytes] = field(default_factory=list)
    imports: list[bytes] = field(default_factory=list)
    adapters: list[bytes] = field(default_factory=list)
    exports: list[bytes] = field(default_factory=list)
    implementations: list[bytes] = field(default_factory=list)
    record_ids: dict[str, int] = field(default_factory=dict)
    unresolved: set[str] = field(default_factory=set)
    import_count: int = 0


def generate_interface_types(sections: Iterable[JsonObject], version: str = IT_VERSION) -> bytes:
    """The payload of the `interface-types` custom section for a module with these JSON descriptions.

    `sections` are the decoded `__m_generated_section__*` JSON documents in the order they appear in the
    module (records, functions and extern mods may be interleaved; they are processed in that order per kind).
    """
    items: list[SectionItem] = []
    for doc in sections:
        try:
            items.append(parse_section(doc))
        except ModuleLoadError as err:
            raise BuildError(f"generated sections: {err.message}") from err
    records = [item for item in items if isinstance(item, RecordType)]
    functions = [item for item in items if isinstance(item, FunctionSignature)]
    extern_mods = [item for item in items if isinstance(item, ExternModule)]

    it = _Interfaces()
    for index, (name, args, outputs) in enumerate(_DEFAULT_API):
        it.types.append(
            _function_type([(arg, _encode_itype(ty)) for arg, ty in args], [_encode_itype(o) for o in outputs])
        )
        it.exports.append(_string(name) + encode_uvarint(index))
    for record in records:
        _add_record(it, record)
    if it.unresolved:
        raise BuildError(f"records referenced but not described: {sorted(it.unresolved)}")
    for function in functions:
        _add_function(it, function)
    for extern_mod in extern_mods:
        namespace = extern_mod.namespace
        if namespace == "host" or namespace.startswith("__marine_host_api_v"):
            continue
        for imported in extern_mod.imports:
            _add_import(it, imported)

    out = bytearray([0x05]) + _string(version)
    for kind, parts in ((0x00, it.types), (0x01, it.imports), (0x02, it.adapters), (0x03, it.exports),
                        (0x04, it.implementations)):  # fmt: skip
        if parts:
            out += bytes([kind]) + encode_uvarint(len(parts)) + b"".join(parts)
    return bytes(out)


# --- records and types -------------------------------------------------------------------------------------


def _add_record(it: _Interfaces, record: RecordType) -> None:
    name = record.name
    if not record.fields:
        if not record.named:  # a unit struct
            return
        raise BuildError(f"record {name!r} has no fields")
    encoded_fields = [
        _string(f.name if record.named else "", what=f"field name in record {name!r}")
        + _encode_itype(_itype(it, f.ty, checked=False))
        for f in record.fields
    ]
    body = b"\x01" + _string(name, what="record name") + _inner_list(encoded_fields, f"fields of record {name!r}")
    if name in it.record_ids:
        if name not in it.unresolved:
            raise BuildError(f"record {name!r} is described twice")
        it.types[it.record_ids[name]] = body
        it.unresolved.discard(name)
    else:
        it.record_ids[name] = len(it.types)
        it.types.append(body)


def _itype(it: _Interfaces, ty: MType, *, checked: bool) -> IType:
    """Marine type -> IType. Unchecked record references reserve a type index (forward references)."""
    if ty.kind in _SCALARS:
        return _SCALARS[ty.kind]
    if ty.element is not None:
        inner = _itype(it, ty.element, checked=checked)
        return "ByteArray" if inner == "U8" else _Array(inner)
    record_name = str(ty.record)
    if record_name not in it.record_ids:
        if checked:
            raise BuildError(f"record {record_name!r} is used but not described")
        it.record_ids[record_name] = len(it.types)
        it.types.append(b"")  # placeholder, replaced when the record is described
        it.unresolved.add(record_name)
    return _RecordRef(it.record_ids[record_name])


def _encode_itype(ty: IType) -> bytes:
    if isinstance(ty, str):
        return bytes([_SIMPLE_ITYPES[ty]])
    if isinstance(ty, _RecordRef):
        return bytes([_RECORD]) + encode_uvarint(ty.type_index)
    return bytes([_ARRAY]) + _encode_itype(ty.inner)


def _function_type(args: Sequence[tuple[str, bytes]], outputs: Sequence[bytes]) -> bytes:
    encoded_args = [_string(name, what="argument name") + ty for name, ty in args]
    return b"\x00" + _inner_list(encoded_args, "arguments") + _inner_list(list(outputs), "outputs")


# --- exported functions ------------------------------------------------------------------------------------


def _add_function(it: _Interfaces, signature: FunctionSignature) -> None:
    name = signature.name
    args = [(a.name, _itype(it, a.ty, checked=True)) for a in signature.arguments]
    output_types = [signature.output] if signature.output is not None else []
    outputs = [_itype(it, t, checked=True) for t in output_types]
    fn_type = _function_type([(n, _encode_itype(t)) for n, t in args], [_encode_itype(t) for t in outputs])
    it.types += [fn_type, fn_type]
    adapter_type, core_type = len(it.types) - 2, len(it.types) - 1
    it.exports.append(_string(name, what="function name") + encode_uvarint(core_type))
    export_index = len(it.exports) - 1

    instructions: list[bytes] = []
    for index, (_, ty) in enumerate(args):
        instructions += _lower_argument(index, ty)
    instructions.append(_call_core(export_index))
    release = False
    for marine_ty, ty in zip(output_types, outputs, strict=True):
        instructions += _lift_output(ty)
        release |= not marine_ty.is_scalar
    if release:
        instructions.append(_call_core(_RELEASE_OBJECTS))
    it.adapters.append(encode_uvarint(adapter_type) + _inner_list(instructions, f"instructions of {name!r}"))
    it.implementations.append(encode_uvarint(core_type) + encode_uvarint(adapter_type))


def _lower_argument(index: int, ty: IType) -> list[bytes]:
    """Adapter instructions that pass argument `index` of an exported function into the module."""
    get = _arg_get(index)
    if ty == "String":
        return [
            get,
            _op("string.size"),
            _push_i32(_U8_TYPE_TAG),
            _call_core(_ALLOCATE),
            get,
            _op("string.lower_memory"),
        ]
    if isinstance(ty, _RecordRef):
        return [get, bytes([_RECORD_LOWER]) + encode_uvarint(ty.type_index)]
    if isinstance(ty, _Array):
        return [get, bytes([_ARRAY_LOWER]) + _encode_itype(ty.inner)]
    if ty == "ByteArray":
        return [get, bytes([_ARRAY_LOWER]) + _encode_itype("U8")]
    return [get, *_scalar_ops(ty, lift=False)]


def _lift_output(ty: IType) -> list[bytes]:
    """Adapter instructions that read an exported function's result out of the module."""
    result = [_call_core(_GET_RESULT_PTR), _call_core(_GET_RESULT_SIZE)]
    if ty == "String":
        return [*result, _op("string.lift_memory")]
    if ty == "ByteArray":
        return [*result, _op("byte_array.lift_memory")]
    if isinstance(ty, _RecordRef):
        return [_call_core(_GET_RESULT_PTR), bytes([_RECORD_LIFT]) + encode_uvarint(ty.type_index)]
    if isinstance(ty, _Array):
        return [*result, bytes([_ARRAY_LIFT]) + _encode_itype(ty.inner)]
    return _scalar_ops(ty, lift=True)


_SCALAR_OPS = {  # IType -> (op when passing in, op when reading out)
    "Boolean": ("i32.from_bool", "bool.from_i32"), "S8": ("i32.from_s8", "s8.from_i32"),
    "S16": ("i32.from_s16", "s16.from_i32"), "S32": ("i32.from_s32", "s32.from_i32"),
    "S64": ("i64.from_s64", "s64.from_i64"), "U8": ("i32.from_u8", "u8.from_i32"),
    "U16": ("i32.from_u16", "u16.from_i32"), "U32": ("i32.from_u32", "u32.from_i32"),
    "U64": ("i64.from_u64", "u64.from_i64"),
}  # fmt: skip


def _scalar_ops(ty: IType, *, lift: bool) -> list[bytes]:
    """The conversion of a scalar passed into the module (`lift=False`) or read out of it."""
    if ty in ("F32", "F64"):
        return []
    ops = _SCALAR_OPS.get(ty) if isinstance(ty, str) else None
    if ops is None:
        raise BuildError(f"unsupported scalar type {ty!r}")
    return [_op(ops[1] if lift else ops[0])]


# --- functions imported from another module of the service -------------------------------------------------


def _raw_args(arguments: Sequence[Argument]) -> list[tuple[str, bytes]]:
    raw: list[tuple[str, bytes]] = []
    for arg in arguments:
        kind = arg.ty.kind
        if kind in ("Utf8Str", "Utf8String", "Vector"):
            raw += [(f"{arg.name}_ptr", _encode_itype("I32"))] * 2
        elif kind in ("I64", "U64"):
            raw.append((arg.name, _encode_itype("I64")))
        elif kind in ("F32", "F64"):
            raw.append((arg.name, _encode_itype(kind)))
        else:
            raw.append((arg.name, _encode_itype("I32")))
    return raw


def _raw_outputs(output_types: Sequence[MType]) -> list[bytes]:
    raw: list[bytes] = []
    for ty in output_types:
        kind = ty.kind
        if kind in ("I64", "U64"):
            raw.append(_encode_itype("I64"))
        elif kind in ("F32", "F64"):
            raw.append(_encode_itype(kind))
        elif kind not in ("Utf8Str", "Utf8String", "Vector", "Record"):
            raw.append(_encode_itype("I32"))
    return raw


def _add_import(it: _Interfaces, imported: ImportSignature) -> None:
    namespace, signature, link_name = imported.namespace, imported.signature, imported.name
    output_types = [signature.output] if signature.output is not None else []
    args = [(a.name, _itype(it, a.ty, checked=True)) for a in signature.arguments]
    outputs = [_itype(it, t, checked=True) for t in output_types]
    it.types.append(_function_type([(n, _encode_itype(t)) for n, t in args], [_encode_itype(t) for t in outputs]))
    raw_type = _function_type(_raw_args(signature.arguments), _raw_outputs(output_types))
    it.types += [raw_type, raw_type]
    import_type, adapter_type, raw_import_type = len(it.types) - 3, len(it.types) - 2, len(it.types) - 1
    for function_type in (import_type, raw_import_type):
        it.imports.append(
            _string(namespace, what="import namespace")
            + _string(link_name, what="import name")
            + encode_uvarint(function_type)
        )
    it.import_count += 1

    instructions: list[bytes] = []
    raw_index = 0
    release = False
    for arg, (_, ty) in zip(signature.arguments, args, strict=True):
        lifted, width = _lift_import_argument(raw_index, ty)
        instructions += lifted
        raw_index += width
        release |= not arg.ty.is_scalar
    if release:
        instructions.append(_call_core(_RELEASE_OBJECTS))
    instructions.append(_call_core(len(it.exports) + it.import_count - 1))
    for ty in outputs:
        instructions += _lower_import_output(ty)
    it.adapters.append(
        encode_uvarint(adapter_type) + _inner_list(instructions, f"instructions of import {link_name!r}")
    )
    it.implementations.append(encode_uvarint(raw_import_type) + encode_uvarint(adapter_type))


def _lift_import_argument(index: int, ty: IType) -> tuple[list[bytes], int]:
    if ty in ("String", "ByteArray") or isinstance(ty, _Array):
        if isinstance(ty, _Array):
            op = bytes([_ARRAY_LIFT]) + _encode_itype(ty.inner)
        else:
            op = _op("string.lift_memory" if ty == "String" else "byte_array.lift_memory")
        return [_arg_get(index), _arg_get(index + 1), op], 2
    if isinstance(ty, _RecordRef):
        return [_arg_get(index), bytes([_RECORD_LIFT]) + encode_uvarint(ty.type_index)], 1
    return [_arg_get(index), *_scalar_ops(ty, lift=True)], 1


def _lower_import_output(ty: IType) -> list[bytes]:
    if ty == "String":
        return [
            _op("dup"), _op("string.size"), _push_i32(_U8_TYPE_TAG), _call_core(_ALLOCATE), _op("swap2"),
            _op("string.lower_memory"), _call_core(_SET_RESULT_SIZE), _call_core(_SET_RESULT_PTR),
        ]  # fmt: skip
    if ty == "ByteArray" or isinstance(ty, _Array):
        inner: IType = ty.inner if isinstance(ty, _Array) else "U8"
        return [bytes([_ARRAY_LOWER]) + _encode_itype(inner), _call_core(_SET_RESULT_SIZE), _call_core(_SET_RESULT_PTR)]
    if isinstance(ty, _RecordRef):
        return [bytes([_RECORD_LOWER]) + encode_uvarint(ty.type_index), _call_core(_SET_RESULT_PTR)]
    return _scalar_ops(ty, lift=False)


# --- primitives --------------------------------------------------------------------------------------------


def _string(text: str, what: str = "string") -> bytes:
    raw = text.encode()
    if len(raw) > _NAME_MAX:
        raise BuildError(f"{what} {text[:40]!r}... is {len(raw)} bytes; interface-types allows at most {_NAME_MAX}")
    return bytes([len(raw)]) + raw


def _inner_list(items: list[bytes], what: str) -> bytes:
    if len(items) > _INNER_LIST_MAX:
        raise BuildError(f"{what}: {len(items)} items; interface-types allows at most {_INNER_LIST_MAX} per list")
    return bytes([len(items)]) + b"".join(items)


def _op(name: str) -> bytes:
    return bytes([_OP[name]])


def _arg_get(index: int) -> bytes:
    return bytes([_ARG_GET]) + encode_uvarint(index)


def _call_core(index: int) -> bytes:
    return bytes([_CALL_CORE]) + encode_uvarint(index)


def _push_i32(value: int) -> bytes:
    return bytes([_PUSH_I32]) + encode_uvarint(value)
