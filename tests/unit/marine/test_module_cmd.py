"""`fluence-dao module inspect` and `fluence-dao module call` on the WAT test modules."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app

WAT = Path(__file__).resolve().parents[2] / "fixtures" / "wat"


def run(*args: str) -> tuple[int, str]:
    console.set_json(False)  # the --json flag sets a process-wide switch; each invocation starts clean
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_inspect_lists_functions_records_and_sections() -> None:
    code, out = run("module", "inspect", str(WAT / "facade.wat"), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["sdk_version"] == "0.14.0"
    assert report["functions"]["relay_record"] == "relay_record(name: String) -> Rec"
    assert report["records"]["Rec"] == {"fields": {"flag": "bool", "value": "u64", "name": "String"}, "size": 17}
    assert "callee.make_record: func (i32, i32) -> ()" in report["imports"]
    sections = {s["name"]: s["size"] for s in report["custom_sections"]}
    assert "__m_generated_section__callee" in sections and sections["__fluence_sdk_version"] == 6
    code, text = run("module", "inspect", str(WAT / "facade.wat"))
    assert code == 0 and "  relay(s: String) -> String" in text.splitlines()


def test_call_with_positional_and_named_json_arguments() -> None:
    code, out = run("module", "call", str(WAT / "abi.wat"), "echo_vec_string", '[["a", "b"]]', "--json")
    assert code == 0 and json.loads(out) == ["a", "b"]
    code, out = run("module", "call", str(WAT / "abi.wat"), "echo_string", '{"value": "plain"}')
    assert code == 0 and out == "plain\n"


def test_bytes_travel_as_hex_and_call_params_are_passed() -> None:
    code, out = run("module", "call", str(WAT / "abi.wat"), "echo_vec_vec_u8", '[["0x00ff", [1, 2]]]', "--json")
    assert code == 0 and json.loads(out) == ["0x00ff", "0x0102"]
    params = json.dumps({"worker_id": "w", "particle": {"id": "p", "signature": "0xab"}})
    code, out = run("module", "call", str(WAT / "abi.wat"), "call_parameters", "--call-params", params, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["worker_id"] == "w" and result["particle"]["signature"] == "0xab"


def test_failures_map_to_exit_codes() -> None:
    result = CliRunner().invoke(app, ["module", "call", str(WAT / "abi.wat"), "boom"])
    assert result.exit_code == 1 and "trapped" in str(result.exception)
    result = CliRunner().invoke(app, ["module", "call", str(WAT / "abi.wat"), "no_such_fn"])
    assert result.exit_code == 1 and "no function 'no_such_fn'" in str(result.exception)
    assert run("module", "call", str(WAT / "abi.wat"), "echo_string", "[oops")[0] == 2
    assert run("module", "call", str(WAT / "abi.wat"), "echo_string", "[]", "--env", "NOEQUALS")[0] == 2
