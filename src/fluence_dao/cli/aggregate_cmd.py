"""The aggregation pipeline from the command line: `aggregate` (once or every S seconds), `aggregate-publish`
(the pipeline's modules and AIR to IPFS, CIDs in ENS) and `tree show` (walk the tree, default: the root in ENS).

The pipeline runs on the peer daemon (`fluence-dao devnet up`); the subgraph endpoint is `--subgraph-url`
(`fluence-dao subgraph serve` prints it), the contract `--contract` (default: the one `dao deploy` recorded).
"""

from __future__ import annotations

import json as jsonlib
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.errors import ConfigError, InvalidCidError

if TYPE_CHECKING:
    from fluence_dao.flows import FlowContext, PeerSession
    from fluence_dao.flows.aggregate import AggregateConfig

app = typer.Typer()
tree_app = typer.Typer(help="Walk the aggregation tree on IPFS.")
app.add_typer(tree_app, name="tree")


def _session(context: FlowContext) -> PeerSession:
    from fluence_dao.flows import open_session  # lazy: the flows import web3 and wasmtime

    return open_session(context.settings, ttl_ms=240_000)


def _config(
    context: FlowContext, subgraph_url: str, contract: str | None, ipfs_api: str | None, timeout: int
) -> AggregateConfig:
    from fluence_dao.flows.aggregate import AggregateConfig  # lazy: the flows import web3 and wasmtime

    if contract is None:
        from fluence_dao.eth import read_deployment  # lazy: web3

        deployment = read_deployment(context.settings.state_dir)
        if deployment is None:
            raise ConfigError("no --contract and no Governance recorded by `fluence-dao dao deploy`")
        contract = deployment.address
    api = ipfs_api or context.ipfs_api_url
    if not api:
        raise ConfigError("no --ipfs-api and no devnet IPFS server: the tree needs a Kubo RPC API")
    return AggregateConfig(subgraph_url=subgraph_url, contract=contract, ipfs_api=api, timeout_sec=timeout)


@app.command("aggregate")
def aggregate(
    subgraph_url: Annotated[str, typer.Option("--subgraph-url", help="GraphQL endpoint of the subgraph.")],
    contract: Annotated[str | None, typer.Option("--contract", help="Governance contract address.")] = None,
    ipfs_api: Annotated[str | None, typer.Option("--ipfs-api", help="Kubo RPC API for the tree.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Run once (the default).")] = False,
    every: Annotated[
        float | None,
        typer.Option("--every", min=1, help="Schedule the governed pipeline AIR on the peer every S seconds."),
    ] = None,
    timeout: Annotated[int, typer.Option("--timeout", min=1, help="Subgraph request timeout, seconds.")] = 30,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Events -> subgraph -> IPLD tree -> the new root in ENS (`ipld-tip`), signed by the governed signer.

    --once (default) runs it now and prints new items, the new root and the tx hashes. --every S has governance
    record this configuration in `aggregate.config` and schedules the AIR pinned as `air.aggregate` on the peer
    (run `aggregate-publish` first); it prints the script id (`stop-interval ID` stops it).

    Exit codes: 0 the run succeeded (also when there was nothing new) or was scheduled, 1 a step failed (named
    in the error; ENS is then unchanged and the next run resumes).
    """
    from fluence_dao.flows.aggregate import aggregate_once, start_aggregate

    if once and every is not None:
        raise typer.BadParameter("--once and --every exclude each other", param_hint="--every")
    context = _state.context(state_dir=state_dir)
    config = _config(context, subgraph_url, contract, ipfs_api, timeout)
    session = _session(context)
    if every is not None:
        with console.status("scheduling the aggregation AIR on the peer"):
            scheduled = start_aggregate(context, session, config, every)
        console.emit(scheduled, scheduled.script_id)
        return
    with console.status("aggregating on the peer: events, subgraph, IPLD tree, root in ENS"):
        result = aggregate_once(session, config)
    console.emit(result, result.summary())


@app.command("aggregate-publish")
def aggregate_publish(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Build the pipeline's modules (curl_adapter, events, subgraph_client, ipld), add them and the pipeline's
    AIR to IPFS, and have governance record their CIDs (`wasm.<module>`, `air.aggregate`) on the project name."""
    from fluence_dao.flows.aggregate import publish_aggregate

    context = _state.context(state_dir=state_dir)
    with console.status("publishing the aggregation pipeline"):
        cids = publish_aggregate(context, progress=console.info)
    console.emit(cids, "\n".join(f"{k:<24} {v}" for k, v in cids.items()))


@tree_app.command("show")
def tree_show(
    cid: Annotated[
        str, typer.Argument(help="Root CID (default: the ipld-tip record in ENS); a path here when it is no CID.")
    ] = "",
    path: Annotated[str, typer.Argument(help="Path under the root, e.g. templates/governance.")] = "",
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Print the node at PATH under the tree's root (links as {"/": cid}); exit 1 when there is no such node.
    `tree show PATH` walks PATH under the root in ENS."""
    from fluence_dao.flows.aggregate import read_tree
    from fluence_dao.ipfs import Cid

    if cid:
        try:
            Cid.parse(cid.split("/", 1)[0])
        except InvalidCidError:
            if path:
                raise typer.BadParameter(f"{cid!r} is not a CID", param_hint="CID") from None
            cid, path = "", cid  # `tree show templates/governance`: a path under the root in ENS

    with console.status("reading the tree"):
        root, value = read_tree(_state.context(state_dir=state_dir), cid, path)
    console.emit({"root": root, "path": path, "value": value}, jsonlib.dumps(value, indent=2, ensure_ascii=False))
