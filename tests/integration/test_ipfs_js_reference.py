"""Our importer against the reference JS importer (Kubo's defaults) on directory trees and odd sizes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fluence_dao.ipfs import LocalIpfs
from fluence_dao.util.paths import project_root

pytestmark = pytest.mark.integration

SCRIPT = project_root() / "benchmarks" / "js" / "unixfs_import.mjs"


def _js_import(path: Path, cid_version: int, raw_leaves: bool = False) -> dict[str, str]:
    args = [
        "node",
        str(SCRIPT),
        "--cid-version",
        str(cid_version),
        *(["--raw-leaves"] if raw_leaves else []),
        str(path),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=project_root(), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {line["path"]: line["cid"] for line in lines if "cid" in line}


@pytest.fixture
def node_ready(require: Callable[[object, str], None]) -> None:
    require(shutil.which("node"), "node is not installed")
    require((project_root() / "node_modules" / "ipfs-unixfs-importer").is_dir(), "run `npm ci` (ipfs-unixfs-importer)")


@pytest.mark.parametrize("cid_version", [0, 1])
def test_directory_tree_matches_reference(node_ready: None, tmp_path: Path, cid_version: int) -> None:
    tree = tmp_path / "bundle"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "empty-dir").mkdir()
    sizes = {"a.wasm": 262144 * 2 + 17, "Zed": 1, "nested/x.bin": 262144, "nested/deeper/y": 0, "é-unicode.txt": 33}
    for rel, size in sizes.items():
        (tree / rel).write_bytes(os.urandom(size))
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref")
    reference = _js_import(tree, cid_version)
    ours = {
        e.name: str(e.cid) for e in LocalIpfs(tmp_path / "repo", fsync=False).add_path(tree, cid_version=cid_version)
    }
    # The JS importer does not yield an entry for an empty directory (Kubo does); the parent's CID covers it.
    assert reference.items() <= ours.items()
    assert set(ours) - set(reference) == {"bundle/empty-dir"}
    assert ours["bundle"] == reference["bundle"]
    assert "bundle/.git" not in ours


@pytest.mark.parametrize("size", [0, 100, 262144, 262145, 174 * 262144 + 1])
def test_cidv0_with_raw_leaves_matches_reference(node_ready: None, tmp_path: Path, size: int) -> None:
    """Kubo's `ipfs add --raw-leaves` without --cid-version: raw CIDv1 leaves under a CIDv0 root."""
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(size))
    reference = _js_import(path, 0, raw_leaves=True)
    ours = LocalIpfs(tmp_path / "repo", fsync=False).add_path(path, cid_version=0, raw_leaves=True)
    assert [str(e.cid) for e in ours] == [reference["blob"]]
