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
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from fluence_dao.errors import EnsError, EthError, FluenceDaoError, RpcUnavailableError
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
from fluence_dao.util.json_types import JsonObject, JsonValue, omit_none, to_json_object

if TYPE_CHECKING:
    from fluence_dao.eth import EnsClient

logger = logging.getLogger(__name__)

RUNS_SHOWN = 5
DEFAULT_CHECK_RUNS = 3
RESTORE = "fluence-dao deploy-signer --replace, then fluence-dao start-interval --every <seconds> [--key <key>]"
OPTIONAL = omit_none()  # a fact status could not read has no key in the JSON document (not null)


def local_time(ms: int | None) -> str | None:
    """Wall-clock milliseconds as local time with its UTC offset, to the millisecond (None for 0/None)."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="milliseconds")


def quantity(text: object) -> int | None:
    """A JSON-RPC quantity ("0x1f" or decimal text) as an int; None when absent or not a number."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


# ---- what the peer answers (aqua/runs.aqua, aqua/deploy.aqua) ------------------------------------------------------


class PeerRun(TypedDict, total=False):
    """Aqua's `IntervalRun`: one run (or skipped grid points) as `script.runs` / `spell.runs` return it."""

    seq: int
    due_ms: int
    started_ms: int
    late_ms: float
    finished: bool
    ok: bool
    outcome: str
    step: str
    skipped: int
    tx_hash: str
    nonce: str
    block_number: str
    result_json: str
    error: str


class PeerIntervalInfo(TypedDict, total=False):
    """Aqua's `ScriptInfo` / `IntervalInfo`: an interval's clock, arguments and counters."""

    id: str
    interval: str
    args_json: str
    started_ms: int
    next_ms: int
    runs: int
    ok: int
    failed: int
    skipped: int
    running: bool


class _SignerLiveness(TypedDict):
    """Aqua's `SignerStatus` of deploy.aqua."""

    exists: bool
    address: str


# ---- the report ---------------------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One run as status shows it: decimal nonce and block, local time, the failing step; the pipeline's root."""

    seq: int | None
    time: str | None
    started_ms: int | None
    outcome: str  # ok, failed, skipped, running
    ok: bool | None  # None: running or skipped
    late_ms: float | None
    step: str | None
    error: str | None
    skipped: int
    tx_hash: str | None
    nonce: int | None
    block_number: int | None
    value: JsonValue = field(default=None, metadata=OPTIONAL)
    replaced: bool | None = field(default=None, metadata=OPTIONAL)
    root: JsonValue = field(default=None, metadata=OPTIONAL)  # the aggregation pipeline's tree root
    cursor: JsonValue = field(default=None, metadata=OPTIONAL)  # and its event cursor (a block)
    tx_hashes: list[str] | None = field(default=None, metadata=OPTIONAL)
    note: str | None = field(default=None, metadata=OPTIONAL)  # e.g. "sent; receipt pending"


@dataclass
class RunCounts:
    runs: int
    ok: int
    failed: int
    skipped: int


@dataclass
class IntervalStatus:
    """A script or spell: its arguments, counters, clock and latest runs."""

    id: str
    kind: str  # script, spell
    every_s: float | None  # None: once
    args: JsonObject
    counts: RunCounts
    running: bool
    started_at: str | None
    next_at: str | None
    failed_in_a_row: int
    last_finished: list[str]  # outcomes, oldest first, as far as the peer keeps them
    runs: list[RunRecord]


@dataclass
class UnreadInterval:
    """A spell the peer listed but did not describe (removed meanwhile, or a peer without run history for spells)."""

    id: str
    kind: str
    error: str
    runs: list[RunRecord] = field(default_factory=list)
    args: JsonObject = field(default_factory=dict)
    counts: JsonObject = field(default_factory=dict)

    @property
    def failed_in_a_row(self) -> int:
        return 0

    @property
    def last_finished(self) -> list[str]:
        return []


Interval: TypeAlias = IntervalStatus | UnreadInterval


@dataclass
class PeerStatus:
    reachable: bool
    peer_id: str | None = field(default=None, metadata=OPTIONAL)
    uptime_s: float | None = field(default=None, metadata=OPTIONAL)
    address: str | None = field(default=None, metadata=OPTIONAL)
    particles_processed: int | None = field(default=None, metadata=OPTIONAL)
    error: str | None = field(default=None, metadata=OPTIONAL)  # it answered its ping but not the status calls


@dataclass
class ChainStatus:
    reachable: bool = False  # status read the ENS records
    rpc_url: str | None = field(default=None, metadata=OPTIONAL)
    error: str | None = field(default=None, metadata=OPTIONAL)
    answers: bool | None = field(default=None, metadata=OPTIONAL)  # True: it answered, but not as configured

    @property
    def down(self) -> bool:
        """Unreadable because nothing answers (not because it is another chain or has no ENS there)."""
        return not self.reachable and not self.answers


