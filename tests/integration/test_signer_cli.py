"""The governed signer through the CLI, as a user or a CI job runs it: real processes (anvil, the IPFS server,
the peer daemon), every command with --json, and the documented exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _cli(state_dir: Path, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLUENCE_DAO_") or k.endswith(("PROJECT_ROOT", "CACHE_DIR"))
    }
    env["FLUENCE_DAO_STATE_DIR"] = str(state_dir)
    done = subprocess.run(
        [sys.executable, "-m", "fluence_dao", *args], capture_output=True, text=True, env=env, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"fluence-dao {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def _json(done: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(done.stdout)


@pytest.fixture
def tools(require) -> None:
    for tool in ("node", "curl"):
        require(shutil.which(tool), f"{tool} is not installed")


def test_commands_step_by_step(tools, tmp_path) -> None:
    state = tmp_path / "state"
    _cli(state, "devnet", "up", "--json")
    try:
        published = _json(_cli(state, "publish", "--json"))
        assert {a["key"] for a in published["artifacts"]} == {
            "wasm.curl_adapter",
            "wasm.ens",
            "wasm.signer",
            "air.interval",
        }
        assert all(a["changed"] and a["tx_hash"] for a in published["artifacts"])
        assert not any(a["changed"] for a in _json(_cli(state, "publish", "--json"))["artifacts"])  # idempotent

        signer = _json(_cli(state, "deploy-signer", "--json"))
        assert signer["created"] is True
        again = _json(_cli(state, "deploy-signer", "--json"))
        assert again["created"] is False and again["address"] == signer["address"] and again["governance_writes"] == []
        owner = _cli(state, "ens", "owner", "alpha.public-record.eth").stdout.strip()
        assert owner.lower() == signer["address"].lower()

        script_id = _json(_cli(state, "start-interval", "--every", "1", "--json"))["script_id"]
        deadline, runs = time.monotonic() + 90, []
        while time.monotonic() < deadline:
            status = _json(_cli(state, "status", "--json"))
            runs = [r for s in status["scripts"] if s["id"] == script_id for r in s["runs"] if r["ok"] and r["tx_hash"]]
            if len(runs) >= 2:
                break
            time.sleep(1)
        assert len(runs) >= 2, status
        assert status["signer"]["controls_name"] is True and status["signer"]["live_on_peer"] is True
        assert status["peer"]["reachable"] is True

        assert _json(_cli(state, "stop-interval", script_id, "--json"))["removed"] is True
        missing = _cli(state, "stop-interval", script_id, "--json", check=False)
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["error"]["type"] == "PeerError"
    finally:
        _cli(state, "devnet", "down", check=False)


def _private_keys_of(address: str, blobs: list[bytes]) -> list[str]:
    """Every 32-byte hex value in `blobs` (any even offset of any hex run) that is the private key of `address`.

    The daemon's signer key cannot be known to a test (it is drawn inside the module), but a leak can still be
    found exactly: whatever leaked derives the signer's address."""
    import re

    from eth_keys import keys

    windows: set[bytes] = set()
    for blob in blobs:
        for run in re.findall(rb"[0-9a-fA-F]{64,}", blob):
            windows.update(run[i : i + 64].lower() for i in range(0, len(run) - 63, 2))
    found = []
    for window in windows:
        secret = bytes.fromhex(window.decode())
        try:
            derived = keys.PrivateKey(secret).public_key.to_checksum_address()
        except Exception:  # zero or out of the curve's range: not a key
            continue
        if derived.lower() == address.lower():
            found.append(window.decode())
    return found


def test_demo_as_readme_runs_it(tools, tmp_path) -> None:
    state = tmp_path / "demo"
    done = _cli(state, "demo", "--state-dir", str(state), "--every", "1", "--updates", "3", "--json", timeout=300)
    result = json.loads(done.stdout)
    assert len(result["updates"]) == 3
    assert all(u["from"].lower() == result["signer"].lower() for u in result["updates"])
    assert len({u["tx_hash"] for u in result["updates"]}) == 3
    assert sorted(u["block_number"] for u in result["updates"]) == [u["block_number"] for u in result["updates"]]

    # The signer's key is in no output of the demo and in no file it left behind (logs, state, IPFS, chain state).
    blobs = [done.stdout.encode(), done.stderr.encode()]
    blobs += [path.read_bytes() for path in state.rglob("*") if path.is_file()]
    assert len(blobs) > 10 and any(b"anvil" in blob or b"peer" in blob for blob in blobs)
    assert _private_keys_of(result["signer"], blobs) == []
    # torn down: no process of this state dir answers any more
    status = json.loads(_cli(state, "devnet", "status", "--json", check=False).stdout)
    assert [p["name"] for p in status["processes"]] == ["anvil", "ipfs", "peer", "subgraph"]
    assert not any(p["running"] for p in status["processes"])
