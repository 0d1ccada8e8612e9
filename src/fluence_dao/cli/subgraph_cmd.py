"""`fluence-dao subgraph build|serve|status`: run a graph-cli subgraph locally (wasmtime + SQLite + GraphQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fluence_dao.cli import _output
from fluence_dao.cli._options import JsonOption

app = typer.Typer(help="Subgraphs built by graph-cli, indexed and served on 127.0.0.1.", no_args_is_help=True)

DirArg = Annotated[Path, typer.Argument(help="The subgraph directory (holds subgraph.yaml).")]
DbOption = Annotated[
    Path | None, typer.Option("--db", help="SQLite database (default: <state dir>/subgraph/<dir name>.sqlite).")
]
RpcUrlOption = Annotated[
    str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint (env FLUENCE_DAO_ETH__RPC_URL; devnet default).")
]
AddressOption = Annotated[
    list[str] | None,
    typer.Option("--address", help="Override a data source address: NAME=0x... (repeatable)."),
]
StartOption = Annotated[
    list[str] | None, typer.Option("--start-block", help="Override a data source start block: NAME=N (repeatable).")
]


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"{flag} expects NAME=VALUE, got {value!r}")
        out[name] = rest
    return out


def _db_path(directory: Path, db: Path | None) -> Path:
    if db is not None:
        return db
    from fluence_dao.config import load_settings

    return load_settings().state_dir / "subgraph" / f"{directory.resolve().name}.sqlite"


@app.command()
def build(directory: DirArg = Path("subgraph"), json: JsonOption = False) -> None:
    """Run `graph codegen && graph build` in DIRECTORY; prints the build directory."""
    from fluence_dao.subgraph import build_subgraph

    with _output.status(f"building subgraph in {directory}"):
        out = build_subgraph(directory)
    _output.emit({"build_dir": str(out)}, str(out))


def _indexer(
    directory: Path, db: Path | None, rpc_url: str | None, address: Any, start_block: Any, reorg_depth: int
) -> Any:
    from fluence_dao.config import load_settings
    from fluence_dao.eth import read_deployment
    from fluence_dao.subgraph import EthRpc, Indexer, IndexerConfig, Store
    from fluence_dao.subgraph._manifest import load_manifest

    addresses = _pairs(address, "--address")
    starts = {k: int(v) for k, v in _pairs(start_block, "--start-block").items()}
    settings = load_settings()
    names = {ds.name for ds in load_manifest(directory / "build").data_sources}
    deployment = read_deployment(settings.state_dir)
    if deployment is not None and "Governance" in names and "Governance" not in addresses:
        # The contract `fluence-dao dao deploy` recorded (the demo subgraph's data source).
        addresses["Governance"] = deployment.address
        starts.setdefault("Governance", deployment.block_number)
    if rpc_url is None:
        from fluence_dao.devnet import resolve_endpoint

        rpc_url = resolve_endpoint(settings, need_registry=False).rpc_url
    store = Store(_db_path(directory, db))
    return Indexer(
        directory / "build",
        store,
        EthRpc(rpc_url),
        addresses=addresses,
        start_blocks=starts,
        config=IndexerConfig(reorg_depth=reorg_depth),
    )


@app.command()
def serve(
    directory: DirArg = Path("subgraph"),
    db: DbOption = None,
    rpc_url: RpcUrlOption = None,
    address: AddressOption = None,
    start_block: StartOption = None,
    port: Annotated[int, typer.Option("--port", help="GraphQL port on 127.0.0.1 (0: any free port).")] = 8000,
    reorg_depth: Annotated[int, typer.Option("--reorg-depth", help="Blocks kept for reorg handling.")] = 64,
    json: JsonOption = False,
) -> None:
    """Index the built subgraph and serve GraphQL on 127.0.0.1 until interrupted (build it first)."""
    import threading

    from fluence_dao.subgraph import SubgraphServer

    indexer = _indexer(directory, db, rpc_url, address, start_block, reorg_depth)
    server = SubgraphServer(indexer, port).start()
    _output.emit({"url": server.url, "deployment": indexer.deployment}, server.url)
    try:
        threading.Event().wait()
    finally:
        server.stop()


@app.command()
def status(
    directory: DirArg = Path("subgraph"),
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Indexing status from the database: synced block, deployment, and the indexing error if any."""
    from fluence_dao.subgraph import Store

    path = _db_path(directory, db)
    if not path.exists():
        from fluence_dao.errors import SubgraphError

        raise SubgraphError(f"no subgraph database at {path}: run `fluence-dao subgraph serve` first", path=str(path))
    store = Store(path)
    try:
        cursor = store.cursor()
        error = store.error()
        result = {
            "deployment": store.get_meta("deployment"),
            "synced_block": None if cursor is None else {"number": cursor.number, "hash": cursor.hash},
            "failed": error is not None,
            "error": error,
            "data_sources": [ds.__dict__ for ds in store.data_sources()],
            "entity_versions": store.version_count(),
        }
    finally:
        store.close()
    lines = [f"synced block: {cursor.number if cursor else 'none'}", f"deployment: {result['deployment']}"]
    lines.append(f"FAILED: {error['message']}" if error else "healthy: no indexing errors")
    _output.emit(result, "\n".join(lines))
