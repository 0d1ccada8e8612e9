"""`demo`: the whole governed signer, locally, in one command.

devnet up (anvil with ENS, the IPFS server, the peer daemon) -> build and publish the modules and the interval
AIR (CIDs in ENS) -> deploy the signer on the peer (Aqua fetches and verifies every module by its ENS CID) ->
governance makes the signer the controller of the signer's name and funds it -> start the interval -> wait for
`updates` confirmed updates of the record, each checked on chain (sent by the signer, mined, status 1) ->
stop the interval and tear the devnet down (unless `keep`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fluence_dao.config import Settings
from fluence_dao.devnet import Devnet
from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import FlowContext
from fluence_dao.flows._session import PeerSession, open_session
from fluence_dao.flows.deploy_signer import deploy_signer
from fluence_dao.flows.interval import start_interval, stop_interval
from fluence_dao.flows.publish import publish
from fluence_dao.util.json_types import JsonObject, json_name, to_json_object

Progress = Callable[[str], None]


@dataclass
class ConfirmedUpdate:
    value: str
    block_number: int
    tx_hash: str
    sender: str = field(metadata=json_name("from"))

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


@dataclass
class DemoResult:
    peer_id: str
    signer: str
    script_id: str
    record: str
    updates: list[ConfirmedUpdate] = field(default_factory=list)
    kept: bool = False

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


def run_demo(
    settings: Settings,
    *,
    every_s: float = 5.0,
    updates: int = 3,
    keep: bool = False,
    timeout_s: float = 180.0,
    progress: Progress = lambda message: None,
    on_update: Callable[[ConfirmedUpdate], None] = lambda update: None,
) -> DemoResult:
    devnet = Devnet(settings)
    progress("starting the devnet: anvil with ENS, the IPFS server, the peer daemon, the demo subgraph")
    devnet.up()
    context = FlowContext(settings)
    try:
        session = open_session(settings)  # the daemon `devnet up` just started
        progress("building the modules and publishing them with the interval AIR (CIDs in ENS)")
        publish(context, progress=progress)
        progress(f"deploying the signer on peer {session.peer_id}")
        signer = deploy_signer(context, session, progress=progress)
        progress(f"the signer {signer.address} controls {settings.ens.signer_name}")
        started = start_interval(context, session, every_s)
        progress(f"interval {started.script_id} runs every {every_s:g} s; waiting for {updates} confirmed updates")
        result = DemoResult(session.peer_id, signer.address, started.script_id, settings.ens.signer_name)
        try:
            for update in _confirmed_updates(context, session, started.script_id, signer.address, timeout_s):
                result.updates.append(update)
                on_update(update)
                if len(result.updates) >= updates:
                    break
        finally:
            if not keep:
                stop_interval(session, started.script_id)
        result.kept = keep
        return result
    finally:
        context.close()
        if not keep:
            progress("tearing the devnet down (the signer's key goes with the peer)")
            devnet.down()


def _confirmed_updates(
    context: FlowContext, session: PeerSession, script_id: str, signer: str, timeout_s: float
) -> Iterator[ConfirmedUpdate]:
    """Yield each new successful run once its transaction is checked on chain; fail after `timeout_s`."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        for run in session.call("deploy.aqua", "script_runs", [script_id]):
            outcome = json.loads(run["result_json"]) if run["result_json"] else None
            if not isinstance(outcome, dict):
                continue
            if not outcome.get("success"):
                last_error = run["error"] or outcome.get("error", "")
                continue
            tx_hash = outcome.get("tx_hash", "")
            if not tx_hash or tx_hash in seen or not outcome.get("block_number"):
                continue
            receipt = context.eth.wait_for_receipt(tx_hash, timeout_s=30)
            if receipt.sender.lower() != signer.lower() or receipt.status != 1:
                raise FluenceDaoError(f"transaction {tx_hash} was not a successful update from the signer {signer}")
            seen.add(tx_hash)
            yield ConfirmedUpdate(outcome["value"], receipt.block_number, tx_hash, receipt.sender)
        time.sleep(0.5)
    raise FluenceDaoError(
        f"no confirmed update within {timeout_s:g} s" + (f"; the last run failed: {last_error}" if last_error else ""),
        timeout_s=timeout_s,
    )
