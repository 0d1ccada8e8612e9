"""Calling exports and reading/writing guest memory without wasmtime-py's per-call bookkeeping.

`wasmtime.Func.__call__` asks wasmtime for the function's type and converts every value through `Val` on
each call; a Marine call makes 4-6 such calls (allocate, the export, get_result_ptr/size,
release_objects), and that bookkeeping was most of a small call's time. `CoreFunc` reads the type once and
calls `wasmtime_func_call_unchecked` with one reused `wasmtime_val_raw_t` buffer (arguments in, results
out): the types were checked once against the function's own type, so the per-call check is redundant.
It keeps wasmtime-py's trap and host-exception semantics (`enter_wasm`: a Python exception raised by a host
function wins over the trap it caused).

`MemoryView` reads and writes linear memory with one `string_at`/`memmove` after asking wasmtime for the
current length (memory can grow during any call into the guest; it can move only when it grows, so the
base address is asked for again only when the length changed), instead of `Memory.read`/`write`, which
build a ctypes array type per access.

Both rely on wasmtime-py internals of the pinned version (wasmtime==50.0.1); if they are missing, they fall
back to the public API.
"""

from __future__ import annotations

import ctypes
from ctypes import byref
from typing import TYPE_CHECKING, cast

import wasmtime

if TYPE_CHECKING:
    from _ctypes import _CDataType  # typeshed's name for "a ctypes type"

try:  # wasmtime-py internals, present in the pinned version
    from wasmtime import _ffi as ffi
    from wasmtime._func import enter_wasm, maybe_raise_last_exn

    _NEEDED = ("wasmtime_func_call_unchecked", "wasmtime_val_raw_t", "wasm_trap_t", "dll", "wasmtime_memory_t")
    _FAST = all(hasattr(ffi, n) for n in _NEEDED) and ctypes.sizeof(ffi.wasmtime_val_raw_t) % 8 == 0
except ImportError:  # pragma: no cover - other wasmtime-py versions
    _FAST = False

if _FAST:

    def _raw_symbol(
        name: str, restype: type[_CDataType] | None, argtypes: list[type[_CDataType]]
    ) -> ctypes._NamedFuncPointer:
        """A private ctypes prototype of a libwasmtime symbol (wasmtime-py's own stays untouched)."""
        func: ctypes._NamedFuncPointer = type(getattr(ffi.dll, name))((name, ffi.dll))
        func.restype = restype
        func.argtypes = argtypes
        return func

    _CTX = ctypes.POINTER(ffi.wasmtime_context_t)
    _MEM = ctypes.POINTER(ffi.wasmtime_memory_t)
    _memory_base = _raw_symbol("wasmtime_memory_data", ctypes.c_void_p, [_CTX, _MEM])
    _memory_size = _raw_symbol("wasmtime_memory_data_size", ctypes.c_size_t, [_CTX, _MEM])
    _TrapPtr = ctypes.POINTER(ffi.wasm_trap_t)
    _call_unchecked = _raw_symbol(
        "wasmtime_func_call_unchecked",
        ctypes.POINTER(ffi.wasmtime_error_t),
        [_CTX, ctypes.POINTER(ffi.wasmtime_func_t), ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_TrapPtr)],
    )
    _SLOT_WORDS = ctypes.sizeof(ffi.wasmtime_val_raw_t) // 8

_INT_KINDS = {"i32", "i64"}
_KINDS = {"i32": (0, "i32"), "i64": (1, "i64"), "f32": (2, "f32"), "f64": (3, "f64")}
_I32_SIGN = 1 << 31
_I32_MASK = (1 << 32) - 1


