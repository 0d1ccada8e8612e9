"""`fluence-dao run -i FILE.aqua -f 'func(a, b)'`: compile, run on a local peer network, print the result."""

from __future__ import annotations

import json as json_lib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _paths, _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.errors import PeerError
from fluence_dao.util.json_types import JsonObject

if TYPE_CHECKING:
    from fluence_dao.peer.libp2p import Libp2pRelayNetwork
    from fluence_dao.peer.remote import RemoteNetwork

app = typer.Typer()


@app.command("run")
def run(
    input_file: Annotated[Path, typer.Option("-i", "--input", help="The .aqua file that exports the function.")],
    func: Annotated[
        str, typer.Option("-f", "--func", help="The call, e.g. 'greet(name, \"literal\", 42)'; names come from --data.")
    ],
    data: Annotated[
        str | None, typer.Option("--data", help="JSON object with argument values (or @path to a JSON file).")
    ] = None,
    peers: Annotated[int, typer.Option("--peers", min=1, help="Number of peers in the local network.")] = 1,
    ttl_ms: Annotated[int, typer.Option("--ttl-ms", min=1, help="Particle TTL in milliseconds.")] = 120_000,
    imports: Annotated[
        list[Path] | None, typer.Option("--import", "-m", help="Extra Aqua import directory (repeatable).")
    ] = None,
    daemon: Annotated[
        bool | None,
        typer.Option(
            "--daemon/--local",
            help="Run on the peer daemon (`devnet up` / `peer serve`) or on a fresh in-process network "
            "[default: the daemon when one is running and --peers is 1].",
        ),
    ] = None,
    relay: Annotated[
        str | None,
        typer.Option(
            "--relay",
            metavar="MULTIADDR",
            help="Run as a Fluence client of this relay over libp2p, e.g. /ip4/127.0.0.1/tcp/PORT/ws/p2p/12D3KooW... "
            "(the daemon's libp2p_multiaddr in `peer info`).",
        ),
    ] = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Call an exported Aqua function on the peer daemon or a fresh in-process network, as `fluence run`."""
    from fluence_dao.aqua import compile_aqua, parse_function_call
    from fluence_dao.peer import LocalNetwork, call_function

    if daemon and peers != 1:
        raise typer.BadParameter(
            f"--peers {peers} needs a fresh in-process network (--local): the daemon is one peer", param_hint="--peers"
        )
    values = _data(data)
    call = parse_function_call(func, values)
    with console.status(f"compiling {input_file}"):
        function = compile_aqua(input_file, imports or None).function(call.name)
    remote = _relay_network(relay, state_dir) if relay else _daemon_network(daemon, peers, state_dir)
    if remote is not None:
        with remote, console.status(f"running {call.name} on the peer daemon {remote.relay.address}"):
            result = call_function(remote, function, call.args, ttl_ms=ttl_ms)
    else:
        with console.status(f"running {call.name} on {peers} peer(s)"):
            network = LocalNetwork(peers)
            result = call_function(network, function, call.args, ttl_ms=ttl_ms)
    text = result if isinstance(result, str) else json_lib.dumps(result, indent=2, ensure_ascii=False)
    console.emit(result, text)


def _data(data: str | None) -> JsonObject:
    """--data: a JSON object, inline or `@path` to a file holding one."""
    if not data:
        return {}
    if data.startswith("@"):
        path = _paths.readable_file(Path(data[1:]), "--data")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise typer.BadParameter(f"{path} is not UTF-8 text ({err.reason})", param_hint="--data") from None
        where = str(path)
    else:
        text, where = data, "the value"
    try:
        values = json_lib.loads(text)
    except json_lib.JSONDecodeError as err:
        raise typer.BadParameter(f"{where} is not valid JSON: {err}", param_hint="--data") from None
    if not isinstance(values, dict):
        raise typer.BadParameter(
            f"{where} must be a JSON object of argument values, got {type(values).__name__}", param_hint="--data"
        )
    return values


def _relay_network(relay: str, state_dir: Path | None) -> Libp2pRelayNetwork:
    """A libp2p client of `relay` with the CLI's key (imports py-libp2p only now)."""
    from fluence_dao.peer import connect
    from fluence_dao.peer.libp2p import Libp2pRelayNetwork

    with console.status(f"connecting to the relay {relay}"):
        network = connect(_state.settings(state_dir=state_dir), relay=relay)
    assert isinstance(network, Libp2pRelayNetwork)  # what connect(relay=...) returns
    return network


def _daemon_network(daemon: bool | None, peers: int, state_dir: Path | None) -> RemoteNetwork | None:
    """A RemoteNetwork to the running daemon when asked (--daemon) or by default; None for a local network."""
    if daemon is False or (daemon is None and peers != 1):
        return None
    from fluence_dao.peer.remote import connect_from_settings  # lazy: the peer package imports wasmtime

    settings = _state.settings(state_dir=state_dir)
    remote = connect_from_settings(settings)
    if remote is None and daemon:
        raise PeerError(
            f"--daemon: no peer daemon is running for state dir {settings.state_dir}: start one with "
            "`fluence-dao devnet up` or `fluence-dao peer serve`",
            state_dir=str(settings.state_dir),
        )
    return remote
