"""`aggregate-demo`: the aggregation pipeline, locally, in one command.

devnet up (anvil with ENS, the IPFS server, the peer daemon) -> publish the signer's and the pipeline's modules
(CIDs in ENS) -> deploy the signer -> deploy the Governance contract, index it with the demo subgraph (built by
graph-cli) and serve GraphQL on 127.0.0.1 -> 5 proposals with votes -> aggregate once on the peer -> 2 more
proposals -> aggregate again; each run's root is read back from ENS and its items checked against the subgraph.
Tears the devnet down unless `keep`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluence_dao.config import Settings
from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import FlowContext
from fluence_dao.flows._session import PeerSession
from fluence_dao.flows.aggregate import (
    PROPOSAL_FIELDS,
    TIP_KEY,
    AggregateConfig,
    AggregateResult,
    aggregate_once,
    publish_aggregate,
    read_tree,
)
from fluence_dao.flows.deploy_signer import deploy_signer
from fluence_dao.flows.publish import publish

Progress = Callable[[str], None]


@dataclass
class AggregateDemoResult:
    contract: str
    subgraph_url: str
    runs: list[AggregateResult] = field(default_factory=list)
    items: int = 0
    kept: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "subgraph_url": self.subgraph_url,
            "runs": [r.to_dict() for r in self.runs],
            "items": self.items,
            "kept": self.kept,
        }


def _proposals(gov: Any, count: int, offset: int) -> list[int]:
    accounts = gov.w3.eth.accounts
    ids = [gov.propose(f"Demo proposal {offset + i}", 100, accounts[1 + i % 3]) for i in range(count)]
    for n, pid in enumerate(ids):
        for k, voter in enumerate(accounts[2:5]):
            gov.vote(pid, (n + k) % 2 == 0, (k + 1) * 10**18, voter)
    return ids


def run_aggregate_demo(
    settings: Settings, *, keep: bool = False, progress: Progress = lambda m: None
) -> AggregateDemoResult:
    import httpx
    from web3 import Web3

    from fluence_dao._util.paths import project_root
    from fluence_dao.devnet import Devnet
    from fluence_dao.peer.remote import connect_from_settings
    from fluence_dao.subgraph import EthRpc, Governance, Indexer, Store, SubgraphServer, build_subgraph

    devnet = Devnet(settings)
    progress("starting the devnet: anvil with ENS, the IPFS server, the peer daemon")
    info = devnet.up()
    context = FlowContext(settings)
    server = None
    try:
        network = connect_from_settings(settings)
        if network is None:
            raise FluenceDaoError("the peer daemon did not answer after `devnet up`; see `fluence-dao devnet logs`")
        session = PeerSession(network, ttl_ms=240_000)
        progress("publishing the modules (CIDs in ENS) and deploying the signer")
        publish(context, progress=progress)
        publish_aggregate(context, progress=progress)
        deploy_signer(context, session, progress=progress)
        w3 = Web3(Web3.HTTPProvider(info["rpc_url"]))
        gov, deploy_block = Governance.deploy(w3)
        progress(f"Governance at {gov.address}; building and serving the demo subgraph")
        indexer = Indexer(
            build_subgraph(project_root() / "subgraph"),
            Store(settings.state_dir / "aggregate-demo.sqlite"),
            EthRpc(info["rpc_url"]),
            addresses={"Governance": gov.address},
            start_blocks={"Governance": deploy_block},
        )
        server = SubgraphServer(indexer, 0, index=False).start()
        ipfs_api = context.ipfs_api_url
        if not ipfs_api:
            raise FluenceDaoError("the devnet has no IPFS RPC server for the tree")
        config = AggregateConfig(subgraph_url=server.url, contract=gov.address, ipfs_api=ipfs_api)
        result = AggregateDemoResult(gov.address, server.url, kept=keep)
        all_ids: list[int] = []
        for count in (5, 2):
            all_ids += _proposals(gov, count, len(all_ids))
            indexer.sync()
            progress(f"{count} proposals with votes; aggregating on peer {session.peer_id}")
            run = aggregate_once(session, config)
            result.runs.append(run)
            tip = context.ens.text(settings.ens.signer_name, TIP_KEY)
            if tip != run.root:
                raise FluenceDaoError(f"ENS {TIP_KEY} is {tip!r}, not the run's root {run.root}")
            base = f"templates/{config.template}/protocols/{config.to_aqua()['protocol']}/items"
            _, items = read_tree(context, tip, base)
            query = f"query($id: ID!) {{ proposal(id: $id) {{ {PROPOSAL_FIELDS} }} }}"
            for pid in all_ids:
                answer = httpx.post(server.url, json={"query": query, "variables": {"id": str(pid)}}).json()
                if read_tree(context, tip, f"{base}/{pid}")[1] != answer["data"]["proposal"]:
                    raise FluenceDaoError(f"item {pid} under {tip} differs from the subgraph's answer")
            result.items = len(items)
            progress(f"root {run.root}: {len(items)} items, {len(run.written)} blocks written, txs {run.tx_hashes}")
        return result
    finally:
        if server is not None and not keep:
            server.stop()
        context.close()
        if not keep:
            progress("tearing the devnet down")
            devnet.down()
