"""MarineModule: one Marine-ABI wasm module in wasmtime, called with Python values.

A call lowers the arguments into guest memory through the guest's `allocate`, calls the export, lifts
the result (`get_result_ptr`/`get_result_size`, or the wasm result for scalars) and calls
`release_objects()`. Each module has its own wasmtime Store (memory ceiling, epoch deadline, WASI).

After a failed call (trap, timeout, memory ceiling, a failing host function) the module stays usable:
by default the instance and its state survive, as in Marine, provided it still answers
`release_objects()`; if that traps too, or `ModuleConfig.fresh_instance_after_trap` is set, the next call
runs on a fresh instance (state does not survive: `_initialize` runs again). Arguments are validated in a
dry pass before anything is written into the guest, so a bad argument (AbiError) never touches it.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import wasmtime

from fluence_dao.errors import (
    AbiError,
    FunctionNotFoundError,
    MarineError,
    ModuleLoadError,
    ModuleTrapError,
)
from fluence_dao.marine import _engine
from fluence_dao.marine._abi import (
    CallArgs,
    HostFunction,
    Lifter,
    Lowerer,
    WasmResult,
    WasmValue,
    normalise_arguments,
    raw_signature,
    scalar_from_wasm,
)
from fluence_dao.marine._config import CallParameters, ModuleConfig
from fluence_dao.marine._fastcall import CoreFunc, MemoryView
from fluence_dao.marine._wasi import wasi_config
from fluence_dao.marine.host_imports import (
    HOST_NAMESPACES,
    check_import_type,
    host_function,
    return_to_guest,
)
from fluence_dao.util.marine_interface import (
    FunctionSignature,
    MarineValue,
    ModuleInterface,
    RecordType,
    parse_interface,
)

logger = logging.getLogger(__name__)

REQUIRED_EXPORTS = ("memory", "allocate", "release_objects", "get_result_ptr", "get_result_size")
RESULT_SETTERS = ("set_result_ptr", "set_result_size")
WASI_NAMESPACE = "wasi_snapshot_preview1"
_U32 = 0xFFFFFFFF
_NO_CALL_PARAMETERS = CallParameters()
T = TypeVar("T")


def _u32(value: WasmResult) -> int:
    """An ABI function's i32 result as an unsigned 32-bit number."""
    if not isinstance(value, int):
        raise AbiError(f"an ABI function returned {value!r} where an i32 was expected")
    return value & _U32


class _DryMemory:
    """Accepts every allocation and write: lowering into it only validates the values."""

    def read(self, ptr: int, size: int) -> bytes:  # pragma: no cover - lowering never reads
        return bytes(size)

    def write(self, ptr: int, data: bytes) -> None:
        return None

    def allocate(self, count: int, type_tag: int) -> int:
        return 8