@dataclass
class SignerStatus:
    """The signer ENS names: its account on the chain, and its service on the peer (when both answered)."""

    name: str
    address: str | None = None  # signer.address in ENS (None: none recorded, or the chain did not answer)
    address_read: bool = False  # the chain answered: `address` is what ENS records
    balance_wei: int | None = field(default=None, metadata=OPTIONAL)
    controls_name: bool | None = field(default=None, metadata=OPTIONAL)
    owner: str | None = field(default=None, metadata=OPTIONAL)
    service_id: str | None = field(default=None, metadata=OPTIONAL)
    peer_id: str | None = field(default=None, metadata=OPTIONAL)
    on_this_peer: bool | None = field(default=None, metadata=OPTIONAL)
    live_on_peer: bool | None = field(default=None, metadata=OPTIONAL)
    service_exists: bool | None = field(default=None, metadata=OPTIONAL)
    live_error: str | None = field(default=None, metadata=OPTIONAL)

    def to_dict(self) -> JsonObject:
        """By field, with the document's two conditional keys: `address` once the chain answered (null: none
        recorded), `peer_id` with the service (null: no signer.peer record)."""
        out = to_json_object(self, exclude={"address_read"})
        if not self.address_read:
            del out["address"]
        if self.service_id is not None:
            out["peer_id"] = self.peer_id
        return out


@dataclass
class Check:
    """`status --check`'s verdict: `problems` empty when the interval is live."""

    last: int
    ok: bool
    problems: list[str]


@dataclass
class Status:
    """What `status` read; `to_json(status)` is its `--json` document."""

    peer: PeerStatus
    chain: ChainStatus
    signer: SignerStatus
    records: dict[str, str]
    scripts: list[Interval] = field(default_factory=list)
    spells: list[Interval] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    check: Check | None = field(default=None, metadata=OPTIONAL)  # set by `check()`

    @property
    def intervals(self) -> list[Interval]:
        return [*self.scripts, *self.spells]

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


def status(context: FlowContext, session: PeerSession | None, *, runs_shown: int = RUNS_SHOWN) -> Status:
    """The peer's intervals and their runs, the chain's records and the signer. `session` None: the peer is not
    reachable. Errors of one part are reported in that part (`error`), never raised."""
    peer = PeerStatus(reachable=session is not None)
    scripts: list[Interval] = []
    spells: list[Interval] = []
    if session is not None:
        peer.peer_id = session.peer_id
        try:
            ping = getattr(session.network, "ping", None)
            if callable(ping):
                _read_ping(peer, ping())
            infos: list[PeerIntervalInfo] = session.call("deploy.aqua", "list_scripts")
            scripts = [_script(session, info, runs_shown) for info in infos]
            spell_ids: list[str] = session.call("spell.aqua", "list_spells")
            spells = [_spell(session, spell_id, runs_shown) for spell_id in spell_ids]
        except FluenceDaoError as err:
            peer.error = err.message
            logger.info("status: the peer at %s did not answer: %s", session.peer_id, err.message)

    chain, records, signer = _chain(context, session, [*scripts, *spells])
    result = Status(peer, chain, signer, records, scripts, spells)
    result.notes = notes_for(result)
    return result


def _read_ping(peer: PeerStatus, facts: JsonObject) -> None:
    uptime, address = facts.get("uptime_s"), facts.get("address")
    if isinstance(uptime, int | float) and not isinstance(uptime, bool):
        peer.uptime_s = uptime
    if isinstance(address, str):
        peer.address = address
    peer.particles_processed = quantity(facts.get("particles_processed"))


# ---- the peer's intervals ---------------------------------------------------------------------------------------


def _script(session: PeerSession, info: PeerIntervalInfo, runs_shown: int) -> Interval:
    runs: list[PeerRun]
    try:
        runs = session.call("deploy.aqua", "script_runs", [info["id"]])
    except FluenceDaoError:  # removed between list and runs
        runs = []
    return interval_status("script", info, runs, runs_shown)


def _spell(session: PeerSession, spell_id: str, runs_shown: int) -> Interval:
    try:
        info: PeerIntervalInfo = session.call("spell.aqua", "spell_info", [spell_id])
        runs: list[PeerRun] = session.call("spell.aqua", "spell_runs", [spell_id])
    except FluenceDaoError as err:  # removed meanwhile, or a peer without run history for spells
        return UnreadInterval(spell_id, "spell", err.message)
    return interval_status("spell", info, runs, runs_shown)


