"""`fluence-dao run` and `fluence-dao aqua compile` through Typer's CliRunner (real compiler, real AquaVM)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua"


@pytest.fixture(autouse=True)
def _node(require):
    require(shutil.which("node"), "node is not installed")
    yield
    console.set_json(False)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_run_prints_the_result() -> None:
    result = invoke("run", "-i", str(AQUA / "basics.aqua"), "-f", 'greet("ann")')
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "hello, ann"


def test_run_json_with_data_and_peers() -> None:
    args = ["run", "-i", str(AQUA / "basics.aqua"), "-f", "add_numbers(3, b)", "--data", '{"b": 20}']
    result = invoke(*args, "--peers", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [23, True]


def test_run_reports_a_missing_data_key() -> None:
    result = invoke("run", "-i", str(AQUA / "basics.aqua"), "-f", "greet(who)")
    assert result.exit_code != 0
    assert "who" in str(result.exception)


def test_aqua_compile_writes_air_and_signatures(tmp_path) -> None:
    result = invoke("aqua", "compile", str(AQUA / "basics.aqua"), "-o", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    air = Path(out["functions"]["greet"]["air"])
    assert air.parent == tmp_path and '("op" "concat_strings")' in air.read_text()
    signatures = json.loads(Path(out["signatures"]).read_text())
    assert signatures["greet"]["arguments"] == {"name": {"name": "string", "tag": "scalar"}}
    assert signatures["add_numbers"]["returns"][1] == {"name": "bool", "tag": "scalar"}
