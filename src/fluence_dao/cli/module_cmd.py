"""`fluence-dao module ...`: look into a Marine module and call its functions from the shell.

Byte vectors (`Vec<u8>`) travel as hex strings with a `0x` prefix both ways (a JSON list of ints is
accepted too); everything else maps to JSON directly (records are objects, vectors arrays). wasmtime is
imported inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import console
from fluence_dao.cli._options import JsonOption
from fluence_dao.errors import MarineError, ModuleLoadError
from fluence_dao.util.json_types import JsonArray, JsonObject, JsonValue

if TYPE_CHECKING:
    from fluence_dao.marine import MarineModule, MarineValue, ModuleDescription, MType, RecordType

app = typer.Typer(help="Marine modules: inspect their interface, call their functions.", no_args_is_help=True)

FileArgument = Annotated[
    Path, typer.Argument(help="A Marine module (.wasm, or .wat text).", exists=True, dir_okay=False, readable=True)
]


@app.command("inspect")
def inspect(file: FileArgument, json_output: JsonOption = False) -> None:
    """Show a module's functions, records, SDK version, imports, exports and custom sections."""
    from fluence_dao.marine import describe_module  # lazy: wasmtime costs ~150 ms of CLI start-up

    with _naming(file):
        report = describe_module(file)
    console.emit(report, _inspect_text(report))


@contextmanager
def _naming(file: Path) -> Iterator[None]:
    """Load errors name the file given on the command line (the loader knows only a module name)."""
    head = file.read_bytes()[:4]
    if head != b"\0asm":
        try:
            file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ModuleLoadError(
                f"{file} is neither a wasm binary (it does not start with \\0asm) nor WAT text", path=str(file)
            ) from None
    try:
        yield
    except MarineError as err:
        if str(file) in err.message:
            raise
        raise type(err)(f"{file}: {err.message}", **{**err.details, "path": str(file)}) from err


def _inspect_text(report: ModuleDescription) -> str:
    lines = [f"sdk version: {report['sdk_version'] or 'unknown (no __fluence_sdk_version section)'}", "functions:"]
    lines += [f"  {sig}" for sig in report["functions"].values()] or ["  (none described)"]
    lines.append("records:")
    for name, record in report["records"].items():
        fields = ", ".join(f"{field}: {ty}" for field, ty in record["fields"].items())
        lines.append(f"  {name} {{ {fields} }}  ({record['size']} bytes)")
    lines.append("imports:")
    lines += [f"  {item}" for item in report["imports"]] or ["  (none)"]
    if report["undescribed_exports"]:
        lines.append(f"exports without a description: {', '.join(report['undescribed_exports'])}")
    if report["missing_abi_exports"]:
        lines.append(f"NOT a Marine module, missing: {', '.join(report['missing_abi_exports'])}")
    lines.append("custom sections:")
    lines += [f"  {s['name']:<48} {s['size']:>9} bytes" for s in report["custom_sections"]]
    return "\n".join(lines)