class _Instance:
    """One instance in its own store; the guest memory the ABI code reads and writes."""

    def __init__(self, owner: MarineModule) -> None:
        cfg = owner.config
        self.owner = owner
        self.store = _engine.new_store()
        self.store.set_limits(memory_size=cfg.max_memory_bytes)
        self.store.set_wasi(wasi_config(cfg))
        self.store.set_epoch_deadline(_engine.deadline_ticks(cfg.max_call_seconds))
        try:
            self.instance = owner._linker.instantiate(self.store, owner._compiled)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as err:
            raise ModuleLoadError(f"module {cfg.name!r} could not be instantiated: {err}", module=cfg.name) from err
        exports = self.instance.exports(self.store)
        memory = exports["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self.memory = memory
        self.view = MemoryView(self.store, memory)
        self._exports = exports
        self._funcs: dict[str, CoreFunc] = {}  # filled on first use: modules may export many functions
        self._allocate = self.func("allocate")
        owner._instance = self  # host imports called from _initialize (log, random_get) reach this instance
        init = self.func("_initialize")
        if init is not None:
            try:
                init()
            except (wasmtime.WasmtimeError, wasmtime.Trap) as err:
                owner._instance = None
                raise ModuleLoadError(f"module {cfg.name!r}: _initialize failed: {err}", module=cfg.name) from err

    def func(self, name: str) -> CoreFunc | None:
        """The exported function `name`, or None."""
        func = self._funcs.get(name)
        if func is None:
            item = self._exports.get(name)
            if not isinstance(item, wasmtime.Func):
                return None
            func = self._funcs[name] = CoreFunc(self.store, item)
        return func

    def abi(self, name: str) -> CoreFunc:
        func = self.func(name)
        if func is None:
            raise AbiError(f"module {self.owner.name!r} has no exported function {name}", module=self.owner.name)
        return func

    # GuestMemory
    def read(self, ptr: int, size: int) -> bytes:
        data = self.view.read(ptr, size)
        if data is None:
            raise AbiError(
                f"module {self.owner.name!r} points outside its memory: [{ptr}, {ptr + size}) of "
                f"{self.view.size()} bytes",
                module=self.owner.name,
            )
        return data

    def write(self, ptr: int, data: bytes) -> None:
        if not self.view.write(ptr, data):
            raise AbiError(f"module {self.owner.name!r}: allocate returned {ptr}, outside its memory")

    def allocate(self, count: int, type_tag: int) -> int:
        return _u32(self.abi("allocate")(count, type_tag))

    def put(self, data: bytes, count: int, type_tag: int) -> int:
        """`allocate(count, type_tag)`, then `data` written there; 0 (nothing written) when allocate fails."""
        allocate = self._allocate or self.abi("allocate")
        ptr = _u32(allocate(count, type_tag))
        if ptr != 0 and not self.view.write(ptr, data):
            raise AbiError(f"module {self.owner.name!r}: allocate returned {ptr}, outside its memory")
        return ptr

    def set_result(self, ptr: int, size: int | None) -> None:
        self.abi("set_result_ptr")(_signed32(ptr))
        if size is not None:
            self.abi("set_result_size")(_signed32(size))

    def result_ptr(self) -> int:
        return _u32(self.abi("get_result_ptr")())

    def result_size(self) -> int:
        return _u32(self.abi("get_result_size")())

    def release_objects(self) -> None:
        self.abi("release_objects")()

    def memory_bytes(self) -> int:
        return self.view.size()


def _wat_to_wasm(text: bytes, path: Path) -> bytes:
    """WAT text (test modules) -> wasm binary; `(@custom ...)` annotations become custom sections."""
    try:
        return bytes(wasmtime.wat2wasm(text.decode("utf-8")))
    except (wasmtime.WasmtimeError, UnicodeDecodeError) as err:
        raise ModuleLoadError(f"{str(path)!r} is not valid WAT: {err}", path=str(path)) from err


def _read_wasm(wasm: str | os.PathLike[str] | bytes | bytearray) -> tuple[bytes, str]:
    """(wasm bytes, default module name): bytes as given ("module"), or a .wasm/.wat file (named by its stem)."""
    if isinstance(wasm, bytes | bytearray):
        return bytes(wasm), "module"
    path = Path(wasm)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModuleLoadError(f"cannot read wasm module {str(path)!r}: {err}", path=str(path)) from err
    if path.suffix == ".wat":
        data = _wat_to_wasm(data, path)
    return data, path.stem


def _trap_reason(err: Exception) -> str:
    """The cause line of a wasmtime error ("wasm trap: wasm `unreachable` instruction executed")."""
    text = str(err.message if isinstance(err, wasmtime.Trap) else err)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "Caused by:" in lines:
        cause = lines[lines.index("Caused by:") + 1 :]
        return cause[-1] if cause else lines[0]
    return lines[0] if lines else type(err).__name__


def _signed32(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


class MarineModule:
    """A loaded Marine module. Use `MarineModule.load(wasm, config)`; calls are serialised per module."""

    def __init__(self, wasm: bytes, config: ModuleConfig, service_modules: Mapping[str, MarineModule]) -> None:
        self.config = config
        self.name = config.name
        if config.max_memory_bytes <= 0 or config.max_call_seconds <= 0:
            raise ModuleLoadError(
                f"module {config.name!r}: max_memory_bytes ({config.max_memory_bytes}) and max_call_seconds "
                f"({config.max_call_seconds}) must be positive",
                module=config.name,
            )
        self._compiled = _engine.compile_module(wasm, config.name)
        self.interface: ModuleInterface = parse_interface(wasm)
        self._service_modules = dict(service_modules)
        self._lock = threading.RLock()
        self._call_parameters: list[CallParameters] = []
        self._check_exports()
        self._linker = self._build_linker()
        self._instance: _Instance | None = None
        with self._deadline():
            self._instance = _Instance(self)

    @classmethod
    def load(
        cls,
        wasm: str | os.PathLike[str] | bytes,
        config: ModuleConfig | None = None,
        *,
        service_modules: Mapping[str, MarineModule] | None = None,
    ) -> MarineModule:
        """Load a module from a path or bytes. `service_modules` are the modules its imports may name."""
        data, default_name = _read_wasm(wasm)
        if config is None:
            config = ModuleConfig(name=default_name)
        return cls(data, config, service_modules or {})

    # ------------------------------------------------------------------------------------------------
    # public API

    @property
    def functions(self) -> list[str]:
        """Names of the functions that can be called (described and exported)."""
        return sorted(self._callable)

    def signature(self, function: str) -> FunctionSignature:
        sig = self._callable.get(function)
        if sig is None:
            available = sorted(self._callable)
            close = difflib.get_close_matches(function, available, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise FunctionNotFoundError(
                f"no function {function!r} in module {self.name!r} (exports: {', '.join(available) or 'none'}){hint}",
                module=self.name,
                function=function,
                exports=available,
            )
        return sig

    def call(
        self,
        function: str,
        args: CallArgs = (),
        call_parameters: CallParameters | None = None,
    ) -> Any:  # a MarineValue | None whose shape the caller knows from the signature (peer/avm.py indexes it)
        """Call an exported function with Python values (a list in order, or a dict by argument name)."""
        sig = self.signature(function)
        return self._call(sig, args, call_parameters or CallParameters())

    def call_lowered(
        self,
        function: str,
        lower: Callable[[_Instance], Sequence[WasmValue]],
        lift: Callable[[_Instance, WasmResult], T],
    ) -> T:
        """Call `function` with arguments its caller lowers itself: the hot path of a caller that knows the
        function's types (AquaVM's `invoke`, once per particle step). `lower(guest)` writes the arguments through
        `guest.put` and returns the raw wasm arguments; `lift(guest, raw_result)` reads the result (before
        `release_objects`). There is no validating dry pass: `lower` must raise (AbiError) before the call for bad
        input. Everything else is `call`'s: the lock, the time bound, release_objects, recovery after a trap and
        the errors raised."""
        name = self.signature(function).name
        with self._lock:
            _engine.ticker.begin()
            self._call_parameters.append(_NO_CALL_PARAMETERS)
            try:
                return self._run(name, lower, lift)
            finally:
                self._call_parameters.pop()
                _engine.ticker.end()

    def reset(self) -> None:
        """Drop the instance and start a fresh one (the module's state is lost)."""
        with self._lock:
            self._instance = None
            with self._deadline():
                self._instance = _Instance(self)

    def memory_bytes(self) -> int:
        """Current size of the guest's linear memory."""
        with self._lock:
            return self._guest().memory_bytes()

    # ------------------------------------------------------------------------------------------------
    # ImportHost protocol (used by host_imports)

    def guest(self) -> _Instance:
        return self._guest()

    def current_call_parameters(self) -> CallParameters:
        return self._call_parameters[-1] if self._call_parameters else CallParameters()

    def resolve_record(self, name: str) -> RecordType:
        return self.interface.record(name)

    def resolve_import(self, namespace: str, name: str) -> FunctionSignature | None:
        described = self.interface.imports.get((namespace, name))
        return described.signature if described is not None else None

    # ------------------------------------------------------------------------------------------------
    # internals

    def _guest(self) -> _Instance:
        if self._instance is None:
            with self._deadline():
                self._instance = _Instance(self)
        return self._instance

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        _engine.ticker.begin()
        try:
            yield
        finally:
            _engine.ticker.end()

    def _check_exports(self) -> None:
        exports = {e.name: e.type for e in self._compiled.exports}
        missing = [name for name in REQUIRED_EXPORTS if name not in exports]
        if missing:
            raise ModuleLoadError(
                f"module {self.name!r} is not a Marine module: missing export(s) {', '.join(missing)}",
                module=self.name,
                missing=missing,
            )
        if not self.interface.functions:
            raise ModuleLoadError(
                f"module {self.name!r} has no __m_generated_section__* function descriptions: build it with "
                "marine-rs-sdk or `fluence-dao build` (`fluence-dao module inspect` shows what it has)",
                module=self.name,
            )
        self._callable: dict[str, FunctionSignature] = {}
        for name, sig in self.interface.functions.items():
            ty = exports.get(name)
            if not isinstance(ty, wasmtime.FuncType):
                logger.warning("module %s describes %s but does not export it", self.name, name)
                continue
            params, results = raw_signature(sig)
            actual = ([str(p) for p in ty.params], [str(r) for r in ty.results])
            if actual != (params, results):
                raise ModuleLoadError(
                    f"module {self.name!r}: export {name} has core type ({', '.join(actual[0])}) -> "
                    f"({', '.join(actual[1])}) but its description {sig.describe()} needs "
                    f"({', '.join(params)}) -> ({', '.join(results)})",
                    module=self.name,
                    function=name,
                )
            self._callable[name] = sig

    def _build_linker(self) -> wasmtime.Linker:
        linker = wasmtime.Linker(_engine.engine())
        linker.allow_shadowing = True
        imports = list(self._compiled.imports)
        if any(imp.module == WASI_NAMESPACE for imp in imports):
            linker.define_wasi()
        defined: set[tuple[str, str]] = set()
        for imp in imports:
            namespace, name, ty = imp.module, imp.name or "", imp.type
            if (namespace, name) in defined:
                continue
            defined.add((namespace, name))
            if not isinstance(ty, wasmtime.FuncType):
                raise ModuleLoadError(f"module {self.name!r} imports {namespace}.{name}, which is not a function")
            params, results = [str(p) for p in ty.params], [str(r) for r in ty.results]
            func: HostFunction
            if namespace == WASI_NAMESPACE:
                if name == "random_get" and self.config.random_source is not None:
                    linker.define_func(namespace, name, ty, self._random_get(self.config.random_source))
                continue
            if namespace in HOST_NAMESPACES:
                func = host_function(self, namespace, name, params, results)
            elif namespace in self._service_modules:
                func = self._service_import(self._service_modules[namespace], namespace, name, params, results)
            else:
                raise ModuleLoadError(
                    f"module {self.name!r} imports {namespace}.{name}, but there is no module {namespace!r} "
                    f"before it in the service (modules: {sorted(self._service_modules) or 'none'})",
                    module=self.name,
                    import_name=f"{namespace}.{name}",
                )
            linker.define_func(namespace, name, ty, func)
        return linker

    def _random_get(self, source: Callable[[int], bytes]) -> Callable[[int, int], int]:
        def random_get(ptr: int, length: int) -> int:
            length &= _U32
            data = bytes(source(length))
            if len(data) != length:
                raise ModuleTrapError(
                    f"module {self.name!r}: random_source returned {len(data)} bytes, {length} requested",
                    module=self.name,
                )
            self._guest().write(ptr & _U32, data)
            return 0

        return random_get

    def _service_import(self, callee: MarineModule, namespace: str, name: str, params: list[str],
                        results: list[str]) -> HostFunction:  # fmt: skip
        callee_sig = callee.signature(name) if name in callee._callable else None
        if callee_sig is None:
            raise ModuleLoadError(
                f"module {self.name!r} imports {namespace}.{name}, but module {namespace!r} exports no such "
                f"function (exports: {', '.join(callee.functions)})",
                module=self.name,
                import_name=f"{namespace}.{name}",
            )
        caller_sig = self.resolve_import(namespace, name) or callee_sig
        check_import_type(self.name, namespace, name, caller_sig, params, results)

        def records(record: str) -> RecordType:
            return self.interface.records.get(record) or callee.interface.record(record)

        # marine's import adapter (it-generator foreign_mod_instructions.rs) calls the caller's
        # release_objects once the arguments are lifted, when any of them is a string, vector or record
        release_caller = any(not arg.ty.is_scalar for arg in caller_sig.arguments)

        def call_other_module(*raw: WasmValue) -> WasmResult:
            guest = self._guest()
            values = Lifter(guest, records).lift_arguments(caller_sig, raw)
            if release_caller:
                guest.release_objects()
            result = callee._call(callee_sig, values, self.current_call_parameters())
            return return_to_guest(guest, records, caller_sig.output, result, f"result of {namespace}.{name}")

        return call_other_module

    def _call(self, sig: FunctionSignature, args: CallArgs, cp: CallParameters) -> MarineValue | None:
        values = normalise_arguments(sig, args)
        Lowerer(_DryMemory(), self.interface.record).lower_arguments(sig, values)  # validate: AbiError
        with self._lock:
            _engine.ticker.begin()  # inline `self._deadline()`: a generator context costs more than the rest
            self._call_parameters.append(cp)
            try:
                return self._invoke(sig, values)
            finally:
                self._call_parameters.pop()
                _engine.ticker.end()

    def _invoke(self, sig: FunctionSignature, values: list[object]) -> MarineValue | None:
        return self._run(
            sig.name,
            lambda guest: Lowerer(guest, self.interface.record).lower_arguments(sig, values),
            lambda guest, raw_result: self._lift_result(guest, sig, raw_result),
        )

    def _run(
        self, name: str, lower: Callable[[_Instance], Sequence[WasmValue]], lift: Callable[[_Instance, WasmResult], T]
    ) -> T:
        guest = self._guest()
        guest.store.set_epoch_deadline(_engine.deadline_ticks(self.config.max_call_seconds))
        try:
            raw_args = lower(guest)
            raw_result = guest.abi(name)(*raw_args)
            # the epilogue is the host's housekeeping: give it a fresh bound (a slow host import may have
            # used up the call's time after the guest's last check)
            guest.store.set_epoch_deadline(_engine.deadline_ticks(self.config.max_call_seconds))
            result = lift(guest, raw_result)
            guest.release_objects()
            return result
        except MarineError as err:
            self._recover(guest)
            if err.details.get("module", self.name) != self.name:  # failed inside another module's call
                details = {**err.details, "caller": self.name, "caller_function": name}
                raise type(err)(f"module {self.name!r} function {name!r}: {err.message}", **details) from err
            raise
        except (wasmtime.Trap, wasmtime.WasmtimeError) as err:
            message = self._trap_message(guest, name, err)
            self._recover(guest)
            raise ModuleTrapError(message, module=self.name, function=name) from err
        except Exception as err:  # a host function failed with a foreign error
            self._recover(guest)
            raise ModuleTrapError(
                f"module {self.name!r} function {name!r} failed in a host function: {err!r}",
                module=self.name,
                function=name,
            ) from err

    def _lift_result(self, guest: _Instance, sig: FunctionSignature, raw_result: WasmResult) -> MarineValue | None:
        out = sig.output
        if out is None:
            return None
        if out.is_scalar:
            if raw_result is None:  # the export's core type was checked at load: not reached
                raise AbiError(f"module {self.name!r}: {sig.name} returned no value for {out.describe()}")
            return scalar_from_wasm(out, raw_result)
        lifter = Lifter(guest, self.interface.record)
        if out.kind == "Record":
            return lifter.lift_record(self.interface.record(str(out.record)), guest.result_ptr())
        return lifter.lift_sequence(out, guest.result_ptr(), guest.result_size())

    def _trap_message(self, guest: _Instance, function: str, err: Exception) -> str:
        where = f"module {self.name!r} function {function!r}"
        used, ceiling = guest.memory_bytes() / 2**20, self.config.max_memory_bytes / 2**20
        memory = f"guest memory {used:.1f} MiB, ceiling {ceiling:.1f} MiB"
        if isinstance(err, wasmtime.Trap) and err.trap_code == wasmtime.TrapCode.INTERRUPT:
            return f"{where} exceeded its time bound of {self.config.max_call_seconds} s and was interrupted"
        if isinstance(err, wasmtime.ExitTrap):
            return f"{where} exited the guest (WASI proc_exit with code {err.code})"
        first = _trap_reason(err)
        near_ceiling = guest.memory_bytes() + 2**16 > self.config.max_memory_bytes
        hint = "; it reached its memory ceiling (max_memory_bytes)" if near_ceiling else ""
        return f"{where} trapped: {first} ({memory}){hint}"

    def _recover(self, guest: _Instance) -> None:
        """Keep the instance if it still answers release_objects, else start fresh on the next call."""
        if self.config.fresh_instance_after_trap:
            self._instance = None
            return
        try:
            guest.store.set_epoch_deadline(_engine.deadline_ticks(self.config.max_call_seconds))
            guest.release_objects()
        except (wasmtime.Trap, wasmtime.WasmtimeError, MarineError) as err:
            logger.warning("module %s is unusable after a failed call (%s); re-instantiating", self.name, err)
            self._instance = None


class RecordDescription(TypedDict):
    fields: dict[str, str]  # field name -> Rust type
    size: int  # bytes of the packed record


class SectionSize(TypedDict):
    name: str
    size: int


class ModuleDescription(TypedDict):
    """What `describe_module` reports (the `--json` document of `fluence-dao module inspect`)."""

    sdk_version: str | None
    functions: dict[str, str]  # name -> Rust-style signature
    records: dict[str, RecordDescription]
    imports: list[str]  # "namespace.name: core type"
    exports: dict[str, str]  # core wasm name -> type
    undescribed_exports: list[str]  # exported functions with no Marine description, e.g. `_start`
    missing_abi_exports: list[str]
    custom_sections: list[SectionSize]  # in file order


def describe_module(wasm: str | os.PathLike[str] | bytes) -> ModuleDescription:
    """What a module offers and needs, without instantiating it (`fluence-dao module inspect`)."""
    data, _ = _read_wasm(wasm)
    compiled = _engine.compile_module(data, "inspected")
    interface = parse_interface(data)

    def core(ty: object) -> str:
        if isinstance(ty, wasmtime.FuncType):
            params = ", ".join(str(p) for p in ty.params)
            results = ", ".join(str(r) for r in ty.results)
            return f"func ({params}) -> ({results})"
        return type(ty).__name__.removesuffix("Type").lower()

    exports = {e.name: core(e.type) for e in compiled.exports}
    abi = set(REQUIRED_EXPORTS) | set(RESULT_SETTERS) | {"_initialize", "_start"}
    return {
        "sdk_version": interface.sdk_version,
        "functions": {name: sig.describe() for name, sig in sorted(interface.functions.items())},
        "records": {
            name: {"fields": {f.name: f.ty.describe() for f in rec.fields}, "size": rec.size}
            for name, rec in sorted(interface.records.items())
        },
        "imports": [f"{i.module}.{i.name}: {core(i.type)}" for i in compiled.imports],
        "exports": exports,
        "undescribed_exports": sorted(
            n for n, t in exports.items() if t.startswith("func") and n not in interface.functions and n not in abi
        ),
        "missing_abi_exports": [n for n in REQUIRED_EXPORTS if n not in exports],
        "custom_sections": [{"name": n, "size": s} for n, s in interface.custom_sections],
    }
