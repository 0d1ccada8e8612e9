"""The aggregation pipeline end to end on the real stack: anvil with ENS and the Governance contract, the demo
subgraph built by graph-cli and indexed by the runner, the Zig modules built from source and published with
their CIDs in ENS, aqua/aggregate.aqua on the peer with the real AquaVM, curl mounted, KuboServer for the tree.

Expected items come from the subgraph's GraphQL answers (queried here with httpx), never from the pipeline."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from _helpers import QuietHandler
from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish
from fluence_dao.flows.aggregate import (
    CURSOR_KEY,
    PROPOSAL_FIELDS,
    TIP_KEY,
    AggregateConfig,
    aggregate_once,
    publish_aggregate,
    read_tree,
    start_aggregate,
)
from fluence_dao.peer import LocalNetwork

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    context: FlowContext
    session: PeerSession
    env: Any
    gov: Any
    indexer: Any
    subgraph_url: str
    ipfs_url: str
    config: AggregateConfig
    origins: list[str]  # what the peer's curl (the HTTP effector) may reach besides the chain; read per request

    def tip(self) -> str:
        return str(self.env.ens.text(self.context.settings.ens.signer_name, TIP_KEY))

    def cursor(self) -> str:
        return str(self.env.ens.text(self.context.settings.ens.signer_name, CURSOR_KEY))

    def subgraph_item(self, pid: str) -> dict[str, Any]:
        import httpx

        query = f"query($id: ID!) {{ proposal(id: $id) {{ {PROPOSAL_FIELDS} }} }}"
        answer = httpx.post(self.subgraph_url, json={"query": query, "variables": {"id": pid}}).json()
        assert "errors" not in answer
        return dict(answer["data"]["proposal"])


@pytest.fixture
def stack(ens_env: Any, tmp_path: Path, require: Any) -> Iterator[Stack]:
    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    require((ROOT / "node_modules" / ".bin" / "graph").exists(), "graph-cli is not installed (npm ci)")
    from fluence_dao.eth import EthClient, GovernanceContract, TxSender
    from fluence_dao.ipfs import KuboServer
    from fluence_dao.subgraph import EthRpc, Indexer, Store, SubgraphServer, build_subgraph

    devnet = ens_env.devnet
    settings = devnet.settings
    context = FlowContext(settings, ipfs_repo=tmp_path / "ipfs")
    # the ipld module's dag/put carries no token here; the token is tested in tests/security/test_ipfs_auth.py
    kubo = KuboServer(context.ipfs, allow_unauthenticated_writes=True).start()  # type: ignore[arg-type]
    origins = [kubo.url, "http://127.0.0.1:9"]  # :9 is closed: "connection refused" is a fault the flow names
    network = LocalNetwork(1, base_dir=tmp_path / "net", config=context.peer_config(http_origins=origins))
    session = PeerSession(network, ttl_ms=240_000)
    client = EthClient(devnet.rpc_url)
    gov, deploy_block = GovernanceContract.deploy(TxSender.unlocked(client, client.w3.eth.accounts[0]))
    indexer = Indexer(
        build_subgraph(ROOT / "subgraph"),
        Store(tmp_path / "subgraph.sqlite"),
        EthRpc(devnet.rpc_url),
        addresses={"Governance": gov.address},
        start_blocks={"Governance": deploy_block},
    )
    server = SubgraphServer(indexer, 0, index=False).start()
    origins.append(server.url)
    publish(context)
    publish_aggregate(context)
    deploy_signer(context, session)
    agg = AggregateConfig(subgraph_url=server.url, contract=gov.address, ipfs_api=kubo.url, timeout_sec=10)
    try:
        yield Stack(context, session, ens_env, gov, indexer, server.url, kubo.url, agg, origins)
    finally:
        server.stop()
        network.stop()
        kubo.stop()
        context.close()


def _activity(stack: Stack, count: int, offset: int) -> list[int]:
    from fluence_dao.eth import TxSender

    accounts = [TxSender.unlocked(stack.gov.client, a) for a in stack.gov.client.w3.eth.accounts[:5]]
    ids = [
        stack.gov.propose(f"Proposal {offset + i}: do thing {i}", 100, sender=accounts[1 + i % 3]) for i in range(count)
    ]
    for n, pid in enumerate(ids):
        for k, voter in enumerate(accounts[2:5]):
            stack.gov.vote(pid, (n + k) % 2 == 0, (k + 1) * 10**18 + n, sender=voter)
    stack.gov.close(ids[0])
    stack.indexer.sync()
    return ids


def _reachable(stack: Stack, root: str) -> set[str]:
    return {str(cid) for cid, _ in stack.context.ipfs.store.walk(root)}  # type: ignore[attr-defined]


def _services(stack: Stack) -> list[str]:
    return list(stack.session.network.relay.services.services)


def _nonce(stack: Stack) -> int:
    address = stack.env.ens.owner(stack.context.settings.ens.signer_name)
    return int(stack.env.client.rpc("eth_getTransactionCount", [address, "latest"]), 16)


def test_aggregate_builds_and_updates_the_tree(stack: Stack) -> None:
    ids = _activity(stack, 5, 0)
    services_before = set(_services(stack))
    first = aggregate_once(stack.session, stack.config)
    assert set(_services(stack)) == services_before  # the run's services are removed at its end
    assert first.old_root == "" and first.root and stack.tip() == first.root
    assert sorted(first.items, key=int) == [str(i) for i in ids]
    assert stack.cursor() == first.cursor and len(first.tx_hashes) == 2
    protocol = stack.config.to_aqua()["protocol"]
    base = f"templates/governance/protocols/{protocol}"
    _, items = read_tree(stack.context, "", f"{base}/items")
    assert set(items) == {str(i) for i in ids}
    for pid in ids:
        assert read_tree(stack.context, "", f"{base}/items/{pid}")[1] == stack.subgraph_item(str(pid))
    old_blocks = _reachable(stack, first.root)
    assert set(first.written) == old_blocks  # a new tree: every block written once

    # no new events: no transaction, same root and cursor
    nonce = _nonce(stack)
    idle = aggregate_once(stack.session, stack.config)
    assert idle.tx_hashes == [] and idle.root == first.root and _nonce(stack) == nonce

    more = _activity(stack, 2, 5)
    second = aggregate_once(stack.session, stack.config)
    assert second.old_root == first.root and stack.tip() == second.root != first.root
    assert sorted(second.items, key=int) == [str(i) for i in more]
    _, items = read_tree(stack.context, second.root, f"{base}/items")
    assert set(items) == {str(i) for i in [*ids, *more]}
    _, old_items = read_tree(stack.context, first.root, f"{base}/items")
    assert set(old_items) == {str(i) for i in ids}  # the old root still resolves to the old 5
    for pid in [*ids, *more]:
        assert read_tree(stack.context, "", f"{base}/items/{pid}")[1] == stack.subgraph_item(str(pid))
    new_blocks = _reachable(stack, second.root) - old_blocks
    assert new_blocks == set(second.written)
    assert len(new_blocks) == 2 + 3  # two items + protocol, template and root nodes

    # an event the subgraph has not indexed yet waits: the cursor stops at the subgraph's block
    late = stack.gov.propose("Not indexed yet", 100)
    waiting = aggregate_once(stack.session, stack.config)
    assert waiting.items == [] and waiting.tx_hashes == [] and stack.tip() == second.root
    stack.indexer.sync()
    caught_up = aggregate_once(stack.session, stack.config)
    assert caught_up.items == [str(late)] and stack.tip() == caught_up.root != second.root
    second = caught_up

    # `ipfs car-export` of the root holds exactly the blocks of the new tree
    from typer.testing import CliRunner

    from fluence_dao.cli.main import app
    from fluence_dao.ipfs import read_car

    car = stack.context.settings.state_dir / "tree.car"
    out = CliRunner().invoke(app, ["ipfs", "car-export", second.root, "-o", str(car), "--api", stack.ipfs_url])
    assert out.exit_code == 0, out.output
    with car.open("rb") as f:
        roots, blocks = read_car(f)
        assert [str(r) for r in roots] == [second.root]
        assert {str(cid) for cid, _ in blocks} == _reachable(stack, second.root)


def test_resume_faults_and_idempotence(stack: Stack) -> None:
    ids = _activity(stack, 3, 0)
    tip, cursor = stack.tip(), stack.cursor()

    # faults before any ENS write: the step is named and ENS is untouched
    dead = "http://127.0.0.1:9/subgraphs/name/x"
    with pytest.raises(FluenceDaoError, match=r"read the subgraph indexed block: .*curl exited with 7"):
        aggregate_once(stack.session, replace(stack.config, subgraph_url=dead))
    services_before = set(_services(stack))
    with pytest.raises(FluenceDaoError, match="update the IPLD tree"):
        aggregate_once(stack.session, replace(stack.config, ipfs_api="http://127.0.0.1:9"))
    assert set(_services(stack)) == services_before  # removed after a failed run too
    with _slow_server(3.0) as slow, pytest.raises(FluenceDaoError, match="timeout"):
        stack.origins.append(slow)
        aggregate_once(stack.session, replace(stack.config, subgraph_url=slow, timeout_sec=1))
    with (
        _slow_server(0.0, status=500) as broken,
        pytest.raises(FluenceDaoError, match=r"subgraph.*curl exited with 22"),
    ):
        stack.origins.append(broken)
        aggregate_once(stack.session, replace(stack.config, subgraph_url=broken))
    # URLs outside the peer's HTTP allowlist are never dialled: the step fails saying so
    port = stack.subgraph_url.split(":")[2].split("/")[0]
    with pytest.raises(FluenceDaoError, match=r"read the subgraph indexed block: .*not in this peer's HTTP allowlist"):
        aggregate_once(stack.session, replace(stack.config, subgraph_url=f"http://localhost:{port}/subgraphs/x"))
    with pytest.raises(FluenceDaoError, match=r"update the IPLD tree: .*not in this peer's HTTP allowlist"):
        aggregate_once(stack.session, replace(stack.config, ipfs_api="http://127.0.0.1:8"))
    assert (stack.tip(), stack.cursor()) == (tip, cursor)

    # stopped after the blocks are written, before the ENS write (the signer cannot pay): resumable
    signer = stack.env.ens.owner(stack.context.settings.ens.signer_name)
    balance = stack.env.client.rpc("eth_getBalance", [signer, "latest"])
    stack.env.client.rpc("anvil_setBalance", [signer, "0x0"])
    with pytest.raises(FluenceDaoError, match="write ipld-tip"):
        aggregate_once(stack.session, stack.config)
    assert (stack.tip(), stack.cursor()) == (tip, cursor)
    blocks_before = set(map(str, stack.context.ipfs.store.all_cids()))  # type: ignore[attr-defined]
    stack.env.client.rpc("anvil_setBalance", [signer, balance])
    resumed = aggregate_once(stack.session, stack.config)
    assert stack.tip() == resumed.root and sorted(resumed.items, key=int) == [str(i) for i in ids]
    assert set(map(str, stack.context.ipfs.store.all_cids())) == blocks_before  # the same blocks: same root

    # the same events processed again (cursor back before them): the root does not change, only the cursor
    again = aggregate_once(stack.session, replace(stack.config, cursor_key="ipld-cursor-replay"))
    assert again.root == resumed.root and again.changed == [] and again.written == []
    assert len(again.tx_hashes) == 1 and stack.tip() == resumed.root


class _SlowHandler(QuietHandler):
    delay = 0.0
    status = 200

    def do_POST(self) -> None:
        self.body()
        time.sleep(self.delay)
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self.reply(b'{"errors":[{"message":"indexer unavailable"}]}', self.status)


class _slow_server:
    def __init__(self, delay: float, status: int = 200) -> None:
        handler = type("H", (_SlowHandler,), {"delay": delay, "status": status})
        self.server = HTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/graphql"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_interval_mechanism_runs_the_pipeline(stack: Stack) -> None:
    """`air.aggregate` scheduled on the peer (script.add): configured from ENS, it aggregates new events by itself."""
    from fluence_dao.flows import stop_interval

    ids = _activity(stack, 2, 0)
    scheduled = start_aggregate(stack.context, stack.session, stack.config, every_s=1)
    assert scheduled.config_tx is not None
    deadline = time.monotonic() + 120
    while not stack.tip() and time.monotonic() < deadline:
        stack.session.network.run_for(0.5)
    root = stack.tip()
    assert root, "the scheduled pipeline wrote no root in 120 s"
    protocol = stack.config.to_aqua()["protocol"]
    _, items = read_tree(stack.context, root, f"templates/governance/protocols/{protocol}/items")
    assert set(items) == {str(i) for i in ids}
    assert stop_interval(stack.session, scheduled.script_id) is True
    runs = stack.session.network.relay.scheduler.get(scheduled.script_id)
    assert runs is None or all(r.ok is not False for r in runs.history)
