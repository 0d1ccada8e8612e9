"""interface.toml -> marine-rs-sdk JSON sections (golden: avm.wasm's and the seed's real sections), and the
loud failures of the interface checks."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fluence_dao.build import check_sources, interface_zig, load_interface, parse_interface, parse_rust_type, root_zig
from fluence_dao.errors import BuildError
from fluence_dao.util.marine_interface import SDK_RECORDS
from fluence_dao.util.paths import node_modules
from fluence_dao.util.wasm_sections import iter_custom_sections

# avm.wasm's own functions and RunParameters, spelled in interface.toml form.
AVM_LIKE = """
[records.RunParameters]
init_peer_id = "String"
current_peer_id = "String"
timestamp = "u64"
ttl = "u32"
key_format = "u8"
secret_key_bytes = "Vec<u8>"
particle_id = "String"
air_size_limit = "u64"
particle_size_limit = "u64"
call_result_size_limit = "u64"
hard_limit_enabled = "bool"

[records.InterpreterOutcome]
ret_code = "i64"
error_message = "String"
data = "Vec<u8>"
next_peer_pks = "Vec<String>"
call_requests = "Vec<u8>"
air_size_limit_exceeded = "bool"
particle_size_limit_exceeded = "bool"
call_result_size_limit_exceeded = "bool"

[functions.invoke]
args = { air = "String", prev_data = "Vec<u8>", data = "Vec<u8>", params = "RunParameters", call_results = "Vec<u8>" }
output = "InterpreterOutcome"

[functions.ast]
args = { script = "String" }
output = "String"

[functions.to_human_readable_data]
args = { data = "Vec<u8>" }
output = "String"

[functions.uses_sdk_records]
args = { cp = "CallParameters" }
output = "MountedBinaryStringResult"

