"""The one place where command groups and top-level commands are attached to the root app.

Add a line here for a new group; keep heavy imports inside the command functions of each module.
"""

from __future__ import annotations

import typer

from fluence_dao.cli import (
    aggregate_cmd,
    aqua_cmd,
    build_cmd,
    config_cmd,
    dao_cmd,
    dashboard_cmd,
    devnet_cmd,
    ens_cmd,
    flows_cmd,
    ipfs_cmd,
    module_cmd,
    peer_cmd,
    run_cmd,
    subgraph_cmd,
)


def register(app: typer.Typer) -> None:
    """Attach every command group. Group modules import only typer and light helpers at import time."""
    app.add_typer(build_cmd.app)  # top-level `build`
    app.add_typer(config_cmd.app, name="config")
    app.add_typer(devnet_cmd.app, name="devnet")
    app.add_typer(ens_cmd.app, name="ens")
    app.add_typer(run_cmd.app)  # top-level `run`
    app.add_typer(aqua_cmd.app, name="aqua")
    app.add_typer(subgraph_cmd.app, name="subgraph")
    app.add_typer(ipfs_cmd.app, name="ipfs")
    app.add_typer(module_cmd.app, name="module")
    app.add_typer(dao_cmd.app, name="dao")
    app.add_typer(peer_cmd.app, name="peer")
    app.add_typer(flows_cmd.app)  # top-level publish, deploy-signer, start-interval, stop-interval, status, demo
    app.add_typer(aggregate_cmd.app)  # top-level aggregate, aggregate-publish; group tree
    app.add_typer(dashboard_cmd.app)  # top-level dashboard
