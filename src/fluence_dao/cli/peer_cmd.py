"""`fluence-dao peer serve|info`: the long-lived local Fluence peer (the daemon `devnet up` also starts)."""

from __future__ import annotations

import fcntl
import logging
import os
from typing import IO, TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.errors import PeerError

if TYPE_CHECKING:
    from fluence_dao.config import Settings

app = typer.Typer(help="The local peer daemon: one Fluence peer on 127.0.0.1 that CLI commands run Aqua on.")


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="TCP port on 127.0.0.1 (0: any free).")
    ] = None,
    management_peer_id: Annotated[
        list[str] | None,
        typer.Option("--management-peer-id", help="Peer id allowed to manage services (repeatable; default: CLI key)."),
    ] = None,
    ipfs_api_multiaddr: Annotated[
        str | None, typer.Option("--ipfs-api-multiaddr", help="The local IPFS RPC server aqua-ipfs announces.")
    ] = None,
    libp2p_port: Annotated[
        int | None,
        typer.Option(
            "--libp2p-port",
            min=0,
            max=65535,
            help="Also serve libp2p (js-client's relay protocol) on /ip4/127.0.0.1/tcp/PORT/ws (0: any free).",
        ),
    ] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Run the peer daemon in the foreground until SIGTERM or Ctrl-C (logs to stderr)."""
    from fluence_dao.peer.daemon import DaemonConfig, serve  # lazy: the peer imports wasmtime

    package_logger = logging.getLogger("fluence_dao")  # the root CLI logs warnings only; a server logs its events
    if package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:  # a server's log: its events, and when each happened
        handler.setLevel(min(handler.level or logging.INFO, logging.INFO))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    settings = _state.settings(state_dir=state_dir)
    lock = _one_daemon_per_state_dir(settings)  # held until this process ends; checked before --port applies
    if port is not None:
        settings.peer.port = port
    config = DaemonConfig.from_settings(
        settings,
        ipfs_local_api_multiaddr=ipfs_api_multiaddr,
        management_peer_ids=frozenset(management_peer_id) if management_peer_id else None,
        libp2p_port=libp2p_port,
    )
    try:
        serve(config)
    finally:
        lock.close()


def _one_daemon_per_state_dir(settings: Settings) -> IO[str]:
    """An exclusive lock on <state dir>/peer/daemon.lock (a second `peer serve` on the state dir is refused, not
    started beside the first); also refused when a daemon started without the lock answers at daemon.json's
    address."""
    from fluence_dao.peer.paths import daemon_file  # lazy: the peer package imports wasmtime
    from fluence_dao.peer.remote import client_key_if_present, daemon_address, ping

    path = daemon_file(settings.state_dir).with_name("daemon.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")  # private, as the dir
    address = daemon_address(settings)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        running = ping(address, 1.0, key_pair=client_key_if_present(settings)) if address else None
    except BlockingIOError:
        running = {}
    if running is not None:
        handle.close()
        pid = f" (pid {running['pid']})" if running.get("pid") else ""
        raise PeerError(
            f"a peer daemon already serves state dir {settings.state_dir}"
            + (f" at {address}" if address else "")
            + f"{pid}: stop it first (`fluence-dao devnet down`), or give this one another --state-dir",
            state_dir=str(settings.state_dir),
            address=address,
        )
    return handle


@app.command()
def info(state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Show the running daemon: address, peer id, pid, management peers, counters."""
    from fluence_dao.peer.remote import client_key_if_present, daemon_address, ping  # lazy: the peer package

    settings = _state.settings(state_dir=state_dir)
    address = daemon_address(settings)
    facts = ping(address, 2.0, key_pair=client_key_if_present(settings)) if address else None
    if facts is None:
        where = f" at {address}" if address else ""
        raise PeerError(
            f"no peer daemon answers{where}: start one with `fluence-dao devnet up` or `fluence-dao peer serve`",
            address=address,
        )
    facts.pop("action", None)
    lines = [f"{key:<20} {console.plain(value)}" for key, value in facts.items()]
    console.emit(facts, "\n".join(lines))
