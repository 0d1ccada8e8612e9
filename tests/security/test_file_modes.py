"""Finding 7: the state dir and its logs were world-readable (755/644). Now everything fluence-dao creates under
it is owner-only (dirs 0700, files 0600): the CLI, the peer daemon and `devnet up` run with umask 077 (their
children, anvil included, inherit it) and `devnet up` tightens what an older version left readable.

A real `fluence-dao devnet up` in a subprocess started with umask 022 (so the result does not come from the
caller's umask), then a read attempt as another Unix user (`setpriv`, needs root).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import run_cli
from fluence_dao.devnet import secure_state_dir

pytestmark = pytest.mark.integration

NOBODY = "65534"
#: Seeded before `devnet up` as an unrelated file the user keeps in the state dir: never touched.
UNRELATED = "notes"


def _loose_paths(root: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """Every path under `root` (and `root`) with a group or other permission bit, symlinks excepted."""
    found = []
    for path in [root, *root.rglob("*")]:
        if any(path == s or s in path.parents for s in skip) or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def _cli(state_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(state_dir, *args, check=check, umask=0o022, timeout=300)


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A dir other users can traverse (0711), unlike pytest's tmp dirs (0700): only the state dir's own modes
    may keep a second user out."""
    base = Path(tempfile.mkdtemp(prefix="fluence-dao-modes-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _as_nobody(require: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        pytest.skip("reading as a second Unix user needs root (setpriv --reuid)")
    setpriv = shutil.which("setpriv")
    require(setpriv, "setpriv (util-linux) is not installed")
    return subprocess.run(
        [str(setpriv), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_devnet_up_leaves_nothing_readable_by_others(open_base: Path, require: Any) -> None:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import anvil_binary
    from fluence_dao.errors import ToolNotFoundError

    state = open_base / "state"
    try:
        anvil_binary(load_settings({"state_dir": state}, env_file=None))
    except ToolNotFoundError as err:
        require(False, err.message)
    # what an older version left: a world-readable state dir, dirs and a log
    (state / "devnet").mkdir(parents=True)
    (state / "client").mkdir()
    (state / "devnet" / "old.log").write_text("an old log line\n")
    (state / UNRELATED).mkdir()
    (state / UNRELATED / "todo.txt").write_text("not ours\n")
    for path, mode in [
        (state, 0o755),
        (state / "devnet", 0o755),
        (state / "client", 0o755),
        (state / "devnet" / "old.log", 0o644),
        (state / UNRELATED, 0o755),
        (state / UNRELATED / "todo.txt", 0o644),
    ]:
        path.chmod(mode)
    control = open_base / "control.txt"  # readable by anyone: proves the second user can read what is not ours
    control.write_text("public\n")
    control.chmod(0o644)
    try:
        up = _cli(state, "devnet", "up", "--json")
        info = json.loads(up.stdout)
        assert "removed group/other access" in up.stderr and "old.log (644 -> 600)" in up.stderr
        wasm = open_base / "module.wasm"
        wasm.write_bytes(b"\0asm" + os.urandom(300_000))
        wasm.chmod(0o644)
        _cli(state, "ipfs", "add", str(wasm), "--api", info["ipfs"]["api_url"])  # blocks written by the server

        for expected in ("client/key", "peer/key", "peer/daemon.json", "ipfs/api-token", "ipfs/pins.json"):
            assert (state / expected).is_file(), f"{expected} missing: the walk below would prove nothing"
        for name in ("anvil", "ipfs", "peer"):
            assert (state / "devnet" / f"{name}.log").is_file()
        assert list((state / "ipfs" / "blocks").rglob("*.data"))
        assert _loose_paths(state, skip=(state / UNRELATED,)) == []
        assert stat.S_IMODE((state / UNRELATED).stat().st_mode) == 0o755  # not ours: untouched
        assert stat.S_IMODE((state / UNRELATED / "todo.txt").stat().st_mode) == 0o644

        # a second Unix user can read a public file next to the state dir, but nothing in it
        assert _as_nobody(require, "cat", str(control)).stdout == "public\n"
        for secret in ("client/key", "devnet/anvil.log", "devnet/ipfs.log", "ipfs/api-token", "devnet/devnet.json"):
            read = _as_nobody(require, "cat", str(state / secret))
            assert read.returncode != 0 and "Permission denied" in read.stderr, (secret, read)
        (state / "client").chmod(0o755)  # even with a readable dir, the key file itself is 0600
        read = _as_nobody(require, "cat", str(state / "client" / "key"))
        assert read.returncode != 0 and "Permission denied" in read.stderr
        (state / "client").chmod(0o700)
    finally:
        _cli(state, "devnet", "down", check=False)
    # anvil writes its chain state (--state) when it stops: that file inherited the umask too
    assert (state / "devnet" / "anvil-state.json").is_file()
    assert _loose_paths(state, skip=(state / UNRELATED,)) == []


def test_secure_state_dir_tightens_only_our_trees(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "new" / "state"
    previous = os.umask(0o022)
    try:
        assert secure_state_dir(state) == []  # created: 0700 whatever the umask
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        state.chmod(0o755)
        (state / "peer" / "vault").mkdir(parents=True)
        (state / "peer" / "vault" / "data").write_text("x")
        (state / "ipfs").mkdir()
        tool = state / "ipfs" / "hook.sh"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        outside = tmp_path / "outside.txt"
        outside.write_text("someone else's file\n")
        outside.chmod(0o644)
        (state / "peer" / "link").symlink_to(outside)
        (state / "mine-not").mkdir()
    finally:
        os.umask(previous)
    with caplog.at_level(logging.WARNING, logger="fluence_dao.devnet"):
        changed = secure_state_dir(state)
    assert len(changed) == 6, changed  # state, peer, peer/vault, peer/vault/data, ipfs, ipfs/hook.sh
    assert _loose_paths(state, skip=(state / "mine-not",)) == []
    assert stat.S_IMODE(tool.stat().st_mode) == 0o700  # owner bits kept (still executable by its owner)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a symlink is not followed out of the tree
    assert stat.S_IMODE((state / "mine-not").stat().st_mode) == 0o755  # not one of our trees
    assert "removed group/other access from 6 path(s)" in caplog.text and "hook.sh (755 -> 700)" in caplog.text
    assert secure_state_dir(state) == []  # nothing left to do
