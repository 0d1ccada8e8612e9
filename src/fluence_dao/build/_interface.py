"""A module's `interface.toml`: parsing, the marine-rs-sdk JSON sections, and the generated Zig glue.

interface.toml describes what a Zig module exports and imports, with Marine types in Rust spelling:

    [records.Point]                    # a record: fields in order
    x = "i32"
    label = "String"

    [functions.move_point]             # an exported function
    args = { p = "Point", dx = "i32" } # arguments in order (omit for none)
    output = "Point"                   # omit for a unit result

    [imports.host.curl]                # an imported function: namespace, then name
    args = { cmd = "Vec<String>" }
    output = "MountedBinaryResult"

Types: bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, String, &str (arguments only), Vec<T>, and record
names (the module's own, or the sdk's CallParameters, ParticleParameters, SecurityTetraplet,
MountedBinaryResult, MountedBinaryStringResult, which are added when used).

From this the build derives the `--export` list, the `__m_generated_section__<name>` JSON documents exactly as
marine-rs-sdk 0.14's macros serialize them, and two Zig files: the root file with the raw `export fn`
wrappers (see wasm/lib/marine.zig for the memory rules) and the `interface` module with record structs and
typed wrappers of the imports.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluence_dao.errors import BuildError
from fluence_dao.util.json_types import JsonObject

ABI_EXPORTS = ("allocate", "release_objects", "get_result_ptr", "get_result_size", "set_result_ptr", "set_result_size")
SECTION_PREFIX = "__m_generated_section__"

_SCALARS = {
    "bool": "Boolean", "i8": "I8", "i16": "I16", "i32": "I32", "i64": "I64", "u8": "U8", "u16": "U16",
    "u32": "U32", "u64": "U64", "f32": "F32", "f64": "F64",
}  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VEC = re.compile(r"Vec\s*<(.*)>\Z")


@dataclass(frozen=True)
class MarineType:
    """A Marine type: kind is a scalar name, "String", "&str", "Vec" (with `inner`) or "Record" (with `record`)."""

    kind: str
    inner: MarineType | None = None
    record: str | None = None

    def __str__(self) -> str:
        if self.kind == "Vec":
            return f"Vec<{self.inner}>"
        if self.kind == "Record":
            return str(self.record)
        return self.kind

    @property
    def is_scalar(self) -> bool:
        return self.kind in _SCALARS

    def records(self) -> list[str]:
        """Record names used by this type."""
        if self.kind == "Record":
            return [str(self.record)]
        return self.inner.records() if self.inner else []

    def to_json(self) -> JsonObject:
        """The type as marine-rs-sdk's `ParsedType` serializes it."""
        if self.kind in _SCALARS:
            return {_SCALARS[self.kind]: "ByValue"}
        if self.kind == "String":
            return {"Utf8String": "ByValue"}
        if self.kind == "&str":
            return {"Utf8Str": "ByRef"}
        if self.kind == "Vec":
            assert self.inner is not None
            return {"Vector": [self.inner.to_json(), "ByValue"]}
        return {"Record": [self.record, "ByValue"]}

    def zig(self, records_prefix: str = "") -> str:
        """The Zig type of values of this type."""
        if self.kind in _SCALARS:
            return self.kind
        if self.kind in ("String", "&str"):
            return "[]const u8"
        if self.kind == "Vec":
            assert self.inner is not None
            return "[]const " + self.inner.zig(records_prefix)
        return records_prefix + _zig_ident(str(self.record))


def parse_type(text: str, *, where: str) -> MarineType:
    """Parse a Marine type in Rust spelling; `where` names the place for the error message."""
    spelled = text.strip()
    if spelled in _SCALARS or spelled in ("String", "&str"):
        return MarineType(spelled)
    if spelled in ("&String", "str"):
        raise BuildError(f"{where}: type {text!r} is not supported; use String or &str")
    vec = _VEC.match(spelled)
    if vec:
        inner = parse_type(vec.group(1), where=where)
        if inner.kind == "&str":
            raise BuildError(f"{where}: Vec<&str> is not a Marine type; use Vec<String>")
        return MarineType("Vec", inner=inner)
    if _IDENT.match(spelled):
        return MarineType("Record", record=spelled)
    raise BuildError(f"{where}: cannot parse type {text!r}")


