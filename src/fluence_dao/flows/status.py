"""`status`: what runs where, read from the peer and the chain (nothing is written).

The peer first: its intervals (scripts and spells), each with its own arguments, counters and last runs (outcome,
the failing step, tx hash, nonce and block in decimal, local times). A run counts as failed when AquaVM failed, when
it timed out, or when its result says `success: false` (a failure its AIR caught). Then the chain: the ENS records,
the signer (address, balance, whether it controls its name) and whether the signer service ENS names still lives
on the peer. Each part is read on its own, so a chain that is down still leaves the peer's part to see, and a peer
that is down the chain's. `notes` say in plain words what is wrong and which command restores service.

`problems(status, last=N)` is what `status --check` fails on: the peer unreachable, no interval on it, the signer's
key gone, or an interval whose last N finished runs all failed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fluence_dao.errors import EnsError, EthError, FluenceDaoError
from fluence_dao.flows._context import (
    AIR_INTERVAL_KEY,
    SIGNER_ADDRESS_KEY,
    SIGNER_PEER_KEY,
    SIGNER_SERVICE_KEY,
    WASM_MODULES,
    FlowContext,
)
from fluence_dao.flows._session import PeerSession
from fluence_dao.peer.scheduler import error_text

logger = logging.getLogger(__name__)

RUNS_SHOWN = 5
DEFAULT_CHECK_RUNS = 3
RESTORE = "fluence-dao deploy-signer --replace, then fluence-dao start-interval --every <seconds> [--key <key>]"


def local_time(ms: int | None) -> str | None:
    """Wall-clock milliseconds as local time with its UTC offset, to the millisecond (None for 0/None)."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="milliseconds")


