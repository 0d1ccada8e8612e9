"""The CLI against services that are down or busy, and against a real devnet: exit codes, messages naming what was
wrong, one JSON document with --json, progress on stderr. A closed port on 127.0.0.1 is a service that is down.

Commands run in this process through `fluence_dao.cli.main.run` (the console script's mapping), except where a real
second process is the point."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import CliOutcome, cli_here, cli_sandbox

ROOT = Path(__file__).resolve().parents[2]
CID = "QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D"
ANVIL_ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # an account, no code
PROCESS_ONLY = ("PROJECT_ROOT", "CACHE_DIR")  # FLUENCE_DAO_* that locate the checkout and cache, not settings: kept


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    cli_sandbox(monkeypatch, tmp_path, keep=PROCESS_ONLY)

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliOutcome:
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            return cli_here(capsys, list(args))

    yield invoke


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _fails(outcome: CliOutcome, code: int, says: str) -> dict[str, Any]:
    assert outcome.code == code, outcome.stderr
    assert says in outcome.stderr, outcome.stderr
    assert "Traceback" not in outcome.stderr
    return outcome.document()["error"] if outcome.stdout else {}


# ---- services down ------------------------------------------------------------------------------------------------


def test_a_chain_that_is_down_is_named(cli: Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    error = _fails(cli("ens", "get", "a.eth", "k", "--rpc-url", url, "--registry", registry, "--json"), 1, url)
    assert error["type"] == "RpcUnavailableError" and error["rpc_url"] == url
    _fails(cli("dao", "list", "--rpc-url", url, "--address", registry), 1, f"RPC endpoint {url} is unavailable")


def test_an_ipfs_api_that_is_down_is_named(cli: Any, closed_port: int) -> None:
    error = _fails(cli("ipfs", "cat", CID, "--api", f"http://127.0.0.1:{closed_port}", "--json"), 1, str(closed_port))
    assert error["type"] == "KuboRpcError"


def test_no_daemon_and_no_devnet(cli: Any, tmp_path: Path) -> None:
    _fails(
        cli("run", "-i", str(ROOT / "tests" / "aqua" / "basics.aqua"), "-f", 'greet("x")', "--daemon"),
        1,
        "no peer daemon is running",
    )
    shown = cli("status")
    assert shown.code == 0
    assert "`fluence-dao devnet up`" in shown.stdout  # the notes say how to start it
    checked = cli("status", "--check", "--json")
    assert checked.code == 1
    document = checked.document()
    assert document["check"]["ok"] is False and document["peer"]["reachable"] is False


def test_ports_in_use_are_named(cli: Any, busy_port: int, tmp_path: Path) -> None:
    error = _fails(
        cli("ipfs", "serve", "--port", str(busy_port), "--repo", str(tmp_path / "r"), "--json"),
        1,
        f"127.0.0.1:{busy_port}",
    )
    assert error["port"] == busy_port
    _fails(cli("peer", "serve", "--port", str(busy_port), "--state-dir", str(tmp_path / "p")), 1, str(busy_port))


# ---- messages from the tools -----------------------------------------------------------------------------------


def test_aqua_compile_errors_list_every_error_with_its_line(cli: Any, tmp_path: Path, require: Any) -> None:
    import shutil

    require(shutil.which("node"), "node compiles Aqua")
    source = tmp_path / "bad.aqua"
    source.write_text("aqua Bad\n\nexport f, g\n\nfunc f() -> string:\n    <- nope\n\nfunc g() -> u32:\n    <- other\n")
    error = _fails(cli("aqua", "compile", str(source), "--json"), 1, f"{source}:6:")
    assert f"{source}:9:" in error["message"]  # the second function's error too
    assert [e["line"] for e in error["errors"] if "not found" in e["message"] or "isn't found" in e["message"]] == [
        6,
        9,
    ]


def test_peer_errors_read_as_the_service_said_them(cli: Any, tmp_path: Path, require: Any) -> None:
    import shutil

    require(shutil.which("node"), "node compiles Aqua")
    source = tmp_path / "missing.aqua"
    source.write_text(
        'aqua M\n\nexport call\n\nservice Nope("nope"):\n  go(s: string) -> string\n\n'
        "func call(s: string) -> string:\n    r <- Nope.go(s)\n    <- r\n"
    )
    error = _fails(cli("run", "-i", str(source), "-f", 'call("x")', "--local", "--json"), 1, "Service with id 'nope'")
    assert error["message"] == "Aqua function 'call' failed: Service with id 'nope' not found (function go)"
    assert "error message is" in error["aqua_message"]  # AquaVM's own text stays available


# ---- against the devnet ----------------------------------------------------------------------------------------


def test_a_wrong_chain_id_is_caught_on_reads(cli: Any, devnet: Any) -> None:
    env = {"FLUENCE_DAO_STATE_DIR": str(devnet.state_dir), "FLUENCE_DAO_ETH__CHAIN_ID": "1"}
    error = _fails(cli("ens", "get", "public-record.eth", "wasm.signer", "--json", env=env), 1, "is chain 31337")
    assert error["expected_chain_id"] == 1
    _fails(cli("tree", "show", env=env), 1, "but chain 1 is configured")
    _fails(cli("dao", "list", env=env), 1, "but chain 1 is configured")


def test_dao_propose_prints_the_id_and_list_shows_it(cli: Any, ens_env: Any, tmp_path: Path) -> None:
    """A Governance of this test's own (in its own state dir, on the devnet's chain, reverted after the test)."""
    own = ("--rpc-url", ens_env.devnet.rpc_url, "--state-dir", str(tmp_path / "own"))
    deployed = cli("dao", "deploy", *own, "--json")
    assert deployed.code == 0, deployed.stderr
    assert cli("dao", "list", *own).stdout == f"no proposals on {deployed.document()['address']}\n"
    proposed = cli("dao", "propose", "fund the record ✓", "--duration", "30", *own)
    assert proposed.code == 0, proposed.stderr
    assert proposed.stdout.startswith("proposal 1  tx 0x")
    assert cli("dao", "vote", "1", "--weight", "7", *own).code == 0
    listed = cli("dao", "list", *own, "--json").document()
    assert listed["address"] == deployed.document()["address"]
    [proposal] = listed["proposals"]
    assert proposal["id"] == 1 and proposal["description"] == "fund the record ✓" and proposal["state"] == "open"
    assert proposal["for"] == 7 and proposal["against"] == 0 and proposal["passed"] is None
    assert cli("dao", "close", "1", *own).code == 0
    text = cli("dao", "list", *own).stdout
    assert text.startswith("   1  passed    for 7  against 0") and "fund the record ✓" in text


def test_an_address_without_a_contract_is_refused(cli: Any, devnet: Any) -> None:
    env = {"FLUENCE_DAO_STATE_DIR": str(devnet.state_dir)}
    error = _fails(cli("dao", "propose", "x", "--address", ANVIL_ACCOUNT1, "--json", env=env), 1, "no contract at")
    assert error["address"] == ANVIL_ACCOUNT1


def test_a_second_peer_daemon_on_a_state_dir_is_refused(cli: Any, devnet: Any) -> None:
    error = _fails(
        cli("peer", "serve", "--state-dir", str(devnet.state_dir)), 1, f"already serves state dir {devnet.state_dir}"
    )
    assert error == {}  # peer serve has no --json
    assert cli("peer", "info", "--state-dir", str(devnet.state_dir)).code == 0  # the first one still answers


def test_subgraph_status_reads_the_devnets_database(cli: Any, devnet: Any) -> None:
    if not devnet.info.get("subgraph"):
        pytest.skip("this devnet runs without the subgraph")
    outcome = cli("subgraph", "status", str(ROOT / "subgraph"), "--state-dir", str(devnet.state_dir), "--json")
    assert outcome.code == 0, outcome.stderr
    assert "devnet-" in cli("subgraph", "status", str(ROOT / "subgraph"), "--state-dir", str(devnet.state_dir)).stdout
    assert outcome.document()["deployment"]


def test_subgraph_serve_on_a_busy_port_is_named(cli: Any, devnet: Any, busy_port: int, tmp_path: Path) -> None:
    if not (ROOT / "subgraph" / "build" / "subgraph.yaml").is_file():
        pytest.skip("the demo subgraph is not built (devnet up builds it)")
    args = ("subgraph", "serve", str(ROOT / "subgraph"), "--db", str(tmp_path / "s.sqlite"), "--port", str(busy_port))
    _fails(cli(*args, "--state-dir", str(devnet.state_dir)), 1, f"cannot serve GraphQL on 127.0.0.1:{busy_port}")


def test_tree_show_path_walks_under_the_root_in_ens(cli: Any, ens_env: Any, tmp_path: Path) -> None:
    env = {"FLUENCE_DAO_STATE_DIR": str(ens_env.devnet.state_dir)}
    api = (ens_env.devnet.info.get("ipfs") or {}).get("api_url")
    if not api:
        pytest.skip("this devnet runs without its IPFS server")
    node = tmp_path / "tree.json"
    node.write_text(json.dumps({"templates": {"governance": {"items": 3}}}))
    put = cli("ipfs", "dag-put", str(node), "--api", api, "--json", env=env)
    assert put.code == 0, put.stderr
    root = put.document()["cid"]
    assert cli("ens", "set", "alpha.public-record.eth", "ipld-tip", root, env=env).code == 0
    shown = cli("tree", "show", "templates/governance", "--json", env=env)
    assert shown.code == 0, shown.stderr
    assert shown.document() == {"root": root, "path": "templates/governance", "value": {"items": 3}}


def test_devnet_up_shows_progress_on_stderr_in_both_modes_and_none_when_quiet(devnet: Any) -> None:
    """A real process with stderr not a terminal: plain progress lines (the devnet is up, so they say so)."""
    import subprocess

    from _helpers import cli_env

    def up(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fluence_dao", *args],
            capture_output=True,
            text=True,
            env=cli_env(devnet.state_dir),
            timeout=120,
            check=False,
        )

    plain = up("devnet", "up")
    assert plain.returncode == 0, plain.stderr
    assert "starting the devnet ..." in plain.stderr and "anvil already running (pid " in plain.stderr
    with_json = up("devnet", "up", "--json")
    assert json.loads(with_json.stdout)["rpc_url"] == devnet.rpc_url  # one document on stdout
    assert "anvil already running (pid " in with_json.stderr  # progress still on stderr
    quiet = up("-q", "devnet", "up", "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert json.loads(quiet.stdout)["rpc_url"] == devnet.rpc_url
