"""Parsing `__m_generated_section__*` descriptions (the JSON marine-rs-sdk's macro emits)."""

from __future__ import annotations

import json
import re

import pytest

from fluence_dao.errors import ModuleLoadError
from fluence_dao.marine import MType, RecordType, parse_interface
from fluence_dao.util.marine_interface import iter_custom_sections, parse_section, parse_type

# avm.wasm 0.62's own description of `invoke` and one of its records, verbatim.
INVOKE = (
    '{"ast_type":"Function","signature":{"name":"invoke","arguments":[{"name":"air","ty":{"Utf8String":"ByValue"}},'
    '{"name":"prev_data","ty":{"Vector":[{"U8":"ByValue"},"ByValue"]}},{"name":"data","ty":{"Vector":[{"U8":'
    '"ByValue"},"ByValue"]}},{"name":"params","ty":{"Record":["RunParameters","ByValue"]}},{"name":"call_results",'
    '"ty":{"Vector":[{"U8":"ByValue"},"ByValue"]}}],"output_types":[{"Record":["InterpreterOutcome","ByValue"]}]}}'
)


def _section(name: str, payload: bytes) -> bytes:
    def uleb(n: int) -> bytes:
        out = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    body = uleb(len(name)) + name.encode() + payload
    return b"\x00" + uleb(len(body)) + body


def _wasm(*sections: tuple[str, object]) -> bytes:
    out = b"\x00asm\x01\x00\x00\x00"
    for name, doc in sections:
        payload = doc if isinstance(doc, bytes) else (doc if isinstance(doc, str) else json.dumps(doc)).encode()
        out += _section(name, payload)
    return out


def _record(name: str, fields: list[tuple[str, object]]) -> dict[str, object]:
    return {"ast_type": "Record", "name": name, "fields": {"Named": [{"name": n, "ty": t} for n, t in fields]}}


def test_parse_types_of_every_kind() -> None:
    assert parse_type({"U64": "ByValue"}) == MType("U64")
    assert parse_type({"Utf8Str": "ByRef"}).describe() == "&str"
    nested = parse_type({"Vector": [{"Vector": [{"Record": ["Tetraplet", "ByValue"]}, "ByValue"]}, "ByValue"]})
    assert nested.describe() == "Vec<Vec<Tetraplet>>"
    assert parse_type({"Vector": [{"U8": "ByValue"}, "ByValue"]}).is_bytes
    assert not parse_type({"Vector": [{"I8": "ByValue"}, "ByValue"]}).is_bytes
    with pytest.raises(ModuleLoadError, match="unknown type"):
        parse_type({"U128": "ByValue"})


def test_interface_from_avm_style_sections() -> None:
    run_parameters = _record(
        "RunParameters",
        [("init_peer_id", {"Utf8String": "ByValue"}), ("timestamp", {"U64": "ByValue"}), ("ttl", {"U32": "ByValue"}),
         ("key_format", {"U8": "ByValue"}), ("hard_limit_enabled", {"Boolean": "ByValue"})],
    )  # fmt: skip
    outcome = _record("InterpreterOutcome", [("ret_code", {"I64": "ByValue"})])
    wasm = _wasm(
        ("name", b"\x00\x01x"),
        ("__m_generated_section__invoke", INVOKE),
        ("__m_generated_section__RunParameters", run_parameters),
        ("__m_generated_section__InterpreterOutcome", outcome),
        ("__fluence_sdk_version", b"0.14.0"),
    )
    interface = parse_interface(wasm)
    sig = interface.functions["invoke"]
    assert sig.describe() == (
        "invoke(air: String, prev_data: Vec<u8>, data: Vec<u8>, params: RunParameters, call_results: Vec<u8>)"
        " -> InterpreterOutcome"
    )
    assert interface.records["RunParameters"].size == 8 + 8 + 4 + 1 + 1
    assert interface.sdk_version == "0.14.0"
    assert interface.custom_sections[0][0] == "name"
    assert json.loads(json.dumps(sig.to_json()))["arguments"][0] == {"name": "air", "ty": {"Utf8String": "ByValue"}}


