"""Read a Marine module's descriptions from its custom sections (pure Python, no wasmtime).

marine-rs-sdk's `#[marine]` macro writes one JSON document per exported function, record and imported
(extern) module into a custom section named `__m_generated_section__<name>` (serde of `SDKAst`, tagged by
`ast_type`: `Function`, `Record`, `ExternMod`). Types are serde's external enum encoding of `ParsedType`:
`{"U64": "ByValue"}`, `{"Utf8Str": "ByRef"}`, `{"Vector": [<type>, "ByValue"]}`, `{"Record": ["Name",
"ByValue"]}`. A function has at most one output type (none means a unit result). Record fields are
`{"Named": [...]}`, `{"Unnamed": [...]}` (fields with `name: null`) or `"Unit"`.

The SDK version is the ASCII text of the `__fluence_sdk_version` section. A record may be described more
than once (several crates define it); identical duplicates are merged, conflicting ones are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fluence_dao.errors import ModuleLoadError
from fluence_dao.util import wasm_sections as _wasm_sections
from fluence_dao.util.json_types import JsonObject

SECTION_PREFIX = "__m_generated_section__"
SDK_VERSION_SECTION = "__fluence_sdk_version"

# Scalar type names as the SDK spells them, with their record/array element size in bytes.
SCALAR_SIZES: dict[str, int] = {
    "Boolean": 1, "I8": 1, "U8": 1, "I16": 2, "U16": 2, "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
STRING_KINDS = ("Utf8String", "Utf8Str")
POINTER_SIZE = 4


@dataclass(frozen=True)
class MType:
    """One Marine type: a scalar (`kind` in SCALAR_SIZES), a string, a vector of `element`, or a record.

    `kind` is the SDK's name: `U64`, `Boolean`, `Utf8String` (String), `Utf8Str` (&str), `Vector`,
    `Record`. `passing` is `ByValue`, `ByRef` or `ByMutRef` (it does not change the layout).
    """

    kind: str
    passing: str = "ByValue"
    element: MType | None = None
    record: str | None = None

    @property
    def is_scalar(self) -> bool:
        return self.kind in SCALAR_SIZES

    @property
    def is_string(self) -> bool:
        return self.kind in STRING_KINDS

    @property
    def is_bytes(self) -> bool:
        """`Vec<u8>`: lifted to Python `bytes` (interface-types' ByteArray)."""
        return self.kind == "Vector" and self.element is not None and self.element.kind == "U8"

    @property
    def serialized_size(self) -> int:
        """Bytes this type takes inside a record or an array."""
        if self.is_scalar:
            return SCALAR_SIZES[self.kind]
        if self.kind == "Record":
            return POINTER_SIZE
        return 2 * POINTER_SIZE  # strings and vectors: (ptr, len)

    def describe(self) -> str:
        """The Rust spelling, for messages and `module inspect`."""
        rust = {
            "Boolean": "bool", "I8": "i8", "I16": "i16", "I32": "i32", "I64": "i64", "U8": "u8", "U16": "u16",
            "U32": "u32", "U64": "u64", "F32": "f32", "F64": "f64", "Utf8String": "String", "Utf8Str": "str",
        }  # fmt: skip
        if self.kind == "Vector":
            assert self.element is not None
            text = f"Vec<{self.element.describe()}>"
        elif self.kind == "Record":
            text = str(self.record)
        else:
            text = rust[self.kind]
        if self.passing == "ByRef":
            return "&" + text
        if self.passing == "ByMutRef":
            return "&mut " + text
        return text

    def to_json(self) -> JsonObject:
        """The SDK's JSON encoding of this type (the inverse of `parse_type`)."""
        if self.kind == "Vector":
            assert self.element is not None
            return {"Vector": [self.element.to_json(), self.passing]}
        if self.kind == "Record":
            return {"Record": [self.record, self.passing]}
        return {self.kind: self.passing}


@dataclass(frozen=True)
class Argument:
    name: str
    ty: MType


@dataclass(frozen=True)
class FunctionSignature:
    """An exported (or imported) function: arguments in order and an optional single output type."""

    name: str
    arguments: tuple[Argument, ...]
    output: MType | None

    def describe(self) -> str:
        args = ", ".join(f"{a.name}: {a.ty.describe()}" for a in self.arguments)
        out = f" -> {self.output.describe()}" if self.output is not None else ""
        return f"{self.name}({args}){out}"

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "arguments": [{"name": a.name, "ty": a.ty.to_json()} for a in self.arguments],
            "output_types": [] if self.output is None else [self.output.to_json()],
        }


@dataclass(frozen=True)
class RecordField:
    name: str  # tuple-struct fields are named "0", "1", ...
    ty: MType


@dataclass(frozen=True)
class RecordType:
    """A record: fields in declaration order. Its serialized form is the fields packed with no padding."""

    name: str
    fields: tuple[RecordField, ...]
    named: bool = True

    @property
    def size(self) -> int:
        return sum(f.ty.serialized_size for f in self.fields)

    def describe(self) -> str:
        return f"{self.name} {{ " + ", ".join(f"{f.name}: {f.ty.describe()}" for f in self.fields) + " }"


@dataclass(frozen=True)
class ImportSignature:
    """A function the module imports from another module of its service (or from `host`)."""

    namespace: str
    link_name: str
    signature: FunctionSignature


