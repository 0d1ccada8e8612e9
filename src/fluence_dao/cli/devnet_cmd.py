"""`fluence-dao devnet up|down|status|logs`: the local anvil chain with ENS, on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from fluence_dao.cli import _output
from fluence_dao.cli._options import JsonOption, StateDirOption

app = typer.Typer(help="The local devnet: anvil on 127.0.0.1 with ENS and the project's names.", no_args_is_help=True)


def _devnet(state_dir: Path | None) -> Any:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet

    return Devnet(load_settings({"state_dir": state_dir}))


def _up_text(info: dict[str, Any]) -> str:
    ens = info.get("ens") or {}
    lines = [
        f"chain id         {info.get('chain_id')}",
        f"rpc url          {info.get('rpc_url')}",
        f"ens registry     {ens.get('registry')}",
        f"public resolver  {ens.get('public_resolver')}",
        f"governance       {info.get('governance')}",
    ]
    for name, record in (info.get("names") or {}).items():
        lines.append(f"name             {name}  owner {record.get('owner')}  resolver {record.get('resolver')}")
    for name, proc in (info.get("processes") or {}).items():
        state = "started" if proc.get("started_now") else "already running"
        lines.append(f"process          {name}  pid {proc.get('pid')}  {state}  log {proc.get('log')}")
    if info.get("subgraph"):
        lines.append(f"subgraph         {info['subgraph'].get('url')}  Governance {info['subgraph'].get('governance')}")
    return "\n".join(lines)


@app.command()
def up(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Start anvil (or reuse the running one), deploy ENS, register the project names; print the addresses."""
    devnet = _devnet(state_dir)
    with _output.status("starting the devnet..."):
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
    result = _devnet(state_dir).status().to_dict()
    lines = []
    for proc in result["processes"]:
        health = "healthy" if proc["healthy"] else ("running, NOT healthy" if proc["running"] else "stopped")
        port = f"  port {proc['port']}" if proc.get("port") else ""
        lines.append(f"{proc['name']:<10} {health:<22} pid {proc['pid']}{port}  log {proc['log']}")
    if result["chain"]:
        lines.append(
            f"chain {result['chain']['chain_id']} at {result['rpc_url']}, block {result['chain']['block_number']}"
        )
    for name, record in result["names"].items():
        lines.append(f"{name}  owner {record.get('owner', record.get('error'))}")
    if result.get("subgraph"):
        lines.append(
            f"subgraph GraphQL {result['subgraph'].get('url')}  Governance {result['subgraph'].get('governance')}"
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
