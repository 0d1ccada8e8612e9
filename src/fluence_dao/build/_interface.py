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

import re
import tomllib
from pathlib import Path

from fluence_dao.errors import BuildError
from fluence_dao.util.json_types import JsonObject, JsonValue
from fluence_dao.util.marine_interface import (
    ABI_EXPORTS,
    RUST_NAMES,
    SCALAR_SIZES,
    SDK_RECORDS,
    Argument,
    FunctionSignature,
    ImportSignature,
    ModuleInterface,
    MType,
    RecordType,
)

_FROM_RUST = {rust: kind for kind, rust in RUST_NAMES.items() if kind in SCALAR_SIZES}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VEC = re.compile(r"Vec\s*<(.*)>\Z")


def parse_rust_type(text: str, *, where: str) -> MType:
    """Parse a Marine type in Rust spelling (`u64`, `String`, `&str`, `Vec<T>`, a record name); `where` names the
    place for the error message."""
    spelled = text.strip()
    if spelled in _FROM_RUST:
        return MType(_FROM_RUST[spelled])
    if spelled == "String":
        return MType("Utf8String")
    if spelled == "&str":
        return MType("Utf8Str", passing="ByRef")
    if spelled in ("&String", "str"):
        raise BuildError(f"{where}: type {text!r} is not supported; use String or &str")
    vec = _VEC.match(spelled)
    if vec:
        inner = parse_rust_type(vec.group(1), where=where)
        if inner.kind == "Utf8Str":
            raise BuildError(f"{where}: Vec<&str> is not a Marine type; use Vec<String>")
        return MType("Vector", element=inner)
    if _IDENT.match(spelled):
        return MType("Record", record=spelled)
    raise BuildError(f"{where}: cannot parse type {text!r}")


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
    """interface.toml's tables -> the module's interface; its records are the module's own, then the sdk records
    it uses (directly or through other records), in the order the sections describe them."""
    unknown = set(data) - {"records", "functions", "imports"}
    if unknown:
        raise BuildError(f"{where}: unknown top-level keys {sorted(unknown)} (expected records, functions, imports)")
    interface = ModuleInterface(name)
    for record_name, fields in _table(data.get("records", {}), f"{where}: [records]").items():
        here = f"{where}: record {record_name}"
        _check_name(record_name, here)
        if record_name in SDK_RECORDS:
            raise BuildError(f"{here}: {record_name} is defined by the sdk; use it without defining it")
        fields = _table(fields, here)
        if not fields:
            raise BuildError(f"{here}: a record needs at least one field")
        interface.records[record_name] = RecordType(record_name, _arguments(fields, here, allow_str=False))
    for fn_name, spec in _table(data.get("functions", {}), f"{where}: [functions]").items():
        interface.functions[fn_name] = _function(fn_name, spec, f"{where}: function {fn_name}")[0]
    for namespace, functions in _table(data.get("imports", {}), f"{where}: [imports]").items():
        _check_name(namespace, f"{where}: import namespace")
        for fn_name, spec in _table(functions, f"{where}: [imports.{namespace}]").items():
            here = f"{where}: import {namespace}.{fn_name}"
            signature, link_name = _function(fn_name, spec, here, allow_link_name=True)
            imported = ImportSignature(namespace, link_name, signature)
            if (namespace, imported.name) in interface.imports:
                raise BuildError(f"{here}: {namespace}.{imported.name} is imported twice; give one a link_name")
            interface.imports[(namespace, imported.name)] = imported
    _check_records(interface, where)
    for record_name in _sdk_records_used(interface):
        interface.records[record_name] = SDK_RECORDS[record_name]
    reserved = set(ABI_EXPORTS) | {"memory", "_start", "_initialize"}
    clashing = sorted(f for f in interface.functions if f in reserved)
    if clashing:
        raise BuildError(
            f"{where}: {', '.join(clashing)}: a function may not be named like an ABI export "
            f"({', '.join(sorted(reserved))})"
        )
    return interface


def _all_signatures(interface: ModuleInterface) -> list[FunctionSignature]:
    return [*interface.functions.values(), *(i.signature for i in interface.imports.values())]


