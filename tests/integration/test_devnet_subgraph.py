"""`devnet up` deploys the Governance contract, builds the demo subgraph when stale and serves its GraphQL API."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from eth_account import Account

from _helpers import invoke_cli, process_running, require_graph_cli
from _helpers import require as skip_unless
from fluence_dao.config import load_settings
from fluence_dao.devnet import COMPONENTS, Devnet, DevnetPaths, SubgraphComponent, anvil_binary, subgraph_build_stale
from fluence_dao.errors import ToolNotFoundError
from fluence_dao.eth import EthClient
from fluence_dao.runtime import write_info
from fluence_dao.util.paths import project_root

PROPOSALS = "{ proposals { id description forVotes againstVotes voteCount votes { weight support } } }"


def _cli(env: dict[str, str], *args: str) -> Any:
    result = invoke_cli(args, env)
    assert result.exit_code == 0, result.output + str(result.exception or "")
    return json.loads(result.stdout) if "--json" in args else result.stdout


def _graphql(url: str, query: str) -> dict[str, Any]:
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    assert "errors" not in reply, reply
    return dict(reply["data"])


def _proposals_when(url: str, done: Any, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """The proposals once `done(proposals)` holds (the server indexes new blocks by polling)."""
    deadline = time.monotonic() + timeout_s
    while True:
        proposals = _graphql(url, PROPOSALS)["proposals"]
        if done(proposals) or time.monotonic() > deadline:
            return list(proposals)
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.integration
def test_devnet_up_serves_the_demo_subgraph(tmp_path: Path, require: Any, isolated_env: None) -> None:
    """One devnet's life: up, votes through the CLI seen in GraphQL, up again, down, up, reset, switched off."""
    state_dir = tmp_path / "state"
    settings = load_settings({"state_dir": state_dir}, env_file=None)
    try:
        anvil_binary(settings)
    except ToolNotFoundError as err:
        require(False, err.message)
    require_graph_cli()
    env = {"FLUENCE_DAO_STATE_DIR": str(state_dir), "FLUENCE_DAO_DEVNET__STATE_INTERVAL_S": "0"}
    try:
        info = _cli(env, "devnet", "up", "--json")
        _check_first_up(info, state_dir)
        _vote_and_see_it_indexed(env, info)
        _check_up_again_reuses_everything(env, info)
        _check_down_then_up_keeps_the_data(env, info)
        _check_fresh_chain_then_switched_off(env)
    finally:
        Devnet(settings).down()


def _check_first_up(info: dict[str, Any], state_dir: Path) -> None:
    """The first `up` deploys Governance, records it, builds the subgraph and serves it on 127.0.0.1."""
    sub, proc = info["subgraph"], info["processes"]["subgraph"]
    assert list(info["processes"]) == [factory.name for factory in COMPONENTS]
    assert proc["started_now"] is True and process_running(proc["pid"])
    for url in (sub["url"], sub["status_url"]):
        assert urlparse(url).hostname == "127.0.0.1" and urlparse(url).port == proc["port"]
    assert EthClient(info["rpc_url"]).code(sub["governance"]), "the recorded Governance address has no code"
    recorded = json.loads((state_dir / "subgraph" / "governance.json").read_text())
    assert recorded["address"] == sub["governance"] and recorded["block_number"] == sub["start_block"]
    assert sub["deployed_now"] is True
    assert not subgraph_build_stale(Path(sub["directory"]))
    assert (Path(sub["directory"]) / "build" / "subgraph.yaml").is_file()


def _vote_and_see_it_indexed(env: dict[str, str], info: dict[str, Any]) -> None:
    """Propose and vote through the CLI; the GraphQL URL from devnet.json shows them."""
    sub, proc = info["subgraph"], info["processes"]["subgraph"]
    _cli(env, "dao", "propose", "fund the public record ✓", "--duration", "50", "--json")
    _cli(env, "dao", "vote", "1", "--weight", "7", "--json")
    voter = Account.create()  # one vote per account: the second comes from another (funded) key
    EthClient(info["rpc_url"]).rpc("anvil_setBalance", [voter.address, hex(10**18)])
    voter_env = {**env, "FLUENCE_DAO_ETH__GOVERNANCE_KEY": voter.key.hex()}
    _cli(voter_env, "dao", "vote", "1", "--weight", "2", "--against", "--json")
    proposals = _proposals_when(sub["url"], lambda ps: bool(ps) and ps[0]["voteCount"] == 2)
    assert len(proposals) == 1
    proposal = proposals[0]
    assert proposal["id"] == "1" and proposal["description"] == "fund the public record ✓"
    assert (proposal["forVotes"], proposal["againstVotes"]) == ("7", "2")
    assert sorted((v["weight"], v["support"]) for v in proposal["votes"]) == [("2", False), ("7", True)]
    graphql_url = f"http://127.0.0.1:{proc['port']}/graphql"
    assert _graphql(graphql_url, "{ proposals { id } }")["proposals"] == [{"id": "1"}]


