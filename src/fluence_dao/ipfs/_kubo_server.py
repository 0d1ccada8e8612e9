"""`KuboServer`: the embedded node behind Kubo's RPC endpoints, on 127.0.0.1 only.

Other processes (the peer, the CLI, a second shell) then share one store through `KuboClient`, exactly
as they would share a real Kubo daemon. stdlib only: `ThreadingHTTPServer`; uploads are parsed as a
stream (see `_multipart`), so adding a large file holds one chunk in memory.

Endpoints: add, cat, get (tar), block/{put,get,stat,rm}, dag/{put,get,resolve,export,import},
pin/{add,ls,rm}, repo/gc, id, version. Like Kubo: POST only (405 otherwise), 404 for unknown commands,
errors as HTTP 500 `{"Message", "Code": 0, "Type": "error"}`, 403 for browser requests from a foreign
Origin.

Writes need the API token (Kubo's `API.Authorizations`): only the commands in READ_COMMANDS are open to any
local process; every other command (add, block/put, block/rm, dag/put, dag/import, pin/add, pin/rm, repo/gc,
and any command added later) needs `Authorization: Bearer <token>` (or `Basic` with the token as password),
else HTTP 403 and nothing changes. Without a token the server refuses every write, unless it was built with
`allow_unauthenticated_writes=True`.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, TypeAlias
from urllib.parse import parse_qs, urlsplit

from fluence_dao.errors import FluenceDaoError, IpfsError
from fluence_dao.ipfs._auth import token_matches
from fluence_dao.ipfs._cid import DAG_PB, Cid, codec_code
from fluence_dao.ipfs._codecs import decode_block, encode_block
from fluence_dao.ipfs._multipart import ChunkedReader, LimitedReader, MultipartReader, Part
from fluence_dao.ipfs._node import LocalIpfs
from fluence_dao.ipfs._unixfs import (
    ImportedNode,
    ImportOptions,
    import_file,
    load_node,
    write_directory,
    write_symlink,
)
from fluence_dao.util.json_types import JsonObject

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
ACCESS_DENIED = (
    "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations "
    "configuration."
)
NO_TOKEN_DENIED = (
    "this IPFS RPC server refuses writes: it was started without an API token "
    "(start it with `fluence-dao ipfs serve --auth-token-file FILE`)"
)
#: Commands that only read the repo: open to any local process. Everything else needs the token.
READ_COMMANDS = frozenset(
    {"block/get", "block/stat", "cat", "dag/export", "dag/get", "dag/resolve", "get", "id", "pin/ls", "version"}
)
#: Request bodies of refused calls are read and dropped up to this size, so the client gets its 403 instead of a
#: connection reset; beyond it the connection is just closed.
_DISCARD_LIMIT = 16 << 20
_TRUE = {"", "1", "t", "true", "True", "TRUE"}
_FALSE = {"0", "f", "false", "False", "FALSE"}


class _BadRequest(IpfsError):
    """A malformed RPC call: HTTP 400 like Kubo's argument errors."""


class _Request:
    def __init__(self, handler: _Handler, query: dict[str, list[str]]) -> None:
        self.handler = handler
        self.query = query

    def args(self) -> list[str]:
        return self.query.get("arg", [])

    def arg(self) -> str:
        values = self.args()
        if not values:
            raise _BadRequest('argument "arg" is required')
        return values[0]

    def text(self, name: str, default: str) -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool) -> bool:
        values = self.query.get(name)
        if not values:
            return default
        if values[0] in _TRUE:
            return True
        if values[0] in _FALSE:
            return False
        raise _BadRequest(f"option {name!r}: could not parse {values[0]!r} as a bool")

    def integer(self, name: str, default: int | None) -> int | None:
        values = self.query.get(name)
        if not values or values[0] == "":
            return default
        try:
            return int(values[0])
        except ValueError:
            raise _BadRequest(f"option {name!r}: could not parse {values[0]!r} as an integer") from None

    def body(self) -> BinaryIO:
        headers = self.handler.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return ChunkedReader(self.handler.rfile)  # type: ignore[return-value]
        return LimitedReader(self.handler.rfile, int(headers.get("Content-Length") or 0))  # type: ignore[return-value]

    def parts(self) -> Iterator[Part]:
        content_type = self.handler.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
            raise _BadRequest("file argument 'data' is required (send a multipart/form-data body)")
        boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"')
        return MultipartReader(self.body(), boundary).parts()

    def first_file(self) -> bytes:
        for part in self.parts():
            return part.read()
        raise _BadRequest("file argument 'data' is required")


