"""`fluence-dao subgraph build|serve|status`: run a graph-cli subgraph locally (wasmtime + SQLite + GraphQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _paths, _state, console
from fluence_dao.cli._groups import grouped_command
from fluence_dao.cli._options import JsonOption, StateDirOption

if TYPE_CHECKING:
    from fluence_dao.config import Settings
    from fluence_dao.subgraph import Indexer

app = typer.Typer(help="Subgraphs built by graph-cli, indexed and served on 127.0.0.1.", no_args_is_help=True)

DirArg = Annotated[Path, typer.Argument(help="The subgraph directory (holds subgraph.yaml).")]
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="SQLite database (default: the devnet's for its subgraph, else <state dir>/subgraph/<dir name>.sqlite).",
    ),
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


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise typer.BadParameter(f"expects NAME=VALUE, got {value!r}", param_hint=flag)
        out[name] = rest
    return out


def _addresses(values: list[str] | None) -> dict[str, str]:
    pairs = _pairs(values, "--address")
    for name, address in pairs.items():
        if not _ADDRESS.match(address):
            raise typer.BadParameter(
                f"{name}={address}: {address!r} is not an address (0x and 40 hex digits)", param_hint="--address"
            )
    return pairs


def _start_blocks(values: list[str] | None) -> dict[str, int]:
    out = {}
    for name, number in _pairs(values, "--start-block").items():
        if not number.isdigit():
            raise typer.BadParameter(
                f"{name}={number}: the start block must be a block number (0 or more), got {number!r}",
                param_hint="--start-block",
            )
        out[name] = int(number)
    return out


@dataclass(frozen=True)
class _Database:
    """The options of every command that reads a subgraph's database (see `_groups`)."""

    directory: DirArg = Path("subgraph")
    db: DbOption = None
    state_dir: StateDirOption = None
    json: JsonOption = False

    def settings(self) -> Settings:
        return _state.settings(state_dir=self.state_dir)

    def path(self, settings: Settings) -> Path:
        """--db, else the database the devnet's subgraph server uses when DIRECTORY is the devnet's subgraph, else
        <state dir>/subgraph/<dir name>.sqlite."""
        if self.db is not None:
            return self.db
        from fluence_dao.runtime import read_devnet_info

        info = read_devnet_info(settings.state_dir)
        devnet = info.subgraph if info is not None else None
        served = devnet.directory if devnet is not None else None
        if devnet is not None and devnet.db and served and Path(served).resolve() == self.directory.resolve():
            return Path(devnet.db)
        return Path(settings.state_dir) / "subgraph" / f"{self.directory.resolve().name}.sqlite"


@app.command()
def build(directory: DirArg = Path("subgraph"), json: JsonOption = False) -> None:
    """Run `graph codegen && graph build` in DIRECTORY; prints the build directory."""
    from fluence_dao.subgraph import build_subgraph

    with console.status(f"building the subgraph in {directory}", loggers=("fluence_dao.subgraph",)):
        out = build_subgraph(directory)
    console.emit({"build_dir": str(out)}, str(out))


def _indexer(
    where: _Database, rpc_url: str | None, address: list[str] | None, start_block: list[str] | None, reorg_depth: int
) -> Indexer:
    from fluence_dao.eth import read_deployment
    from fluence_dao.subgraph import EthRpc, Indexer, IndexerConfig, Store, load_manifest

    addresses = _addresses(address)
    starts = _start_blocks(start_block)
    directory = where.directory
    settings = where.settings()
    names = {ds.name for ds in load_manifest(directory / "build").data_sources}
    unknown = sorted((set(addresses) | set(starts)) - names)
    if unknown:
        raise typer.BadParameter(
            f"no data source named {', '.join(unknown)} in {directory / 'build' / 'subgraph.yaml'} "
            f"(data sources: {', '.join(sorted(names)) or 'none'})",
            param_hint="--address" if set(unknown) & set(addresses) else "--start-block",
        )
    deployment = read_deployment(settings.state_dir)
    if deployment is not None and "Governance" in names and "Governance" not in addresses:
        # The contract `fluence-dao dao deploy` recorded (the demo subgraph's data source).
        addresses["Governance"] = deployment.address
        starts.setdefault("Governance", deployment.block_number)
    if rpc_url is None:
        from fluence_dao.runtime import resolve_endpoint

        rpc_url = resolve_endpoint(settings, need_registry=False).rpc_url
    rpc = EthRpc(rpc_url)
    rpc.block_number()  # a chain that does not answer is an error now, not a loop of indexing errors
    path = where.path(settings)
    _paths.writable_file(path, "--db")
    store = Store(path)
    return Indexer(
        directory / "build",
        store,
        rpc,
        addresses=addresses,
        start_blocks=starts,
        config=IndexerConfig(reorg_depth=reorg_depth),
    )


@grouped_command(app)
def serve(
    where: _Database,
    rpc_url: RpcUrlOption = None,
    address: AddressOption = None,
    start_block: StartOption = None,
    port: Annotated[int, typer.Option("--port", help="GraphQL port on 127.0.0.1 (0: any free port).")] = 8000,
    reorg_depth: Annotated[int, typer.Option("--reorg-depth", min=1, help="Blocks kept for reorg handling.")] = 64,
) -> None:
    """Index the built subgraph and serve GraphQL on 127.0.0.1 until interrupted (build it first)."""
    import threading

    from fluence_dao.subgraph import SubgraphServer

    indexer = _indexer(where, rpc_url, address, start_block, reorg_depth)
    server = SubgraphServer(indexer, port).start()
    console.emit({"url": server.url, "deployment": indexer.deployment}, server.url)
    try:
        threading.Event().wait()
    finally:
        server.stop()


@grouped_command(app)
def status(where: _Database) -> None:
    """Indexing status from the database (the devnet's, for the devnet's subgraph): synced block, deployment, and
    the indexing error if any."""
    from fluence_dao.subgraph import Store

    path = where.path(where.settings())
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
    lines = [
        f"synced block: {cursor.number if cursor else 'none'}",
        f"deployment: {console.plain(result['deployment'], 'none')}",
        f"database: {path}",
    ]
    lines.append(f"FAILED: {error['message']}" if error else "healthy: no indexing errors")
    console.emit(result, "\n".join(lines))
