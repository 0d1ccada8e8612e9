"""`fluence-dao dao deploy|propose|vote|close` on the devnet, then `fluence-dao subgraph serve` as a real process
answering GraphQL on 127.0.0.1, and `subgraph status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from _helpers import invoke_cli, require_graph_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = "Ändra avgiften ✓ 提案"


def _cli(args: list[str], env: dict[str, str]) -> Any:
    result = invoke_cli([*args, "--json"], env)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_dao_commands_then_serve_and_status(devnet: Any, tmp_path: Path) -> None:
    import httpx

    require_graph_cli()
    env = devnet.cli_env()
    client = devnet.client()
    snapshot = client.rpc("evm_snapshot", [])
    try:
        deployed = _cli(["dao", "deploy"], env)
        assert deployed["address"].startswith("0x") and deployed["chain_id"] == int(devnet.info["chain_id"])
        _cli(["dao", "propose", DESCRIPTION, "--duration", "50"], env)
        _cli(["dao", "vote", "1", "--weight", str(2**64 + 1)], env)
        closed = _cli(["dao", "close", "1"], env)

        _cli(["subgraph", "build", str(ROOT / "subgraph")], env)
        db = tmp_path / "cli.sqlite"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fluence_dao",
                "subgraph",
                "serve",
                str(ROOT / "subgraph"),
                "--db",
                str(db),
                "--port",
                "0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            text=True,
        )
        try:
            lines = []
            while not lines or lines[-1].rstrip() != "}":
                line = proc.stdout.readline()  # type: ignore[union-attr]
                assert line, proc.stderr.read()  # type: ignore[union-attr]
                lines.append(line)
            url = json.loads("".join(lines))["url"]
            assert url.startswith("http://127.0.0.1:")
            query = '{ proposal(id: "1") { description forVotes closed passed } _meta { block { number } hasIndexingErrors } }'
            deadline = time.monotonic() + 60
            while True:
                data = httpx.post(url, json={"query": query}, timeout=10).json()["data"]
                if data["_meta"]["block"]["number"] >= closed["block_number"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert data["proposal"] == {
                "description": DESCRIPTION,
                "forVotes": str(2**64 + 1),
                "closed": True,
                "passed": True,
            }
            assert data["_meta"]["hasIndexingErrors"] is False
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 130
        status = _cli(["subgraph", "status", str(ROOT / "subgraph"), "--db", str(db)], env)
        assert status["failed"] is False and status["synced_block"]["number"] >= closed["block_number"]
    finally:
        assert client.rpc("evm_revert", [snapshot]) is True