class _Streamed:
    """A response body sent as it is produced (close-delimited), with an optional known length."""

    def __init__(self, chunks: Iterable[bytes], content_type: str, length: int | None = None) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.length = length


_Result: TypeAlias = _Streamed | bytes | JsonObject | list[JsonObject]
"""What a command returns: a streamed body, plain bytes, one JSON object, or JSON lines."""


def _json_lines(items: Iterable[JsonObject]) -> bytes:
    return b"".join(json.dumps(item).encode("utf-8") + b"\n" for item in items)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, status: int, message: str) -> None:
        body = json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode("utf-8")
        self._send(status, body)

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"405 - Method Not Allowed\n", "text/plain")

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.allowed_origins:
            self._send(HTTPStatus.FORBIDDEN, b"403 - Forbidden\n", "text/plain")
            return
        if not url.path.startswith("/api/v0/"):
            self._send(HTTPStatus.NOT_FOUND, b"404 page not found\n", "text/plain")
            return
        command = url.path[len("/api/v0/") :].strip("/")
        if command not in READ_COMMANDS and not self._may_write():
            self._refuse(command)
            return
        method = _COMMANDS.get(command)
        if method is None:
            self._send(HTTPStatus.NOT_FOUND, b"404 page not found\n", "text/plain")
            return
        request = _Request(self, parse_qs(url.query, keep_blank_values=True))
        try:
            result = method(self.server.node, request)
        except _BadRequest as err:
            self._send_error(HTTPStatus.BAD_REQUEST, err.message)
            return
        except FluenceDaoError as err:
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, err.message)
            return
        except Exception as err:  # a bug: log it, answer like Kubo, keep serving
            log.exception("internal error in %s", command)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(err).__name__}: {err}")
            return
        self._respond(result)

    def _may_write(self) -> bool:
        token = self.server.auth_token
        if token is None:
            return self.server.allow_unauthenticated_writes
        return token_matches(self.headers.get("Authorization"), token)

    def _refuse(self, command: str) -> None:
        """HTTP 403 in Kubo's error shape; the command is not run, its body is read and dropped."""
        log.warning("refused %s from %s: no valid API token", command, self.address_string())
        self._discard_body()
        message = ACCESS_DENIED if self.server.auth_token is not None else NO_TOKEN_DENIED
        self._send_error(HTTPStatus.FORBIDDEN, message)
        self.close_connection = True

    def _discard_body(self) -> None:
        body = _Request(self, {}).body()
        left = _DISCARD_LIMIT
        try:
            while left > 0 and (piece := body.read(min(left, 1 << 16))):
                left -= len(piece)
        except (OSError, FluenceDaoError):
            return

    def _respond(self, result: _Result) -> None:
        if isinstance(result, _Streamed):
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", result.content_type)
            if result.length is not None:
                self.send_header("Content-Length", str(result.length))
                self.send_header("X-Content-Length", str(result.length))
            else:
                self.send_header("X-Stream-Output", "1")
            self.end_headers()
            try:
                for chunk in result.chunks:
                    self.wfile.write(chunk)
            except FluenceDaoError as err:
                # Headers are gone: for line streams, Kubo's way is an error object as the last line.
                log.warning("error while streaming a response: %s", err.message)
                if result.length is None and result.content_type == "application/json":
                    self.wfile.write(_json_lines([{"Message": err.message, "Code": 0, "Type": "error"}]))
                self.close_connection = True
            return
        if isinstance(result, bytes):
            self._send(HTTPStatus.OK, result, "text/plain")
        elif isinstance(result, list):
            self._send(HTTPStatus.OK, _json_lines(result), "application/json", X_Stream_Output="1")
        else:
            self._send(HTTPStatus.OK, json.dumps(result).encode("utf-8"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], node: LocalIpfs, auth_token: str | None, allow_unauthenticated_writes: bool
    ) -> None:
        super().__init__(address, _Handler)
        self.node = node
        self.auth_token = auth_token
        self.allow_unauthenticated_writes = allow_unauthenticated_writes
        port = self.server_address[1]
        self.allowed_origins = {f"http://{LOOPBACK}:{port}", f"http://localhost:{port}"}


