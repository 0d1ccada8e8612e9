"""The one wasmtime Engine, the on-disk cache of compiled modules, and the epoch ticker.

Execution bound: epoch interruption, not fuel. Fuel makes wasmtime count every instruction, which
costs on every call whether or not it runs long; epoch interruption only checks a counter at function
entries and loop back-edges. Measured on avm.wasm `invoke` of a one-call script (benchmarks/marine_calls.py
prints it, `--compare-fuel`): fuel added about 10-15 % to the call, epochs about 1-3 %. Fuel would also
bound instructions rather than time, and the bound we promise is wall-clock seconds. A daemon thread ticks
the engine's epoch every TICK_SECONDS while at least one call runs (it sleeps otherwise); each call sets
its store's deadline to ceil(max_call_seconds / TICK_SECONDS) ticks, so a runaway guest traps with
`TrapCode.INTERRUPT` within one tick of its bound.

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
from importlib import metadata
from pathlib import Path

import wasmtime

from fluence_dao._util.paths import cache_dir
from fluence_dao.errors import ModuleLoadError

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.02
_ENGINE_FLAGS = "epoch-interruption;wide-arithmetic;v1"

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()
_modules: dict[str, wasmtime.Module] = {}


def engine() -> wasmtime.Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            config = wasmtime.Config()
            config.epoch_interruption = True
            config.wasm_wide_arithmetic = True
            _engine = wasmtime.Engine(config)
        return _engine


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
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="marine-epoch", daemon=True)
                self._thread.start()
            self._cond.notify()

    def end(self) -> None:
        with self._cond:
            self._active -= 1

    def _run(self) -> None:
        eng = engine()
        while True:
            with self._cond:
                while self._active == 0:
                    self._cond.wait()
            eng.increment_epoch()
            time.sleep(TICK_SECONDS)


ticker = _EpochTicker()
