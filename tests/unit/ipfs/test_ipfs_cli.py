"""`fluence-dao ipfs ...` against the embedded store (CliRunner, --repo in a temp dir)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app
from fluence_dao.errors import BlockNotFoundError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLUENCE_DAO_IPFS__API_URL", raising=False)
    monkeypatch.setenv("FLUENCE_DAO_STATE_DIR", str(tmp_path / "state"))
    console.set_json(False)
    yield
    console.set_json(False)


def run(*args: str, input: bytes | None = None) -> tuple[int, bytes, object]:
    console.set_json(False)  # the flag is process-global; each real CLI run starts fresh
    result = CliRunner().invoke(app, ["ipfs", *args], input=input)
    return result.exit_code, result.stdout_bytes, result.exception


def test_add_cat_json(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello world\n")
    code, out, _ = run("add", "hello.txt", "--json", "--repo", "repo")
    assert code == 0
    doc = json.loads(out)
    assert doc["cid"] == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o" and doc["name"] == "hello.txt"
    code, out, _ = run("cat", doc["cid"], "--repo", "repo")
    assert code == 0 and out == b"hello world\n"
    code, out, _ = run("cat", doc["cid"], "--repo", "repo", "--offset", "6", "--json")
    assert json.loads(out) == {"path": doc["cid"], "size": 6, "base64": "d29ybGQK"}


def test_add_plain_output_and_stdin_default_repo(tmp_path: Path) -> None:
    code, out, _ = run("add", "-", "--cid-version", "1", input=b"hello world\n")
    assert code == 0
    assert out.decode().strip().startswith("added bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
    assert (tmp_path / "state" / "ipfs" / "blocks").is_dir()
    code, out, _ = run("add", "-", "-q", input=b"x")
    assert code == 0 and out.decode().strip().startswith("Qm") and "\n" not in out.decode().strip()


def test_directory_get(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "m.wasm").write_bytes(b"\0asm\1\0\0\0")
    code, out, _ = run("add", "bundle", "-q", "--repo", "repo")
    root = out.decode().strip()
    code, out, _ = run("get", root, "-o", "copy", "--repo", "repo", "--json")
    assert code == 0 and json.loads(out)["output"] == "copy"
    assert (tmp_path / "copy" / "m.wasm").read_bytes() == b"\0asm\1\0\0\0"


def test_dag_put_get_and_pins(tmp_path: Path) -> None:
    code, out, _ = run("add", "-", "-q", "--repo", "r", input=b"leaf")
    leaf = out.decode().strip()
    doc = json.dumps({"module": {"/": leaf}, "n": [1, 2, 3]}).encode()
    code, out, _ = run("dag-put", "--pin", "--repo", "r", input=doc)
    assert code == 0
    root = out.decode().strip()
    assert root.startswith("bafyrei")
    code, out, _ = run("dag-get", f"{root}/n/2", "--repo", "r")
    assert out.decode().strip() == "3"
    code, out, _ = run("dag-get", root, "--repo", "r", "--json")
    assert json.loads(out)["value"] == {"module": {"/": leaf}, "n": [1, 2, 3]}
    code, out, _ = run("pin", "ls", "--repo", "r", "--json")
    assert json.loads(out)["pins"] == {leaf: "recursive", root: "recursive"}
    assert run("pin", "rm", leaf, "--repo", "r")[0] == 0
    code, out, _ = run("pin", "ls", "--type", "indirect", "--repo", "r")
    assert out.decode().split() == [leaf, "indirect"]
    assert run("pin", "ls", "--type", "bogus", "--repo", "r")[0] == 2


def test_car_export_import_and_gc(tmp_path: Path) -> None:
    code, out, _ = run("add", "-", "-q", "--repo", "a", input=b"payload" * 1000)
    cid = out.decode().strip()
    code, out, _ = run("car-export", cid, "-o", "dag.car", "--repo", "a", "--json")
    assert code == 0 and json.loads(out)["bytes"] == (tmp_path / "dag.car").stat().st_size
    code, out, _ = run("car-import", "dag.car", "--repo", "b", "--json")
    assert json.loads(out) == {"roots": [cid]}
    assert run("cat", cid, "--repo", "b")[1] == b"payload" * 1000
    run("pin", "rm", cid, "--repo", "b")
    code, out, _ = run("gc", "--repo", "b", "--json")
    assert len(json.loads(out)["removed"]) == 1
    code, _, error = run("cat", cid, "--repo", "b")
    assert code == 1 and isinstance(error, BlockNotFoundError)


def test_bad_inputs_fail_cleanly(tmp_path: Path) -> None:
    assert run("dag-put", "missing.json", "--repo", "r")[0] == 2
    code, _, error = run("car-export", "not-a-cid", "-o", "x.car", "--repo", "r")
    assert code == 1 and "not-a-cid" in str(error)
    assert not (tmp_path / "x.car").exists() and not (tmp_path / "x.car.part").exists()
