"""util.wasm_sections: keeping some exports, and where a module's static data ends."""

from __future__ import annotations

import pytest
import wasmtime

from fluence_dao.util.wasm_sections import function_exports, keep_exports, static_data_end

WAT = """
(module
  (memory (export "memory") 1)
  (global (export "g") i32 (i32.const 1))
  (func (export "a")) (func (export "b"))
  (data (i32.const 1024) "hello")
  (data (i32.const 4096) "world!")
  (data "passive"))
"""


def test_keep_exports_keeps_only_the_named_ones() -> None:
    wasm = bytes(wasmtime.wat2wasm(WAT))
    kept = keep_exports(wasm, {"a", "memory"})
    assert function_exports(kept) == ["a"]
    module = wasmtime.Module(wasmtime.Engine(), kept)  # still a valid module
    assert sorted(e.name for e in module.exports) == ["a", "memory"]
    assert keep_exports(wasm, {"a", "b", "g", "memory"}) == wasm  # nothing dropped: the same bytes


def test_static_data_end() -> None:
    assert static_data_end(bytes(wasmtime.wat2wasm(WAT))) == 4096 + len("world!")
    assert static_data_end(bytes(wasmtime.wat2wasm("(module)"))) == 0
    with pytest.raises(ValueError, match="not a wasm module"):
        static_data_end(b"nope")
