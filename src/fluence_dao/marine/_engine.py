"""The one wasmtime Engine, the on-disk cache of compiled modules, and the epoch ticker.

Execution bound: epoch interruption, not fuel. The bound we promise is wall-clock seconds, which epochs
give directly; fuel bounds executed instructions, whose time depends on the machine. Both cost little on
real modules. Measured here (CPU time, min of 10 interleaved runs, wasmtime 50, the same process):
avm.wasm `invoke` of a three-call script 1221 us without a bound, 1256 us with epochs (+3 %), 1298 us
with fuel (+6 %); the Zig signer's `sign_message` 1417 / 1528 (+8 %) / 1610 us (+14 %). Only a bare
counting loop favours fuel (epochs 2.0x, fuel 1.1x), because the epoch check reloads the counter on every
back-edge. `python -m benchmarks.marine_calls` repeats the avm comparison.

A daemon thread ticks the engine's epoch every TICK_SECONDS while at least one call runs (it sleeps
otherwise); each call sets its store's deadline to ceil(max_call_seconds / TICK_SECONDS) + 1 ticks, so a
runaway guest traps with `TrapCode.INTERRUPT` within about one tick of its bound.

Every module is compiled by this one engine, so the cached artifacts all match its configuration; the
cache key is sha256(wasm bytes) + the wasmtime version + the engine flags.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import wasmtime

from fluence_dao.errors import ModuleLoadError
from fluence_dao.util.paths import cache_dir

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.02
_ENGINE_FLAGS = "epoch-interruption;wide-arithmetic;v1"

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_modules: dict[str, wasmtime.Module] = {}
_store_fuel: int | None = None  # only under alternative_engine("fuel")


def engine() -> wasmtime.Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            config = wasmtime.Config()
            config.epoch_interruption = True
            config.wasm_wide_arithmetic = True
            _engine = wasmtime.Engine(config)
        return _engine


def new_store() -> wasmtime.Store:
    store = wasmtime.Store(engine())
    if _store_fuel is not None:
        store.set_fuel(_store_fuel)
    return store


@contextmanager
def alternative_engine(bound: str) -> Iterator[None]:
    """For benchmarks: modules loaded inside use an engine with execution bound "none", "epoch" or "fuel"."""
    global _engine, _ENGINE_FLAGS, _store_fuel
    saved = (_engine, _ENGINE_FLAGS, _store_fuel, dict(_modules))
    config = wasmtime.Config()
    config.epoch_interruption = bound == "epoch"
    config.consume_fuel = bound == "fuel"
    config.wasm_wide_arithmetic = True
    with _engine_lock:
        _engine, _ENGINE_FLAGS = wasmtime.Engine(config), f"{bound};wide-arithmetic;v1"
        _store_fuel = 10**15 if bound == "fuel" else None
        _modules.clear()
    try:
        yield
    finally:
        with _engine_lock:
            _engine, _ENGINE_FLAGS, _store_fuel = saved[:3]
            _modules.clear()
            _modules.update(saved[3])


def forget_compiled_modules() -> None:
    """Drop the in-process cache of compiled modules: the next load reads the on-disk cache (or compiles)."""
    _modules.clear()


def wasmtime_version() -> str:
    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:  # pragma: no cover - wasmtime always comes from the wheel
        return "unknown"


def cache_key(wasm: bytes) -> str:
    digest = hashlib.sha256(wasm).hexdigest()
    flags = hashlib.sha256(f"{wasmtime_version()};{_ENGINE_FLAGS}".encode()).hexdigest()[:12]
    return f"{digest}-{flags}"


def compiled_cache_dir() -> Path:
    path = cache_dir() / "marine"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compile_module(wasm: bytes, name: str) -> wasmtime.Module:
    """A compiled module: from this process's memo, else the disk cache, else compile and store."""
    key = cache_key(wasm)
    cached = _modules.get(key)
    if cached is not None:
        return cached
    eng = engine()
    path = compiled_cache_dir() / f"{key}.cwasm"
    module: wasmtime.Module | None = None
    if path.is_file():
        try:
            module = wasmtime.Module.deserialize_file(eng, str(path))
        except wasmtime.WasmtimeError as err:
            logger.warning("discarding unusable cached module %s: %s", path, err)
    if module is None:
        try:
            module = wasmtime.Module(eng, wasm)
        except wasmtime.WasmtimeError as err:
            raise ModuleLoadError(f"module {name!r} is not valid wasm: {err}", module=name) from err
        _store_artifact(path, module.serialize())
    _modules[key] = module
    return module


def _store_artifact(path: Path, data: bytes | bytearray) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as err:  # a read-only cache only costs compile time
        logger.warning("could not cache compiled module at %s: %s", path, err)


def deadline_ticks(seconds: float) -> int:
    return max(1, math.ceil(seconds / TICK_SECONDS)) + 1


class _EpochTicker:
    """Increments the engine epoch every TICK_SECONDS while any call is active."""

    def __init__(self) -> None:
        self._active = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def begin(self) -> None:
        with self._cond:
            self._active += 1
            if self._active == 1:  # the thread waits only while no call is active
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="marine-epoch", daemon=True)
                    self._thread.start()
                self._cond.notify()

    def end(self) -> None:
        with self._cond:
            self._active -= 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._active == 0:
                    self._cond.wait()
            engine().increment_epoch()
            time.sleep(TICK_SECONDS)


ticker = _EpochTicker()
