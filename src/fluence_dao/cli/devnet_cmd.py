"""`fluence-dao devnet up|down|status|logs`: the local anvil chain with ENS, on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from fluence_dao.cli import _output, _paths
from fluence_dao.cli._options import JsonOption, StateDirOption

app = typer.Typer(help="The local devnet: anvil on 127.0.0.1 with ENS and the project's names.", no_args_is_help=True)


def _devnet(state_dir: Path | None) -> Any:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet

    return Devnet(load_settings({"state_dir": state_dir}))


#: Loggers whose INFO lines (a process started, ENS deployed, a graph build step) are `devnet up`'s progress.
PROGRESS_LOGGERS = ("fluence_dao.devnet", "fluence_dao.util.process", "fluence_dao.subgraph")


def _up_text(info: dict[str, Any]) -> str:
    plain = _output.plain
    ens = info.get("ens") or {}
    lines = [
        f"chain id         {plain(info.get('chain_id'))}",
        f"rpc url          {plain(info.get('rpc_url'))}",
        f"ens registry     {plain(ens.get('registry'))}",
        f"public resolver  {plain(ens.get('public_resolver'))}",
        f"governance       {plain(info.get('governance'))}",
    ]
    for name, record in (info.get("names") or {}).items():
        lines.append(
            f"name             {name}  owner {plain(record.get('owner'))}  resolver {plain(record.get('resolver'))}"
        )
    for name, proc in (info.get("processes") or {}).items():
        state = "started" if proc.get("started_now") else "already running"
        lines.append(f"process          {name}  pid {plain(proc.get('pid'))}  {state}  log {plain(proc.get('log'))}")
    if info.get("subgraph"):
        subgraph = info["subgraph"]
        lines.append(f"subgraph         {plain(subgraph.get('url'))}  Governance {plain(subgraph.get('governance'))}")
    return "\n".join(lines)


@app.command()
def up(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Start anvil (or reuse the running one), deploy ENS, register the project names; print the addresses."""
    devnet = _devnet(state_dir)
    _paths.writable_state_dir(devnet.settings.state_dir, given=state_dir is not None)
    with _output.status("starting the devnet", loggers=PROGRESS_LOGGERS):
        info = devnet.up()
    _output.emit(info, _up_text(info))


@app.command()
def down(
    state_dir: StateDirOption = None,
    reset: Annotated[bool, typer.Option("--reset", help="Also delete the chain state and deployed addresses.")] = False,
    json: JsonOption = False,
) -> None:
    """Stop every devnet process (SIGTERM, then SIGKILL); anvil keeps its chain for the next `up`."""
    stopped = _devnet(state_dir).down(reset=reset)
    text = ("stopped " + ", ".join(stopped)) if stopped else "nothing was running"
    _output.emit({"stopped": stopped, "reset": reset}, text)


@app.command()
def status(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Show each devnet process (pid, health), the chain and the owners of the project names."""
    plain = _output.plain
    result = _devnet(state_dir).status().to_dict()
    lines = []
    for proc in result["processes"]:
        health = "healthy" if proc["healthy"] else ("running, NOT healthy" if proc["running"] else "stopped")
        pid = f"pid {proc['pid']}" if proc.get("pid") else "no pid"
        port = f"  port {proc['port']}" if proc.get("port") and proc["running"] else ""
        lines.append(f"{proc['name']:<10} {health:<22} {pid}{port}  log {plain(proc.get('log'))}")
    if result["chain"]:
        lines.append(
            f"chain {plain(result['chain'].get('chain_id'))} at {plain(result['rpc_url'])}, "
            f"block {plain(result['chain'].get('block_number'))}"
        )
    elif not any(proc["running"] for proc in result["processes"]):
        lines.append("the devnet is not running: start it with `fluence-dao devnet up`")
    for name, record in result["names"].items():
        owner = record.get("owner")
        lines.append(f"{name}  owner {owner}" if owner else f"{name}  ERROR {plain(record.get('error'))}")
    if result.get("subgraph"):
        lines.append(
            f"subgraph GraphQL {plain(result['subgraph'].get('url'))}  "
            f"Governance {plain(result['subgraph'].get('governance'))}"
        )
    _output.emit(result, "\n".join(lines))


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
    _output.emit({"process": name, "log": str(proc.spec.log_path), "lines": tail}, "\n".join(tail))
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
