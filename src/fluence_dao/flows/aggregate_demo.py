"""`demo --aggregate`: the aggregation pipeline, locally, in one command.

devnet up (anvil with ENS, the IPFS server, the peer daemon) -> publish the signer's and the pipeline's modules
(CIDs in ENS) -> deploy the signer -> deploy the Governance contract, index it with the demo subgraph (built by
graph-cli) and serve GraphQL on 127.0.0.1 -> 5 proposals with votes -> aggregate once on the peer -> 2 more
proposals -> aggregate again; each run's root is read back from ENS and its items checked against the subgraph.
Tears the devnet down unless `keep`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from fluence_dao.config import Settings
from fluence_dao.devnet import Devnet
from fluence_dao.errors import FluenceDaoError
from fluence_dao.eth import GovernanceContract, TxSender
from fluence_dao.flows._context import FlowContext
from fluence_dao.flows._session import open_session
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
from fluence_dao.runtime import SubgraphInfo
from fluence_dao.util.json_types import JsonObject, to_json_object

Progress = Callable[[str], None]


@dataclass
class AggregateDemoResult:
    """What `demo --aggregate` did: its runs, and how many items the last tree holds (each checked)."""

    contract: str
    subgraph_url: str
    kept: bool
    runs: list[AggregateResult] = field(default_factory=list)
    items: int = 0

    def to_dict(self) -> JsonObject:
        return {**to_json_object(self, exclude={"runs"}), "runs": [r.to_dict() for r in self.runs]}


def _wait_until_indexed(status_url: str, block: int, timeout_s: float = 120.0) -> None:
    """Until the devnet's subgraph has indexed `block` (its /status reports the synced block)."""
    deadline = time.monotonic() + timeout_s
    synced = None
    while time.monotonic() < deadline:
        try:
            synced = httpx.get(status_url, timeout=5).json().get("synced_block")
        except (httpx.HTTPError, ValueError):
            synced = None
        number = synced.get("number") if isinstance(synced, dict) else None
        if isinstance(number, int) and number >= block:
            return
        time.sleep(0.3)
    raise FluenceDaoError(f"the subgraph at {status_url} did not index block {block} in {timeout_s:g} s (at {synced})")


def _proposals(gov: GovernanceContract, count: int, offset: int) -> list[int]:
    """Proposals from anvil's dev accounts 1-3 and votes from accounts 2-4 (the node signs for them)."""
    senders = [TxSender.unlocked(gov.client, a) for a in gov.client.w3.eth.accounts[:5]]
    ids = [gov.propose(f"Demo proposal {offset + i}", 100, sender=senders[1 + i % 3]) for i in range(count)]
    for n, pid in enumerate(ids):
        for k, voter in enumerate(senders[2:5]):
            gov.vote(pid, (n + k) % 2 == 0, (k + 1) * 10**18, sender=voter)
    return ids


def _served_subgraph(subgraph: SubgraphInfo | None) -> tuple[str, str, str]:
    """(GraphQL URL, /status URL, Governance address) of the devnet's subgraph; an error when it serves none."""
    if subgraph is None or not (subgraph.url and subgraph.status_url and subgraph.governance):
        raise FluenceDaoError("the devnet serves no subgraph: unset FLUENCE_DAO_DEVNET__SUBGRAPH=false for this demo")
    return subgraph.url, subgraph.status_url, subgraph.governance


def _item_checked(context: FlowContext, tip: str, path: str, answer: object) -> bool:
    """Whether the tree's item at `path` under `tip` is what the subgraph answered for it."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    expected = data.get("proposal") if isinstance(data, Mapping) else None
    return read_tree(context, tip, path)[1] == expected


def run_aggregate_demo(
    settings: Settings, *, keep: bool = False, progress: Progress = lambda m: None
) -> AggregateDemoResult:
    devnet = Devnet(settings)
    progress("starting the devnet: anvil with ENS, the IPFS server, the peer daemon, the demo subgraph")
    subgraph_url, status_url, governance = _served_subgraph(devnet.start().subgraph)
    context = FlowContext(settings)
    try:
        session = open_session(settings, ttl_ms=240_000)  # the daemon `devnet up` just started
        progress("publishing the modules (CIDs in ENS) and deploying the signer")
        publish(context, progress=progress)
        publish_aggregate(context, progress=progress)
        deploy_signer(context, session, progress=progress)
        gov = GovernanceContract(context.governance, governance)
        progress(f"Governance at {gov.address}, indexed by the devnet's subgraph at {subgraph_url}")
        ipfs_api = context.ipfs_api_url
        if not ipfs_api:
            raise FluenceDaoError("the devnet has no IPFS RPC server for the tree")
        config = AggregateConfig(subgraph_url=subgraph_url, contract=gov.address, ipfs_api=ipfs_api)
        result = AggregateDemoResult(gov.address, subgraph_url, kept=keep)
        all_ids: list[int] = []
        for count in (5, 2):
            all_ids += _proposals(gov, count, len(all_ids))
            _wait_until_indexed(status_url, gov.client.block_number())
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
                answer = httpx.post(subgraph_url, json={"query": query, "variables": {"id": str(pid)}}).json()
                if not _item_checked(context, tip, f"{base}/{pid}", answer):
                    raise FluenceDaoError(f"item {pid} under {tip} differs from the subgraph's answer")
            result.items = len(items) if isinstance(items, Mapping) else 0
            progress(f"root {run.root}: {result.items} items, {len(run.written)} blocks written, txs {run.tx_hashes}")
        return result
    finally:
        context.close()
        if not keep:
            progress("tearing the devnet down")
            devnet.down()