def test_extern_mod_unit_result_and_tuple_records() -> None:
    extern = {
        "ast_type": "ExternMod",
        "namespace": "curl_adapter",
        "imports": [
            {
                "link_name": "curl_request",
                "signature": {"name": "curl", "arguments": [], "output_types": []},
            }
        ],
    }
    pair = {"ast_type": "Record", "name": "Pair", "fields": {"Unnamed": [{"name": None, "ty": {"U8": "ByValue"}}]}}
    unit = {"ast_type": "Record", "name": "Empty", "fields": "Unit"}
    interface = parse_interface(
        _wasm(("__m_generated_section__curl_adapter", extern), ("__m_generated_section__Pair", pair),
              ("__m_generated_section__Empty", unit))
    )  # fmt: skip
    imported = interface.imports[("curl_adapter", "curl_request")]
    assert imported.signature.output is None
    assert interface.records["Pair"].fields[0].name == "0" and not interface.records["Pair"].named
    assert interface.records["Empty"].size == 0


def test_duplicate_records_merge_but_conflicts_are_refused() -> None:
    one = _record("R", [("a", {"U8": "ByValue"})])
    other = _record("R", [("a", {"U16": "ByValue"})])
    assert "R" in parse_interface(_wasm(("__m_generated_section__R", one), ("__m_generated_section__R", one))).records
    with pytest.raises(ModuleLoadError, match="described twice"):
        parse_interface(_wasm(("__m_generated_section__R", one), ("__m_generated_section__R", other)))


def test_undescribed_record_and_bad_json_are_load_errors() -> None:
    sig = {"ast_type": "Function", "signature": {"name": "f", "arguments": [],
                                                  "output_types": [{"Record": ["Missing", "ByValue"]}]}}  # fmt: skip
    with pytest.raises(ModuleLoadError, match="'Missing'"):
        parse_interface(_wasm(("__m_generated_section__f", sig)))
    with pytest.raises(ModuleLoadError, match="__m_generated_section__f"):
        parse_interface(_wasm(("__m_generated_section__f", b"{not json")))
    with pytest.raises(ModuleLoadError, match="magic"):
        parse_interface(b"not wasm at all")


def test_iter_custom_sections_skips_other_sections() -> None:
    wasm = _wasm(("a", b"1")) + b"\x01\x01\x00" + _section("b", b"22")  # a type section in between
    assert list(iter_custom_sections(wasm)) == [("a", b"1"), ("b", b"22")]


U32 = {"U32": "ByValue"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"ast_type": "Record", "fields": {"Named": []}}, "record without a name"),
        ({"ast_type": "ExternMod", "imports": []}, "extern module without a namespace"),
        (
            {"ast_type": "Function", "signature": {"name": "f", "arguments": [{"ty": U32}], "output_types": []}},
            "argument of 'f' #0 has no name",
        ),
        ({"ast_type": "Record", "name": "R", "fields": {"Named": None}}, "field of record 'R': expected a JSON list"),
        ({"ast_type": "ExternMod", "namespace": "n", "imports": None}, "imports of 'n': expected a JSON list"),
        (
            {"ast_type": "Record", "name": "R", "fields": {"Named": [{"name": None, "ty": U32}]}},
            "field of record 'R' #0 has no name",
        ),
    ],
)
def test_malformed_section_descriptions_are_refused_by_name(section: dict[str, object], message: str) -> None:
    with pytest.raises(ModuleLoadError, match=re.escape(message)):
        parse_section(section)


def test_tuple_struct_fields_are_named_by_position() -> None:
    record = parse_section({"ast_type": "Record", "name": "T", "fields": {"Unnamed": [{"name": None, "ty": U32}]}})
    assert isinstance(record, RecordType) and [f.name for f in record.fields] == ["0"] and not record.named
