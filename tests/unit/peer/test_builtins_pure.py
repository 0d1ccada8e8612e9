"""Builtins that need no peer state: op, math, cmp, array, json, debug; nox's argument errors."""

from __future__ import annotations

import hashlib
from typing import Any

import base58
import pytest

from fluence_dao.peer.builtins import JSON_NULL, BuiltinError, default_builtins

BUILTINS = default_builtins()


def call(service: str, function: str, *args: Any) -> Any:
    return BUILTINS[service].call(function, list(args), None)  # type: ignore[arg-type]


def fails(service: str, function: str, *args: Any) -> str:
    with pytest.raises(BuiltinError) as info:
        call(service, function, *args)
    return info.value.result


def test_op_basics() -> None:
    assert call("op", "noop") is None
    assert call("op", "identity", 7) == 7 and call("op", "identity") is None
    assert call("op", "identity", None) is JSON_NULL  # null stays null; no argument is nox's "empty" outcome
    assert call("op", "array", "a", 1) == ["a", 1]
    assert call("op", "array_length", [1, 2, 3]) == 3
    assert call("op", "concat", [1], [], [2, 3]) == [1, 2, 3]
    assert call("op", "concat_strings", "a", "b", "c") == "abc"
    assert fails("op", "identity", 1, 2) == "identity accepts up to 1 arguments, received 2 arguments"
    assert fails("op", "array_length", "x") == "op array_length's argument must be an array"
    assert fails("op", "array_length") == "op array_length accepts exactly 1 argument: 0 found"
    assert (
        fails("op", "concat_strings", "a", 1) == "all arguments of 'concat_strings' must be strings: argument #1 is not"
    )


def test_op_base58_and_sha256() -> None:
    assert call("op", "string_to_b58", "hello") == base58.b58encode(b"hello").decode()
    assert call("op", "string_from_b58", base58.b58encode("héllo".encode()).decode()) == "héllo"
    assert call("op", "bytes_from_b58", base58.b58encode(b"\x00\xff").decode()) == [0, 255]
    assert call("op", "bytes_to_b58", [0, 255]) == base58.b58encode(b"\x00\xff").decode()
    assert "DecodeUTF8" in fails("op", "string_from_b58", base58.b58encode(b"\xff\xfe").decode())
    digest = hashlib.sha256(b"abc").digest()
    assert call("op", "sha256_string", "abc") == base58.b58encode(b"\x12\x20" + digest).decode()
    assert call("op", "sha256_string", "abc", True) == base58.b58encode(digest).decode()
    assert call("op", "sha256_string", "abc", [True], [True]) == list(digest)


def test_argument_errors_have_nox_texts() -> None:
    assert fails("op", "string_to_b58") == (
        "Error: Field 'string' is missing from args to call_service\nMissingField(\"string\")"
    )
    assert fails("op", "bytes_to_b58", [1, 300]).startswith(
        "Error: Error deserializing field 'bytes': expected Vec<u8>, got [1,300]"
    )
    assert "Option's array must contain at most 1 element, 'digest_only' was of 2 elements" in fails(
        "op", "sha256_string", "a", [True, False]
    )


def test_math_is_checked_i64() -> None:
    assert call("math", "add", 2, 3) == 5
    assert call("math", "sub", 2, 3) == -1
    assert call("math", "mul", -4, 3) == -12
    assert call("math", "div", -7, 2) == -3  # toward zero, as Rust
    assert call("math", "rem", -7, 2) == -1
    assert call("math", "pow", 2, 10) == 1024
    assert call("math", "log", 2, 1025) == 10
    assert call("math", "fmul", 1.5, 3) == 4
    assert fails("math", "add", 2**63 - 1, 1) == "i64 add overflow"
    assert fails("math", "div", 1, 0) == "i64 div overflow"
    assert fails("math", "pow", 2, 64) == "i64 pow overflow"
    assert fails("math", "log", 1, 8) == "i64 log overflow"
    assert fails("math", "add", 1) == "expected 2 arguments, got 1"
    assert "expected i64" in fails("math", "add", "1", 2)


def test_cmp() -> None:
    assert call("cmp", "gt", 2, 1) is True and call("cmp", "gte", 1, 1) is True
    assert call("cmp", "lt", 2, 1) is False and call("cmp", "lte", 1, 2) is True
    assert [call("cmp", "cmp", a, b) for a, b in ((1, 2), (2, 2), (3, 2))] == [-1, 0, 1]


def test_array() -> None:
    assert call("array", "sum", [1, 2, 3]) == 6
    assert call("array", "dedup", ["a", "b", "a"]) == ["a", "b"]
    assert call("array", "intersect", ["a", "b", "c"], ["c", "a"]) == ["a", "c"]
    assert call("array", "diff", ["a", "b", "c"], ["c"]) == ["a", "b"]
    assert call("array", "sdiff", ["a", "b"], ["b", "c"]) == ["a", "c"]
    assert call("array", "slice", [1, 2, 3, 4], 1, 3) == [2, 3]
    assert call("array", "length", [1]) == 1
    assert "slice indexes out of bounds" in fails("array", "slice", [1], 0, 2)
    assert "must be an unsigned integer" in fails("array", "slice", [1], -1, 1)


def test_json() -> None:
    assert call("json", "obj", "a", 1, "b", [2]) == {"a": 1, "b": [2]}
    assert call("json", "put", {"a": 1}, "b", 2) == {"a": 1, "b": 2}
    assert call("json", "puts", {}, "x", 1, "y", 2) == {"x": 1, "y": 2}
    assert call("json", "parse", '{"k": [1, 2]}') == {"k": [1, 2]}
    assert call("json", "stringify", {"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert call("json", "obj_pairs", [["a", 1], ["b", 2]]) == {"a": 1, "b": 2}
    assert call("json", "puts_pairs", {"a": 0}, [["a", 1]]) == {"a": 1}
    assert "No value for key" in fails("json", "obj", "a")
    assert "All keys must be of type string" in fails("json", "obj", 1, 2)
    assert fails("json", "parse", "{").startswith("Error: error parsing json {")
    assert fails("json", "puts_pairs", [], []) == "expected json object, got []"


def test_debug_stringify() -> None:
    assert call("debug", "stringify") == '"<empty argument list>"'
    assert call("debug", "stringify", {"a": 1}) == '{"a":1}'
    assert call("debug", "stringify", 1, "x") == '[1,"x"]'


def test_unknown_function_names_the_service() -> None:
    message = fails("op", "nope")
    assert "'nope'" in message and "'op'" in message and "identity" in message


def test_registry_has_nox_service_ids() -> None:
    expected = {"op", "peer", "srv", "dist", "script", "kad", "json", "math", "cmp", "array", "debug", "stat"}
    assert expected <= set(BUILTINS)
