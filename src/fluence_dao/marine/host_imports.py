"""Host functions a Marine module can import: logger, call parameters, mounted binaries.

Namespaces, as marine defines them (core/src/config.rs `HostAPIVersion`): `host` (v0, marine-rs-sdk up to
0.10), `__marine_host_api_v1`, `__marine_host_api_v2`, `__marine_host_api_v3` (sdk 0.14). Each namespace
offers the same names:

- `log_utf8_string(level: i32, target: i32, msg_ptr: i32, msg_len: i32)`: level 1 error, 2 warn, 3 info,
  4 debug, 5 trace; the message is read from guest memory and logged on `fluence_dao.marine.guest.<name>`.
- `get_call_parameters()`: no parameters, no results. The host lowers the CallParameters record of that
  version into guest memory (through the guest's `allocate`) and calls the guest's
  `set_result_ptr(record_ptr)`; the guest then reads `get_result_ptr()` and deserializes the record
  (marine `host_imports/call_parameters.rs` + core `lower_outputs`, marine-rs-sdk
  `crates/call-parameters`; its Rust function is named `get_call_raw_parameters`, the wasm import name is
  `get_call_parameters`). Layouts per version are in `CallParameters.for_host_api`.
- `<name>(args: Vec<String>) -> MountedBinaryResult` for each mounted binary the config allows: raw
  `(args_ptr: i32, args_count: i32)`, result lowered and handed over with `set_result_ptr`. The config maps
  the name to an absolute path (a process is run) or to a HostBinary, a Python object the host implements
  (e.g. the peer's HTTP effector mounted as `curl`): it is called with the arguments instead.

Every other import in these namespaces makes the module fail to load, as in Marine (a link error there).
A mounted binary the config does not allow fails at load with MountedBinaryError (Marine and nox link
only the configured binaries, so such a module cannot be instantiated there either); failures while
running an allowed binary are returned to the guest in `ret_code`/`error` with nox's codes: 100000
killed by a signal, 100001 could not start, 100002..100004 bad arguments, and ours 100005 timed out.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from fluence_dao.errors import ModuleLoadError, MountedBinaryError
from fluence_dao.marine._abi import (
    GuestMemory,
    HostFunction,
    Lifter,
    Lowerer,
    RecordResolver,
    WasmResult,
    WasmValue,
    raw_signature,
)
from fluence_dao.marine._config import BinaryResult, CallParameters, HostBinary, ModuleConfig
from fluence_dao.util.marine_interface import (
    SDK_RECORDS,
    Argument,
    FunctionSignature,
    MarineValue,
    MType,
    RecordField,
    RecordType,
)

logger = logging.getLogger(__name__)

HOST_NAMESPACES: dict[str, int] = {
    "host": 0,
    "__marine_host_api_v1": 1,
    "__marine_host_api_v2": 2,
    "__marine_host_api_v3": 3,
}
KILLED_BY_SIGNAL = 100000
COMMAND_ERROR = 100001
TIMED_OUT = 100005

_LOG_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: logging.DEBUG - 5}


class Guest(GuestMemory, Protocol):
    def set_result(self, ptr: int, size: int | None) -> None: ...


class ImportHost(Protocol):
    """What a host function needs from the module it is linked into."""

    name: str
    config: ModuleConfig

    def guest(self) -> Guest: ...

    def current_call_parameters(self) -> CallParameters: ...

    def resolve_record(self, name: str) -> RecordType: ...

    def resolve_import(self, namespace: str, name: str) -> FunctionSignature | None: ...


def _call_parameters_records(version: int) -> dict[str, RecordType]:
    """The CallParameters record (and the records it uses) as host API `version` lays it out; v3 is sdk 0.14's."""
    records = {name: SDK_RECORDS[name] for name in ("CallParameters", "ParticleParameters", "SecurityTetraplet")}
    if version >= 3:
        return records
    tetraplet = records["SecurityTetraplet"]
    last = RecordField("lambda" if version == 2 else "json_path", tetraplet.fields[3].ty)
    records["SecurityTetraplet"] = RecordType(tetraplet.name, (*tetraplet.fields[:3], last))
    if version == 2:
        return records
    head = ["init_peer_id", "service_id", "service_creator_peer_id", "host_id", *(["worker_id"] if version else [])]
    fields = [RecordField(name, MType("Utf8String")) for name in (*head, "particle_id")]
    tetraplets = records["CallParameters"].fields[-1]
    call_parameters = RecordType("CallParameters", (*fields, tetraplets))
    return {"CallParameters": call_parameters, "SecurityTetraplet": records["SecurityTetraplet"]}


