"""`status`: what runs where, read from the chain and the peer (nothing is written)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import (
    AIR_INTERVAL_KEY,
    SIGNER_ADDRESS_KEY,
    SIGNER_PEER_KEY,
    SIGNER_SERVICE_KEY,
    WASM_MODULES,
    FlowContext,
)
from fluence_dao.flows._session import PeerSession

RUNS_SHOWN = 5


@dataclass
class Status:
    peer: dict[str, Any]
    signer: dict[str, Any]
    records: dict[str, str]
    scripts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "signer": self.signer, "records": self.records, "scripts": self.scripts}


def status(context: FlowContext, session: PeerSession | None, *, record_key: str = "notice") -> Status:
    """ENS records, the signer (address, balance, whether it controls its name, whether it answers on the peer)
    and the peer's scripts with their last runs. `session` None: the peer is not reachable."""
    ens, project, signer_name = context.ens, context.settings.ens.project_name, context.settings.ens.signer_name
    keys = [context.record_key(m) for m in WASM_MODULES] + [AIR_INTERVAL_KEY, SIGNER_PEER_KEY, SIGNER_SERVICE_KEY]
    records = {key: ens.text(project, key) for key in [*keys, SIGNER_ADDRESS_KEY]}
    records[f"{signer_name} {record_key}"] = ens.text(signer_name, record_key)

    address = records[SIGNER_ADDRESS_KEY]
    signer: dict[str, Any] = {"address": address or None, "name": signer_name}
    if address:
        owner = ens.owner(signer_name)
        signer.update(
            balance_wei=context.eth.balance(address), controls_name=owner.lower() == address.lower(), owner=owner
        )

    peer: dict[str, Any] = {"reachable": session is not None}
    scripts: list[dict[str, Any]] = []
    if session is not None:
        peer["peer_id"] = session.peer_id
        ping = getattr(session.network, "ping", None)
        if callable(ping):
            peer.update({k: v for k, v in ping().items() if k in ("uptime_s", "address", "particles_processed")})
        if records[SIGNER_SERVICE_KEY]:
            live = session.call("deploy.aqua", "signer_status", [records[SIGNER_SERVICE_KEY]])
            signer["live_on_peer"] = bool(live["exists"]) and live["address"].lower() == address.lower()
        for script in session.call("deploy.aqua", "list_scripts"):
            scripts.append({"id": script["id"], "interval": script["interval"], "failures": script["failures"],
                            "runs": _runs(session, script["id"])})  # fmt: skip
    return Status(peer, signer, records, scripts)


def _runs(session: PeerSession, script_id: str) -> list[dict[str, Any]]:
    try:
        runs = session.call("deploy.aqua", "script_runs", [script_id])
    except FluenceDaoError:  # removed between list and runs
        return []
    out = []
    for run in runs[-RUNS_SHOWN:]:
        result = json.loads(run["result_json"]) if run["result_json"] else None
        outcome = result if isinstance(result, dict) else {}
        out.append({
            "started_ms": run["started_ms"],
            "finished": run["finished"],
            "ok": run["ok"] and bool(outcome.get("success", True)),
            "tx_hash": outcome.get("tx_hash") or None,
            "value": outcome.get("value") or None,
            "block_number": outcome.get("block_number") or None,
            "error": run["error"] or outcome.get("error") or None,
        })  # fmt: skip
    return out
