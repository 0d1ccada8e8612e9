"""`fluence-dao devnet up|down|status|logs`: the local anvil chain with ENS, on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _paths, _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption

if TYPE_CHECKING:
    from fluence_dao.devnet import Devnet
    from fluence_dao.runtime import DevnetInfo

app = typer.Typer(help="The local devnet: anvil on 127.0.0.1 with ENS and the project's names.", no_args_is_help=True)


def _devnet(state_dir: Path | None) -> Devnet:
    from fluence_dao.devnet import Devnet  # lazy: web3 and the subgraph runner

    return Devnet(_state.settings(state_dir=state_dir))


#: Loggers whose INFO lines (a process started, ENS deployed, a graph build step) are `devnet up`'s progress.
PROGRESS_LOGGERS = ("fluence_dao.devnet", "fluence_dao.util.process", "fluence_dao.subgraph")


def _up_text(info: DevnetInfo) -> str:
    plain = console.plain
    lines = [
        f"chain id         {plain(info.chain_id)}",
        f"rpc url          {plain(info.rpc_url)}",
        f"ens registry     {plain(info.ens.registry)}",
        f"public resolver  {plain(info.ens.public_resolver)}",
        f"governance       {plain(info.governance)}",
    ]
    for name, record in info.names.items():
        lines.append(f"name             {name}  owner {plain(record.owner)}  resolver {plain(record.resolver)}")
    for name, proc in info.processes.items():
        state = "started" if proc.started_now else "already running"
        lines.append(f"process          {name}  pid {plain(proc.pid)}  {state}  log {plain(proc.log)}")
    if info.subgraph is not None:
        subgraph = info.subgraph
        lines.append(f"subgraph         {plain(subgraph.url)}  Governance {plain(subgraph.governance)}")
    return "\n".join(lines)


@app.command()
def up(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Start anvil (or reuse the running one), deploy ENS, register the project names; print the addresses."""
    devnet = _devnet(state_dir)
    _paths.writable_state_dir(devnet.settings.state_dir, given=state_dir is not None)
    with console.status("starting the devnet", loggers=PROGRESS_LOGGERS):
        info = devnet.start()
    console.emit(info.to_json(), _up_text(info))


@app.command()
def down(
    state_dir: StateDirOption = None,
    reset: Annotated[bool, typer.Option("--reset", help="Also delete the chain state and deployed addresses.")] = False,
    json: JsonOption = False,
) -> None:
    """Stop every devnet process (SIGTERM, then SIGKILL); anvil keeps its chain for the next `up`."""
    stopped = _devnet(state_dir).down(reset=reset)
    text = ("stopped " + ", ".join(stopped)) if stopped else "nothing was running"
    console.emit({"stopped": stopped, "reset": reset}, text)


@app.command()
def status(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Show each devnet process (pid, health), the chain and the owners of the project names."""
    plain = console.plain
    status = _devnet(state_dir).status()
    lines = []
    for proc in status.processes:
        health = "healthy" if proc.healthy else ("running, NOT healthy" if proc.running else "stopped")
        pid = f"pid {proc.pid}" if proc.pid else "no pid"
        port = f"  port {proc.port}" if proc.port and proc.running else ""
        lines.append(f"{proc.name:<10} {health:<22} {pid}{port}  log {plain(proc.log_path)}")
    info = status.info
    if status.chain:
        lines.append(
            f"chain {plain(status.chain.get('chain_id'))} at {plain(info.rpc_url if info else None)}, "
            f"block {plain(status.chain.get('block_number'))}"
        )
    elif not any(proc.running for proc in status.processes):
        lines.append("the devnet is not running: start it with `fluence-dao devnet up`")
    for name, record in status.names.items():
        owner = record.get("owner")
        lines.append(f"{name}  owner {owner}" if owner else f"{name}  ERROR {plain(record.get('error'))}")
    if info is not None and info.subgraph is not None:
        lines.append(f"subgraph GraphQL {plain(info.subgraph.url)}  Governance {plain(info.subgraph.governance)}")
    console.emit(status, "\n".join(lines))


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Which process.")] = "anvil",
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines of the tail.")] = 40,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines (Ctrl-C stops).")] = False,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Print the tail of a devnet process's log."""
    proc = _devnet(state_dir).process(name)
    tail = proc.log_tail(lines)
    console.emit({"process": name, "log": str(proc.spec.log_path), "lines": tail}, "\n".join(tail))
    if follow and not json:
        _follow(proc.spec.log_path)


def _follow(path: Path) -> None:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        while True:
            chunk = handle.readline()
            if chunk:
                typer.echo(chunk.decode("utf-8", errors="replace").rstrip("\n"))
            else:
                time.sleep(0.2)
