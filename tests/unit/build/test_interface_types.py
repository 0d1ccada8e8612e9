"""The interface-types generator: golden test on avm.wasm, and loud failures where the format has limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fluence_dao.build import generate_interface_types
from fluence_dao.errors import BuildError
from fluence_dao.util.paths import node_modules
from fluence_dao.util.wasm_sections import iter_custom_sections


def _fn(name: str, args: list[tuple[str, Any]], outputs: list[Any]) -> dict[str, Any]:
    return {
        "ast_type": "Function",
        "signature": {
            "name": name,
            "arguments": [{"name": n, "ty": t} for n, t in args],
            "output_types": outputs,
        },
    }


STRING = {"Utf8String": "ByValue"}


def test_reproduces_avm_wasm_section_byte_for_byte(require) -> None:
    avm = node_modules() / "@fluencelabs/avm/dist/avm.wasm"
    require(avm.exists(), "node_modules/@fluencelabs/avm not installed (run npm ci)")
    sections = dict(iter_custom_sections(avm.read_bytes()))
    docs = [json.loads(p) for n, p in iter_custom_sections(avm.read_bytes()) if n.startswith("__m_generated_section__")]
    expected = sections["interface-types"]
    assert len(expected) == 1576
    assert generate_interface_types(docs) == expected


def test_function_order_changes_the_section() -> None:
    a, b = _fn("a", [("x", STRING)], [STRING]), _fn("b", [], [{"U64": "ByValue"}])
    assert generate_interface_types([a, b]) != generate_interface_types([b, a])


def test_string_function_layout() -> None:
    """A string -> string function: types 6 and 7, export 6 -> type 7, adapter and implementation."""
    payload = generate_interface_types([_fn("greet", [("name", STRING)], [STRING])])
    assert payload.startswith(b"\x05\x060.27.0\x00\x08")  # version, then 8 types
    fn_type = b"\x00\x01\x04name\x0a\x01\x0a"
    assert payload.count(fn_type) == 2
    instructions = bytes.fromhex("00002440010100000023010601030102220101")
    assert b"\x02\x01\x06" + bytes([11]) + instructions in payload  # adapter for type 6
    assert b"\x05greet\x07" in payload  # export "greet" -> core type 7
    assert payload.endswith(b"\x04\x01\x07\x06")  # implementation: core 7, adapter 6


def test_forward_record_reference_is_resolved() -> None:
    outer = {
        "ast_type": "Record",
        "name": "Outer",
        "fields": {"Named": [{"name": "inner", "ty": {"Record": ["Inner", "ByValue"]}}]},
    }
    inner = {"ast_type": "Record", "name": "Inner", "fields": {"Named": [{"name": "v", "ty": {"U32": "ByValue"}}]}}
    payload = generate_interface_types([outer, inner])
    assert b"\x01\x05Outer\x01\x05inner\x0e\x06" in payload  # Inner reserved as type 6, Outer is type 7
    assert b"\x05Inner\x01\x01v\x06" in payload


def test_unresolved_record_fails_loudly() -> None:
    outer = {
        "ast_type": "Record",
        "name": "Outer",
        "fields": {"Named": [{"name": "x", "ty": {"Record": ["Missing", "ByValue"]}}]},
    }
    with pytest.raises(BuildError, match="Missing"):
        generate_interface_types([outer])


def test_name_over_255_bytes_is_refused() -> None:
    with pytest.raises(BuildError, match="at most 255"):
        generate_interface_types([_fn("f" * 256, [], [])])


def test_more_than_127_arguments_is_refused() -> None:
    args = [(f"a{i}", {"U8": "ByValue"}) for i in range(128)]
    with pytest.raises(BuildError, match="at most 127"):
        generate_interface_types([_fn("many", args, [])])


def test_host_imports_add_nothing() -> None:
    host = {
        "ast_type": "ExternMod",
        "namespace": "host",
        "imports": [{"link_name": None, "signature": {"name": "curl", "arguments": [], "output_types": []}}],
    }
    assert generate_interface_types([host]) == generate_interface_types([])
