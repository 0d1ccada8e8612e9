"""The Aqua bridge against the real compiler (node + @fluencelabs/aqua-api)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluence_dao.aqua import compile_aqua
from fluence_dao.errors import AquaCompileError

pytestmark = pytest.mark.integration

AQUA_DIR = Path(__file__).resolve().parents[1] / "aqua"


@pytest.fixture(autouse=True)
def _node(require, tmp_path, monkeypatch) -> None:
    require(shutil.which("node"), "node is not installed")
    monkeypatch.setenv("FLUENCE_DAO_CACHE_DIR", str(tmp_path / "cache"))


def test_compiles_functions_with_signatures(tmp_path) -> None:
    compiled = compile_aqua(AQUA_DIR / "basics.aqua")
    greet = compiled.function("greet")
    assert '("op" "concat_strings")' in greet.script
    assert greet.arg_names == ["name"]
    assert greet.return_types == [{"name": "string", "tag": "scalar"}]
    assert greet.names["relay"] == "-relay-" and greet.names["errorHandlingSrv"] == "errorHandlingSrv"
    with pytest.raises(AquaCompileError, match="no exported function 'nope'"):
        compiled.function("nope")


def test_cache_is_keyed_by_source(tmp_path) -> None:
    source = tmp_path / "a.aqua"
    source.write_text('aqua A\n\nexport f\n\nfunc f() -> string:\n    <- "one"\n')
    first = compile_aqua(source).function("f").script
    assert compile_aqua(source).function("f").script == first
    source.write_text('aqua A\n\nexport f\n\nfunc f() -> string:\n    <- "two"\n')
    second = compile_aqua(source).function("f").script
    assert '"two"' in second and '"one"' not in second


def test_compile_error_has_file_and_line(tmp_path) -> None:
    source = tmp_path / "bad.aqua"
    source.write_text("aqua Bad\n\nexport f\n\nfunc f() -> string:\n    <- undefined_name\n")
    with pytest.raises(AquaCompileError) as info:
        compile_aqua(source)
    assert info.value.details["line"] == 6
    assert info.value.details["file"].endswith("bad.aqua")
    assert "undefined_name" in info.value.message
