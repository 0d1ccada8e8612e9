"""One model of a Marine module's interface: the `__m_generated_section__*` custom sections, read and written.

marine-rs-sdk's `#[marine]` macro writes one JSON document per exported function, record and imported
(extern) module into a custom section named `__m_generated_section__<name>` (serde of `SDKAst`, tagged by
`ast_type`: `Function`, `Record`, `ExternMod`). Types are serde's external enum encoding of `ParsedType`:
`{"U64": "ByValue"}`, `{"Utf8Str": "ByRef"}`, `{"Vector": [<type>, "ByValue"]}`, `{"Record": ["Name",
"ByValue"]}`. A function has at most one output type (none means a unit result). Record fields are
`{"Named": [...]}`, `{"Unnamed": [...]}` (fields with `name: null`) or `"Unit"`.

The marine host reads these sections (`parse_interface`); the build writes them from interface.toml
(`ModuleInterface.sections`, byte for byte as serde_json writes them). The SDK version is the ASCII text of the
`__fluence_sdk_version` section. A record may be described more than once (several crates define it); identical
duplicates are merged, conflicting ones are refused. Malformed descriptions raise ModuleLoadError.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from fluence_dao.errors import ModuleLoadError
from fluence_dao.util import wasm_sections
from fluence_dao.util.json_types import JsonObject, JsonValue

SECTION_PREFIX = "__m_generated_section__"
SDK_VERSION_SECTION = "__fluence_sdk_version"
ABI_EXPORTS = ("allocate", "release_objects", "get_result_ptr", "get_result_size", "set_result_ptr", "set_result_size")
"""The functions every Marine module exports besides its own (marine-rs-sdk's allocator and result slots)."""

# Scalar type names as the SDK spells them, with their record/array element size in bytes.
SCALAR_SIZES: dict[str, int] = {
    "Boolean": 1, "I8": 1, "U8": 1, "I16": 2, "U16": 2, "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
STRING_KINDS = ("Utf8String", "Utf8Str")
POINTER_SIZE = 4
RUST_NAMES: dict[str, str] = {
    "Boolean": "bool", "I8": "i8", "I16": "i16", "I32": "i32", "I64": "i64", "U8": "u8", "U16": "u16",
    "U32": "u32", "U64": "u64", "F32": "f32", "F64": "f64", "Utf8String": "String", "Utf8Str": "str",
}  # fmt: skip
"""SDK type name -> Rust spelling (interface.toml and `describe` use the Rust one)."""

MarineValue: TypeAlias = "bool | int | float | str | bytes | Sequence[MarineValue] | Mapping[str, MarineValue]"
"""A Marine value in Python: a scalar, a string, `bytes` (Vec<u8>), a list (a vector) or a dict (a record, by
field name). What the host lifts out of a guest; lowering accepts the same shapes (and a list for a tuple struct)."""


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

    def records(self) -> list[str]:
        """The record names this type uses (the record itself, or the innermost element's)."""
        if self.kind == "Record":
            return [str(self.record)]
        return self.element.records() if self.element is not None else []

    def describe(self) -> str:
        """The Rust spelling, for messages, `module inspect` and interface.toml."""
        if self.kind == "Vector":
            assert self.element is not None
            text = f"Vec<{self.element.describe()}>"
        elif self.kind == "Record":
            text = str(self.record)
        else:
            text = RUST_NAMES[self.kind]
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
    """A named, typed slot: a function argument or a record field (tuple-struct fields are named "0", "1", ...)."""

    name: str
    ty: MType

    def to_json(self, *, named: bool = True) -> JsonObject:
        return {"name": self.name if named else None, "ty": self.ty.to_json()}


RecordField = Argument


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

    def types(self) -> list[MType]:
        """The argument types, then the output type."""
        return [*(a.ty for a in self.arguments), *([self.output] if self.output is not None else [])]

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "arguments": [a.to_json() for a in self.arguments],
            "output_types": [] if self.output is None else [self.output.to_json()],
        }


@dataclass(frozen=True)
class RecordType:
    """A record: fields in declaration order. Its serialized form is the fields packed with no padding.

    `named` is False for a tuple struct (`Unnamed` fields) and for a unit struct (`"Unit"`, no fields)."""

    name: str
    fields: tuple[RecordField, ...]
    named: bool = True

    @property
    def size(self) -> int:
        return sum(f.ty.serialized_size for f in self.fields)

    def describe(self) -> str:
        return f"{self.name} {{ " + ", ".join(f"{f.name}: {f.ty.describe()}" for f in self.fields) + " }"

    def to_json(self) -> JsonObject:
        """The record's section document (`ast_type` Record)."""
        fields: JsonValue = "Unit"
        if self.fields or self.named:
            fields = {"Named" if self.named else "Unnamed": [f.to_json(named=self.named) for f in self.fields]}
        return {"ast_type": "Record", "name": self.name, "fields": fields}


@dataclass(frozen=True)
class ImportSignature:
    """A function the module imports from another module of its service (or from `host`).

    `link_name` is the wasm import name when it differs from the Rust name (`#[link_name]`), else None."""

    namespace: str
    link_name: str | None
    signature: FunctionSignature

    @property
    def name(self) -> str:
        """The wasm import name."""
        return self.link_name or self.signature.name

    def to_json(self) -> JsonObject:
        return {"link_name": self.link_name, "signature": self.signature.to_json()}


@dataclass(frozen=True)
class ExternModule:
    """An `ExternMod` section: the functions imported from one namespace."""

    namespace: str
    imports: tuple[ImportSignature, ...]

    def to_json(self) -> JsonObject:
        return {"ast_type": "ExternMod", "namespace": self.namespace, "imports": [i.to_json() for i in self.imports]}


SectionItem = FunctionSignature | RecordType | ExternModule
"""What one `__m_generated_section__*` document describes."""


@dataclass
class ModuleInterface:
    """Everything the custom sections say about a module (`name` is known when built from interface.toml)."""

    name: str = ""
    functions: dict[str, FunctionSignature] = field(default_factory=dict)
    records: dict[str, RecordType] = field(default_factory=dict)
    imports: dict[tuple[str, str], ImportSignature] = field(default_factory=dict)
    sdk_version: str | None = None
    custom_sections: list[tuple[str, int]] = field(default_factory=list)

    @property
    def exports(self) -> list[str]:
        """Every function the wasm module must export: the ABI plus the described functions."""
        return [*ABI_EXPORTS, *self.functions]

    def record(self, name: str) -> RecordType:
        try:
            return self.records[name]
        except KeyError:
            raise ModuleLoadError(
                f"record type {name!r} is used but not described by any {SECTION_PREFIX}* section",
                record=name,
            ) from None

    def extern_modules(self) -> list[ExternModule]:
        """The imports grouped by namespace, namespaces in order of their first import."""
        grouped: dict[str, list[ImportSignature]] = {}
        for imported in self.imports.values():
            grouped.setdefault(imported.namespace, []).append(imported)
        return [ExternModule(namespace, tuple(items)) for namespace, items in grouped.items()]

    def add(self, item: SectionItem) -> None:
        """Add one section's description (an identical record twice is merged, a different one refused)."""
        if isinstance(item, FunctionSignature):
            self.functions[item.name] = item
        elif isinstance(item, RecordType):
            known = self.records.get(item.name)
            if known is not None and known.fields != item.fields:
                raise ModuleLoadError(f"record {item.name!r} is described twice with different fields")
            self.records[item.name] = item
        else:
            for imported in item.imports:
                self.imports[(item.namespace, imported.name)] = imported

    def items(self) -> list[tuple[str, SectionItem]]:
        """(section name suffix, item) of every description: functions, then records, then extern modules."""
        out: list[tuple[str, SectionItem]] = [(f.name, f) for f in self.functions.values()]
        out += [(r.name, r) for r in self.records.values()]
        out += [(m.namespace, m) for m in self.extern_modules()]
        return out

    def sections(self) -> list[tuple[str, bytes]]:
        """The `__m_generated_section__*` custom sections, as marine-rs-sdk 0.14's macros write them."""
        return [
            (SECTION_PREFIX + name.replace(".", "_"), _json_bytes(section_document(item)))
            for name, item in self.items()
        ]


def section_document(item: SectionItem) -> JsonObject:
    """The JSON document of one section (the inverse of `parse_section`)."""
    if isinstance(item, FunctionSignature):
        return {"ast_type": "Function", "signature": item.to_json()}
    return item.to_json()


def _json_bytes(doc: JsonObject) -> bytes:
    """JSON as serde_json writes it: no spaces, keys in declaration order, UTF-8 unescaped."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- reading ------------------------------------------------------------------------------------------------


def iter_custom_sections(wasm: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (name, payload) of every custom section, in file order; ModuleLoadError for a malformed module."""
    try:
        yield from wasm_sections.iter_custom_sections(wasm)
    except (ValueError, UnicodeDecodeError) as err:
        raise ModuleLoadError(f"not a valid wasm module: {err}") from None


def parse_type(raw: object) -> MType:
    """Parse one SDK `ParsedType` JSON value."""
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ModuleLoadError(f"unknown type description {raw!r}")
    ((kind, value),) = raw.items()
    if kind in SCALAR_SIZES or kind in STRING_KINDS:
        return MType(kind=kind, passing=str(value))
    if kind == "Vector" and _is_pair(value):
        return MType(kind="Vector", passing=str(value[1]), element=parse_type(value[0]))
    if kind == "Record" and _is_pair(value):
        return MType(kind="Record", passing=str(value[1]), record=str(value[0]))
    raise ModuleLoadError(f"unknown type description {raw!r}")


def _is_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2


def _object(raw: object, what: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise ModuleLoadError(f"{what}: expected a JSON object, got {raw!r}")
    return raw


def _list(raw: object, what: str) -> Sequence[object]:
    if not isinstance(raw, list):
        raise ModuleLoadError(f"{what}: expected a JSON list, got {raw!r}")
    return raw


def _argument(raw: object, index: int, what: str, *, positional: bool = False) -> Argument:
    """A named argument or field; `positional` (a tuple struct's field) has `name: null` and is named by index."""
    item = _object(raw, what)
    name = item.get("name")
    if positional and name is None:
        name = str(index)
    if not isinstance(name, str):
        raise ModuleLoadError(f"{what} #{index} has no name: {raw!r}")
    return Argument(name, parse_type(item.get("ty")))


def parse_signature(raw: object) -> FunctionSignature:
    doc = _object(raw, "function signature")
    name = doc.get("name")
    if not isinstance(name, str):
        raise ModuleLoadError(f"function signature without a name: {raw!r}")
    outputs = _list(doc.get("output_types") or [], f"outputs of {name!r}")
    if len(outputs) > 1:
        raise ModuleLoadError(f"function {name!r} has {len(outputs)} outputs; Marine allows one")
    arguments = _list(doc.get("arguments", []), f"arguments of {name!r}")
    return FunctionSignature(
        name=name,
        arguments=tuple(_argument(a, i, f"argument of {name!r}") for i, a in enumerate(arguments)),
        output=parse_type(outputs[0]) if outputs else None,
    )


def parse_record(raw: object) -> RecordType:
    doc = _object(raw, "record")
    name = doc.get("name")
    if not isinstance(name, str):
        raise ModuleLoadError(f"record without a name: {raw!r}")
    fields_raw = doc.get("fields")
    if fields_raw == "Unit":
        return RecordType(name=name, fields=(), named=False)
    if isinstance(fields_raw, Mapping) and len(fields_raw) == 1:
        ((style, items),) = fields_raw.items()
        if style in ("Named", "Unnamed"):
            where = f"field of record {name!r}"
            positional = style == "Unnamed"
            fields = tuple(
                _argument(item, i, where, positional=positional) for i, item in enumerate(_list(items, where))
            )
            return RecordType(name=name, fields=fields, named=style == "Named")
    raise ModuleLoadError(f"unknown record fields description {fields_raw!r} in record {name!r}")


def parse_section(raw: object) -> SectionItem:
    """One `__m_generated_section__*` JSON document -> the function, record or extern module it describes."""
    doc = _object(raw, "section")
    kind = doc.get("ast_type")
    if kind == "Function":
        return parse_signature(doc.get("signature"))
    if kind == "Record":
        return parse_record(doc)
    if kind == "ExternMod":
        namespace = doc.get("namespace")
        if not isinstance(namespace, str):
            raise ModuleLoadError(f"extern module without a namespace: {raw!r}")
        imports: list[ImportSignature] = []
        for item in _list(doc.get("imports", []), f"imports of {namespace!r}"):
            imported = _object(item, f"import of {namespace!r}")
            link_name = imported.get("link_name")
            signature = parse_signature(imported.get("signature"))
            imports.append(ImportSignature(namespace, str(link_name) if link_name else None, signature))
        return ExternModule(namespace, tuple(imports))
    raise ModuleLoadError(f"unknown ast_type {kind!r}")


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
            item = parse_section(json.loads(payload))
        except ValueError as err:  # not JSON
            raise ModuleLoadError(f"custom section {name!r} is not a valid Marine description: {err}") from err
        except ModuleLoadError as err:
            raise ModuleLoadError(
                f"custom section {name!r} is not a valid Marine description: {err.message}", **err.details
            ) from err
        interface.add(item)
    check_records(interface)
    return interface


def check_records(interface: ModuleInterface) -> None:
    """Every record a signature or field names must be described (checked once, at load)."""
    places = [(f"function {sig.name!r}", ty) for sig in interface.functions.values() for ty in sig.types()]
    places += [(f"record {rec.name!r}", f.ty) for rec in interface.records.values() for f in rec.fields]
    for where, ty in places:
        for record in ty.records():
            if record not in interface.records:
                raise ModuleLoadError(
                    f"{where} uses record {record!r}, which no {SECTION_PREFIX}* section describes", record=record
                )


def _sdk_record(name: str, *fields: tuple[str, MType]) -> RecordType:
    return RecordType(name, tuple(Argument(n, t) for n, t in fields))


_STRING, _BYTES = MType("Utf8String"), MType("Vector", element=MType("U8"))
SDK_RECORDS: dict[str, RecordType] = {
    r.name: r
    for r in (
        _sdk_record(
            "CallParameters",
            ("particle", MType("Record", record="ParticleParameters")),
            ("service_id", _STRING),
            ("service_creator_peer_id", _STRING),
            ("host_id", _STRING),
            ("worker_id", _STRING),
            (
                "tetraplets",
                MType("Vector", element=MType("Vector", element=MType("Record", record="SecurityTetraplet"))),
            ),
        ),
        _sdk_record(
            "ParticleParameters",
            ("id", _STRING),
            ("init_peer_id", _STRING),
            ("timestamp", MType("U64")),
            ("ttl", MType("U32")),
            ("script", _STRING),
            ("signature", _BYTES),
            ("token", _STRING),
        ),
        _sdk_record(
            "SecurityTetraplet",
            ("peer_pk", _STRING),
            ("service_id", _STRING),
            ("function_name", _STRING),
            ("lens", _STRING),
        ),
        _sdk_record(
            "MountedBinaryResult",
            ("ret_code", MType("I32")),
            ("error", _STRING),
            ("stdout", _BYTES),
            ("stderr", _BYTES),
        ),
        _sdk_record(
            "MountedBinaryStringResult",
            ("ret_code", MType("I32")),
            ("error", _STRING),
            ("stdout", _STRING),
            ("stderr", _STRING),
        ),
    )
}
"""The records marine-rs-sdk 0.14 defines itself (crates/call-parameters, src/mounted_binary.rs), by name."""


__all__ = [
    "ABI_EXPORTS",
    "POINTER_SIZE",
    "RUST_NAMES",
    "SCALAR_SIZES",
    "SDK_RECORDS",
    "SDK_VERSION_SECTION",
    "SECTION_PREFIX",
    "STRING_KINDS",
    "Argument",
    "ExternModule",
    "FunctionSignature",
    "ImportSignature",
    "MType",
    "MarineValue",
    "ModuleInterface",
    "RecordField",
    "RecordType",
    "SectionItem",
    "check_records",
    "iter_custom_sections",
    "parse_interface",
    "parse_record",
    "parse_section",
    "parse_signature",
    "parse_type",
    "section_document",
]
