"""The build driver's pure parts: the cache key of the linked output, the export reader, the section appender,
the Zig command line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from fluence_dao.build import (
    SDK_VERSION,
    add_sections,
    discover_modules,
    generate_interface_types,
    linked_cache_key,
    parse_interface,
    wasm_function_exports,
    write_glue,
    zig_build_args,
)
from fluence_dao.errors import BuildError
from fluence_dao.util.varint import encode_uvarint
from fluence_dao.util.wasm_sections import iter_custom_sections

INTERFACE = '[records.P]\nx = "u8"\n[functions.f]\nargs = { p = "P" }\noutput = "String"\n[functions.g]\n'


def _section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + encode_uvarint(len(body)) + body


def _name(text: str) -> bytes:
    return encode_uvarint(len(text)) + text.encode()


def _tiny_module(exports: list[tuple[str, int]]) -> bytes:
    """A structurally valid wasm header plus an export section (kinds: 0 function, 2 memory)."""
    body = encode_uvarint(len(exports)) + b"".join(
        _name(n) + bytes([kind]) + encode_uvarint(i) for i, (n, kind) in enumerate(exports)
    )
    return b"\0asm\x01\0\0\0" + _section(1, b"\x00") + _section(7, body)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLUENCE_DAO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    path = tmp_path / "wasm" / "m"
    path.mkdir(parents=True)
    (path / "interface.toml").write_text(INTERFACE)
    (path / "main.zig").write_text("pub fn f() void {}\n")
    (tmp_path / "wasm" / "lib").mkdir()
    (tmp_path / "wasm" / "lib" / "marine.zig").write_text("// helper\n")
    return path


def _key(module_dir: Path) -> str:
    interface = parse_interface(tomllib.loads((module_dir / "interface.toml").read_text()), "m")
    glue = write_glue(interface, "wasm/m/interface.toml")
    return linked_cache_key("m", glue, module_dir, module_dir.parent / "lib" / "marine.zig", interface)


def test_cache_key_is_stable_and_follows_every_input(cache: Path, module_dir: Path) -> None:
    first = _key(module_dir)
    assert _key(module_dir) == first
    (module_dir / "helper.zig").write_text("pub const x = 1;\n")
    with_helper = _key(module_dir)
    assert with_helper != first
    (module_dir / "main.zig").write_text("pub fn f() void { _ = 1; }\n")
    assert _key(module_dir) not in (first, with_helper)
    (module_dir.parent / "lib" / "marine.zig").write_text("// helper v2\n")
    changed_lib = _key(module_dir)
    (module_dir / "interface.toml").write_text(INTERFACE + "[functions.h]\n")
    assert _key(module_dir) != changed_lib


def test_cache_key_ignores_other_modules(cache: Path, module_dir: Path) -> None:
    before = _key(module_dir)
    other = module_dir.parent / "other"
    other.mkdir()
    (other / "main.zig").write_text("pub fn z() void {}\n")
    assert _key(module_dir) == before


def test_glue_directory_is_named_by_content(cache: Path) -> None:
    a = parse_interface(tomllib.loads("[functions.f]\n"), "m")
    b = parse_interface(tomllib.loads("[functions.g]\n"), "m")
    assert write_glue(a, "x") == write_glue(a, "x")
    assert write_glue(a, "x") != write_glue(b, "x")
    assert (write_glue(a, "x") / "root.zig").read_text().count("export fn") == 1


def test_function_exports_are_read_from_the_export_section() -> None:
    data = _tiny_module([("memory", 2), ("allocate", 0), ("f", 0)])
    assert wasm_function_exports(data) == ["allocate", "f"]
    assert wasm_function_exports(b"\0asm\x01\0\0\0") == []


def test_add_sections_appends_json_sdk_version_and_interface_types() -> None:
    interface = parse_interface(tomllib.loads(INTERFACE), "m")
    data = add_sections(_tiny_module([("f", 0)]), interface)
    sections = list(iter_custom_sections(data))
    names = [n for n, _ in sections]
    assert names[:3] == ["__m_generated_section__f", "__m_generated_section__g", "__m_generated_section__P"]
    by_name = dict(sections)
    assert by_name["__fluence_sdk_version"] == SDK_VERSION.encode()
    docs = [json.loads(p) for n, p in sections if n.startswith("__m_generated_section__")]
    assert by_name["interface-types"] == generate_interface_types(docs)
    with pytest.raises(BuildError, match="already has sections"):
        add_sections(data, interface)


def test_zig_command_line_exports_exactly_the_interface(tmp_path: Path) -> None:
    interface = parse_interface(tomllib.loads(INTERFACE), "m")
    args = zig_build_args("m", tmp_path, tmp_path, tmp_path / "marine.zig", interface, tmp_path / "m.wasm")
    exports = [a.removeprefix("--export=") for a in args if a.startswith("--export=")]
    assert exports == [*interface.exports]
    assert exports[-2:] == ["f", "g"]
    for flag in ("-fno-entry", "-fstrip", "wasm32-wasi", "ReleaseSafe", "65536"):
        assert flag in args
    assert "-rdynamic" not in args


def test_discover_modules_lists_directories_with_an_interface(module_dir: Path) -> None:
    assert discover_modules(module_dir.parent) == ["m"]
    with pytest.raises(BuildError, match="no wasm source directory"):
        discover_modules(module_dir / "nope")