CALL_PARAMETERS_RECORDS = {v: _call_parameters_records(v) for v in HOST_NAMESPACES.values()}
MOUNTED_BINARY_RESULT = SDK_RECORDS["MountedBinaryResult"]


def mounted_binary_signature(name: str) -> FunctionSignature:
    return FunctionSignature(
        name=name,
        arguments=(Argument("args", MType("Vector", element=MType("Utf8String"))),),
        output=MType("Record", record="MountedBinaryResult"),
    )


def return_to_guest(guest: Guest, records: RecordResolver, ty: MType | None, value: object, where: str) -> WasmResult:
    """Hand a host function's result to the guest the way marine's `lower_outputs` does.

    Scalars are returned as the wasm result; strings and vectors are lowered and announced with
    `set_result_ptr` + `set_result_size`; records with `set_result_ptr` only.
    """
    if ty is None:
        return None
    lowerer = Lowerer(guest, records)
    if ty.is_scalar:
        return lowerer.lower(ty, value, where)[0]
    if ty.kind == "Record":
        ptr = lowerer.lower_record(records(str(ty.record)), value, where)
        guest.set_result(ptr, None)
        return None
    ptr, length = lowerer.lower_sequence(ty, value, where)
    guest.set_result(ptr, length)
    return None


def check_import_type(module: str, namespace: str, name: str, sig: FunctionSignature, params: list[str],
                      results: list[str]) -> None:  # fmt: skip
    want_params, want_results = raw_signature(sig)
    if (params, results) != (want_params, want_results):
        raise ModuleLoadError(
            f"module {module!r} imports {namespace}.{name} as ({', '.join(params)}) -> ({', '.join(results)}), "
            f"but {sig.describe()} needs ({', '.join(want_params)}) -> ({', '.join(want_results)})",
            module=module,
            import_name=f"{namespace}.{name}",
        )


def host_function(host: ImportHost, namespace: str, name: str, params: list[str],
                  results: list[str]) -> HostFunction:  # fmt: skip
    """The Python callable for one import in a host namespace (refuses unknown or unallowed ones)."""
    version = HOST_NAMESPACES[namespace]
    if name == "log_utf8_string":
        if (params, results) != (["i32"] * 4, []):
            raise ModuleLoadError(f"module {host.name!r} imports {namespace}.log_utf8_string with a wrong type")
        return _logger(host)
    if name == "get_call_parameters":
        if (params, results) != ([], []):
            raise ModuleLoadError(f"module {host.name!r} imports {namespace}.get_call_parameters with a wrong type")
        return _call_parameters(host, version)
    binary = host.config.mounted_binaries.get(name)
    if binary is None:
        allowed = sorted(host.config.mounted_binaries)
        raise MountedBinaryError(
            f"module {host.name!r} imports {namespace}.{name}, a mounted binary its config does not allow "
            f"(allowed: {allowed or 'none'}); add it to ModuleConfig.mounted_binaries to run it",
            module=host.name,
            binary=name,
        )
    if not isinstance(binary, str):
        if not callable(binary):
            raise MountedBinaryError(
                f"module {host.name!r}: mounted binary {name!r} must be an absolute path or a host-implemented "
                f"binary (a callable), got {type(binary).__name__}",
                module=host.name,
                binary=name,
            )
        runner = binary
    else:
        path = Path(binary)
        if not path.is_absolute() or not path.is_file():
            raise MountedBinaryError(
                f"module {host.name!r}: mounted binary {name!r} must be an absolute path to a file, got {binary!r}",
                module=host.name,
                binary=name,
                path=binary,
            )
        runner = _process_runner(str(path), host.config.max_call_seconds, host.name, name)
    described = host.resolve_import(namespace, name)
    sig = described if described is not None else mounted_binary_signature(name)
    check_import_type(host.name, namespace, name, sig, params, results)
    return _mounted_binary(host, name, runner, sig)


