"""The governed signer from the command line: `publish`, `deploy-signer`, `start-interval`, `stop-interval`,
`status` and `demo`.

Aqua runs on the peer daemon that `fluence-dao devnet up` starts; the CLI is a client peer with its own key in
the state dir (the daemon's management key). Governance writes are signed with `eth.governance_key` (env or
.env, never a flag), or written as a Safe Transaction Builder batch with `--propose FILE`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _paths, _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.errors import PeerError

if TYPE_CHECKING:
    from fluence_dao.config import Settings
    from fluence_dao.flows import FlowContext, PeerSession
    from fluence_dao.flows.demo import ConfirmedUpdate
    from fluence_dao.flows.status import Interval, RunRecord, SignerStatus, Status

app = typer.Typer()

RelayOption = Annotated[
    str | None,
    typer.Option(
        "--relay",
        metavar="MULTIADDR",
        help="Reach the peer as a Fluence client of this relay over libp2p (/ip4/127.0.0.1/tcp/PORT/ws/p2p/12D3KooW...) "
        "instead of the daemon's loopback endpoint.",
    ),
]
ProposeOption = Annotated[
    Path | None,
    typer.Option(
        "--propose",
        help="Write governance transactions to FILE (Safe Transaction Builder JSON) instead of sending them.",
    ),
]


def _session(context: FlowContext, relay: str | None = None) -> PeerSession:
    from fluence_dao.flows import open_session  # lazy: the flows import web3 and wasmtime

    return open_session(context.settings, relay=relay)


@app.command()
def publish(propose: ProposeOption = None, state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Build the modules, add them and the interval AIR to IPFS, and record their CIDs in ENS.

    Exit codes: 0 published (or already current), 1 a build, IPFS or chain error.
    """
    from fluence_dao.flows import publish as run

    if propose is not None:  # before the builds and uploads, not after them
        _paths.writable_file(propose, "--propose")
    context = _state.context(state_dir=state_dir)
    with console.status("publishing"):
        result = run(context, propose_to=propose, progress=console.info)
    lines = [
        f"{a.key:<18} {a.cid}  {'tx ' + a.write.tx_hash if a.write and a.write.tx_hash else ('proposed' if a.write else 'unchanged')}"
        for a in result.artifacts
    ]
    if result.proposal:
        lines.append(f"proposal written to {result.proposal}")
    console.emit(result, "\n".join(lines))