def interval_status(kind: str, info: PeerIntervalInfo, runs: list[PeerRun], runs_shown: int) -> IntervalStatus:
    """An interval as status shows it, from the peer's info and runs (the latest `runs_shown` runs kept)."""
    try:
        args = json.loads(info.get("args_json") or "{}")
    except ValueError:
        args = {}
    every = info.get("interval") or ""
    shaped = [_run(run) for run in runs]
    finished = [r for r in shaped if r.outcome in ("ok", "failed")]
    in_a_row = 0
    for run in reversed(finished):
        if run.outcome != "failed":
            break
        in_a_row += 1
    return IntervalStatus(
        id=info["id"],
        kind=kind,
        every_s=float(every) if every else None,
        args=args if isinstance(args, dict) else {},
        counts=RunCounts(
            int(info.get("runs", 0)), int(info.get("ok", 0)), int(info.get("failed", 0)), int(info.get("skipped", 0))
        ),
        running=bool(info.get("running")),
        started_at=local_time(info.get("started_ms")),
        next_at=local_time(info.get("next_ms")),
        failed_in_a_row=in_a_row,
        last_finished=[r.outcome for r in finished],
        runs=shaped[-runs_shown:] if runs_shown > 0 else [],
    )


def _run(run: PeerRun) -> RunRecord:
    """One run as status shows it: decimal nonce and block, local time, the failing step."""
    try:
        result = json.loads(run.get("result_json") or "null")
    except ValueError:
        result = None
    outcome = run.get("outcome") or ("running" if not run.get("finished") else "ok" if run.get("ok") else "failed")
    at_ms = run.get("started_ms") or run.get("due_ms")
    error = run.get("error")
    shaped = RunRecord(
        seq=run.get("seq"),
        time=local_time(at_ms),
        started_ms=at_ms,
        outcome=outcome,
        ok=None if outcome in ("running", "skipped") else outcome == "ok",
        late_ms=run.get("late_ms"),
        step=run.get("step") or None,
        error=error_text(error) if error else None,  # AquaVM's wrapper taken off
        skipped=int(run.get("skipped") or 0),
        tx_hash=run.get("tx_hash") or None,
        nonce=quantity(run.get("nonce")),
        block_number=quantity(run.get("block_number")),
    )
    if isinstance(result, dict):
        _read_outcome(shaped, result)
    return shaped


def _read_outcome(shaped: RunRecord, result: JsonObject) -> None:
    """What a run's result record adds: its value, a replaced transaction, the pipeline's root and cursor."""
    if result.get("value"):
        shaped.value = result["value"]
    if result.get("replaced"):
        shaped.replaced = True
    if result.get("root"):
        shaped.root = result["root"]
    cursor = result.get("cursor")
    if cursor:
        number = quantity(cursor)
        shaped.cursor = cursor if number is None else number
    hashes = result.get("tx_hashes")
    if isinstance(hashes, list):
        shaped.tx_hashes = [str(h) for h in hashes]
    if shaped.outcome == "ok" and result.get("error"):
        shaped.note = str(result["error"])


# ---- the chain --------------------------------------------------------------------------------------------------


def _chain(
    context: FlowContext, session: PeerSession | None, intervals: list[Interval]
) -> tuple[ChainStatus, dict[str, str], SignerStatus]:
    project, signer_name = context.settings.ens.project_name, context.settings.ens.signer_name
    chain = ChainStatus()
    records: dict[str, str] = {}
    signer = SignerStatus(signer_name)
    try:
        chain.rpc_url = context.endpoint.rpc_url
        ens = context.ens
        keys = [context.record_key(m) for m in WASM_MODULES]
        keys += [AIR_INTERVAL_KEY, SIGNER_PEER_KEY, SIGNER_SERVICE_KEY, SIGNER_ADDRESS_KEY]
        for key in keys:
            records[key] = ens.text(project, key)
        chain.reachable = True
        written = {(str(i.args.get("signer_name") or ""), str(i.args.get("record_key") or "")) for i in intervals}
        for name, key in sorted(written - {("", "")}) or [(signer_name, "notice")]:
            if name and key:
                records[f"{name} {key}"] = written_record(ens, name, key)
        address = records[SIGNER_ADDRESS_KEY]
        signer.address, signer.address_read = address or None, True
        if address:
            owner = ens.owner(signer_name)
            signer.balance_wei = context.eth.balance(address)
            signer.controls_name, signer.owner = owner.lower() == address.lower(), owner
    except (EthError, FluenceDaoError) as err:
        chain.error = err.message
        if not chain.reachable and not isinstance(err, RpcUnavailableError):
            chain.answers = True  # e.g. another chain id, or no ENS registry at the configured address
        logger.info("status: the chain could not be read: %s", err.message)
    service_id = records.get(SIGNER_SERVICE_KEY)
    if session is not None and service_id:
        signer.service_id = service_id
        signer.peer_id = records.get(SIGNER_PEER_KEY) or None
        signer.on_this_peer = records.get(SIGNER_PEER_KEY) == session.peer_id
        try:
            live: _SignerLiveness = session.call("deploy.aqua", "signer_status", [service_id])
            address = signer.address or ""
            signer.live_on_peer = bool(live["exists"]) and live["address"].lower() == address.lower()
            signer.service_exists = bool(live["exists"])
        except FluenceDaoError as err:
            signer.live_error = err.message
    return chain, records, signer


