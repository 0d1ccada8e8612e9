from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app
from fluence_dao.errors import SubgraphError
from fluence_dao.subgraph import BlockPtr, Store


def test_status_reports_cursor_and_error(tmp_path: Path) -> None:
    db = tmp_path / "sg.sqlite"
    store = Store(db)
    store.set_meta("deployment", "QmX")
    store.advance(BlockPtr(7, "0x07", 1))
    store.set_error({"message": "handler h at block 8 failed", "handler": "h", "block": 8, "function": "ipfs.cat"})
    store.close()
    try:
        result = CliRunner().invoke(app, ["subgraph", "status", str(tmp_path), "--db", str(db), "--json"])
    finally:
        console.set_json(False)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["synced_block"] == {"number": 7, "hash": "0x07"}
    assert status["failed"] is True and status["error"]["function"] == "ipfs.cat"


def test_status_without_database_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["subgraph", "status", str(tmp_path), "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1  # cli.main.main() prints the SubgraphError as one line
    assert isinstance(result.exception, SubgraphError)
    assert "no subgraph database" in result.exception.message


def test_bad_override_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "subgraph",
            "serve",
            str(tmp_path),
            "--db",
            str(tmp_path / "x.sqlite"),
            "--address",
            "nonsense",
            "--rpc-url",
            "http://127.0.0.1:1",
        ],
    )
    assert result.exit_code == 2
    assert not (tmp_path / "x.sqlite").exists()


def test_status_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    result = CliRunner().invoke(app, ["subgraph", "status", str(tmp_path), "--db", str(bogus)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SubgraphError)
    assert "cannot open the subgraph database" in result.exception.message