def _check_up_again_reuses_everything(env: dict[str, str], info: dict[str, Any]) -> None:
    """Up again: the same server, no redeploy, no rebuild; status lists it."""
    sub, proc = info["subgraph"], info["processes"]["subgraph"]
    build_mtime = (Path(sub["directory"]) / "build" / "subgraph.yaml").stat().st_mtime
    again = _cli(env, "devnet", "up", "--json")
    assert again["processes"]["subgraph"]["started_now"] is False
    assert again["processes"]["subgraph"]["pid"] == proc["pid"]
    assert again["subgraph"]["deployed_now"] is False and again["subgraph"]["built_now"] is False
    assert again["subgraph"]["governance"] == sub["governance"] and again["subgraph"]["url"] == sub["url"]
    assert (Path(sub["directory"]) / "build" / "subgraph.yaml").stat().st_mtime == build_mtime

    status = _cli(env, "devnet", "status", "--json")
    listed = {p["name"]: p for p in status["processes"]}
    assert listed["subgraph"]["healthy"] is True and listed["subgraph"]["pid"] == proc["pid"]
    assert status["subgraph"]["url"] == sub["url"]
    assert sub["url"] in _cli(env, "devnet", "status")


def _check_down_then_up_keeps_the_data(env: dict[str, str], info: dict[str, Any]) -> None:
    """Down stops it (first: reverse start order); up after down reuses the contract and the indexed data."""
    sub, proc = info["subgraph"], info["processes"]["subgraph"]
    stopped = _cli(env, "devnet", "down", "--json")["stopped"]
    assert stopped == [factory.name for factory in reversed(COMPONENTS)]
    assert not process_running(proc["pid"]) and not _answers(sub["status_url"])

    restarted = _cli(env, "devnet", "up", "--json")
    assert restarted["processes"]["subgraph"]["started_now"] is True
    assert restarted["subgraph"]["deployed_now"] is False
    assert restarted["subgraph"]["governance"] == sub["governance"]
    assert restarted["subgraph"]["db"] == sub["db"]
    assert [p["id"] for p in _graphql(restarted["subgraph"]["url"], PROPOSALS)["proposals"]] == ["1"]


def _check_fresh_chain_then_switched_off(env: dict[str, str]) -> None:
    """A fresh chain: the contract is deployed again and indexing starts from an empty database. Then switched
    off after it was started: `down` still stops it."""
    _cli(env, "devnet", "down", "--reset", "--json")
    fresh = _cli(env, "devnet", "up", "--json")
    assert fresh["subgraph"]["deployed_now"] is True
    assert EthClient(fresh["rpc_url"]).code(fresh["subgraph"]["governance"])
    status = json.loads(urllib.request.urlopen(fresh["subgraph"]["status_url"], timeout=10).read())
    assert status["failed"] is False
    assert status["data_sources"][0]["start_block"] == fresh["subgraph"]["start_block"]
    assert _graphql(fresh["subgraph"]["url"], PROPOSALS)["proposals"] == []

    off = {**env, "FLUENCE_DAO_DEVNET__SUBGRAPH": "false"}
    listed = [p["name"] for p in _cli(off, "devnet", "status", "--json")["processes"]]
    assert listed == [f.name for f in COMPONENTS if f is not SubgraphComponent]
    stopped = _cli(off, "devnet", "down", "--json")["stopped"]
    assert stopped == [factory.name for factory in reversed(COMPONENTS)]
    assert not process_running(fresh["processes"]["subgraph"]["pid"])


def test_the_subgraph_setting_leaves_it_out(tmp_path: Path, isolated_env: None) -> None:
    on = Devnet(load_settings({"state_dir": tmp_path}, env_file=None))
    assert [c.name for c in on.components] == [factory.name for factory in COMPONENTS]
    assert "subgraph" in [c.name for c in on.components]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLUENCE_DAO_DEVNET__SUBGRAPH", "false")
        off = Devnet(load_settings({"state_dir": tmp_path}, env_file=None))
    assert [c.name for c in off.components] == [f.name for f in COMPONENTS if f is not SubgraphComponent]