def _sdk_records_used(interface: ModuleInterface) -> list[str]:
    """The sdk records the interface uses, directly or through other records, in first-use order."""
    used: list[str] = []

    def visit(name: str) -> None:
        if name in interface.records or name in used:
            return
        used.append(name)
        for f in SDK_RECORDS[name].fields:
            for inner in f.ty.records():
                visit(inner)

    signatures = _all_signatures(interface)
    types = [a.ty for fn in signatures for a in fn.arguments]
    types += [fn.output for fn in signatures if fn.output]
    types += [f.ty for r in interface.records.values() for f in r.fields]
    for ty in types:
        for name in ty.records():
            visit(name)
    return used


def _table(value: JsonValue, where: str) -> JsonObject:
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
        ty = parse_rust_type(type_text, where=f"{where}, {arg_name}")
        if ty.kind == "Utf8Str" and not allow_str:
            raise BuildError(f"{where}, {arg_name}: &str is allowed for arguments only; use String")
        out.append(Argument(arg_name, ty))
    return tuple(out)


def _function(
    name: str, spec: JsonValue, where: str, *, allow_link_name: bool = False
) -> tuple[FunctionSignature, str | None]:
    """A function's table -> (its signature, its link_name or None)."""
    _check_name(name, where)
    table = _table(spec, where)
    allowed = {"args", "output"} | ({"link_name"} if allow_link_name else set())
    unknown = set(table) - allowed
    if unknown:
        raise BuildError(f"{where}: unknown keys {sorted(unknown)} (expected {', '.join(sorted(allowed))})")
    arguments = _arguments(_table(table.get("args", {}), where), where, allow_str=True)
    output = None
    if "output" in table:
        spelled = table["output"]
        if not isinstance(spelled, str):
            raise BuildError(f"{where}: output must be a type string, got {spelled!r}")
        output = parse_rust_type(spelled, where=f"{where}, output")
        if output.kind == "Utf8Str":
            raise BuildError(f"{where}: a function cannot return &str; return String")
    link_name = table.get("link_name")
    if link_name is not None and not isinstance(link_name, str):
        raise BuildError(f"{where}: link_name must be a string")
    return FunctionSignature(name, arguments, output), link_name


def _check_records(interface: ModuleInterface, where: str) -> None:
    known = set(interface.records) | set(SDK_RECORDS)
    places: list[tuple[str, MType]] = []
    for fn in interface.functions.values():
        places += [(f"function {fn.name}, {a.name}", a.ty) for a in fn.arguments]
        places += [(f"function {fn.name}, output", fn.output)] if fn.output else []
    for imported in interface.imports.values():
        fn, here = imported.signature, f"import {imported.namespace}.{imported.signature.name}"
        places += [(f"{here}, {a.name}", a.ty) for a in fn.arguments]
        places += [(f"{here}, output", fn.output)] if fn.output else []
    for record in interface.records.values():
        places += [(f"record {record.name}, {f.name}", f.ty) for f in record.fields]
    for place, ty in places:
        for name in ty.records():
            if name not in known:
                raise BuildError(f"{where}: {place}: unknown type {name!r} (not a Marine type or a described record)")


# --- Zig glue ----------------------------------------------------------------------------------------------


def _zig_ident(name: str) -> str:
    return f'@"{name}"'


def _rust(ty: MType) -> str:
    """A scalar type's Rust (and Zig) name."""
    return RUST_NAMES[ty.kind]


def _zig(ty: MType, records_prefix: str = "") -> str:
    """The Zig type of values of this type."""
    if ty.is_scalar:
        return _rust(ty)
    if ty.is_string:
        return "[]const u8"
    if ty.element is not None:
        return "[]const " + _zig(ty.element, records_prefix)
    return records_prefix + _zig_ident(str(ty.record))


def _raw_params(ty: MType) -> list[str]:
    """The wasm parameter types carrying one argument of type `ty` (as Zig types)."""
    if ty.is_scalar:
        return [f"marine.Raw({_rust(ty)})"]
    if ty.kind == "Record":
        return ["u32"]
    return ["u32", "u32"]