# -- commands ------------------------------------------------------------------------------------------


def _add(node: LocalIpfs, req: _Request) -> _Streamed | list[JsonObject]:
    cid_version = req.integer("cid-version", 0)
    raw_leaves_text = req.query.get("raw-leaves")
    raw_leaves = req.flag("raw-leaves", False) if raw_leaves_text else None
    chunker = req.text("chunker", "size-262144")
    if req.flag("trickle", False) or req.flag("nocopy", False) or req.flag("inline", False):
        raise IpfsError("this node supports only the balanced layout, without nocopy or inline")
    if not chunker.startswith("size-"):
        raise IpfsError(f"unsupported chunker {chunker!r} (only size-<bytes>)")
    hash_name = req.text("hash", "sha2-256")
    if hash_name != "sha2-256":
        raise IpfsError(f"unsupported hash {hash_name!r} (only sha2-256)")
    try:
        chunk_size = int(chunker[len("size-") :])
    except ValueError:
        raise _BadRequest(f"bad chunker {chunker!r}") from None
    options = ImportOptions(cid_version=cid_version or 0, raw_leaves=raw_leaves, chunk_size=chunk_size)
    pin = req.flag("pin", True)
    wrap = req.flag("wrap-with-directory", False)
    progress = req.flag("progress", False)
    parts = req.parts()
    lines = _add_lines(node, parts, options, pin=pin, wrap=wrap, progress=progress)
    if progress:
        return _Streamed((json.dumps(line).encode("utf-8") + b"\n" for line in lines), "application/json")
    return list(lines)


def _add_lines(
    node: LocalIpfs, parts: Iterator[Part], options: ImportOptions, *, pin: bool, wrap: bool, progress: bool
) -> Iterator[JsonObject]:
    files: dict[str, ImportedNode] = {}
    dirs: set[str] = set()
    order: list[str] = []
    with node.store.writing(), node.store.writer() as sink:
        for part in parts:
            path = part.filename.strip("/")
            if part.content_type == "application/x-directory":
                dirs.add(path)
                continue
            if part.content_type == "application/symlink":
                entry = write_symlink(part.read().decode("utf-8"), sink, options)
            else:
                sent = 0

                def report(count: int, _name: str = path) -> None:
                    nonlocal sent
                    sent += count

                entry = import_file(part, sink, options, report if progress else None)  # type: ignore[arg-type]
                if progress:
                    yield {"Name": path, "Bytes": sent}
            files[path] = entry
            order.append(path)
            yield {"Name": path, "Hash": str(entry.cid), "Size": str(entry.tsize)}
        for path in list(files) + list(dirs):
            parent = path.rpartition("/")[0]
            while parent:
                dirs.add(parent)
                parent = parent.rpartition("/")[0]
        nodes: dict[str, ImportedNode] = dict(files)
        for directory in sorted(dirs, key=lambda d: (-d.count("/"), d)):
            children = {p.rpartition("/")[2]: n for p, n in nodes.items() if p.rpartition("/")[0] == directory and p}
            nodes[directory] = write_directory(children, sink, options)
            yield {"Name": directory, "Hash": str(nodes[directory].cid), "Size": str(nodes[directory].tsize)}
        tops = [p for p in nodes if "/" not in p]
        if wrap:
            wrapper = write_directory({p: nodes[p] for p in tops if p}, sink, options)
            yield {"Name": "", "Hash": str(wrapper.cid), "Size": str(wrapper.tsize)}
            roots = [wrapper.cid]
        else:
            roots = [nodes[p].cid for p in tops]
        sink.close()  # every block on disk before the pins that protect them
        if pin:
            for root in roots:
                node.store.pin_add(root, recursive=True)


def _cat(node: LocalIpfs, req: _Request) -> _Streamed:
    cid = node.resolve(req.arg())
    offset = req.integer("offset", 0) or 0
    length = req.integer("length", None)
    root = load_node(cid, node.store.get)
    if root.type_name not in ("file", "raw"):
        raise IpfsError(f"{req.arg()} is a {root.type_name}, not a file", path=req.arg())
    size = max(0, root.filesize - offset)
    if length is not None:
        size = min(size, max(0, length))
    return _Streamed(node.cat_stream(cid, offset=offset, length=length), "text/plain", size)


