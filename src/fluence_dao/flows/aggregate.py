"""`aggregate`: the data-aggregation pipeline on the peer (aqua/aggregate.aqua).

Governance events -> the subgraph's latest state of each item -> the IPLD tree on IPFS -> its root CID in the
`ipld-tip` text record of the signer's name (then the block cursor in `ipld-cursor`), written by the governed
signer. `publish_aggregate` puts the pipeline's modules on IPFS with their CIDs in ENS (`wasm.<module>`) and the
pipeline's AIR (`air.aggregate`) so the interval mechanism can run it; `aggregate_once` runs it once;
`read_tree` walks a tree (default: the root in ENS) with the Python DAG-CBOR codec, independently of the modules.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_utils.crypto import keccak

from fluence_dao.build import build_modules
from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import FlowContext
from fluence_dao.flows._governance import Governance
from fluence_dao.flows._session import PeerSession, project_aqua
from fluence_dao.ipfs import Cid, IpldValue
from fluence_dao.util.json_types import JsonObject, JsonValue, to_json_object

logger = logging.getLogger(__name__)

AGGREGATE_AQUA = "aggregate.aqua"
AGGREGATE_FUNCTION = "aggregate"
AGGREGATE_MODULES = ("curl_adapter", "events", "subgraph_client", "ipld")
AIR_AGGREGATE_KEY = "air.aggregate"
CONFIG_KEY = "aggregate.config"
SCHEDULED_FUNCTION = "aggregate_from_ens"
TIP_KEY = "ipld-tip"
CURSOR_KEY = "ipld-cursor"

#: The demo Governance contract's events; each has the proposal id as its first indexed argument.
GOVERNANCE_EVENTS = (
    "ProposalCreated(uint256,address,string,uint256)",
    "VoteCast(uint256,address,bool,uint256)",
    "ReferendumClosed(uint256,uint256,uint256,bool)",
)
PROPOSAL_FIELDS = (
    "id number description endBlock forVotes againstVotes voteCount closed passed createdAtBlock createdTx "
    "proposer { id } referendum { id }"
)


def event_topics(signatures: tuple[str, ...] = GOVERNANCE_EVENTS) -> list[str]:
    return ["0x" + keccak(text=s).hex() for s in signatures]


@dataclass
class AggregateConfig:
    """What one pipeline run reads and writes (the operator's choice, passed to the Aqua)."""

    subgraph_url: str
    contract: str
    ipfs_api: str
    module_ipfs_api: str = ""
    topics: list[str] = field(default_factory=event_topics)
    template: str = "governance"
    protocol: str = ""  # default: the contract address, lowercase
    entity: str = "proposal"
    fields: str = PROPOSAL_FIELDS
    timeout_sec: int = 30
    tip_key: str = TIP_KEY
    cursor_key: str = CURSOR_KEY

    def to_aqua(self) -> JsonObject:
        return {**to_json_object(self), "protocol": self.protocol or self.contract.lower()}


@dataclass
class AggregateResult:
    old_root: str
    root: str
    old_cursor: str
    cursor: str
    items: list[str]
    changed: list[str]
    written: list[str]
    tx_hashes: list[str]

    @property
    def changed_root(self) -> bool:
        return self.root != self.old_root

    def summary(self) -> str:
        """One line for people: items, root, blocks written, cursor and transactions."""
        state = "new root" if self.changed_root else "root unchanged"
        txs = ", ".join(self.tx_hashes) or "no transaction"
        return (
            f"{len(self.items)} items from events ({len(self.changed)} changed), {state} {self.root or '-'}, "
            f"{len(self.written)} blocks written, cursor {self.cursor or '-'}; {txs}"
        )

    def to_dict(self) -> JsonObject:
        return {**to_json_object(self), "blocks_written": len(self.written)}


def aggregate_air() -> str:
    """The AIR of one scheduled pipeline run, configured from ENS (what `air.aggregate` pins)."""
    return str(project_aqua(AGGREGATE_AQUA).function(SCHEDULED_FUNCTION).script)


def publish_aggregate(context: FlowContext, *, progress: Callable[[str], None] = lambda m: None) -> dict[str, str]:
    """Build the pipeline's modules, add them and its AIR to IPFS, and have governance record their CIDs
    (`wasm.<module>`, `air.aggregate`) on the project name; records already right are not written again."""
    project = context.settings.ens.project_name
    prefix = context.settings.ens.wasm_key_prefix
    governance = Governance(context, None)
    artifacts = [
        (f"{prefix}{b.name}", b.read_bytes()) for b in build_modules(list(AGGREGATE_MODULES), progress=progress)
    ]
    artifacts.append((AIR_AGGREGATE_KEY, aggregate_air().encode()))
    cids: dict[str, str] = {}
    for key, data in artifacts:
        cid = str(context.ipfs.add_bytes(data, name=key, pin=True).cid)
        if context.ens.text(project, key) != cid:
            progress(f"{key} = {cid}")
            governance.submit(context.ens.set_text_request(project, key, cid), f"set {key} on {project}")
        cids[key] = cid
    return cids


def step_message(error: str) -> str:
    """The innermost `step: message` of a nested AquaVM error (the `operator.require` failure), else `error`."""
    found = re.findall(r"error message is '(?:\\*\")+(.*?)(?:\\*\")+'", error)
    return found[-1] if found else error


def aggregate_once(session: PeerSession, config: AggregateConfig) -> AggregateResult:
    """One pipeline run on the peer. A failed step raises FluenceDaoError naming it; ENS is then unchanged
    unless the root was written and the cursor was not (the next run redoes the events and ends the same)."""
    outcome = session.call(AGGREGATE_AQUA, AGGREGATE_FUNCTION, [config.to_aqua()])
    if not outcome.get("success"):
        message = step_message(str(outcome.get("error")))
        raise FluenceDaoError(f"aggregate failed: {message}", error=message)

    def text(key: str) -> str:
        return str(outcome.get(key) or "")

    def texts(key: str) -> list[str]:
        return [str(v) for v in outcome.get(key) or []]

    result = AggregateResult(
        old_root=text("old_root"),
        root=text("root"),
        old_cursor=text("old_cursor"),
        cursor=text("cursor"),
        items=texts("items"),
        changed=texts("changed"),
        written=texts("written"),
        tx_hashes=texts("tx_hashes"),
    )
    logger.info("aggregate: %d items, root %s, %d blocks, txs %s", len(result.items), result.root,
                len(result.written), result.tx_hashes)  # fmt: skip
    return result


def read_tree(context: FlowContext, cid: str = "", path: str = "", *, tip_key: str = TIP_KEY) -> tuple[str, JsonValue]:
    """The node at `path` under `cid` (default: the root in the signer name's `ipld-tip` record), links followed,
    as (root cid, DAG-JSON-like value with links as {"/": cid})."""
    root = cid or context.ens.text(context.settings.ens.signer_name, tip_key)
    if not root:
        raise FluenceDaoError(f"no {tip_key} record on {context.settings.ens.signer_name}: run aggregate first")
    target = f"{root}/{path.strip('/')}" if path.strip("/") else root
    value = context.ipfs.dag_get(target)
    if isinstance(value, Cid):
        value = context.ipfs.dag_get(value)
    return root, _dag_json(value)


def _dag_json(value: IpldValue) -> JsonValue:
    """An IPLD value as DAG-JSON-like data: links as {"/": cid}, bytes as {"/": {"bytes": hex}}."""
    if isinstance(value, Cid):
        return {"/": str(value)}
    if isinstance(value, dict):
        return {k: _dag_json(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_dag_json(x) for x in value]
    if isinstance(value, bytes):
        return {"/": {"bytes": value.hex()}}
    return value


@dataclass
class AggregateScheduled:
    script_id: str
    air_cid: str
    every_s: float
    config_tx: str | None

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


def start_aggregate(
    context: FlowContext, session: PeerSession, config: AggregateConfig, every_s: float
) -> AggregateScheduled:
    """Have governance record `config` (JSON) in `aggregate.config` on the project name (when it differs), then
    schedule the pipeline AIR pinned as `air.aggregate` on the peer every `every_s` seconds (the peer fetches and
    verifies it by CID). Stop it with `stop_interval(session, script_id)`."""
    if every_s <= 0:
        raise FluenceDaoError(f"the interval must be positive, got {every_s} s", every_s=every_s)
    project = context.settings.ens.project_name
    air_cid = context.ens.text(project, AIR_AGGREGATE_KEY)
    if not air_cid:
        raise FluenceDaoError(f"no {AIR_AGGREGATE_KEY} record on {project}: run `fluence-dao aggregate-publish`")
    text = json.dumps(config.to_aqua(), separators=(",", ":"), sort_keys=True)
    tx = None
    if context.ens.text(project, CONFIG_KEY) != text:
        governance = Governance(context, None)
        tx = governance.submit(context.ens.set_text_request(project, CONFIG_KEY, text), f"set {CONFIG_KEY}").tx_hash
    script_id = session.call(AGGREGATE_AQUA, "start_aggregate", [air_cid, f"{every_s:g}"])
    return AggregateScheduled(str(script_id), air_cid, every_s, tx)