def quantity(text: Any) -> int | None:
    """A JSON-RPC quantity ("0x1f" or decimal text) as an int; None when absent or not a number."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


@dataclass
class Status:
    peer: dict[str, Any]
    chain: dict[str, Any]
    signer: dict[str, Any]
    records: dict[str, str]
    scripts: list[dict[str, Any]] = field(default_factory=list)
    spells: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intervals(self) -> list[dict[str, Any]]:
        return [*self.scripts, *self.spells]

    def to_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "chain": self.chain,
            "signer": self.signer,
            "records": self.records,
            "scripts": self.scripts,
            "spells": self.spells,
            "notes": self.notes,
        }


def status(context: FlowContext, session: PeerSession | None, *, runs_shown: int = RUNS_SHOWN) -> Status:
    """The peer's intervals and their runs, the chain's records and the signer. `session` None: the peer is not
    reachable. Errors of one part are reported in that part (`error`), never raised."""
    peer: dict[str, Any] = {"reachable": session is not None}
    scripts: list[dict[str, Any]] = []
    spells: list[dict[str, Any]] = []
    if session is not None:
        peer["peer_id"] = session.peer_id
        try:
            ping = getattr(session.network, "ping", None)
            if callable(ping):
                peer.update({k: v for k, v in ping().items() if k in ("uptime_s", "address", "particles_processed")})
            scripts = [_script(session, info, runs_shown) for info in session.call("deploy.aqua", "list_scripts")]
            spells = [_spell(session, spell_id, runs_shown) for spell_id in session.call("spell.aqua", "list_spells")]
        except FluenceDaoError as err:
            peer["error"] = err.message
            logger.info("status: the peer at %s did not answer: %s", session.peer_id, err.message)

    chain, records, signer = _chain(context, session, [*scripts, *spells])
    result = Status(peer, chain, signer, records, scripts, spells)
    result.notes = _notes(result)
    return result


# ---- the peer's intervals ---------------------------------------------------------------------------------------


def _script(session: PeerSession, info: dict[str, Any], runs_shown: int) -> dict[str, Any]:
    try:
        runs = session.call("deploy.aqua", "script_runs", [info["id"]])
    except FluenceDaoError:  # removed between list and runs
        runs = []
    return _interval("script", info, runs, runs_shown)


def _spell(session: PeerSession, spell_id: str, runs_shown: int) -> dict[str, Any]:
    try:
        info = session.call("spell.aqua", "spell_info", [spell_id])
        runs = session.call("spell.aqua", "spell_runs", [spell_id])
    except FluenceDaoError as err:  # removed meanwhile, or a peer without run history for spells
        return {"id": spell_id, "kind": "spell", "error": err.message, "runs": [], "args": {}, "counts": {}}
    return _interval("spell", info, runs, runs_shown)


def _interval(kind: str, info: dict[str, Any], runs: list[dict[str, Any]], runs_shown: int) -> dict[str, Any]:
    try:
        args = json.loads(info.get("args_json") or "{}")
    except ValueError:
        args = {}
    every = info.get("interval") or ""
    shaped = [_run(run) for run in runs]
    finished = [r for r in shaped if r["outcome"] in ("ok", "failed")]
    in_a_row = 0
    for run in reversed(finished):
        if run["outcome"] != "failed":
            break
        in_a_row += 1
    return {
        "id": info["id"],
        "kind": kind,
        "every_s": float(every) if every else None,
        "args": args if isinstance(args, dict) else {},
        "counts": {k: int(info.get(k, 0)) for k in ("runs", "ok", "failed", "skipped")},
        "running": bool(info.get("running")),
        "started_at": local_time(info.get("started_ms")),
        "next_at": local_time(info.get("next_ms")),
        "failed_in_a_row": in_a_row,
        "last_finished": [r["outcome"] for r in finished],  # oldest first, as far as the peer keeps them
        "runs": shaped[-runs_shown:] if runs_shown > 0 else [],
    }


def _run(run: dict[str, Any]) -> dict[str, Any]:
    """One run as status shows it: decimal nonce and block, local time, the failing step."""
    try:
        result = json.loads(run.get("result_json") or "null")
    except ValueError:
        result = None
    outcome = run.get("outcome") or ("running" if not run.get("finished") else "ok" if run.get("ok") else "failed")
    at_ms = run.get("started_ms") or run.get("due_ms")
    shaped: dict[str, Any] = {
        "seq": run.get("seq"),
        "time": local_time(at_ms),
        "started_ms": at_ms,
        "outcome": outcome,
        "ok": None if outcome in ("running", "skipped") else outcome == "ok",
        "late_ms": run.get("late_ms"),
        "step": run.get("step") or None,
        "error": error_text(run["error"]) if run.get("error") else None,  # AquaVM's wrapper taken off
        "skipped": int(run.get("skipped") or 0),
        "tx_hash": run.get("tx_hash") or None,
        "nonce": quantity(run.get("nonce")),
        "block_number": quantity(run.get("block_number")),
    }
    if isinstance(result, dict):
        if result.get("value"):
            shaped["value"] = result["value"]
        if result.get("replaced"):
            shaped["replaced"] = True
        if result.get("root"):  # the aggregation pipeline's outcome: its tree root and event cursor (a block)
            shaped["root"] = result["root"]
        if result.get("cursor"):
            cursor = quantity(result["cursor"])
            shaped["cursor"] = result["cursor"] if cursor is None else cursor
        if isinstance(result.get("tx_hashes"), list):
            shaped["tx_hashes"] = [str(h) for h in result["tx_hashes"]]
        if outcome == "ok" and result.get("error"):
            shaped["note"] = str(result["error"])  # e.g. "sent; receipt pending"
    return shaped


# ---- the chain --------------------------------------------------------------------------------------------------


def _chain(
    context: FlowContext, session: PeerSession | None, intervals: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    project, signer_name = context.settings.ens.project_name, context.settings.ens.signer_name
    chain: dict[str, Any] = {"reachable": False}
    records: dict[str, str] = {}
    signer: dict[str, Any] = {"name": signer_name}
    try:
        chain["rpc_url"] = context.endpoint.rpc_url
        ens = context.ens
        keys = [context.record_key(m) for m in WASM_MODULES]
        keys += [AIR_INTERVAL_KEY, SIGNER_PEER_KEY, SIGNER_SERVICE_KEY, SIGNER_ADDRESS_KEY]
        for key in keys:
            records[key] = ens.text(project, key)
        chain["reachable"] = True
        written = {(str(i["args"].get("signer_name") or ""), str(i["args"].get("record_key") or "")) for i in intervals}
        for name, key in sorted(written - {("", "")}) or [(signer_name, "notice")]:
            if name and key:
                records[f"{name} {key}"] = _written_record(ens, name, key)
        address = records[SIGNER_ADDRESS_KEY]
        signer["address"] = address or None
        if address:
            owner = ens.owner(signer_name)
            signer.update(
                balance_wei=context.eth.balance(address), controls_name=owner.lower() == address.lower(), owner=owner
            )
    except (EthError, FluenceDaoError) as err:
        chain["error"] = err.message
        logger.info("status: the chain did not answer: %s", err.message)
    service_id = records.get(SIGNER_SERVICE_KEY)
    if session is not None and service_id:
        signer["service_id"] = service_id
        signer["peer_id"] = records.get(SIGNER_PEER_KEY) or None
        signer["on_this_peer"] = records.get(SIGNER_PEER_KEY) == session.peer_id
        try:
            live = session.call("deploy.aqua", "signer_status", [service_id])
            address = str(signer.get("address") or "")
            signer["live_on_peer"] = bool(live["exists"]) and live["address"].lower() == address.lower()
            signer["service_exists"] = bool(live["exists"])
        except FluenceDaoError as err:
            signer["live_error"] = err.message
    return chain, records, signer


def _written_record(ens: Any, name: str, key: str) -> str:
    """An interval's record ('' when its name has no resolver: that interval's runs say why; the signer and the
    other records are still read)."""
    try:
        return str(ens.text(name, key))
    except EnsError as err:
        logger.info("status: %s", err.message)
        return ""


# ---- what it means ----------------------------------------------------------------------------------------------


def _notes(status: Status) -> list[str]:
    notes = []
    peer, chain, signer = status.peer, status.chain, status.signer
    if not peer["reachable"]:
        notes.append(
            "The peer daemon does not answer. If it stopped, the signer's key is gone with it (services live only in "
            f"its memory). Start it with `fluence-dao devnet up`, then restore service: {RESTORE}."
        )
    elif "error" in peer:
        notes.append(f"The peer answered its ping but not the status calls: {peer['error']}")
    if not chain["reachable"]:
        notes.append(
            "The chain does not answer"
            + (f" at {chain['rpc_url']}" if chain.get("rpc_url") else "")
            + f": {chain.get('error', 'unknown error')}. ENS records and the signer cannot be checked; runs fail "
            "until it is back."
            + (
                " If it is the local devnet, start it again with `fluence-dao devnet up` (it keeps its chain)."
                if "127.0.0.1" in str(chain.get("rpc_url") or "")
                else ""
            )
        )
    if signer.get("service_exists") is False and signer.get("on_this_peer"):
        notes.append(
            f"The signer's key is gone: ENS names service {signer['service_id']} on this peer, but the peer has no "
            "such service (the daemon restarted: services and the key live only in its memory). Restore service: "
            f"{RESTORE}."
        )
    elif signer.get("service_id") and signer.get("on_this_peer") is False:
        notes.append(f"The signer named in ENS lives on peer {signer.get('peer_id')}, not on this one.")
    elif signer.get("live_on_peer") is False and signer.get("service_exists"):
        notes.append("The signer service answers with another address than signer.address in ENS.")
    if peer["reachable"] and "error" not in peer and not status.intervals:
        notes.append("No interval runs on this peer: start one with `fluence-dao start-interval --every <seconds>`.")
    for interval in status.intervals:
        if interval["failed_in_a_row"] >= 2:
            last = next((r for r in reversed(interval["runs"]) if r["outcome"] == "failed"), None)
            where = f" at step '{last['step']}'" if last and last.get("step") else ""
            notes.append(
                f"{interval['kind'].capitalize()} {interval['id']}: the last {interval['failed_in_a_row']} runs failed{where}."
            )
    return notes


def problems(status: Status, *, last: int = DEFAULT_CHECK_RUNS) -> list[str]:
    """Why `status --check` fails ([] when the interval is live and its last `last` finished runs did not all fail)."""
    found = []
    if not status.peer["reachable"] or "error" in status.peer:
        found.append("the peer is not reachable")
    elif not status.intervals:
        found.append("no interval runs on the peer")
    if status.signer.get("service_exists") is False and status.signer.get("on_this_peer"):
        found.append("the signer's key is gone (no signer service on the peer)")
    elif status.signer.get("live_on_peer") is False:
        found.append("the signer named in ENS is not live on this peer")
    for interval in status.intervals:
        finished = interval.get("last_finished", [])
        if len(finished) >= last and all(outcome == "failed" for outcome in finished[-last:]):
            found.append(f"the last {last} runs of {interval['kind']} {interval['id']} failed")
    return found
