"""The governed signer through the CLI, as a user or a CI job runs it: real processes (anvil, the IPFS server,
the peer daemon), every command with --json, and the documented exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from _helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _json(done: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(done.stdout)


@pytest.fixture
def tools(require) -> None:
    for tool in ("node", "curl"):
        require(shutil.which(tool), f"{tool} is not installed")


def test_commands_step_by_step(tools, tmp_path) -> None:
    state = tmp_path / "state"
    run_cli(state, "devnet", "up", "--json")
    try:
        published = _json(run_cli(state, "publish", "--json"))
        assert {a["key"] for a in published["artifacts"]} == {
            "wasm.curl_adapter",
            "wasm.ens",
            "wasm.signer",
            "air.interval",
        }
        assert all(a["changed"] and a["tx_hash"] for a in published["artifacts"])
        assert not any(a["changed"] for a in _json(run_cli(state, "publish", "--json"))["artifacts"])  # idempotent

        signer = _json(run_cli(state, "deploy-signer", "--json"))
        assert signer["created"] is True
        again = _json(run_cli(state, "deploy-signer", "--json"))
        assert again["created"] is False and again["address"] == signer["address"] and again["governance_writes"] == []
        owner = run_cli(state, "ens", "owner", "alpha.public-record.eth").stdout.strip()
        assert owner.lower() == signer["address"].lower()

        script_id = _json(run_cli(state, "start-interval", "--every", "1", "--json"))["script_id"]
        deadline, runs = time.monotonic() + 90, []
        while time.monotonic() < deadline:
            status = _json(run_cli(state, "status", "--json"))
            runs = [r for s in status["scripts"] if s["id"] == script_id for r in s["runs"] if r["ok"] and r["tx_hash"]]
            if len(runs) >= 2:
                break
            time.sleep(1)
        assert len(runs) >= 2, status
        assert status["signer"]["controls_name"] is True and status["signer"]["live_on_peer"] is True
        assert status["peer"]["reachable"] is True
        (script,) = [s for s in status["scripts"] if s["id"] == script_id]
        assert script["args"]["record_key"] == "notice" and script["every_s"] == 1
        for run in runs:  # readable: decimal nonce and block, local time
            assert isinstance(run["nonce"], int) and isinstance(run["block_number"], int)
            assert datetime.fromisoformat(run["time"]).tzinfo is not None
        assert status["check"]["ok"] is True
        assert run_cli(state, "status", "--check").returncode == 0

        _status_while_the_chain_is_down(state, script_id)
        run_cli(state, "devnet", "up", "--json")  # anvil again, from its saved state

        assert _json(run_cli(state, "stop-interval", script_id, "--json"))["removed"] is True
        missing = run_cli(state, "stop-interval", script_id, "--json", check=False)
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["error"]["type"] == "PeerError"

        _status_after_the_daemon_restarted(state)
    finally:
        run_cli(state, "devnet", "down", check=False)


def _devnet(state: Path) -> Any:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet

    return Devnet(load_settings({"state_dir": state}, env_file=None))


def _status_while_the_chain_is_down(state: Path, script_id: str) -> None:
    """anvil stopped: status still shows the peer and the interval, counts the runs that fail (each caught in the
    AIR, so AquaVM finishes them) with their step, and `--check` fails once the last 3 runs failed."""
    assert _devnet(state).process("anvil").stop()
    deadline, script = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        shown = run_cli(state, "status", "--json")
        assert shown.returncode == 0  # the chain being down is reported, not an error
        status = json.loads(shown.stdout)
        (script,) = [s for s in status["scripts"] if s["id"] == script_id]
        if script["failed_in_a_row"] >= 3:
            break
        time.sleep(1)
    assert script["failed_in_a_row"] >= 3, script
    assert status["peer"]["reachable"] is True and status["chain"]["reachable"] is False
    failed = [r for r in script["runs"] if r["outcome"] == "failed"]
    assert failed and all(r["step"] and r["error"] and r["ok"] is False for r in failed)
    assert script["counts"]["failed"] >= 3
    assert any("chain does not answer" in note for note in status["notes"])
    checked = run_cli(state, "status", "--check", "--json", check=False)
    assert checked.returncode == 1
    assert any("last 3 runs" in problem for problem in json.loads(checked.stdout)["check"]["problems"])
    text = run_cli(state, "status").stdout
    assert f"script    {script_id}" in text and "FAILED at '" in text and "tx None" not in text


def _status_after_the_daemon_restarted(state: Path) -> None:
    """A restarted daemon starts empty: status says the signer's key is gone and which commands restore service."""
    assert _devnet(state).process("peer").stop()
    down = run_cli(state, "status", "--check", "--json", check=False)
    assert down.returncode == 1 and json.loads(down.stdout)["peer"]["reachable"] is False
    run_cli(state, "devnet", "up", "--json")
    checked = run_cli(state, "status", "--check", "--json", check=False)
    assert checked.returncode == 1
    status = json.loads(checked.stdout)
    assert status["signer"]["live_on_peer"] is False and status["scripts"] == []
    assert any("key is gone" in note and "deploy-signer --replace" in note for note in status["notes"])
    assert any("key is gone" in problem for problem in status["check"]["problems"])


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
    done = run_cli(state, "demo", "--state-dir", str(state), "--every", "1", "--updates", "3", "--json", timeout=300)
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
    status = json.loads(run_cli(state, "devnet", "status", "--json", check=False).stdout)
    assert [p["name"] for p in status["processes"]] == ["anvil", "ipfs", "peer", "subgraph"]
    assert not any(p["running"] for p in status["processes"])
