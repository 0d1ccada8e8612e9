"""Core wasm modules with a host ABI of their own (graph-node's, for the subgraph runner) on the marine substrate.

Marine modules go through `MarineModule`. A host that speaks another ABI still runs on the same substrate:
modules compiled once by the one engine (on-disk cache), one store per instance with a memory ceiling and a
wall-clock bound (epoch interruption, the marine ticker), imports bound to Python functions by a resolver,
and only wasmtime-py's public API. Traps become `ModuleTrapError`; an exception raised by a host function
leaves the call as itself, so the host can tell its own failures from the guest's.

A module may export many things its host never uses (graph-cli mappings export ~180 `TypeId.*` globals), and
wasmtime-py wraps every export of an instance when one is asked for. `CoreModule(keep_exports=...)` drops the
others from the export section before compiling, so a fresh instance costs what its host needs.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import wasmtime

from fluence_dao.errors import AbiError, ModuleLoadError, ModuleTrapError
from fluence_dao.marine import _engine
from fluence_dao.marine._abi import HostFunction, WasmResult, WasmValue
from fluence_dao.marine._config import DEFAULT_MAX_CALL_SECONDS, DEFAULT_MAX_MEMORY_BYTES
from fluence_dao.util.wasm_sections import keep_exports as _keep_exports

logger = logging.getLogger(__name__)

#: (namespace, name, param types, result types) -> the Python function the import calls, or None if the host
#: has no such function (the module then fails to load, naming the import). The function is called with numbers
#: and returns a number for its one result; what it returns is ignored when the import has no result.
ImportResolver = Callable[[str, str, list[str], list[str]], "HostFunction | None"]


def _adapt(func: HostFunction, results: list[str]) -> Callable[..., wasmtime.Val | WasmResult]:
    """`func` as wasmtime-py wants it: None for no result, and an i32 as a Val (converted back faster than an int)."""
    if not results:

        def no_result(*args: WasmValue) -> None:
            func(*args)

        return no_result
    if results == ["i32"]:

        def i32_result(*args: WasmValue) -> wasmtime.Val:
            value = func(*args)
            if not isinstance(value, int):
                raise AbiError(f"a host function returned {value!r} for an i32 result")
            return wasmtime.Val.i32(value)

        return i32_result
    return func


@dataclass(frozen=True)
class StoreLimits:
    """What one instance may use: its linear memory, and the wall-clock time of one call."""

    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    max_call_seconds: float = DEFAULT_MAX_CALL_SECONDS


class CoreModule:
    """A compiled core module whose imports are bound; `instantiate()` gives a fresh instance in its own store."""

    def __init__(
        self,
        wasm: bytes,
        name: str,
        resolve: ImportResolver,
        *,
        keep_exports: Collection[str] | None = None,
        limits: StoreLimits | None = None,
    ) -> None:
        self.name = name
        self.limits = limits or StoreLimits()
        if self.limits.max_memory_bytes <= 0 or self.limits.max_call_seconds <= 0:
            raise ModuleLoadError(
                f"module {name!r}: max_memory_bytes ({self.limits.max_memory_bytes}) and max_call_seconds "
                f"({self.limits.max_call_seconds}) must be positive",
                module=name,
            )
        if keep_exports is not None:
            try:
                wasm = _keep_exports(wasm, set(keep_exports))
            except ValueError as err:
                raise ModuleLoadError(f"module {name!r} is not valid wasm: {err}", module=name) from err
        self._compiled = _engine.compile_module(wasm, name)
        self.exports = frozenset(e.name for e in self._compiled.exports)
        linker = wasmtime.Linker(_engine.engine())
        for imp in self._compiled.imports:
            ty = imp.type
            if not isinstance(ty, wasmtime.FuncType):
                raise ModuleLoadError(f"module {name!r} imports {imp.module}.{imp.name}, which is not a function")
            params, results = [str(p) for p in ty.params], [str(r) for r in ty.results]
            func = resolve(imp.module, imp.name or "", params, results)
            if func is None:
                raise ModuleLoadError(
                    f"module {name!r} imports {imp.module}.{imp.name}, which this host does not provide",
                    module=name,
                    import_name=f"{imp.module}.{imp.name}",
                )
            linker.define_func(imp.module, imp.name or "", ty, _adapt(func, results))
        self._pre = linker.instantiate_pre(self._compiled)

    @property
    def imports(self) -> list[tuple[str, str]]:
        return [(i.module, i.name or "") for i in self._compiled.imports]

    def instantiate(self) -> CoreInstance:
        """A fresh instance (no start function is run: the host calls `_start` or `_initialize` itself)."""
        return CoreInstance(self)


class CoreInstance:
    """One instance of a CoreModule in its own store. Not thread-safe; drop it to free its memory."""

    def __init__(self, module: CoreModule) -> None:
        self.module = module
        self._store = _engine.new_store()
        self._store.set_limits(memory_size=module.limits.max_memory_bytes)
        self._deadline = _engine.deadline_ticks(module.limits.max_call_seconds)
        self._store.set_epoch_deadline(self._deadline)
        try:
            instance = module._pre.instantiate(self._store)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as err:
            raise ModuleLoadError(
                f"module {module.name!r} could not be instantiated: {err}", module=module.name
            ) from err
        self._exports = instance.exports(self._store)
        memory = self._exports.get("memory")
        self._memory = memory if isinstance(memory, wasmtime.Memory) else None
        self._view_size = -1
        self._view: memoryview | None = None
        self._depth = 0  # calls into the guest in progress (host functions may call back in)

    def has(self, name: str) -> bool:
        return isinstance(self._exports.get(name), wasmtime.Func)

    def call(self, name: str, *args: WasmValue) -> Any:  # WasmResult; Any: callers int() a known i32 result
        """Call an exported function with numbers; returns its result (None without one).

        The outermost call gets `max_call_seconds`; a call made from inside a host function shares it.
        Raises ModuleTrapError for a missing export or a trap (details: module, function, trap: the trap's
        message line, interrupted: the time bound was hit, frames: wasm function names, innermost first).
        A host function's exception propagates unchanged.
        """
        func = self._exports.get(name)
        if not isinstance(func, wasmtime.Func):
            raise ModuleTrapError(
                f"module {self.module.name!r} exports no function {name!r}", module=self.module.name, function=name
            )
        outermost = self._depth == 0
        if outermost:  # a call from inside a host function runs within its caller's time bound
            self._store.set_epoch_deadline(self._deadline)
            _engine.ticker.begin()
        self._depth += 1
        try:
            return func(self._store, *args)
        except wasmtime.Trap as err:
            cause = err.__cause__ or err.__context__
            if cause is not None and not isinstance(cause, wasmtime.WasmtimeError | wasmtime.Trap):
                raise cause from None  # a host function failed; wasmtime only carried its exception
            raise self._trap(name, err) from None
        except wasmtime.WasmtimeError as err:
            raise ModuleTrapError(
                f"module {self.module.name!r} function {name!r} failed: {err}",
                module=self.module.name,
                function=name,
                trap=str(err),
                interrupted=False,
                frames=[],
            ) from None
        finally:
            self._depth -= 1
            if outermost:
                _engine.ticker.end()

    def _trap(self, name: str, err: wasmtime.Trap) -> ModuleTrapError:
        frames = [f.func_name for f in (err.frames or []) if f.func_name]
        interrupted = err.trap_code == wasmtime.TrapCode.INTERRUPT
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        trap = next((line for line in reversed(lines) if "trap" in line), lines[-1] if lines else "trap")
        what = "trapped: " + trap
        if interrupted:
            what = f"exceeded its time bound of {self.module.limits.max_call_seconds:g} s and was interrupted"
        return ModuleTrapError(
            f"module {self.module.name!r} function {name!r} {what}",
            module=self.module.name,
            function=name,
            trap=trap,
            interrupted=interrupted,
            frames=frames,
        )

    def memory(self) -> memoryview:
        """The guest's linear memory as a writable byte view.

        Valid until the guest runs again (it may grow, and so move, its memory): ask again after every call
        into the guest and at the start of every host function. Cheap when the size has not changed.
        """
        if self._memory is None:
            raise ModuleTrapError(f"module {self.module.name!r} exports no memory", module=self.module.name)
        size = self._memory.data_len(self._store)
        if size != self._view_size or self._view is None:
            base = ctypes.addressof(self._memory.data_ptr(self._store).contents)
            self._view = memoryview((ctypes.c_ubyte * size).from_address(base)).cast("B")
            self._view_size = size
        return self._view
