"""Parsing `fluence-dao run -f 'func(a, "b", 3)'` and the compiler's error texts (no node needed)."""

from __future__ import annotations

import pytest

from fluence_dao.aqua import compile_error, normalize_scala_fields, parse_function_call
from fluence_dao.errors import AquaCompileError


def test_literals_and_data_keys() -> None:
    call = parse_function_call('greet(name, "a, b", 42, [1, [2, 3]], {"k": "v,w"}, true)', {"name": "alice"})
    assert call.name == "greet"
    assert call.args == ["alice", "a, b", 42, [1, [2, 3]], {"k": "v,w"}, True]


def test_no_arguments() -> None:
    assert parse_function_call("  ping( ) ").args == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a call", "expected `name"),
        ("f(missing)", "argument 'missing' .* is not in --data"),
        ("f(1,,2)", "empty argument"),
        ('f("open)', "unbalanced"),
        ("f(1.2.3)", "neither a --data key nor a JSON literal"),
    ],
)
def test_bad_calls_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(AquaCompileError, match=message):
        parse_function_call(text, {})


def test_compiler_error_keeps_file_and_line(tmp_path) -> None:
    text = (
        '\x1b[36m---- Error: /x/y.aqua:13:26\x1b[0m\n\x1b[36m13\x1b[0m         r <- Op.identity("x")\n'
        "                            \x1b[36m^^^=\x1b[0m\n\x1b[36m      Types mismatch.\n      expected:   ?string\n"
    )
    err = compile_error(tmp_path / "y.aqua", [text, text])
    assert err.details["file"] == "/x/y.aqua"
    assert err.details["line"] == 13 and err.details["column"] == 26
    assert "Types mismatch. expected: ?string" in err.message
    assert err.message.count("/x/y.aqua:13:26: Types mismatch.") == 2  # every error, each with its place
    assert [e["line"] for e in err.details["errors"]] == [13, 13]


def test_compiler_errors_are_all_listed_in_the_compilers_order_syntax_errors_too(tmp_path) -> None:
    syntax = "\x1b[31m---- Syntax error: /x/y.aqua:9:4\x1b[0m\n9 f(\n   ^==\n   Expected: EndOfString(1,2)\n"
    scope = "---- Error: /x/y.aqua:3:8\n3  <- x\n   ^\n   Name 'x' isn't found in scope.\n"
    err = compile_error(tmp_path / "y.aqua", [syntax, scope])
    assert err.details["line"] == 9
    assert err.message.splitlines()[1:] == [
        "  /x/y.aqua:9:4: Expected: EndOfString(1,2)",
        "  /x/y.aqua:3:8: Name 'x' isn't found in scope.",
    ]
    assert "\x1b" not in err.details["compiler_text"]


def test_scala_field_names_are_normalized() -> None:
    raw = {"Laqua_js_FunctionDefJs__f_functionName": "f", "Laqua_js_X__f_items": [{"Laqua_js_Y__f_tag": "scalar"}]}
    assert normalize_scala_fields(raw) == {"functionName": "f", "items": [{"tag": "scalar"}]}