def _spooled(write: Callable[[BinaryIO], None], content_type: str) -> _Streamed:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by chunks() below
    try:
        write(spool)  # type: ignore[arg-type]
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while piece := spool.read(1 << 16):
                yield piece

    return _Streamed(chunks(), content_type, size)


def _get(node: LocalIpfs, req: _Request) -> _Streamed:
    path = req.arg()
    cid = node.resolve(path)
    name = path.rstrip("/").rpartition("/")[2] or str(cid)

    def write(out: BinaryIO) -> None:
        with tempfile.TemporaryDirectory(prefix="fluence-dao-get-") as tmp:
            target = Path(tmp) / name
            node.get(cid, target)
            with tarfile.open(fileobj=out, mode="w") as tar:
                tar.add(target, arcname=name)
            shutil.rmtree(tmp, ignore_errors=True)

    return _spooled(write, "application/x-tar")


def _block_put(node: LocalIpfs, req: _Request) -> JsonObject:
    if req.text("mhtype", "sha2-256") != "sha2-256":
        raise IpfsError(f"unsupported mhtype {req.text('mhtype', '')!r} (only sha2-256)")
    data = req.first_file()
    legacy = req.text("format", "")
    codec = req.text("cid-codec", "raw")
    version = 1
    if legacy:
        codec, version = {"v0": ("dag-pb", 0), "protobuf": ("dag-pb", 1), "cbor": ("dag-cbor", 1)}.get(
            legacy, (legacy, 1)
        )
    code = codec_code(codec)
    if version == 0 and code != DAG_PB:
        raise IpfsError("a CIDv0 block must be dag-pb")
    with node.store.writing():
        cid = node.store.put(data, code, version)
        if req.flag("pin", False):
            node.store.pin_add(cid, recursive=True)
    return {"Key": str(cid), "Size": len(data)}


def _block_get(node: LocalIpfs, req: _Request) -> bytes:
    return node.block_get(req.arg())


def _block_stat(node: LocalIpfs, req: _Request) -> JsonObject:
    stat = node.block_stat(req.arg())
    return {"Key": str(stat.cid), "Size": stat.size}


def _block_rm(node: LocalIpfs, req: _Request) -> list[JsonObject]:
    force = req.flag("force", False)
    lines: list[JsonObject] = []
    for text in req.args() or [req.arg()]:
        try:
            node.block_rm(text)
            lines.append({"Hash": text, "Error": ""})
        except IpfsError as err:
            if not (force and "not found" in err.message):
                lines.append({"Hash": text, "Error": err.message})
    return lines


def _dag_put(node: LocalIpfs, req: _Request) -> JsonObject:
    if req.text("hash", "sha2-256") != "sha2-256":
        raise IpfsError(f"unsupported hash {req.text('hash', '')!r} (only sha2-256)")
    value = decode_block(req.first_file(), req.text("input-codec", "dag-json"))
    cid = node.dag_put(value, store_codec=req.text("store-codec", "dag-cbor"), pin=req.flag("pin", False))
    return {"Cid": {"/": str(cid)}}


def _dag_get(node: LocalIpfs, req: _Request) -> bytes:
    codec = req.text("output-codec", "dag-json")
    if codec not in ("dag-json", "dag-cbor", "json"):
        raise IpfsError(f"unsupported output-codec {codec!r} (dag-json or dag-cbor)")
    return encode_block(node.dag_get(req.arg()), "dag-json" if codec == "json" else codec)


def _dag_resolve(node: LocalIpfs, req: _Request) -> JsonObject:
    cid, rest = node.dag_resolve(req.arg())
    return {"Cid": {"/": str(cid)}, "RemPath": "/".join(rest)}


def _dag_export(node: LocalIpfs, req: _Request) -> _Streamed:
    root = Cid.parse(req.arg())
    node.store.get(root)  # fail with a 500 before any byte is sent
    return _spooled(lambda out: node.dag_export(root, out), "application/vnd.ipld.car")


def _dag_import(node: LocalIpfs, req: _Request) -> list[JsonObject]:
    pin_roots = req.flag("pin-roots", True)
    lines: list[JsonObject] = []
    for part in req.parts():
        for root in node.dag_import(part, pin_roots=False):  # type: ignore[arg-type]
            message = ""
            if pin_roots:
                try:
                    node.store.pin_add(root, recursive=True)
                except IpfsError as err:
                    message = err.message
            lines.append({"Root": {"Cid": {"/": str(root)}, "PinErrorMsg": message}})
    return lines