def _lift_expr(ty: MType, raw: list[str], prefix: str) -> str:
    if ty.is_scalar:
        return f"marine.fromRaw({_rust(ty)}, {raw[0]})"
    if ty.kind == "Record":
        return f"marine.liftRecord({_zig(ty, prefix)}, {raw[0]})"
    return f"marine.liftSlice({_zig(ty, prefix)}, {raw[0]}, {raw[1]})"


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
    for fn in interface.functions.values():
        lines.append(
            f'    if (!@hasDecl(impl, "{fn.name}")) @compileError("{source_label} describes `{fn.name}` '
            f'but main.zig has no `pub fn {fn.name}`");'
        )
    lines += ["}", ""]
    for fn in interface.functions.values():
        params: list[str] = []
        lifted: list[str] = []
        for arg in fn.arguments:
            raw_names = []
            for raw_type in _raw_params(arg.ty):
                raw_names.append(f"a{len(params)}")
                params.append(f"{raw_names[-1]}: {raw_type}")
            lifted.append(_lift_expr(arg.ty, raw_names, "iface."))
        out = fn.output
        ret = f"marine.Raw({_rust(out)})" if out and out.is_scalar else "void"
        result_type = _zig(out, "iface.") if out else "void"
        call = f'marine.unwrap({result_type}, "{fn.name}", impl.{_zig_ident(fn.name)}({", ".join(lifted)}))'
        lines.append(f"export fn {_zig_ident(fn.name)}({', '.join(params)}) {ret} {{")
        lines += ["    marine.beginCall();", "    defer marine.endCall();"]
        if out is None:
            lines.append(f"    {call};")
        else:
            lines.append(f"    const result: {result_type} = {call};")
            if out.is_scalar:
                lines.append(f"    return marine.toRaw({_rust(out)}, result);")
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
    for record in interface.records.values():
        if record.name in SDK_RECORDS:
            lines.append(f"pub const {_zig_ident(record.name)} = marine.{record.name};")
            continue
        lines.append(f"pub const {_zig_ident(record.name)} = struct {{")
        lines += [f"    {_zig_ident(f.name)}: {_zig(f.ty)}," for f in record.fields]
        lines.append("};")
    for extern in interface.extern_modules():
        namespace = extern.namespace
        lines += ["", f"pub const {_zig_ident(namespace)} = struct {{", "    const raw = struct {"]
        for imported in extern.imports:
            fn = imported.signature
            raw_params = [p for a in fn.arguments for p in _raw_params(a.ty)]
            params = ", ".join(f"p{i}: {t}" for i, t in enumerate(raw_params))
            ret = f"marine.Raw({_rust(fn.output)})" if fn.output and fn.output.is_scalar else "void"
            lines.append(f'        extern "{namespace}" fn {_zig_ident(imported.name)}({params}) {ret};')
        lines.append("    };")
        for imported in extern.imports:
            fn, link = imported.signature, imported.name
            typed = ", ".join(f"{_zig_ident(a.name)}: {_zig(a.ty)}" for a in fn.arguments)
            out = fn.output
            lines.append(f"    pub fn {_zig_ident(fn.name)}({typed}) {_zig(out) if out else 'void'} {{")
            raw_args: list[str] = []
            for i, arg in enumerate(fn.arguments):
                value = _zig_ident(arg.name)
                if arg.ty.is_scalar:
                    raw_args.append(f"marine.toRaw({_rust(arg.ty)}, {value})")
                elif arg.ty.kind == "Record":
                    raw_args.append(f"marine.lowerRecord({_zig(arg.ty)}, {value})")
                else:
                    lines.append(f"        const r{i} = marine.lowerSlice({_zig(arg.ty)}, {value});")
                    raw_args += [f"r{i}.ptr", f"r{i}.len"]
            call = f"raw.{_zig_ident(link)}({', '.join(raw_args)})"
            if out is None:
                lines.append(f"        {call};")
            elif out.is_scalar:
                lines.append(f"        return marine.fromRaw({_rust(out)}, {call});")
            else:
                lines.append(f"        {call};")
                lift = "liftResultRecord" if out.kind == "Record" else "liftResultSlice"
                lines.append(f"        return marine.{lift}({_zig(out)});")
            lines.append("    }")
        lines.append("};")
    lines.append("")
    return "\n".join(lines)