@app.command("call")
def call(
    file: FileArgument,
    function: Annotated[str, typer.Argument(help="The exported function to call.")],
    args_json: Annotated[
        str, typer.Argument(metavar="[ARGS_JSON]", help="Arguments: a JSON array in order, or an object by name.")
    ] = "[]",
    call_params: Annotated[
        str | None,
        typer.Option("--call-params", help='Call parameters as JSON, e.g. \'{"host_id": "12D3KooW..."}\'.'),
    ] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="WASI env var NAME=VALUE (repeatable).")] = None,
    mount: Annotated[
        list[str] | None, typer.Option("--mount", help="Allow a mounted binary NAME=/abs/path (repeatable).")
    ] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Execution bound of the call in seconds.")] = 10.0,
    then: Annotated[
        list[str] | None,
        typer.Option(
            "--then",
            help="Another call on the same module instance after the first, 'FUNCTION [ARGS_JSON]' (repeatable, "
            "in order; e.g. --then address after initiate). Prints every call's result.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Call FUNCTION of a module with JSON arguments and print the result."""
    raw_args = _json_args(args_json, "ARGS_JSON")
    calls = [(function, raw_args)]
    for item in then or []:
        name, _, rest = item.strip().partition(" ")
        if not name:
            raise typer.BadParameter("expected 'FUNCTION [ARGS_JSON]'", param_hint="--then")
        calls.append((name, _json_args(rest.strip() or "[]", "--then")))
    raw_params: JsonObject | None = None
    if call_params is not None:
        try:
            parsed = json.loads(call_params)
        except json.JSONDecodeError as err:
            raise typer.BadParameter(f"not JSON: {err}", param_hint="--call-params") from err
        if not isinstance(parsed, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--call-params")
        raw_params = parsed

    from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig  # lazy: wasmtime, as above

    config = ModuleConfig(
        name=file.stem,
        envs=_pairs(env, "--env"),
        mounted_binaries=_pairs(mount, "--mount"),
        max_call_seconds=timeout_s,
    )
    with _naming(file):
        module = MarineModule.load(file, config)
    params = CallParameters.from_dict(raw_params) if raw_params is not None else None
    if len(calls) > 1:
        results = [
            {"function": name, "result": _to_json(module.call(name, _args(module, name, raw), call_parameters=params))}
            for name, raw in calls
        ]
        lines = [f"{r['function']}: {json.dumps(r['result'], ensure_ascii=False)}" for r in results]
        console.emit(results, "\n".join(lines))
        return
    args = _args(module, function, raw_args)
    result = _to_json(module.call(function, args, call_parameters=params))
    text = result if isinstance(result, str) else json.dumps(result, indent=2, ensure_ascii=False)
    console.emit(result, text)


def _json_args(text: str, hint: str) -> JsonArray | JsonObject:
    try:
        raw_args = json.loads(text)
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"{hint} is not JSON: {err}", param_hint=hint) from err
    if not isinstance(raw_args, list | dict):
        raise typer.BadParameter(f"{hint} must be a JSON array or object", param_hint=hint)
    parsed: JsonArray | JsonObject = raw_args
    return parsed


def _args(module: MarineModule, function: str, raw_args: JsonArray | JsonObject) -> list[object] | dict[str, object]:
    """JSON arguments -> the values the host expects for `function` (hex strings become bytes for Vec<u8>)."""
    sig = module.signature(function)
    names = [a.name for a in sig.arguments]
    if isinstance(raw_args, dict):
        args: list[object] | dict[str, object] = {
            k: _from_json(sig.arguments[names.index(k)].ty, v, module.resolve_record) if k in names else v
            for k, v in raw_args.items()
        }
    else:
        pairs = zip(sig.arguments, raw_args, strict=False)
        converted = [_from_json(arg.ty, value, module.resolve_record) for arg, value in pairs]
        args = [*converted, *raw_args[len(converted) :]]  # extra arguments: the host reports the count
    return args


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        out[name] = value
    return out


def _from_json(ty: MType, value: JsonValue, records: Callable[[str], RecordType]) -> object:
    """JSON -> the Python value the host expects: hex strings become bytes where the type is Vec<u8>."""
    if ty.is_bytes and isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError as err:
            raise typer.BadParameter(f"Vec<u8> value {value[:40]!r} is not hex: {err}") from err
    if ty.kind == "Vector" and ty.element is not None and isinstance(value, list):
        return [_from_json(ty.element, v, records) for v in value]
    if ty.kind == "Record" and isinstance(value, dict):
        record = records(str(ty.record))
        types = {f.name: f.ty for f in record.fields}
        return {k: _from_json(types[k], v, records) if k in types else v for k, v in value.items()}
    return value


def _to_json(value: MarineValue | None) -> JsonValue:
    """A lifted value as JSON: bytes become 0x-hex, records objects, vectors arrays."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return [_to_json(v) for v in value]