class CoreFunc:
    """One export of one instance, called with Python numbers: `func(*args)`.

    Integer-only signatures (all Marine ABI functions) take the unchecked path; others (floats) go through
    `wasmtime_func_call` with typed values, or `Func.__call__` when the internals are missing.
    """

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        self.store = store
        self.func = func
        self.params = [str(p) for p in ty.params]
        self.results = [str(r) for r in ty.results]
        kinds = self.params + self.results
        self.typed = _FAST and len(self.results) <= 1 and all(t in _KINDS for t in kinds)
        self.unchecked = self.typed and all(t in _INT_KINDS for t in kinds)
        self._count = len(self.params)
        self._result_i32 = self.results == ["i32"]
        self._busy = False
        if self.unchecked:
            slots = max(self._count, len(self.results), 1)
            self._words_type = ctypes.c_int64 * (slots * _SLOT_WORDS)
            self._words = self._words_type()
            self._ctx = store._context()
            self._func_ref = byref(func._func)
            self._trap = _TrapPtr()
            self._trap_ref = byref(self._trap)

    def __call__(self, *args: int | float) -> int | float | None:
        if not self.unchecked:
            return self._call_typed(args) if self.typed else self.func(self.store, *args)
        if len(args) != self._count:
            raise wasmtime.WasmtimeError(f"expected {self._count} parameters, got {len(args)}")
        if self._busy:  # re-entered from a host function during its own call: fresh buffers
            words = self._words_type()
            trap = _TrapPtr()
            trap_ref = byref(trap)
        else:
            words, trap, trap_ref = self._words, self._trap, self._trap_ref
        # this path is taken for integer-only signatures (ctypes refuses a float here)
        for i, value in enumerate(cast("tuple[int, ...]", args)):
            words[i * _SLOT_WORDS] = value  # an i32 goes in the low half (little endian), an i64 whole
        busy, self._busy = self._busy, True
        try:
            error = _call_unchecked(self._ctx, self._func_ref, words, len(words) // _SLOT_WORDS, trap_ref)
        finally:
            self._busy = busy
        if error or trap:
            self._raise(error, trap)
        if self._result_i32:
            return ((words[0] & _I32_MASK) ^ _I32_SIGN) - _I32_SIGN
        return words[0] if self.results else None

    def _raise(self, error: ctypes._Pointer[ffi.wasmtime_error_t], trap: ctypes._Pointer[ffi.wasm_trap_t]) -> None:
        """What `enter_wasm` does: a host function's Python exception first, then the error or trap."""
        if error:
            maybe_raise_last_exn()
            raise wasmtime.WasmtimeError._from_ptr(error)
        if trap is self._trap:  # the Trap object owns this pointer from now on
            self._trap = _TrapPtr()
            self._trap_ref = byref(self._trap)
        trap_obj = wasmtime.Trap._from_ptr(trap)
        maybe_raise_last_exn()
        raise trap_obj

    def _call_typed(self, args: tuple[int | float, ...]) -> int | float | None:
        count = self._count
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
        result: int | float = getattr(results[0].of, _KINDS[self.results[0]][1])
        return result


class MemoryView:
    """Bounds-checked reads and writes of one instance's linear memory."""

    def __init__(self, store: wasmtime.Store, memory: wasmtime.Memory) -> None:
        self.store = store
        self.memory = memory
        if _FAST:
            self._ctx = store._context()
            self._mem_ref = byref(memory._memory)
            self._size = -1
            self._base = 0

    def _bounds(self) -> tuple[int, int]:
        """(base address, size). Memory moves only when it grows, so the base is re-read only then."""
        size = int(_memory_size(self._ctx, self._mem_ref))
        if size != self._size:
            self._base = int(_memory_base(self._ctx, self._mem_ref) or 0)
            self._size = size
        return self._base, size

    def size(self) -> int:
        if _FAST:
            return int(_memory_size(self._ctx, self._mem_ref))
        return int(self.memory.data_len(self.store))  # pragma: no cover - other wasmtime-py versions

    def read(self, ptr: int, size: int) -> bytes | None:
        """`size` bytes at `ptr`, or None when [ptr, ptr + size) is outside the memory."""
        if not _FAST:  # pragma: no cover - other wasmtime-py versions
            if ptr < 0 or ptr + size > self.memory.data_len(self.store):
                return None
            return bytes(self.memory.read(self.store, ptr, ptr + size))
        base, length = self._bounds()
        if ptr < 0 or ptr + size > length:
            return None
        if size == 0:
            return b""
        return ctypes.string_at(base + ptr, size)

    def write(self, ptr: int, data: bytes) -> bool:
        """Copy `data` to `ptr`; False (nothing written) when it does not fit."""
        if not _FAST:  # pragma: no cover - other wasmtime-py versions
            if ptr < 0 or ptr + len(data) > self.memory.data_len(self.store):
                return False
            self.memory.write(self.store, data, ptr)
            return True
        base, length = self._bounds()
        if ptr < 0 or ptr + len(data) > length:
            return False
        if data:
            ctypes.memmove(base + ptr, data, len(data))
        return True
