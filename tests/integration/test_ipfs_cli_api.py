"""`fluence-dao ipfs serve` as a process, and the CLI switched to it with `--api` (its writes carry the token the
server was started with, found in `<state_dir>/ipfs/api-token`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app
from fluence_dao.ipfs import KuboClient, LocalIpfs

pytestmark = pytest.mark.integration


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    repo = tmp_path / "served-repo"
    env = {**os.environ, "FLUENCE_DAO_STATE_DIR": str(tmp_path / "state")}
    env.pop("FLUENCE_DAO_IPFS__API_URL", None)
    token_file = tmp_path / "state" / "ipfs" / "api-token"
    argv = ["ipfs", "serve", "--port", "0", "--repo", str(repo), "--auth-token-file", str(token_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fluence_dao", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        deadline = time.monotonic() + 20
        with KuboClient(url, timeout_s=5) as client:
            while True:
                try:
                    client.version()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        yield url, repo
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_through_api_shares_the_served_store(served: tuple[str, Path], tmp_path: Path) -> None:
    url, repo = served
    (tmp_path / "mod.wasm").write_bytes(b"\0asm" + bytes(range(256)) * 2000)
    env = {"FLUENCE_DAO_STATE_DIR": str(tmp_path / "state")}  # the CLI finds the server's token there
    console.set_json(False)
    result = CliRunner().invoke(app, ["ipfs", "add", str(tmp_path / "mod.wasm"), "--api", url, "--json"], env=env)
    console.set_json(False)
    assert result.exit_code == 0, result.output
    cid = json.loads(result.stdout)["cid"]
    cat = CliRunner().invoke(app, ["ipfs", "cat", cid, "--api", url], env=env)
    assert cat.exit_code == 0 and cat.stdout_bytes == (tmp_path / "mod.wasm").read_bytes()
    # The served process wrote to its repo: the same blocks are readable there directly.
    assert LocalIpfs(repo).cat(cid) == (tmp_path / "mod.wasm").read_bytes()


def test_unreachable_api_is_a_clean_failure(tmp_path: Path) -> None:
    from fluence_dao.util.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "FLUENCE_DAO_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluence_dao",
            "ipfs",
            "cat",
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
            "--api",
            url,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "KuboRpcError" and error["endpoint"] == "cat" and url in error["message"]
    assert "Traceback" not in done.stderr
