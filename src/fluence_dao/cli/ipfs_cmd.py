"""`fluence-dao ipfs ...`: the embedded IPFS store, or a real Kubo node with `--api URL`.

The repo defaults to `<state dir>/ipfs` (`.fluence-dao/ipfs` in the project); `--api` (or
FLUENCE_DAO_IPFS__API_URL) switches every command to a Kubo RPC endpoint, e.g. one started with
`fluence-dao ipfs serve`. Requests to it carry FLUENCE_DAO_IPFS__API_TOKEN, else (for a loopback API) the
devnet's token from `<state dir>/ipfs/api-token`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _paths, _state, console
from fluence_dao.cli._groups import grouped_command
from fluence_dao.cli._options import JsonOption

if TYPE_CHECKING:
    from fluence_dao.ipfs import Ipfs

app = typer.Typer(
    help="IPFS: add, cat and pin content; DAGs, CAR files; serve the embedded store.", no_args_is_help=True
)
pin_app = typer.Typer(help="Pin content so garbage collection keeps it.", no_args_is_help=True)
app.add_typer(pin_app, name="pin")

ApiOption = Annotated[
    str | None,
    typer.Option("--api", help="Kubo RPC API URL (e.g. http://127.0.0.1:5001) instead of the embedded store."),
]
RepoOption = Annotated[
    Path | None, typer.Option("--repo", help="Embedded store directory [default: <state dir>/ipfs].")
]

PROGRESS_MIN_BYTES = 8 << 20


def _repo_dir(repo: Path | None) -> Path:
    if repo is not None:
        return repo
    return _state.settings().state_dir / "ipfs"


@contextmanager
def _open(api: str | None, repo: Path | None, *, writes: bool = False) -> Iterator[Ipfs]:
    """The embedded store (--repo, default <state dir>/ipfs) or the Kubo API; a --repo that cannot serve is a usage
    error (`writes`: it must take files)."""
    from fluence_dao.ipfs import api_token_for, open_ipfs

    if repo is not None and not api:
        if writes:
            _paths.writable_dir(repo, "--repo")
        else:
            _paths.state_dir(repo, "--repo")
    settings = _state.settings(ipfs_api_url=api)
    if settings.ipfs.api_url:
        token = api_token_for(settings.state_dir, settings.ipfs.api_token, api_url=settings.ipfs.api_url)
        ipfs = open_ipfs(api_url=settings.ipfs.api_url, timeout_s=settings.ipfs.timeout_s, api_token=token)
    else:
        ipfs = open_ipfs(repo=repo if repo is not None else settings.state_dir / "ipfs")
    try:
        yield ipfs
    finally:
        ipfs.close()


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a TTY for large inputs; otherwise a no-op callback."""
    if not console.progress_bar_wanted(total, PROGRESS_MIN_BYTES):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda count: bar.advance(task, count)


@dataclass(frozen=True)
class _Store:
    """The options of every command that reads or writes the store (see `_groups`)."""

    api: ApiOption = None
    repo: RepoOption = None
    json: JsonOption = False

    def open(self, *, writes: bool = False) -> AbstractContextManager[Ipfs]:
        return _open(self.api, self.repo, writes=writes)


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@grouped_command(app)
def add(
    store: _Store,
    path: Annotated[str, typer.Argument(help="A file, a directory (added recursively), or - for stdin.")],
    cid_version: Annotated[int, typer.Option("--cid-version", min=0, max=1, help="CID version.")] = 0,
    raw_leaves: Annotated[
        bool | None, typer.Option("--raw-leaves/--no-raw-leaves", help="Raw leaf blocks [default: with CIDv1].")
    ] = None,
    pin: Annotated[bool, typer.Option("--pin/--no-pin", help="Pin what was added.")] = True,
    hidden: Annotated[bool, typer.Option("--hidden", help="Include files whose names start with '.'.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the root CID.")] = False,
) -> None:
    """Add a file or directory; CIDs equal Kubo's `ipfs add` with the same options."""
    with store.open(writes=True) as ipfs:
        if path == "-":
            entries = [ipfs.add_stream(sys.stdin.buffer, cid_version=cid_version, raw_leaves=raw_leaves, pin=pin)]
        else:
            target = Path(path)
            total = _tree_size(target) if target.exists() else 0
            with _progress(total, f"adding {target.name}") as progress:
                entries = ipfs.add_path(
                    target, cid_version=cid_version, raw_leaves=raw_leaves, pin=pin, hidden=hidden, progress=progress
                )
    root = entries[-1]
    result = {"cid": str(root.cid), "name": root.name, "size": root.size, "entries": [e.to_dict() for e in entries]}
    text = str(root.cid) if quiet else "\n".join(f"added {e.cid} {e.name}" for e in entries)
    console.emit(result, text)


