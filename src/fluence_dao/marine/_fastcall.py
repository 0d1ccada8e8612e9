"""Calling exports with numeric parameters without wasmtime-py's per-call type lookups.

`wasmtime.Func.__call__` asks wasmtime for the function's type and converts every value through `Val` on
each call; a Marine call makes 4-6 such calls (allocate, the export, get_result_ptr/size,
release_objects), and that bookkeeping was most of a small call's time. `CoreFunc` reads the type once
and fills the `wasmtime_val_t` array itself, keeping wasmtime-py's trap and host-exception handling
(`enter_wasm`). It relies on wasmtime-py internals of the pinned version (wasmtime==50.0.1); if they are
missing, it falls back to `Func.__call__`.
"""

from __future__ import annotations

from ctypes import byref
from typing import Any

import wasmtime

try:  # wasmtime-py internals, present in the pinned version
    from wasmtime import _ffi as ffi
    from wasmtime._func import enter_wasm

    _FAST = hasattr(ffi, "wasmtime_func_call") and hasattr(ffi, "wasmtime_val_t")
except ImportError:  # pragma: no cover - other wasmtime-py versions
    _FAST = False

_KINDS = {"i32": (0, "i32"), "i64": (1, "i64"), "f32": (2, "f32"), "f64": (3, "f64")}


class CoreFunc:
    """One export of one instance, called with Python numbers: `func(*args)`."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        self.store = store
        self.func = func
        self.params = [str(p) for p in ty.params]
        self.results = [str(r) for r in ty.results]
        self.fast = _FAST and len(self.results) <= 1 and all(t in _KINDS for t in self.params + self.results)

    def __call__(self, *args: Any) -> Any:
        if not self.fast:
            return self.func(self.store, *args)
        count = len(self.params)
        if len(args) != count:
            raise wasmtime.WasmtimeError(f"expected {count} parameters, got {len(args)}")
        params = (ffi.wasmtime_val_t * count)()
        for slot, value, ty in zip(params, args, self.params, strict=True):
            kind, field = _KINDS[ty]
            slot.kind = kind
            setattr(slot.of, field, value)
        results = (ffi.wasmtime_val_t * len(self.results))()
        with enter_wasm(self.store) as trap:
            error = ffi.wasmtime_func_call(
                self.store._context(), byref(self.func._func), params, count, results, len(self.results), trap
            )
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        if not self.results:
            return None
        return getattr(results[0].of, _KINDS[self.results[0]][1])
