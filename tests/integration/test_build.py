"""`fluence-dao build`: every module of wasm/ compiles with Zig from PyPI, carries the Marine sections, exports
exactly what interface.toml describes, and the same sources give the same bytes (even on a cold Zig cache)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluence_dao.build import (
    SDK_VERSION,
    BuiltModule,
    build_module,
    build_modules,
    discover_modules,
    generate_interface_types,
    load_interface,
    wasm_function_exports,
    wasm_source_dir,
    zig_command,
)
from fluence_dao.cli.main import app
from fluence_dao.errors import BuildError
from fluence_dao.util.wasm_sections import iter_custom_sections

pytestmark = pytest.mark.integration

HOST_NAMESPACES = {"__marine_host_api_v3", "wasi_snapshot_preview1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltModule]:
    modules = build_modules(None, tmp_path_factory.mktemp("all"))
    return {m.name: m for m in modules}


def test_every_module_of_wasm_is_built(built: dict[str, BuiltModule]) -> None:
    assert sorted(built) == discover_modules()
    assert {"conformance", "pingpong_effector", "pingpong_facade", "curl_adapter"} <= set(built)
    for module in built.values():
        data = module.path.read_bytes()
        assert data[:8] == b"\0asm\x01\0\0\0"
        assert module.size == len(data)
        assert module.sha256 == hashlib.sha256(data).hexdigest()


def test_exports_are_exactly_the_abi_and_the_described_functions(built: dict[str, BuiltModule]) -> None:
    for name, module in built.items():
        interface = load_interface(wasm_source_dir() / name / "interface.toml")
        exported = wasm_function_exports(module.path.read_bytes())
        assert sorted(exported) == sorted(interface.exports), name
        assert module.functions == tuple(interface.functions)


def test_marine_sections(built: dict[str, BuiltModule]) -> None:
    for name, module in built.items():
        interface = load_interface(wasm_source_dir() / name / "interface.toml")
        sections = list(iter_custom_sections(module.path.read_bytes()))
        by_name = dict(sections)
        assert by_name["__fluence_sdk_version"] == SDK_VERSION.encode()
        generated = [(n, p) for n, p in sections if n.startswith("__m_generated_section__")]
        assert len(generated) == len({n for n, _ in generated}), f"{name}: duplicate sections"
        for fn in interface.functions.values():
            doc = json.loads(by_name[f"__m_generated_section__{fn.name}"])
            assert doc["ast_type"] == "Function"
            assert doc["signature"]["name"] == fn.name
            assert [a["name"] for a in doc["signature"]["arguments"]] == [a.name for a in fn.arguments]
        docs = [json.loads(p) for _, p in generated]
        assert by_name["interface-types"] == generate_interface_types(docs)
        assert sum(1 for n, _ in sections if n == "interface-types") == 1


def test_imports_are_only_host_api_and_described_namespaces(built: dict[str, BuiltModule]) -> None:
    import wasmtime

    engine = wasmtime.Engine()
    for name, module in built.items():
        interface = load_interface(wasm_source_dir() / name / "interface.toml")
        imports = wasmtime.Module(engine, module.path.read_bytes()).imports
        described = set(interface.imports)
        for imp in imports:
            assert imp.module in HOST_NAMESPACES or (imp.module, imp.name) in described, (name, imp.module, imp.name)
        if name == "conformance":
            assert {(i.module, i.name) for i in imports} == {
                ("__marine_host_api_v3", "log_utf8_string"),
                ("__marine_host_api_v3", "get_call_parameters"),
            }


def test_small_stack_and_small_modules(built: dict[str, BuiltModule]) -> None:
    import wasmtime

    engine = wasmtime.Engine()
    for name, module in built.items():
        memories = [e.type for e in wasmtime.Module(engine, module.path.read_bytes()).exports if e.name == "memory"]
        assert len(memories) == 1
        assert memories[0].limits.min <= 8, f"{name}: {memories[0].limits.min} initial pages (stack not 64 KiB?)"
    assert built["pingpong_effector"].size < 64 * 1024
    assert built["conformance"].size < 128 * 1024


def test_same_sources_give_the_same_bytes_on_cold_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: dict[str, BuiltModule]
) -> None:
    """Two builds, each with its own empty Zig cache and output dir, the second from a copy of the sources
    at another path, give byte-identical modules (and the same as the suite's ordinary build)."""
    copy = tmp_path / "elsewhere" / "wasm"
    for name in ("lib", "pingpong_effector", "pingpong_facade"):
        shutil.copytree(wasm_source_dir() / name, copy / name)
    digests = []
    for run, source_dir in (("a", wasm_source_dir()), ("b", copy)):
        monkeypatch.setenv("FLUENCE_DAO_CACHE_DIR", str(tmp_path / f"cache-{run}"))
        modules = build_modules(
            ["pingpong_effector", "pingpong_facade"], tmp_path / f"out-{run}", source_dir=source_dir
        )
        digests.append({m.name: m.sha256 for m in modules})
    assert digests[0] == digests[1]
    assert digests[0]["pingpong_effector"] == built["pingpong_effector"].sha256
    assert (tmp_path / "out-a" / "pingpong_facade.wasm").read_bytes() == (
        tmp_path / "out-b" / "pingpong_facade.wasm"
    ).read_bytes()


def _scratch_sources(tmp_path: Path, main_zig: str, interface: str) -> Path:
    source_dir = tmp_path / "wasm"
    (source_dir / "lib").mkdir(parents=True)
    shutil.copy(wasm_source_dir() / "lib" / "marine.zig", source_dir / "lib" / "marine.zig")
    (source_dir / "broken").mkdir()
    (source_dir / "broken" / "interface.toml").write_text(interface)
    (source_dir / "broken" / "main.zig").write_text(main_zig)
    return source_dir


def test_zig_compile_errors_are_build_errors_with_the_compiler_message(tmp_path: Path) -> None:
    source_dir = _scratch_sources(
        tmp_path,
        "pub fn answer() u32 {\n    return undefined_name;\n}\n",
        '[functions.answer]\noutput = "u32"\n',
    )
    with pytest.raises(BuildError, match="module broken: zig build-exe failed") as info:
        build_module("broken", tmp_path / "out", source_dir=source_dir)
    assert "undefined_name" in str(info.value)
    assert not (tmp_path / "out" / "broken.wasm").exists()


def test_type_mismatch_between_interface_and_zig_fails_the_build(tmp_path: Path) -> None:
    source_dir = _scratch_sources(
        tmp_path, "pub fn answer(x: u64) u64 {\n    return x;\n}\n", '[functions.answer]\nargs = { x = "String" }\n'
    )
    with pytest.raises(BuildError, match="zig build-exe failed"):
        build_module("broken", tmp_path / "out", source_dir=source_dir)


# --- the CLI -------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _text_mode() -> Iterator[None]:
    """`--json` sets a process-wide flag in cli.console that nothing resets between CliRunner invocations."""
    from fluence_dao.cli import console

    console.set_json(False)
    yield
    console.set_json(False)


def test_cli_build_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "pingpong_effector", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (row,) = doc["modules"]
    path = Path(row["path"])
    assert row["module"] == "pingpong_effector" and path == tmp_path / "pingpong_effector.wasm"
    assert row["size"] == path.stat().st_size
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_build_text_lists_module_size_sha_and_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "pingpong_effector", "pingpong_facade", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["pingpong_effector", "pingpong_facade"]
    for line in lines:
        _, size, sha, path = line.split()
        assert Path(path).stat().st_size == int(size)
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha


def test_cli_unknown_module_fails_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "no_such_module", "--out", str(tmp_path)])
    assert result.exit_code == 1  # cli.main.main() prints the BuildError as one line
    assert isinstance(result.exception, BuildError)
    assert "no_such_module" in str(result.exception) and "conformance" in str(result.exception)


def test_zig_sources_are_zig_fmt_clean() -> None:
    import subprocess

    dirs = [
        wasm_source_dir() / d for d in ("lib", "conformance", "curl_adapter", "pingpong_effector", "pingpong_facade")
    ]
    proc = subprocess.run([*zig_command(), "fmt", "--check", *map(str, dirs)], capture_output=True, text=True)
    assert proc.returncode == 0, f"run `python -m ziglang fmt` on: {proc.stdout}{proc.stderr}"