@dataclass(frozen=True)
class Argument:
    name: str
    type: MarineType


@dataclass(frozen=True)
class Function:
    name: str
    arguments: tuple[Argument, ...]
    output: MarineType | None
    link_name: str | None = None

    def signature_json(self) -> JsonObject:
        return {
            "name": self.name,
            "arguments": [{"name": a.name, "ty": a.type.to_json()} for a in self.arguments],
            "output_types": [self.output.to_json()] if self.output else [],
        }


@dataclass(frozen=True)
class Record:
    name: str
    fields: tuple[Argument, ...]

    def to_json(self) -> JsonObject:
        return {
            "ast_type": "Record",
            "name": self.name,
            "fields": {"Named": [{"name": f.name, "ty": f.type.to_json()} for f in self.fields]},
        }


def _builtin(name: str, fields: list[tuple[str, str]]) -> Record:
    return Record(name, tuple(Argument(n, parse_type(t, where=name)) for n, t in fields))


# The records marine-rs-sdk 0.14 defines itself (crates/call-parameters, src/mounted_binary.rs).
BUILTIN_RECORDS: dict[str, Record] = {
    r.name: r
    for r in (
        _builtin(
            "CallParameters",
            [
                ("particle", "ParticleParameters"),
                ("service_id", "String"),
                ("service_creator_peer_id", "String"),
                ("host_id", "String"),
                ("worker_id", "String"),
                ("tetraplets", "Vec<Vec<SecurityTetraplet>>"),
            ],
        ),
        _builtin(
            "ParticleParameters",
            [
                ("id", "String"),
                ("init_peer_id", "String"),
                ("timestamp", "u64"),
                ("ttl", "u32"),
                ("script", "String"),
                ("signature", "Vec<u8>"),
                ("token", "String"),
            ],
        ),
        _builtin(
            "SecurityTetraplet",
            [("peer_pk", "String"), ("service_id", "String"), ("function_name", "String"), ("lens", "String")],
        ),
        _builtin(
            "MountedBinaryResult",
            [("ret_code", "i32"), ("error", "String"), ("stdout", "Vec<u8>"), ("stderr", "Vec<u8>")],
        ),
        _builtin(
            "MountedBinaryStringResult",
            [("ret_code", "i32"), ("error", "String"), ("stdout", "String"), ("stderr", "String")],
        ),
    )
}


@dataclass
class ModuleInterface:
    """What interface.toml says: the module's records, exported functions and imports."""

    name: str
    records: list[Record] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    imports: dict[str, list[Function]] = field(default_factory=dict)

    @property
    def exports(self) -> list[str]:
        """Every function the wasm module must export: the ABI plus the described functions."""
        return [*ABI_EXPORTS, *(f.name for f in self.functions)]

    def all_records(self) -> list[Record]:
        """The module's records followed by the sdk records it uses (directly or through other records)."""
        own = {r.name for r in self.records}
        used: list[str] = []

        def visit(name: str) -> None:
            if name in own or name in used:
                return
            used.append(name)
            for f in BUILTIN_RECORDS[name].fields:
                for inner in f.type.records():
                    visit(inner)

        types = [a.type for fn in self._all_functions() for a in fn.arguments]
        types += [fn.output for fn in self._all_functions() if fn.output]
        types += [f.type for r in self.records for f in r.fields]
        for ty in types:
            for name in ty.records():
                visit(name)
        return [*self.records, *(BUILTIN_RECORDS[n] for n in used)]

    def _all_functions(self) -> list[Function]:
        return [*self.functions, *(f for fns in self.imports.values() for f in fns)]

    def sections(self) -> list[tuple[str, bytes]]:
        """The `__m_generated_section__*` custom sections: functions, then records, then imports."""
        docs: list[tuple[str, JsonObject]] = []
        for fn in self.functions:
            docs.append((fn.name, {"ast_type": "Function", "signature": fn.signature_json()}))
        for record in self.all_records():
            docs.append((record.name, record.to_json()))
        for namespace, functions in self.imports.items():
            imports = [{"link_name": f.link_name, "signature": f.signature_json()} for f in functions]
            docs.append((namespace, {"ast_type": "ExternMod", "namespace": namespace, "imports": imports}))
        return [(SECTION_PREFIX + name.replace(".", "_"), _json_bytes(doc)) for name, doc in docs]