def written_record(ens: EnsClient, name: str, key: str) -> str:
    """An interval's record ('' when its name has no resolver: that interval's runs say why; the signer and the
    other records are still read)."""
    try:
        return str(ens.text(name, key))
    except EnsError as err:
        logger.info("status: %s", err.message)
        return ""


# ---- what it means ----------------------------------------------------------------------------------------------


def notes_for(status: Status) -> list[str]:
    """What is wrong, in plain words, and which command restores service."""
    notes = []
    peer, chain, signer = status.peer, status.chain, status.signer
    if not peer.reachable:
        notes.append(
            "The peer daemon does not answer. If it stopped, the signer's key is gone with it (services live only in "
            f"its memory). Start it with `fluence-dao devnet up`, then restore service: {RESTORE}."
        )
    elif peer.error is not None:
        notes.append(f"The peer answered its ping but not the status calls: {peer.error}")
    if chain.answers and not chain.reachable:
        notes.append(
            f"The chain at {chain.rpc_url} answers, but not as configured: {chain.error}. ENS records and the signer "
            "cannot be checked; runs fail until the RPC URL, chain id and ENS registry agree."
        )
    elif not chain.reachable:
        notes.append(
            "The chain does not answer"
            + (f" at {chain.rpc_url}" if chain.rpc_url else "")
            + f": {chain.error if chain.error is not None else 'unknown error'}. ENS records and the signer cannot "
            "be checked; runs fail until it is back."
            + (
                " If it is the local devnet, start it again with `fluence-dao devnet up` (it keeps its chain)."
                if "127.0.0.1" in str(chain.rpc_url or "")
                else ""
            )
        )
    if signer.service_exists is False and signer.on_this_peer:
        notes.append(
            f"The signer's key is gone: ENS names service {signer.service_id} on this peer, but the peer has no "
            "such service (the daemon restarted: services and the key live only in its memory). Restore service: "
            f"{RESTORE}."
        )
    elif signer.service_id and signer.on_this_peer is False:
        notes.append(f"The signer named in ENS lives on peer {signer.peer_id}, not on this one.")
    elif signer.live_on_peer is False and signer.service_exists:
        notes.append("The signer service answers with another address than signer.address in ENS.")
    if peer.reachable and peer.error is None and not status.intervals:
        notes.append("No interval runs on this peer: start one with `fluence-dao start-interval --every <seconds>`.")
    for interval in status.intervals:
        if interval.failed_in_a_row >= 2:
            last = next((r for r in reversed(interval.runs) if r.outcome == "failed"), None)
            where = f" at step '{last.step}'" if last and last.step else ""
            notes.append(
                f"{interval.kind.capitalize()} {interval.id}: the last {interval.failed_in_a_row} runs failed{where}."
            )
    return notes


def problems(status: Status, *, last: int = DEFAULT_CHECK_RUNS) -> list[str]:
    """Why `status --check` fails ([] when the interval is live and its last `last` finished runs did not all fail)."""
    found = []
    if not status.peer.reachable or status.peer.error is not None:
        found.append("the peer is not reachable")
    elif not status.intervals:
        found.append("no interval runs on the peer")
    if status.signer.service_exists is False and status.signer.on_this_peer:
        found.append("the signer's key is gone (no signer service on the peer)")
    elif status.signer.live_on_peer is False:
        found.append("the signer named in ENS is not live on this peer")
    for interval in status.intervals:
        finished = interval.last_finished
        if len(finished) >= last and all(outcome == "failed" for outcome in finished[-last:]):
            found.append(f"the last {last} runs of {interval.kind} {interval.id} failed")
    return found


def check(status: Status, *, last: int = DEFAULT_CHECK_RUNS) -> Check:
    """`status --check`'s verdict, also kept in `status.check` (the `check` of the `--json` document)."""
    found = problems(status, last=last)
    status.check = Check(last=last, ok=not found, problems=found)
    return status.check