def _logger(host: ImportHost) -> Callable[[int, int, int, int], None]:
    log = logging.getLogger(f"fluence_dao.marine.guest.{host.name}")

    def log_utf8_string(level: int, target: int, ptr: int, size: int) -> None:
        if not host.config.logger_enabled:
            return
        py_level = _LOG_LEVELS.get(level, logging.DEBUG - 5)
        if not log.isEnabledFor(py_level):
            return
        data = host.guest().read(ptr & 0xFFFFFFFF, size & 0xFFFFFFFF)
        log.log(py_level, "%s", data.decode("utf-8", errors="replace"))

    return log_utf8_string


def _call_parameters(host: ImportHost, version: int) -> Callable[[], None]:
    records = CALL_PARAMETERS_RECORDS[version]
    ty = MType("Record", record="CallParameters")

    def get_call_parameters() -> None:
        value = host.current_call_parameters().for_host_api(version)
        return_to_guest(host.guest(), records.__getitem__, ty, value, "call parameters")

    return get_call_parameters


def _process_runner(path: str, timeout_s: float, module: str, name: str) -> HostBinary:
    def run(args: list[str]) -> BinaryResult:
        return run_mounted_binary(path, args, timeout_s, module, name)

    return run


def _run_host_binary(runner: HostBinary, args: object, module: str, name: str) -> dict[str, MarineValue]:
    """Call a host-implemented binary; a malformed answer or an exception becomes a nox-style host error."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return {"ret_code": 100004, "error": "mounted binary arguments must be a list of strings", "stdout": b"",
                "stderr": b""}  # fmt: skip
    try:
        result = runner(list(args))
        answer: dict[str, MarineValue] = {
            "ret_code": int(result["ret_code"]),
            "error": str(result.get("error", "")),
            "stdout": bytes(result.get("stdout", b"")),
            "stderr": bytes(result.get("stderr", b"")),
        }
    except Exception as err:  # a host binary must not take the call down with it
        logger.exception("module %s: host binary %s failed", module, name)
        return {"ret_code": COMMAND_ERROR, "error": f"mounted binary {name!r} failed: {type(err).__name__}: {err}",
                "stdout": b"", "stderr": b""}  # fmt: skip
    return answer


def _mounted_binary(host: ImportHost, name: str, runner: HostBinary, sig: FunctionSignature) -> HostFunction:
    def resolve(record: str) -> RecordType:
        if record == "MountedBinaryResult":
            try:
                return host.resolve_record(record)
            except ModuleLoadError:
                return MOUNTED_BINARY_RESULT
        return host.resolve_record(record)

    def run_binary(*raw: WasmValue) -> WasmResult:
        guest = host.guest()
        (args,) = Lifter(guest, resolve).lift_arguments(sig, raw)
        result = _run_host_binary(runner, args, host.name, name)
        if sig.output is not None and sig.output.kind == "Record":
            # a module may declare the result as MountedBinaryStringResult: the same layout with String fields
            record = resolve(str(sig.output.record))
            for fld in record.fields:
                value = result.get(fld.name)
                if fld.ty.is_string and isinstance(value, bytes):
                    result[fld.name] = value.decode("utf-8", errors="replace")
        return return_to_guest(guest, resolve, sig.output, result, f"result of host.{name}")

    return run_binary


def run_mounted_binary(path: str, args: object, timeout_s: float, module: str, name: str) -> BinaryResult:
    """Run an allowed binary with the guest's arguments: no shell, no stdin, bounded time."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return {"ret_code": 100004, "error": "mounted binary arguments must be a list of strings", "stdout": b"",
                "stderr": b""}  # fmt: skip
    logger.debug("module %s runs mounted binary %s %s", module, path, args)
    try:
        done = subprocess.run(
            [path, *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout_s, check=False, shell=False
        )
    except subprocess.TimeoutExpired as err:
        return {
            "ret_code": TIMED_OUT,
            "error": f"mounted binary {name!r} timed out after {timeout_s} s",
            "stdout": err.stdout or b"",
            "stderr": err.stderr or b"",
        }
    except OSError as err:
        logger.error("module %s: mounted binary %s could not start: %s", module, path, err)
        return {"ret_code": COMMAND_ERROR, "error": str(err), "stdout": b"", "stderr": b""}
    code = done.returncode if done.returncode >= 0 else KILLED_BY_SIGNAL
    return {"ret_code": code, "error": "", "stdout": done.stdout, "stderr": done.stderr}