def _json_bytes(doc: JsonObject) -> bytes:
    """JSON as serde_json writes it: no spaces, keys in declaration order, UTF-8 unescaped."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- parsing -----------------------------------------------------------------------------------------------


def load_interface(path: Path, name: str | None = None) -> ModuleInterface:
    """Read and validate a module's interface.toml (the module name defaults to its directory name)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise BuildError(f"{path}: no interface file", path=str(path)) from err
    except tomllib.TOMLDecodeError as err:
        raise BuildError(f"{path}: invalid TOML: {err}", path=str(path)) from err
    return parse_interface(data, name or path.parent.name, where=str(path))


def parse_interface(data: JsonObject, name: str, *, where: str = "interface.toml") -> ModuleInterface:
    unknown = set(data) - {"records", "functions", "imports"}
    if unknown:
        raise BuildError(f"{where}: unknown top-level keys {sorted(unknown)} (expected records, functions, imports)")
    interface = ModuleInterface(name)
    for record_name, fields in _table(data.get("records", {}), f"{where}: [records]").items():
        here = f"{where}: record {record_name}"
        _check_name(record_name, here)
        if record_name in BUILTIN_RECORDS:
            raise BuildError(f"{here}: {record_name} is defined by the sdk; use it without defining it")
        fields = _table(fields, here)
        if not fields:
            raise BuildError(f"{here}: a record needs at least one field")
        interface.records.append(Record(record_name, _arguments(fields, here, allow_str=False)))
    for fn_name, spec in _table(data.get("functions", {}), f"{where}: [functions]").items():
        interface.functions.append(_function(fn_name, spec, f"{where}: function {fn_name}"))
    for namespace, functions in _table(data.get("imports", {}), f"{where}: [imports]").items():
        _check_name(namespace, f"{where}: import namespace")
        interface.imports[namespace] = [
            _function(fn_name, spec, f"{where}: import {namespace}.{fn_name}", allow_link_name=True)
            for fn_name, spec in _table(functions, f"{where}: [imports.{namespace}]").items()
        ]
    _check_records(interface, where)
    reserved = set(ABI_EXPORTS) | {"memory", "_start", "_initialize"}
    clashing = sorted(f.name for f in interface.functions if f.name in reserved)
    if clashing:
        raise BuildError(
            f"{where}: {', '.join(clashing)}: a function may not be named like an ABI export "
            f"({', '.join(sorted(reserved))})"
        )
    return interface


