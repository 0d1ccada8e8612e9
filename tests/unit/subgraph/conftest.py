"""Shared fixtures for the subgraph unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fluence_dao.subgraph import asc as A

#: A module whose only export is a bump allocator over its memory: an AscHeap without a mapping's wasm.
BUMP = """
(module
  (memory (export "memory") {pages})
  (global $next (mut i32) (i32.const 1024))
  (func (export "allocate") (param $size i32) (result i32) (local $at i32)
    global.get $next local.set $at
    global.get $next local.get $size i32.add global.set $next
    local.get $at))
"""


@pytest.fixture
def bump_heap() -> Callable[..., A.AscHeap]:
    """`bump_heap(id_of_type, pages=1) -> AscHeap` over a fresh instance of BUMP (real wasm memory of `pages`
    64 KiB pages)."""
    import wasmtime

    from fluence_dao.marine.core import CoreModule

    def make(id_of_type: Callable[[int], int], pages: int = 1) -> A.AscHeap:
        wasm = bytes(wasmtime.wat2wasm(BUMP.format(pages=pages)))
        instance = CoreModule(wasm, "bump", lambda *_: None).instantiate()
        return A.AscHeap(instance.memory, lambda size: int(instance.call("allocate", size)), id_of_type)

    return make