@dataclass
class ModuleInterface:
    """Everything the custom sections say about a module."""

    functions: dict[str, FunctionSignature] = field(default_factory=dict)
    records: dict[str, RecordType] = field(default_factory=dict)
    imports: dict[tuple[str, str], ImportSignature] = field(default_factory=dict)
    sdk_version: str | None = None
    custom_sections: list[tuple[str, int]] = field(default_factory=list)

    def record(self, name: str) -> RecordType:
        try:
            return self.records[name]
        except KeyError:
            raise ModuleLoadError(
                f"record type {name!r} is used but not described by any {SECTION_PREFIX}* section",
                record=name,
            ) from None

    def to_dict(self) -> JsonObject:
        """A JSON-friendly view (used by `fluence-dao module inspect --json`)."""
        return {
            "sdk_version": self.sdk_version,
            "functions": {name: sig.to_json() for name, sig in sorted(self.functions.items())},
            "records": {
                name: [{"name": f.name, "ty": f.ty.to_json()} for f in rec.fields]
                for name, rec in sorted(self.records.items())
            },
            "imports": [
                {"namespace": imp.namespace, "name": imp.link_name, "signature": imp.signature.to_json()}
                for imp in self.imports.values()
            ],
            "custom_sections": [{"name": n, "size": s} for n, s in self.custom_sections],
        }


def iter_custom_sections(wasm: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (name, payload) of every custom section, in file order; ModuleLoadError for a malformed module."""
    try:
        yield from _wasm_sections.iter_custom_sections(wasm)
    except (ValueError, UnicodeDecodeError) as err:
        raise ModuleLoadError(f"not a valid wasm module: {err}") from None


def parse_type(raw: object) -> MType:
    """Parse one SDK `ParsedType` JSON value."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ModuleLoadError(f"unknown type description {raw!r}")
    ((kind, value),) = raw.items()
    if kind in SCALAR_SIZES or kind in STRING_KINDS:
        return MType(kind=kind, passing=str(value))
    if kind == "Vector" and isinstance(value, list) and len(value) == 2:
        return MType(kind="Vector", passing=str(value[1]), element=parse_type(value[0]))
    if kind == "Record" and isinstance(value, list) and len(value) == 2:
        return MType(kind="Record", passing=str(value[1]), record=str(value[0]))
    raise ModuleLoadError(f"unknown type description {raw!r}")


def parse_signature(raw: dict[str, Any]) -> FunctionSignature:
    outputs = raw.get("output_types") or []
    if len(outputs) > 1:
        raise ModuleLoadError(f"function {raw.get('name')!r} has {len(outputs)} outputs; Marine allows one")
    return FunctionSignature(
        name=str(raw["name"]),
        arguments=tuple(Argument(str(a["name"]), parse_type(a["ty"])) for a in raw.get("arguments", [])),
        output=parse_type(outputs[0]) if outputs else None,
    )


def parse_record(raw: dict[str, Any]) -> RecordType:
    fields_raw = raw["fields"]
    if fields_raw == "Unit":
        return RecordType(name=str(raw["name"]), fields=())
    if isinstance(fields_raw, dict) and len(fields_raw) == 1:
        ((style, items),) = fields_raw.items()
        if style in ("Named", "Unnamed"):
            fields = tuple(
                RecordField(str(item["name"]) if item.get("name") is not None else str(i), parse_type(item["ty"]))
                for i, item in enumerate(items)
            )
            return RecordType(name=str(raw["name"]), fields=fields, named=style == "Named")
    raise ModuleLoadError(f"unknown record fields description {fields_raw!r} in record {raw.get('name')!r}")


def parse_interface(wasm: bytes) -> ModuleInterface:
    """Collect functions, records, extern imports and the SDK version from a module's custom sections."""
    interface = ModuleInterface()
    for name, payload in iter_custom_sections(wasm):
        interface.custom_sections.append((name, len(payload)))
        if name == SDK_VERSION_SECTION:
            interface.sdk_version = payload.decode("ascii", errors="replace").strip("\0 \n")
            continue
        if not name.startswith(SECTION_PREFIX):
            continue
        try:
            doc = json.loads(payload)
            _add_item(interface, doc)
        except (ValueError, KeyError, TypeError) as err:
            raise ModuleLoadError(f"custom section {name!r} is not a valid Marine description: {err}") from err
    _check_records(interface)
    return interface


def _add_item(interface: ModuleInterface, doc: dict[str, Any]) -> None:
    kind = doc.get("ast_type")
    if kind == "Function":
        sig = parse_signature(doc["signature"])
        interface.functions[sig.name] = sig
    elif kind == "Record":
        record = parse_record(doc)
        known = interface.records.get(record.name)
        if known is not None and known.fields != record.fields:
            raise ModuleLoadError(f"record {record.name!r} is described twice with different fields")
        interface.records[record.name] = record
    elif kind == "ExternMod":
        namespace = str(doc["namespace"])
        for item in doc.get("imports", []):
            sig = parse_signature(item["signature"])
            link_name = item.get("link_name") or sig.name
            interface.imports[(namespace, link_name)] = ImportSignature(namespace, link_name, sig)
    else:
        raise ModuleLoadError(f"unknown ast_type {kind!r}")


def _check_records(interface: ModuleInterface) -> None:
    """Every record a signature or field names must be described (checked once, at load)."""

    def check(ty: MType | None, where: str) -> None:
        while ty is not None and ty.kind == "Vector":
            ty = ty.element
        if ty is not None and ty.kind == "Record" and ty.record not in interface.records:
            raise ModuleLoadError(
                f"{where} uses record {ty.record!r}, which no {SECTION_PREFIX}* section describes",
                record=ty.record,
            )

    for sig in interface.functions.values():
        for arg in sig.arguments:
            check(arg.ty, f"function {sig.name!r}")
        check(sig.output, f"function {sig.name!r}")
    for record in interface.records.values():
        for fld in record.fields:
            check(fld.ty, f"record {record.name!r}")
