"""The CLI root: version, usage errors, exit codes, and that --help stays free of heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from fluence_dao import __version__
from fluence_dao.cli.main import app

HEAVY = ("web3", "wasmtime", "libp2p", "eth_account", "httpx")


def test_version_prints_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"fluence-dao {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def _heavy_modules_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The heavy libraries a fresh interpreter holds after running `code` (which loads the CLI)."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps([m for m in {heavy!r} if m in sys.modules]))\n"
    env = {k: v for k, v in os.environ.items() if k != "TYPER_USE_RICH"}  # as a user's shell has it
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_help_imports_no_heavy_library() -> None:
    """`fluence-dao --help` must stay fast: no command module may import web3/wasmtime/... at import time, and
    help is plain (rich, ~150 ms, only when typer was imported before cli.main turned it off)."""
    assert (
        _heavy_modules_after(
            "import io, contextlib\n"
            "from fluence_dao.cli.main import app\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        app(['--help'], prog_name='fluence-dao')\n"
            "    except SystemExit:\n"
            "        pass",
            (*HEAVY, "rich"),
        )
        == []
    )


def test_every_group_help_imports_no_heavy_library() -> None:
    """Loading every registered command (as `--help` of each group does) keeps heavy imports lazy."""
    assert (
        _heavy_modules_after("import typer.main\nfrom fluence_dao.cli.main import app\ntyper.main.get_command(app)")
        == []
    )


def test_json_mode_does_not_leak_into_the_next_invocation(tmp_path, monkeypatch) -> None:
    from fluence_dao.cli import console

    monkeypatch.chdir(tmp_path)
    console.set_json(True)  # as a previous `--json` command in the same process leaves it
    result = CliRunner().invoke(app, ["config", "show", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert console.json_mode() is False
    with_json = CliRunner().invoke(app, ["config", "show", "--state-dir", str(tmp_path), "--json"])
    assert with_json.exit_code == 0
    assert console.json_mode() is True
    console.set_json(False)
