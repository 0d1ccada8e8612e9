"""`fluence-dao module call ... --then`: later calls run on the same module instance, so state set by the first
call (e.g. a 2021 signer's key after `initiate`) is there for the next ones."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app

WAT = Path(__file__).resolve().parents[2] / "fixtures" / "wat"


def run(*args: str) -> tuple[int, str]:
    console.set_json(False)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + (result.stderr if result.stderr_bytes is not None else "")


def test_then_calls_share_the_instance() -> None:
    abi = str(WAT / "abi.wat")
    code, out = run("module", "call", abi, "releases", "--json")
    assert code == 0 and json.loads(out) == 0  # a fresh instance has released nothing
    code, out = run(
        "module", "call", abi, "echo_string", '["x"]', "--then", "releases", "--then", "releases []", "--json"
    )
    assert code == 0, out
    results = json.loads(out)
    assert [r["function"] for r in results] == ["echo_string", "releases", "releases"]
    assert results[0]["result"] == "x"
    # the counter of released results keeps growing across the calls: one instance (a fresh one starts at 0)
    assert 1 <= results[1]["result"] < results[2]["result"]
    code, text = run("module", "call", abi, "echo_string", '["y"]', "--then", 'echo_string ["z"]')
    assert code == 0 and text.splitlines() == ['echo_string: "y"', 'echo_string: "z"']


def test_then_with_bad_json_is_a_usage_error() -> None:
    code, _ = run("module", "call", str(WAT / "abi.wat"), "releases", "--then", "echo_string [nope")
    assert code == 2