def _project_copy(tmp_path: Path, *, node_modules: bool) -> Path:
    """A project root holding a copy of the demo subgraph's sources (no build), with or without node_modules."""
    root = tmp_path / "project"
    source = project_root() / "subgraph"
    shutil.copytree(source, root / "subgraph", ignore=shutil.ignore_patterns("build", "generated", "node_modules"))
    if node_modules:
        (root / "node_modules").symlink_to(project_root() / "node_modules")
    (root / "contracts").symlink_to(project_root() / "contracts")
    return root


def _up_subgraph_only(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path / "state"}, env_file=None)
    write_info(DevnetPaths.under(settings.state_dir), {"rpc_url": "http://127.0.0.1:9"})  # never reached
    Devnet(settings, components=[SubgraphComponent()]).up()


@pytest.mark.integration
def test_missing_graph_cli_is_a_clear_error(tmp_path: Path, isolated_env: None) -> None:
    root = _project_copy(tmp_path, node_modules=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLUENCE_DAO_PROJECT_ROOT", str(root))
        assert subgraph_build_stale(root / "subgraph")
        with pytest.raises(ToolNotFoundError, match="graph-cli") as missing:
            _up_subgraph_only(tmp_path)
    assert "npm ci" in missing.value.message


@pytest.mark.integration
def test_missing_node_is_a_clear_error(tmp_path: Path, isolated_env: None) -> None:
    root = _project_copy(tmp_path, node_modules=True)
    skip_unless((root / "node_modules" / ".bin" / "graph").exists(), "graph-cli not installed (npm ci)")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLUENCE_DAO_PROJECT_ROOT", str(root))
        patch.setenv("PATH", str(empty))
        with pytest.raises(ToolNotFoundError, match="node is not on PATH") as missing:
            _up_subgraph_only(tmp_path)
    assert "FLUENCE_DAO_DEVNET__SUBGRAPH=false" in missing.value.message


def test_build_is_stale_when_missing_or_older_than_a_source(tmp_path: Path) -> None:
    directory = tmp_path / "subgraph"
    (directory / "src").mkdir(parents=True)
    (directory / "abis").mkdir()
    for name in ("subgraph.yaml", "schema.graphql", "src/mapping.ts", "abis/A.json"):
        (directory / name).write_text("x")
    assert subgraph_build_stale(directory)  # no build
    (directory / "build").mkdir()
    built = directory / "build" / "subgraph.yaml"
    built.write_text("built")
    now = time.time()
    for path in directory.rglob("*"):
        os.utime(path, (now - 100, now - 100))
    os.utime(built, (now - 50, now - 50))
    assert not subgraph_build_stale(directory)
    os.utime(directory / "src" / "mapping.ts", (now, now))  # a mapping edited after the build
    assert subgraph_build_stale(directory)
    os.utime(built, (now + 1, now + 1))
    assert not subgraph_build_stale(directory)
    os.utime(directory / "abis" / "A.json", (now + 2, now + 2))
    assert subgraph_build_stale(directory)


@pytest.mark.integration
def test_up_builds_a_missing_build_once(tmp_path: Path, isolated_env: None) -> None:
    from fluence_dao.errors import FluenceDaoError

    root = _project_copy(tmp_path, node_modules=True)
    require_graph_cli()
    built = root / "subgraph" / "build" / "subgraph.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLUENCE_DAO_PROJECT_ROOT", str(root))
        # no chain answers at the recorded RPC URL: up builds, then fails talking to it
        with pytest.raises(FluenceDaoError):
            _up_subgraph_only(tmp_path)
        assert built.is_file() and not subgraph_build_stale(root / "subgraph")
        first = built.stat().st_mtime_ns
        with pytest.raises(FluenceDaoError):
            _up_subgraph_only(tmp_path)
        assert built.stat().st_mtime_ns == first  # fresh build: not rebuilt
        source = root / "subgraph" / "schema.graphql"
        os.utime(source, ns=(first + 10**9, first + 10**9))
        assert subgraph_build_stale(root / "subgraph")
        with pytest.raises(FluenceDaoError):
            _up_subgraph_only(tmp_path)
        assert built.stat().st_mtime_ns > first and not subgraph_build_stale(root / "subgraph")
