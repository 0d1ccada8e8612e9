"""A small Marine-ABI service written in WAT, with hand-written `__m_generated_section__*` JSON sections.

Functions: `echo(s: String) -> String` (returns its argument), `add(a: u32, b: u32) -> u32`, `inc() -> u64`
(a counter kept in a global: state survives between calls), `boom()` (traps with `unreachable`).
"""

from __future__ import annotations

import json

import wasmtime

from fluence_dao.util.wasm_sections import append_custom_section

WAT = """
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 1024))
  (global $result_ptr (mut i32) (i32.const 0))
  (global $result_size (mut i32) (i32.const 0))
  (global $counter (mut i64) (i64.const 0))
  (func (export "allocate") (param $size i32) (param $tag i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $size)) (i32.const 15))
                               (i32.const -16)))
    (local.get $ptr))
  (func (export "release_objects"))
  (func (export "get_result_ptr") (result i32) (global.get $result_ptr))
  (func (export "get_result_size") (result i32) (global.get $result_size))
  (func (export "set_result_ptr") (param i32) (global.set $result_ptr (local.get 0)))
  (func (export "set_result_size") (param i32) (global.set $result_size (local.get 0)))
  (func (export "echo") (param $ptr i32) (param $len i32)
    (global.set $result_ptr (local.get $ptr))
    (global.set $result_size (local.get $len)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "inc") (result i64)
    (global.set $counter (i64.add (global.get $counter) (i64.const 1)))
    (global.get $counter))
  (func (export "boom") unreachable)
)
"""


def _ty(kind: str) -> dict[str, str]:
    return {kind: "ByValue"}


def _function(name: str, args: list[tuple[str, str]], outputs: list[str]) -> bytes:
    doc = {
        "ast_type": "Function",
        "signature": {
            "name": name,
            "arguments": [{"name": n, "ty": _ty(k)} for n, k in args],
            "output_types": [_ty(k) for k in outputs],
        },
    }
    return json.dumps(doc).encode()


def counter_wasm() -> bytes:
    wasm = wasmtime.wat2wasm(WAT)
    for name, args, outputs in [
        ("echo", [("s", "Utf8String")], ["Utf8String"]),
        ("add", [("a", "U32"), ("b", "U32")], ["U32"]),
        ("inc", [], ["U64"]),
        ("boom", [], []),
    ]:
        wasm = append_custom_section(wasm, f"__m_generated_section__{name}", _function(name, args, outputs))
    return append_custom_section(wasm, "__fluence_sdk_version", b"0.14.0")