@grouped_command(app)
def cat(
    store: _Store,
    path: Annotated[str, typer.Argument(help="<cid>[/path] of a file.")],
    offset: Annotated[int, typer.Option("--offset", min=0, help="Byte offset to start at.")] = 0,
    length: Annotated[int | None, typer.Option("--length", min=0, help="Maximum number of bytes.")] = None,
) -> None:
    """Write a file's bytes to stdout (with --json: size and base64)."""
    with store.open() as ipfs:
        if console.json_mode():
            data = ipfs.cat(path, offset=offset, length=length)
            console.emit({"path": path, "size": len(data), "base64": base64.b64encode(data).decode("ascii")})
            return
        out = sys.stdout.buffer
        for piece in ipfs.cat_stream(path, offset=offset, length=length):
            out.write(piece)
        out.flush()


@grouped_command(app)
def get(
    store: _Store,
    path: Annotated[str, typer.Argument(help="<cid>[/path] of a file or directory.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write it [default: ./<last path segment>].")
    ] = None,
) -> None:
    """Write a file or directory tree to disk."""
    target = output if output is not None else Path(path.rstrip("/").rpartition("/")[2])
    if target.exists() and not target.is_dir() and not target.is_file():
        raise typer.BadParameter(f"{target}: exists and is neither a file nor a directory", param_hint="--output")
    try:
        _paths.writable_dir(target.parent, "--output")
    except typer.BadParameter as err:
        raise typer.BadParameter(f"{target}: its directory {err.message}", param_hint="--output") from None
    with store.open() as ipfs:
        ipfs.get(path, target)
    console.emit({"path": path, "output": str(target)}, f"saved {path} to {target}")


@grouped_command(app, "dag-put")
def dag_put(
    store: _Store,
    file: Annotated[str, typer.Argument(help="The object (a file, or - for stdin).")] = "-",
    input_codec: Annotated[str, typer.Option("--input-codec", help="dag-json or dag-cbor.")] = "dag-json",
    store_codec: Annotated[str, typer.Option("--store-codec", help="dag-cbor, dag-json or dag-pb.")] = "dag-cbor",
    pin: Annotated[bool, typer.Option("--pin/--no-pin", help="Pin the new node (recursively).")] = False,
) -> None:
    """Store an IPLD node; prints its CID. Links are {"/": "<cid>"} in DAG-JSON."""
    from fluence_dao.ipfs import decode_block

    if file != "-" and not Path(file).is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    value = decode_block(raw, input_codec)
    with store.open(writes=True) as ipfs:
        cid = ipfs.dag_put(value, store_codec=store_codec, pin=pin)
    console.emit({"cid": str(cid)}, str(cid))


@grouped_command(app, "dag-get")
def dag_get(
    store: _Store,
    path: Annotated[str, typer.Argument(help="<cid>[/path], following links (e.g. <cid>/a/b/0).")],
) -> None:
    """Print the node (or value) at a path as DAG-JSON."""
    import json as jsonlib

    from fluence_dao.ipfs import encode_dag_json

    with store.open() as ipfs:
        value = ipfs.dag_get(path)
    text = encode_dag_json(value).decode("utf-8")
    console.emit({"path": path, "value": jsonlib.loads(text)}, text)


@grouped_command(app, "car-export")
def car_export(
    store: _Store,
    cid: Annotated[str, typer.Argument(help="Root of the DAG to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .car file to write.")],
) -> None:
    """Export a DAG (root and every reachable block) as a CAR v1 file."""
    _paths.writable_file(output, "--output")
    tmp = output.with_name(output.name + ".part")
    try:
        with store.open() as ipfs, tmp.open("wb") as out:
            ipfs.dag_export(cid, out)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    console.emit({"cid": cid, "output": str(output), "bytes": output.stat().st_size}, str(output))


@grouped_command(app, "car-import")
def car_import(
    store: _Store,
    file: Annotated[Path, typer.Argument(help="A CAR v1 file.", exists=True, dir_okay=False)],
    pin_roots: Annotated[bool, typer.Option("--pin-roots/--no-pin-roots", help="Pin the CAR's roots.")] = True,
) -> None:
    """Import a CAR v1 file; every block is checked against its CID."""
    with store.open(writes=True) as ipfs, file.open("rb") as stream:
        roots = ipfs.dag_import(stream, pin_roots=pin_roots)
    console.emit({"roots": [str(r) for r in roots]}, "\n".join(str(r) for r in roots))


