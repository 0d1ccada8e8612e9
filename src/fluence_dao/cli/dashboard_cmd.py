"""`fluence-dao dashboard`: a local, read-only web page over the signer, its intervals, ENS and the tree.

Starlette and uvicorn are imported inside the command (through fluence_dao.dashboard), so `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption

app = typer.Typer()

DEFAULT_PORT = 8787


@app.command()
def dashboard(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")
    ] = DEFAULT_PORT,
    refresh: Annotated[
        float, typer.Option("--refresh", min=0.5, max=3600, help="Seconds between the page's updates.")
    ] = 2.0,
    from_block: Annotated[
        int,
        typer.Option(
            "--from-block",
            min=0,
            help="First block searched for ENS text record changes (on a public chain: the block the names were "
            "set up in).",
        ),
    ] = 0,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Serve a read-only web page on 127.0.0.1 until interrupted; prints its URL.

    The page shows the signer (address, peer, service, balance, whether it controls its ENS name), each interval's
    runs as a timeline (ok, failed with the step, skipped; tx, nonce, block), the ENS text records with their
    history, the governed module CIDs, and the aggregation tree from `ipld-tip`, updated every --refresh seconds.
    Its data is GET /api/state (JSON). No key or token is read into it.

    Exit codes: 130 when stopped with Ctrl-C; 1 when the port is taken.
    """
    from fluence_dao.dashboard import DashboardData, bind, create_app, serve, url_of  # lazy: starlette, web3

    settings = _state.settings(state_dir=state_dir)
    sock = bind(port)
    data = DashboardData(settings, from_block=from_block)
    try:
        url = url_of(sock)
        console.emit({"url": url}, url)
        console.info(f"dashboard for state dir {settings.state_dir} on {url} (read-only); Ctrl-C stops it")
        serve(create_app(data, refresh_s=refresh), sock)
    finally:
        data.close()
        sock.close()