def _pin_add(node: LocalIpfs, req: _Request) -> JsonObject:
    recursive = req.flag("recursive", True)
    pins = [str(cid) for text in req.args() or [req.arg()] for cid in node.pin_add(text, recursive=recursive)]
    return {"Pins": pins}


def _pin_rm(node: LocalIpfs, req: _Request) -> JsonObject:
    recursive = req.flag("recursive", True)
    pins = [str(cid) for text in req.args() or [req.arg()] for cid in node.pin_rm(text, recursive=recursive)]
    return {"Pins": pins}


def _pin_ls(node: LocalIpfs, req: _Request) -> JsonObject:
    kind = req.text("type", "all")
    if kind not in ("all", "recursive", "direct", "indirect"):
        raise _BadRequest(f"invalid type {kind!r}, must be one of all, direct, indirect, recursive")
    keys: JsonObject = {}
    wanted: list[str | None] = list(req.args()) or [None]
    for text in wanted:
        for cid, pin_type in node.pin_ls(text, type=kind).items():  # type: ignore[arg-type]
            keys[str(cid)] = {"Type": pin_type, "Name": ""}
    return {"Keys": keys}


def _repo_gc(node: LocalIpfs, req: _Request) -> list[JsonObject]:
    return [{"Key": {"/": str(cid)}} for cid in node.repo_gc()]


def _id(node: LocalIpfs, req: _Request) -> JsonObject:
    return node.id()


def _version(node: LocalIpfs, req: _Request) -> JsonObject:
    return node.version()


_COMMANDS: dict[str, Callable[[LocalIpfs, _Request], _Result]] = {
    "add": _add,
    "block/get": _block_get,
    "block/put": _block_put,
    "block/rm": _block_rm,
    "block/stat": _block_stat,
    "cat": _cat,
    "dag/export": _dag_export,
    "dag/get": _dag_get,
    "dag/import": _dag_import,
    "dag/put": _dag_put,
    "dag/resolve": _dag_resolve,
    "get": _get,
    "id": _id,
    "pin/add": _pin_add,
    "pin/ls": _pin_ls,
    "pin/rm": _pin_rm,
    "repo/gc": _repo_gc,
    "version": _version,
}


class KuboServer:
    """Serve `node` on 127.0.0.1:`port` (0 picks a free port). `start()` runs it in a thread.

    Commands that change the repo need `auth_token` (see the module docstring). Without one, they are refused,
    unless `allow_unauthenticated_writes` (then any local process can unpin and delete content).
    """

    def __init__(
        self,
        node: LocalIpfs,
        *,
        port: int = 0,
        auth_token: str | None = None,
        allow_unauthenticated_writes: bool = False,
    ) -> None:
        if auth_token is not None and allow_unauthenticated_writes:
            raise IpfsError("give the IPFS RPC server an API token or allow unauthenticated writes, not both")
        if auth_token is not None and (not auth_token or not auth_token.isascii() or not auth_token.isprintable()):
            raise IpfsError("the IPFS RPC server's API token must be non-empty printable ASCII")
        self.node = node
        self.auth_token = auth_token
        self.allow_unauthenticated_writes = allow_unauthenticated_writes
        try:
            self._server = _Server((LOOPBACK, port), node, auth_token, allow_unauthenticated_writes)
        except OSError as err:
            raise IpfsError(
                f"cannot serve the IPFS RPC API on {LOOPBACK}:{port}: {err.strerror or err}", port=port
            ) from err
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def writes(self) -> str:
        """Who may change the repo: "token" (with the API token), "refused" (nobody) or "open" (anyone)."""
        if self.auth_token is not None:
            return "token"
        return "open" if self.allow_unauthenticated_writes else "refused"

    def start(self) -> KuboServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubo-server", daemon=True
        )
        self._thread.start()
        log.info("IPFS RPC API on %s (repo %s; writes: %s)", self.url, self.node.store.root, self.writes)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` is called from elsewhere (or an interrupt)."""
        self._serving = True
        try:
            self._server.serve_forever(poll_interval=0.05)
        finally:
            self._serving = False

    def stop(self) -> None:
        if self._thread is not None or self._serving:
            self._server.shutdown()  # blocks until serve_forever returns, so only when it runs
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> KuboServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