@grouped_command(pin_app, "add")
def pin_add(
    store: _Store,
    cid: Annotated[str, typer.Argument(help="<cid>[/path] to pin.")],
    recursive: Annotated[bool, typer.Option("--recursive/--direct", help="Pin the whole DAG or one block.")] = True,
) -> None:
    """Pin content."""
    with store.open(writes=True) as ipfs:
        pins = ipfs.pin_add(cid, recursive=recursive)
    console.emit({"pins": [str(p) for p in pins]}, "\n".join(f"pinned {p}" for p in pins))


@grouped_command(pin_app, "rm")
def pin_rm(
    store: _Store,
    cid: Annotated[str, typer.Argument(help="The pinned CID.")],
) -> None:
    """Unpin content (it stays until `ipfs gc`)."""
    with store.open(writes=True) as ipfs:
        pins = ipfs.pin_rm(cid)
    console.emit({"pins": [str(p) for p in pins]}, "\n".join(f"unpinned {p}" for p in pins))


@grouped_command(pin_app, "ls")
def pin_ls(
    store: _Store,
    cid: Annotated[str | None, typer.Argument(help="Only this CID.")] = None,
    type: Annotated[str, typer.Option("--type", help="all, recursive, direct or indirect.")] = "all",
) -> None:
    """List pins."""
    if type not in ("all", "recursive", "direct", "indirect"):
        raise typer.BadParameter(f"{type!r} is not one of all, recursive, direct, indirect", param_hint="--type")
    with store.open() as ipfs:
        pins = ipfs.pin_ls(cid, type=type)  # type: ignore[arg-type]
    rows = {str(key): kind for key, kind in sorted(pins.items(), key=lambda item: str(item[0]))}
    console.emit({"pins": rows}, "\n".join(f"{key} {kind}" for key, kind in rows.items()))


@grouped_command(app)
def gc(store: _Store) -> None:
    """Delete every block that no pin keeps."""
    with store.open(writes=True) as ipfs:
        removed = ipfs.repo_gc()
    console.emit({"removed": [str(c) for c in removed]}, "\n".join(f"removed {c}" for c in removed))


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port on 127.0.0.1 (0: any free).")] = 5001,
    repo: RepoOption = None,
    auth_token_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-token-file",
            help="File with the API token that writes (add, pin, gc, ...) need; created with a random token "
            "(mode 0600) when missing. Without it every write is refused.",
        ),
    ] = None,
    allow_unauthenticated_writes: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated-writes",
            help="No token: let any local process add, unpin and delete content (unsafe; tests only).",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Serve the embedded store through Kubo's RPC API on 127.0.0.1, until Ctrl-C.

    Reads (cat, get, block/get, dag/get, pin/ls, ...) are open to local clients; writes need the token from
    --auth-token-file (Authorization: Bearer <token>, as Kubo's API.Authorizations).
    """
    from fluence_dao.ipfs import KuboServer, LocalIpfs, ensure_api_token_file, load_server_token

    if auth_token_file is not None and allow_unauthenticated_writes:
        raise typer.BadParameter(
            "--auth-token-file and --allow-unauthenticated-writes exclude each other", param_hint="--auth-token-file"
        )
    token = None
    if auth_token_file is not None:
        if auth_token_file.exists():
            _paths.readable_file(auth_token_file, "--auth-token-file")
        else:
            _paths.writable_file(auth_token_file, "--auth-token-file")
        ensure_api_token_file(auth_token_file)
        token = load_server_token(auth_token_file)
    if repo is not None:
        _paths.writable_dir(repo, "--repo")
    server = KuboServer(
        LocalIpfs(_repo_dir(repo)),
        port=port,
        auth_token=token,
        allow_unauthenticated_writes=allow_unauthenticated_writes,
    )
    try:
        result = {
            "api_url": server.url,
            "repo": str(server.node.store.root),
            "writes": server.writes,
            "auth_token_file": str(auth_token_file) if auth_token_file is not None else None,
        }
        console.emit(result, server.url)
        console.info(f"serving {server.node.store.root} on {server.url} (Ctrl-C to stop)")
        if server.writes == "refused":
            console.info("no --auth-token-file: every write (add, pin, gc, ...) is refused")
        elif server.writes == "open":
            console.info("warning: --allow-unauthenticated-writes: any local process can unpin and delete content")
        server.serve_forever()
    finally:
        server.stop()