[imports.host]  # an inline table: the same interface as the seed's curl adapter
curl = { args = { cmd = "Vec<String>" }, output = "MountedBinaryResult" }
"""

# The seed's curl_adapter.wasm (Joera/gitcoin11-fluence, ens-service/artifacts, marine-rs-sdk 0.6): its
# ExternMod section for the mounted curl binary, copied from the real file.
SEED_HOST_SECTION = (
    b'{"ast_type":"ExternMod","namespace":"host","imports":[{"link_name":null,"signature":{"name":"curl",'
    b'"arguments":[{"name":"cmd","ty":{"Vector":[{"Utf8String":"ByValue"},"ByValue"]}}],'
    b'"output_types":[{"Record":["MountedBinaryResult","ByValue"]}]}}]}'
)


@pytest.fixture(scope="module")
def avm_sections() -> dict[str, bytes]:
    avm = node_modules() / "@fluencelabs/avm/dist/avm.wasm"
    if not avm.exists():
        pytest.fail(f"{avm} missing: run npm ci")
    return dict(iter_custom_sections(avm.read_bytes()))


def _sections(text: str) -> dict[str, bytes]:
    return dict(parse_interface(tomllib.loads(text), "m").sections())


def test_function_and_record_sections_equal_avm_wasm_byte_for_byte(avm_sections: dict[str, bytes]) -> None:
    ours = _sections(AVM_LIKE)
    for name in ("invoke", "ast", "to_human_readable_data", "RunParameters", "InterpreterOutcome"):
        key = f"__m_generated_section__{name}"
        assert ours[key] == avm_sections[key], name


def test_sdk_records_equal_avm_wasm_byte_for_byte(avm_sections: dict[str, bytes]) -> None:
    ours = _sections(AVM_LIKE)
    for name in SDK_RECORDS:
        key = f"__m_generated_section__{name}"
        assert ours[key] == avm_sections[key], name


def test_import_section_equals_the_seed_curl_adapter() -> None:
    assert _sections(AVM_LIKE)["__m_generated_section__host"] == SEED_HOST_SECTION


def test_sdk_records_are_added_only_when_used() -> None:
    names = set(_sections('[functions.f]\nargs = { p = "ParticleParameters" }'))
    assert names == {"__m_generated_section__f", "__m_generated_section__ParticleParameters"}
    names = set(_sections('[functions.f]\noutput = "CallParameters"'))
    assert "__m_generated_section__SecurityTetraplet" in names  # reached through CallParameters.tetraplets


def test_str_argument_is_utf8str_by_ref() -> None:
    section = _sections('[functions.f]\nargs = { s = "&str" }')["__m_generated_section__f"]
    assert section == (
        b'{"ast_type":"Function","signature":{"name":"f","arguments":[{"name":"s","ty":{"Utf8Str":"ByRef"}}],'
        b'"output_types":[]}}'
    )


@pytest.mark.parametrize(
    ("spelled", "expected"),
    [
        ("u8", {"U8": "ByValue"}),
        ("bool", {"Boolean": "ByValue"}),
        ("String", {"Utf8String": "ByValue"}),
        ("Vec<Vec<u8>>", {"Vector": [{"Vector": [{"U8": "ByValue"}, "ByValue"]}, "ByValue"]}),
        ("Vec< Point >", {"Vector": [{"Record": ["Point", "ByValue"]}, "ByValue"]}),
    ],
)
def test_type_spellings(spelled: str, expected: object) -> None:
    assert parse_rust_type(spelled, where="t").to_json() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[functions.f]\nargs = { x = "u128" }', "unknown type 'u128'"),
        ('[functions.f]\nargs = { x = "Vec<&str>" }', "Vec<&str>"),
        ('[functions.f]\noutput = "&str"', "cannot return &str"),
        ('[records.R]\nx = "&str"', "arguments only"),
        ("[records.R]", "at least one field"),
        ('[records.CallParameters]\nx = "u8"', "defined by the sdk"),
        ('[functions.f]\nargz = { x = "u8" }', "unknown keys ['argz']"),
        ('[functions.allocate]\noutput = "u32"', "ABI export"),
        ("[functions.memory]", "ABI export"),
        ("[functions._initialize]", "ABI export"),
        ('[function.f]\noutput = "u32"', "unknown top-level keys ['function']"),
        ("[functions.f]\nargs = { x = 1 }", "must be a string"),
        ('[functions."bad-name"]', "not a valid name"),
    ],
)
def test_bad_interfaces_fail_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(BuildError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_interface(tomllib.loads(text), "m")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m" / "interface.toml"
    path.parent.mkdir()
    path.write_text("[functions.f\n")
    with pytest.raises(BuildError, match=r"interface\.toml: invalid TOML"):
        load_interface(path)


def _module(tmp_path: Path, interface: str, main: str, extra: dict[str, str] | None = None) -> Path:
    module_dir = tmp_path / "m"
    module_dir.mkdir()
    (module_dir / "interface.toml").write_text(interface)
    (module_dir / "main.zig").write_text(main)
    for name, text in (extra or {}).items():
        (module_dir / name).write_text(text)
    return module_dir


def test_described_function_missing_from_main_zig_fails(tmp_path: Path) -> None:
    module_dir = _module(tmp_path, "[functions.present]\n[functions.absent]\n", "pub fn present() void {}\n")
    with pytest.raises(BuildError, match=r"describes absent but main\.zig has no `pub fn`"):
        check_sources(load_interface(module_dir / "interface.toml"), module_dir)


def test_undescribed_export_fails(tmp_path: Path) -> None:
    module_dir = _module(
        tmp_path, "[functions.f]\n", "pub fn f() void {}\n", {"util.zig": "export fn sneaky() void {}\n"}
    )
    with pytest.raises(BuildError, match=r"util\.zig exports `sneaky` but interface\.toml has no description"):
        check_sources(load_interface(module_dir / "interface.toml"), module_dir)


def test_hand_written_export_of_a_described_function_fails(tmp_path: Path) -> None:
    module_dir = _module(tmp_path, "[functions.f]\n", "export fn f() void {}\n")
    with pytest.raises(BuildError, match="declares `export fn f`"):
        check_sources(load_interface(module_dir / "interface.toml"), module_dir)


def test_consistent_module_passes(tmp_path: Path) -> None:
    module_dir = _module(tmp_path, "[functions.f]\n[functions.g]\n", "pub fn f() void {}\npub const g = f;\n")
    check_sources(load_interface(module_dir / "interface.toml"), module_dir)


def test_generated_zig_names_every_function_and_record() -> None:
    interface = parse_interface(tomllib.loads(AVM_LIKE), "m")
    root = root_zig(interface, "wasm/m/interface.toml")
    for fn in ("invoke", "ast", "to_human_readable_data", "uses_sdk_records"):
        assert f'export fn @"{fn}"(' in root
    assert 'if (!@hasDecl(impl, "invoke"))' in root
    generated = interface_zig(interface, "wasm/m/interface.toml")
    assert 'pub const @"RunParameters" = struct {' in generated
    assert 'pub const @"CallParameters" = marine.CallParameters;' in generated
    assert 'extern "host" fn @"curl"(p0: u32, p1: u32) void;' in generated
