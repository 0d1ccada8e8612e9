"""`deploy-signer`: a signer service on the peer, chosen by governance, controlling the signer's ENS name.

On the peer, in Aqua (aqua/deploy.aqua): the `curl_adapter` and `ens` tools are fetched by the CIDs recorded in
ENS and verified, then Aqua reads `wasm.signer` from ENS itself, fetches and verifies the signer module, creates
the service and calls `initiate()`; only the address comes back. Then governance records `signer.peer`,
`signer.service` and `signer.address`, makes the address the owner of the signer's name (the "controller") and
funds it.

Idempotent: when ENS already names a live signer on this peer, nothing changes (missing governance steps are
completed). `replace=True` is the governed handover: the tools and a new signer deployed from the CIDs now
in ENS, the controller and records moved to it, then the old service removed, so nothing of the old key
remains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fluence_dao.errors import FluenceDaoError
from fluence_dao.eth import split_name
from fluence_dao.flows._context import SIGNER_ADDRESS_KEY, SIGNER_PEER_KEY, SIGNER_SERVICE_KEY, FlowContext
from fluence_dao.flows._governance import Governance
from fluence_dao.flows._session import PeerSession
from fluence_dao.util.json_types import JsonObject, json_name, to_json_object

DEFAULT_FUNDING_WEI = 10**18  # 1 ETH on the devnet: thousands of setText transactions


@dataclass
class DeploySignerResult:
    peer_id: str
    service_id: str
    address: str
    signer_cid: str
    created: bool
    replaced_service_id: str | None = None
    writes: list[JsonObject] = field(default_factory=list, metadata=json_name("governance_writes"))
    proposal: Path | None = None

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


def deploy_signer(
    context: FlowContext,
    session: PeerSession,
    *,
    ipfs_api: str = "",
    replace: bool = False,
    fund_wei: int = DEFAULT_FUNDING_WEI,
    propose_to: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> DeploySignerResult:
    """See the module docstring. `ipfs_api` is the IPFS API multiaddr the peer fetches from ("" = its own)."""
    ens, project = context.ens, context.settings.ens.project_name
    governance = Governance(context, propose_to)

    live = None if replace else _live_signer(context, session)
    if live is not None:
        progress(f"signer {live['address']} is live on {session.peer_id} (service {live['service_id']})")
        result = DeploySignerResult(session.peer_id, live["service_id"], live["address"], live["cid"], created=False)
    else:
        old_service = ens.text(project, SIGNER_SERVICE_KEY) if replace else ""
        # `--replace` also redeploys the tools, so code governance changed in ENS takes effect with the handover
        if replace or not session.call("deploy.aqua", "tools_present"):
            curl_cid, ens_cid = _required_cid(context, "curl_adapter"), _required_cid(context, "ens")
            progress(f"deploying curl_adapter ({curl_cid}) and ens ({ens_cid}) on {session.peer_id}")
            session.call("deploy.aqua", "deploy_tools", [curl_cid, ens_cid, ipfs_api])
        progress("deploying the signer named by wasm.signer")
        deployed = session.call("deploy.aqua", "deploy_signer", [ipfs_api])
        result = DeploySignerResult(
            session.peer_id, deployed["service_id"], deployed["address"], deployed["cid"], created=True
        )
        if old_service and old_service != result.service_id:
            result.replaced_service_id = old_service

    _govern(context, governance, result, fund_wei, progress)
    result.writes = [w.to_dict() for w in governance.writes]
    result.proposal = governance.finish(f"fluence-dao deploy-signer on {project}")

    if result.replaced_service_id and not governance.proposing:
        progress(f"removing the old signer service {result.replaced_service_id}")
        try:
            session.call("deploy.aqua", "remove_service", [result.replaced_service_id])
        except FluenceDaoError as err:  # it may live on another peer, or be gone already
            progress(f"could not remove the old signer service: {err.message}")
    return result


def _required_cid(context: FlowContext, module: str) -> str:
    key = context.record_key(module)
    cid = context.ens.text(context.settings.ens.project_name, key)
    if not cid:
        raise FluenceDaoError(
            f"no {key} record on {context.settings.ens.project_name}: run `fluence-dao publish` first", key=key
        )
    return cid


def _live_signer(context: FlowContext, session: PeerSession) -> dict[str, str] | None:
    """The signer ENS names, when it lives on this peer and answers with the recorded address."""
    ens, project = context.ens, context.settings.ens.project_name
    service_id = ens.text(project, SIGNER_SERVICE_KEY)
    if not service_id or ens.text(project, SIGNER_PEER_KEY) != session.peer_id:
        return None
    status = session.call("deploy.aqua", "signer_status", [service_id])
    if not status["exists"] or status["address"].lower() != ens.text(project, SIGNER_ADDRESS_KEY).lower():
        return None
    cid = ens.text(project, context.record_key("signer"))
    return {"service_id": service_id, "address": status["address"], "cid": cid}


def _govern(
    context: FlowContext,
    governance: Governance,
    result: DeploySignerResult,
    fund_wei: int,
    progress: Callable[[str], None],
) -> None:
    """Record the signer in ENS, give it the signer's name and fund it; each step only when not done yet."""
    ens, project, signer_name = context.ens, context.settings.ens.project_name, context.settings.ens.signer_name
    for key, value in (
        (SIGNER_PEER_KEY, result.peer_id),
        (SIGNER_SERVICE_KEY, result.service_id),
        (SIGNER_ADDRESS_KEY, result.address),
    ):
        if ens.text(project, key) != value:
            progress(f"{key} = {value}")
            governance.submit(ens.set_text_request(project, key, value), f"set {key} on {project}")
    if ens.owner(signer_name).lower() != result.address.lower():
        label, parent = split_name(signer_name)
        progress(f"{signer_name} -> {result.address}")
        request = ens.set_subnode_owner_request(parent, label, result.address)
        governance.submit(request, f"make {result.address} the owner of {signer_name}")
    balance = context.eth.balance(result.address)
    if fund_wei and balance < fund_wei // 2:
        progress(f"funding {result.address} with {fund_wei} wei")
        governance.transfer(result.address, fund_wei - balance, f"fund the signer {result.address}")