@app.command("deploy-signer")
def deploy_signer(
    replace: Annotated[
        bool, typer.Option("--replace", help="Governed handover: a new signer replaces the live one.")
    ] = False,
    fund_wei: Annotated[int, typer.Option("--fund-wei", min=0, help="Fund the signer up to this balance.")] = 10**18,
    propose: ProposeOption = None,
    relay: RelayOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Deploy the signer named in ENS on the peer, make it the controller of the signer's name, and fund it.

    Exit codes: 0 a live signer (created, or already there), 1 an error (no daemon, no published modules,
    a module whose bytes do not match its CID, a chain error).
    """
    from fluence_dao.flows import deploy_signer as run

    if propose is not None:
        _paths.writable_file(propose, "--propose")
    context = _state.context(state_dir=state_dir)
    with console.status("deploying the signer"):
        result = run(
            context,
            _session(context, relay),
            replace=replace,
            fund_wei=fund_wei,
            propose_to=propose,
            progress=console.info,
        )
    state = "deployed" if result.created else "already live"
    text = f"signer {result.address} {state} on {result.peer_id} (service {result.service_id})"
    if result.proposal:
        text += f"\nproposal written to {result.proposal}"
    console.emit(result, text)


@app.command("start-interval")
def start_interval(
    every: Annotated[float, typer.Option("--every", min=1, help="Seconds between runs.")] = 60,
    key: Annotated[
        str, typer.Option("--key", help="The text record of the signer's name each run updates.")
    ] = "notice",
    name: Annotated[
        str | None,
        typer.Option("--name", help="The ENS name whose record the runs update (default: the configured signer name)."),
    ] = None,
    gas_limit: Annotated[int, typer.Option("--gas-limit", help="Gas limit of each run's transaction.")] = 120_000,
    as_: Annotated[
        str, typer.Option("--as", help="script: the 2021 script.add; spell: a spell with a clock trigger (nox).")
    ] = "script",
    relay: RelayOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Fetch the interval AIR by the CID in ENS, verify it, and schedule it on the peer with its own arguments
    (--key, --name, --gas-limit: nothing else on the peer changes, so several intervals can write different keys).
    Runs start every --every seconds on a fixed grid; a run still going when the next is due makes that one skipped.
    Prints the script id (with --as spell: the spell id; --every is then a whole number of seconds).

    Exit codes: 0 scheduled, 1 an error (no daemon, no air.interval record, bytes not matching the CID).
    """
    from fluence_dao.flows import start_interval as run

    if as_ not in ("script", "spell"):
        raise typer.BadParameter(f"--as must be 'script' or 'spell', got {as_!r}", param_hint="--as")
    if as_ == "spell":
        from fluence_dao.flows.interval import start_interval_spell as run
    context = _state.context(state_dir=state_dir)
    with console.status(f"scheduling the interval AIR from ENS as a {as_}"):
        result = run(context, _session(context, relay), every, record_key=key, signer_name=name, gas_limit=gas_limit)
    console.emit(result, result.script_id)


@app.command("stop-interval")
def stop_interval(
    script_id: Annotated[str, typer.Argument(help="The id start-interval printed (a script or spell id).")],
    relay: RelayOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Remove a scheduled interval from the peer.

    Exit codes: 0 removed, 1 no such script on the peer (or no daemon).
    """
    from fluence_dao.flows import stop_interval as run

    context = _state.context(state_dir=state_dir)
    with console.status(f"removing {script_id}"):
        removed = run(_session(context, relay), script_id)
    if not removed:
        raise PeerError(f"no script {script_id} on the peer", script_id=script_id)
    console.emit({"script_id": script_id, "removed": True}, f"removed {script_id}")


@app.command()
def status(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when the interval is not live (peer unreachable, no interval, the signer's key gone) or the "
            "last --last runs of an interval all failed: for CI and monitors.",
        ),
    ] = False,
    last: Annotated[
        int, typer.Option("--last", min=1, max=100, help="How many latest runs must all have failed for --check.")
    ] = 3,
    runs: Annotated[int, typer.Option("--runs", min=0, max=100, help="Runs shown per interval.")] = 5,
    relay: RelayOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """The peer and its intervals (scripts and spells: arguments, counters, last runs with the failing step, tx,
    nonce and block), the chain (ENS records, the signer: address, balance, whether it controls its name and lives
    on the peer), and notes on what is wrong and which command restores service. A chain or peer that is down is
    reported, and the other part still shown.

    Exit codes: 0 shown; with --check, 1 when a check failed (the reasons on stderr and in `check` with --json).
    """
    from fluence_dao.flows.status import check as verdict
    from fluence_dao.flows.status import status as run

    context = _state.context(state_dir=state_dir)
    try:
        session: PeerSession | None = _session(context, relay)
    except PeerError:
        session = None
    with console.status("reading the peer and the chain"):
        result = run(context, session, runs_shown=runs)
    found = verdict(result, last=last).problems
    console.emit(result, status_text(result))
    if check and found:
        for problem in found:
            console.info(f"check failed: {problem}")
        raise typer.Exit(1)


def status_text(status: Status) -> str:
    """`status` as people read it (what `fluence-dao status` prints without --json)."""
    peer, chain = status.peer, status.chain
    lines = [
        f"peer      {peer.peer_id or 'not reachable'}"
        + (f"  up {peer.uptime_s:.0f} s" if peer.uptime_s is not None else "")
        + (f"  ERROR {peer.error}" if peer.error is not None else "")
    ]
    state = "ok" if chain.reachable else f"NOT REACHABLE: {chain.error}" if chain.down else f"NOT USABLE: {chain.error}"
    lines.append(f"chain     {chain.rpc_url or '?'}  {state}")
    lines.append(_signer_text(status.signer, chain.reachable))
    for interval in status.intervals:
        lines.append(_interval_text(interval))
        lines += [f"  {_run_text(run)}" for run in reversed(interval.runs)]
    for key, value in status.records.items():
        lines.append(f"record    {key:<40} {value or '-'}")
    lines += [f"note      {note}" for note in status.notes]
    if status.check is not None:
        verdict = "ok" if status.check.ok else "FAILING: " + "; ".join(status.check.problems)
        lines.append(f"check     {verdict} (last {status.check.last} runs)")
    return "\n".join(lines)


def _signer_text(signer: SignerStatus, chain_reachable: bool) -> str:
    if signer.address:
        yes_no = {True: "yes", False: "NO", None: "NO"}
        return (
            f"signer    {signer.address}  balance {(signer.balance_wei or 0) / 1e18:.4f} ETH  "
            f"controls {signer.name}: {yes_no[signer.controls_name]}"
            + (f"  live on peer: {yes_no[signer.live_on_peer]}" if signer.live_on_peer is not None else "")
        )
    if chain_reachable:
        return "signer    none recorded in ENS (run deploy-signer)"
    return "signer    unknown (the chain could not be read)"


def _interval_text(interval: Interval) -> str:
    from fluence_dao.flows.status import UnreadInterval

    if isinstance(interval, UnreadInterval):
        return f"{interval.kind:<9} {interval.id}  ERROR {interval.error}"
    counts, args = interval.counts, interval.args
    every = f"every {interval.every_s:g} s" if interval.every_s else "once"
    writes = f"  writes {args.get('signer_name')} {args['record_key']}" if args.get("record_key") else ""
    return (
        f"{interval.kind:<9} {interval.id}  {every}{writes}  runs {counts.runs}: ok {counts.ok}, "
        f"failed {counts.failed}, skipped {counts.skipped}"
        + (f"  next {interval.next_at[11:23]}" if interval.next_at else "")
    )


def _run_text(run: RunRecord) -> str:
    when = (run.time or "?")[:23].replace("T", " ")
    if run.outcome == "skipped":
        return f"{when}  skipped {run.skipped} run{'s' if run.skipped != 1 else ''}: {run.error}"
    if run.outcome == "running":
        return f"{when}  running"
    if run.outcome == "failed":
        step, error = run.step, run.error or ""
        if step and error.startswith(f"{step}: "):
            error = error[len(step) + 2 :]
        return f"{when}  FAILED" + (f" at '{step}'" if step else "") + f": {error}"
    facts = []
    if run.tx_hash:
        facts.append(f"tx {run.tx_hash}")
    if run.nonce is not None:
        facts.append(f"nonce {run.nonce}")
    if run.block_number is not None:
        facts.append(f"block {run.block_number}")
    elif run.tx_hash:
        facts.append("not mined yet")
    if run.replaced:
        facts.append("replaced a stuck transaction")
    if run.root:
        facts.append(f"root {run.root}")
    if run.cursor:
        facts.append(f"cursor {run.cursor}")
    if run.tx_hashes and len(run.tx_hashes) > 1:
        facts.append(f"{len(run.tx_hashes)} transactions")
    return f"{when}  ok" + (f"  {'  '.join(facts)}" if facts else "")


@app.command()
def demo(
    every: Annotated[float, typer.Option("--every", min=1, help="Seconds between interval runs.")] = 5,
    updates: Annotated[int, typer.Option("--updates", min=1, help="Confirmed updates to wait for.")] = 3,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the devnet, peer and interval running.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the updates.")] = 180,
    aggregate: Annotated[
        bool,
        typer.Option(
            "--aggregate",
            help="The aggregation pipeline instead: proposals and votes -> subgraph -> IPLD tree -> root in ENS.",
        ),
    ] = False,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """The whole governed signer locally: devnet, build, publish, deploy-signer, start-interval, then wait for
    confirmed on-chain updates sent by the signer. With --aggregate: the aggregation pipeline (5 proposals, then 2
    more, each run's tree root in ENS checked item by item against the subgraph). Exit codes: 0 when everything
    checked held, 1 otherwise."""
    from fluence_dao.flows.demo import run_demo

    settings = _state.settings(state_dir=state_dir)
    if state_dir is None:  # its own dir under the configured one, so it never touches the user's devnet
        settings = _state.current().move_state_dir(settings.state_dir / "demo")
    if aggregate:
        _aggregate_demo(settings, keep)
        return

    def show(update: ConfirmedUpdate) -> None:
        console.info(f"update: {update.value} in block {update.block_number} tx {update.tx_hash} from {update.sender}")

    with console.status("running the demo"):
        result = run_demo(
            settings,
            every_s=every,
            updates=updates,
            keep=keep,
            timeout_s=timeout,
            progress=console.info,
            on_update=show,
        )
    lines = [f"signer {result.signer} on peer {result.peer_id} updated {result.record}:"]
    lines += [f"  {u.value}  block {u.block_number}  tx {u.tx_hash}  from {u.sender}" for u in result.updates]
    if keep:
        lines += _kept_hint(settings.state_dir, f"interval {result.script_id}")
    console.emit({**result.to_dict(), "state_dir": str(settings.state_dir)}, "\n".join(lines))


def _kept_hint(state_dir: Path, what: str) -> list[str]:
    """After `demo --keep`: the demo's devnet lives in its own state dir, which every later command must name."""
    return [
        f"still running in the state dir {state_dir} ({what}); every command needs it, e.g.",
        f"  fluence-dao status --state-dir {state_dir}",
        f"  fluence-dao devnet down --state-dir {state_dir}      # stops it",
        f"or `export FLUENCE_DAO_STATE_DIR={state_dir}` first",
    ]


def _aggregate_demo(settings: Settings, keep: bool) -> None:
    from fluence_dao.flows.aggregate_demo import run_aggregate_demo

    with console.status("running the aggregation demo"):
        result = run_aggregate_demo(settings, keep=keep, progress=console.info)
    lines = [f"Governance {result.contract}, subgraph {result.subgraph_url}"]
    lines += [run.summary() for run in result.runs]
    lines.append(f"the tree in ENS holds {result.items} items, each equal to the subgraph's answer")
    if keep:
        lines += _kept_hint(settings.state_dir, "devnet, subgraph and peer")
    console.emit({**result.to_dict(), "state_dir": str(settings.state_dir)}, "\n".join(lines))