def _table(value: Any, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise BuildError(f"{where}: expected a table, got {value!r}")
    return value


def _check_name(name: str, where: str) -> None:
    if not _IDENT.match(name):
        raise BuildError(f"{where}: {name!r} is not a valid name (letters, digits, _)")


def _arguments(spec: JsonObject, where: str, *, allow_str: bool) -> tuple[Argument, ...]:
    out = []
    for arg_name, type_text in spec.items():
        _check_name(arg_name, where)
        if not isinstance(type_text, str):
            raise BuildError(f"{where}: the type of {arg_name!r} must be a string, got {type_text!r}")
        ty = parse_type(type_text, where=f"{where}, {arg_name}")
        if ty.kind == "&str" and not allow_str:
            raise BuildError(f"{where}, {arg_name}: &str is allowed for arguments only; use String")
        out.append(Argument(arg_name, ty))
    return tuple(out)


def _function(name: str, spec: Any, where: str, *, allow_link_name: bool = False) -> Function:
    _check_name(name, where)
    spec = _table(spec, where)
    allowed = {"args", "output"} | ({"link_name"} if allow_link_name else set())
    unknown = set(spec) - allowed
    if unknown:
        raise BuildError(f"{where}: unknown keys {sorted(unknown)} (expected {', '.join(sorted(allowed))})")
    arguments = _arguments(_table(spec.get("args", {}), where), where, allow_str=True)
    output = None
    if "output" in spec:
        if not isinstance(spec["output"], str):
            raise BuildError(f"{where}: output must be a type string, got {spec['output']!r}")
        output = parse_type(spec["output"], where=f"{where}, output")
        if output.kind == "&str":
            raise BuildError(f"{where}: a function cannot return &str; return String")
    link_name = spec.get("link_name")
    if link_name is not None and not isinstance(link_name, str):
        raise BuildError(f"{where}: link_name must be a string")
    return Function(name, arguments, output, link_name)


def _check_records(interface: ModuleInterface, where: str) -> None:
    known = {r.name for r in interface.records} | set(BUILTIN_RECORDS)
    places: list[tuple[str, MarineType]] = []
    for fn in interface.functions:
        places += [(f"function {fn.name}, {a.name}", a.type) for a in fn.arguments]
        places += [(f"function {fn.name}, output", fn.output)] if fn.output else []
    for namespace, functions in interface.imports.items():
        for fn in functions:
            places += [(f"import {namespace}.{fn.name}, {a.name}", a.type) for a in fn.arguments]
            places += [(f"import {namespace}.{fn.name}, output", fn.output)] if fn.output else []
    for record in interface.records:
        places += [(f"record {record.name}, {f.name}", f.type) for f in record.fields]
    for place, ty in places:
        for name in ty.records():
            if name not in known:
                raise BuildError(f"{where}: {place}: unknown type {name!r} (not a Marine type or a described record)")


# --- Zig glue ----------------------------------------------------------------------------------------------


def _zig_ident(name: str) -> str:
    return f'@"{name}"'


def _raw_params(ty: MarineType) -> list[str]:
    """The wasm parameter types carrying one argument of type `ty` (as Zig types)."""
    if ty.is_scalar:
        return [f"marine.Raw({ty.kind})"]
    if ty.kind == "Record":
        return ["u32"]
    return ["u32", "u32"]


def _lift_expr(ty: MarineType, raw: list[str], prefix: str) -> str:
    if ty.is_scalar:
        return f"marine.fromRaw({ty.kind}, {raw[0]})"
    if ty.kind == "Record":
        return f"marine.liftRecord({ty.zig(prefix)}, {raw[0]})"
    return f"marine.liftSlice({ty.zig(prefix)}, {raw[0]}, {raw[1]})"


def root_zig(interface: ModuleInterface, source_label: str) -> str:
    """The root source file: the exported wrappers around the module's `pub fn`s."""
    lines = [
        f"// Generated by `fluence-dao build` from {source_label}. Do not edit.",
        'const marine = @import("marine");',
        'const iface = @import("interface");',
        'const impl = @import("impl");',
        "",
        "pub const panic = marine.panic;",
        "",
        "comptime {",
        "    _ = marine.abi_exports;",
    ]
    for fn in interface.functions:
        lines.append(
            f'    if (!@hasDecl(impl, "{fn.name}")) @compileError("{source_label} describes `{fn.name}` '
            f'but main.zig has no `pub fn {fn.name}`");'
        )
    lines += ["}", ""]
    for fn in interface.functions:
        params: list[str] = []
        lifted: list[str] = []
        for arg in fn.arguments:
            raw_names = []
            for raw_type in _raw_params(arg.type):
                raw_names.append(f"a{len(params)}")
                params.append(f"{raw_names[-1]}: {raw_type}")
            lifted.append(_lift_expr(arg.type, raw_names, "iface."))
        out = fn.output
        ret = f"marine.Raw({out.kind})" if out and out.is_scalar else "void"
        result_type = out.zig("iface.") if out else "void"
        call = f'marine.unwrap({result_type}, "{fn.name}", impl.{_zig_ident(fn.name)}({", ".join(lifted)}))'
        lines.append(f"export fn {_zig_ident(fn.name)}({', '.join(params)}) {ret} {{")
        lines += ["    marine.beginCall();", "    defer marine.endCall();"]
        if out is None:
            lines.append(f"    {call};")
        else:
            lines.append(f"    const result: {result_type} = {call};")
            if out.is_scalar:
                lines.append(f"    return marine.toRaw({out.kind}, result);")
            elif out.kind == "Record":
                lines.append(f"    marine.returnRecord({result_type}, result);")
            else:
                lines.append(f"    marine.returnSlice({result_type}, result);")
        lines += ["}", ""]
    return "\n".join(lines)


def interface_zig(interface: ModuleInterface, source_label: str) -> str:
    """The `interface` module: record structs and typed wrappers of imported functions."""
    lines = [
        f"// Generated by `fluence-dao build` from {source_label}. Do not edit.",
        'const marine = @import("marine");',
        "",
    ]
    for record in interface.all_records():
        if record.name in BUILTIN_RECORDS:
            lines.append(f"pub const {_zig_ident(record.name)} = marine.{record.name};")
            continue
        lines.append(f"pub const {_zig_ident(record.name)} = struct {{")
        lines += [f"    {_zig_ident(f.name)}: {f.type.zig()}," for f in record.fields]
        lines.append("};")
    for namespace, functions in interface.imports.items():
        lines += ["", f"pub const {_zig_ident(namespace)} = struct {{", "    const raw = struct {"]
        for fn in functions:
            raw_params = [p for a in fn.arguments for p in _raw_params(a.type)]
            params = ", ".join(f"p{i}: {t}" for i, t in enumerate(raw_params))
            ret = f"marine.Raw({fn.output.kind})" if fn.output and fn.output.is_scalar else "void"
            link = fn.link_name or fn.name
            lines.append(f'        extern "{namespace}" fn {_zig_ident(link)}({params}) {ret};')
        lines.append("    };")
        for fn in functions:
            link = fn.link_name or fn.name
            typed = ", ".join(f"{_zig_ident(a.name)}: {a.type.zig()}" for a in fn.arguments)
            out = fn.output
            lines.append(f"    pub fn {_zig_ident(fn.name)}({typed}) {out.zig() if out else 'void'} {{")
            raw_args: list[str] = []
            for i, arg in enumerate(fn.arguments):
                value = _zig_ident(arg.name)
                if arg.type.is_scalar:
                    raw_args.append(f"marine.toRaw({arg.type.kind}, {value})")
                elif arg.type.kind == "Record":
                    raw_args.append(f"marine.lowerRecord({arg.type.zig()}, {value})")
                else:
                    lines.append(f"        const r{i} = marine.lowerSlice({arg.type.zig()}, {value});")
                    raw_args += [f"r{i}.ptr", f"r{i}.len"]
            call = f"raw.{_zig_ident(link)}({', '.join(raw_args)})"
            if out is None:
                lines.append(f"        {call};")
            elif out.is_scalar:
                lines.append(f"        return marine.fromRaw({out.kind}, {call});")
            else:
                lines.append(f"        {call};")
                lift = "liftResultRecord" if out.kind == "Record" else "liftResultSlice"
                lines.append(f"        return marine.{lift}({out.zig()});")
            lines.append("    }")
        lines.append("};")
    lines.append("")
    return "\n".join(lines)
