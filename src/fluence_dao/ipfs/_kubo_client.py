"""`KuboClient`: the `Ipfs` interface over Kubo's RPC API (POST /api/v0/..., query args, multipart bodies).

Follows the Kubo RPC reference (docs.ipfs.tech/reference/kubo/rpc): `add` (NDJSON of Name/Hash/Size),
`cat`, `get` (a tar stream), `block/put|get|stat|rm`, `dag/put|get|export|import`, `pin/add|ls|rm`,
`repo/gc`, `id`, `version`. Errors come back as HTTP 500 with `{"Message", "Code", "Type": "error"}`.

`api_token` is sent on every request as Kubo's `API.Authorizations` expect it (`authorization_header`: a bare
token as Bearer, `basic:user:password` as Basic). httpx is imported when a client is created, never at import time. Every failure leaves as an IpfsError
naming the endpoint and Kubo's message: KuboRpcError in general, BlockNotFoundError /
BlockCorruptedError when Kubo's message says so (so callers handle both backends alike). Blocks fetched
from a node are checked against their CID before they are returned.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NotRequired, TypeAlias, TypedDict, TypeVar
from urllib.parse import quote

from fluence_dao.errors import BlockCorruptedError, BlockNotFoundError, IpfsError, KuboRpcError
from fluence_dao.ipfs._api import AddedEntry, AddOptions, BlockStat, Ipfs, PinFilter, PinKind, ProgressCallback
from fluence_dao.ipfs._auth import authorization_header
from fluence_dao.ipfs._cid import Cid, codec_code
from fluence_dao.ipfs._codecs import IpldValue, decode_dag_cbor, encode_block
from fluence_dao.util.json_types import JsonObject

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

log = logging.getLogger(__name__)

DEFAULT_API_URL = "http://127.0.0.1:5001"

_FilePart: TypeAlias = tuple[str, tuple[str, bytes | BinaryIO, str]]
"""One multipart part of a request: ("file", (URL-escaped file name, content, content type))."""
_Params: TypeAlias = Mapping[str, str] | None

# The Kubo RPC responses this client reads (docs.ipfs.tech/reference/kubo/rpc); fields it ignores are left out.
_Link = TypedDict("_Link", {"/": str})


class _KeySize(TypedDict):  # block/put, block/stat
    Key: str
    Size: int


class _DagPut(TypedDict):
    Cid: _Link


class _DagResolve(TypedDict):
    Cid: _Link
    RemPath: NotRequired[str | None]


class _Pins(TypedDict):  # pin/add, pin/rm
    Pins: NotRequired[list[str] | None]


class _PinType(TypedDict):
    Type: PinKind


class _PinLs(TypedDict):
    Keys: NotRequired[dict[str, _PinType] | None]


class _Line(TypedDict, total=False):
    """A line of an NDJSON stream: add (Name, Hash, Size; Bytes for progress), block/rm (Hash, Error),
    dag/import (Root), repo/gc (Key, Error)."""

    Name: str
    Hash: str
    Size: str | int
    Bytes: int
    Error: str
    Root: _DagImportRoot
    Key: _Link | str
    Type: str  # "error" on a failure, with Message
    Message: str


class _DagImportRoot(TypedDict):
    Cid: _Link
    PinErrorMsg: NotRequired[str]


_Body = TypeVar("_Body")


def _flag(value: bool) -> str:
    return "true" if value else "false"


_CID_IN_TEXT = re.compile(r"\b(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,})\b")


def _error_class(message: str) -> type[IpfsError]:
    lowered = message.lower()
    if "not found" in lowered or "could not find" in lowered:
        return BlockNotFoundError
    if "corrupt" in lowered or "different hash" in lowered or "did not match" in lowered:
        return BlockCorruptedError
    return KuboRpcError


class KuboClient(Ipfs):
    """A Kubo RPC API client. `api_url` is the API root, e.g. http://127.0.0.1:5001 (no /api/v0); `api_token`
    the secret for an API with authorizations (never shown in repr, errors or logs)."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        api_token: str | SecretStr | None = None,
    ) -> None:
        import httpx

        self.api_url = api_url.rstrip("/")
        if self.api_url.endswith("/api/v0"):
            self.api_url = self.api_url[: -len("/api/v0")]
        if not self.api_url.startswith(("http://", "https://")):
            raise KuboRpcError(f"invalid Kubo API URL {api_url!r}: expected http(s)://host:port", url=api_url)
        self.timeout_s = timeout_s
        self._httpx = httpx
        self._has_token = api_token is not None
        headers = {"Authorization": authorization_header(api_token)} if api_token is not None else {}
        self._client = httpx.Client(
            base_url=self.api_url + "/api/v0/",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
            trust_env=False,
            # Plain http needs no TLS context; building the default one costs ~0.2 s per client.
            verify=not self.api_url.startswith("http://"),
        )

    def __repr__(self) -> str:
        return f"KuboClient({self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    # -- transport ------------------------------------------------------------------------------------
    def _fail(self, endpoint: str, message: str, status: int | None = None, cause: str | None = None) -> IpfsError:
        cls = _error_class(message) if status == 500 else KuboRpcError
        text = f"Kubo RPC {endpoint} at {self.api_url} failed: {message}"
        details: dict[str, str | int] = {"endpoint": endpoint, "url": self.api_url, "kubo_message": message}
        if status is not None:
            details["status"] = status
        if cause is not None:
            details["cause"] = cause
        found = _CID_IN_TEXT.search(message)
        if found:
            details["cid"] = found.group(1)
        return cls(text, **details)

    @contextlib.contextmanager
    def _stream(
        self, endpoint: str, params: _Params = None, files: Sequence[_FilePart] | None = None
    ) -> Iterator[httpx.Response]:
        httpx = self._httpx
        try:
            with self._client.stream("POST", endpoint, params=params, files=files) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._http_error(endpoint, response)
                yield response
        except httpx.TimeoutException as err:
            raise self._fail(endpoint, f"timed out after {self.timeout_s} s", cause=type(err).__name__) from err
        except httpx.ConnectError as err:
            raise self._fail(endpoint, f"cannot connect ({err})", cause=type(err).__name__) from err
        except httpx.HTTPError as err:
            raise self._fail(endpoint, f"{type(err).__name__}: {err}", cause=type(err).__name__) from err

    def _http_error(self, endpoint: str, response: httpx.Response) -> IpfsError:
        message = response.text.strip()
        with contextlib.suppress(ValueError):
            body = json.loads(message)
            if isinstance(body, dict) and "Message" in body:
                message = str(body["Message"])
        if response.status_code == 404:
            message = f"HTTP 404: no such endpoint (is {self.api_url} a Kubo RPC API?) {message}".strip()
        elif response.status_code == 403:
            hint = (
                "the API refused the configured token"
                if self._has_token
                else "this API needs a token: set FLUENCE_DAO_IPFS__API_TOKEN (the devnet's is in "
                "<state_dir>/ipfs/api-token and is used by default)"
            )
            message = f"HTTP 403: {message} ({hint})"
        elif response.status_code != 500:
            message = f"HTTP {response.status_code}: {message}"
        return self._fail(endpoint, message, response.status_code)

    def _post_bytes(self, endpoint: str, params: _Params = None, files: Sequence[_FilePart] | None = None) -> bytes:
        with self._stream(endpoint, params, files) as response:
            return response.read()

    def _post_json(
        self, endpoint: str, shape: type[_Body], params: _Params = None, files: Sequence[_FilePart] | None = None
    ) -> _Body:
        """The JSON object Kubo answers, read as `shape` (a TypedDict of the fields used)."""
        raw = self._post_bytes(endpoint, params, files)
        return self._json_object(endpoint, raw, shape, "response is not a JSON object")

    def _post_ndjson(
        self, endpoint: str, params: _Params = None, files: Sequence[_FilePart] | None = None
    ) -> Iterator[_Line]:
        with self._stream(endpoint, params, files) as response:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                item = self._json_object(endpoint, line, _Line, "bad response line")
                if item.get("Type") == "error" and "Message" in item:
                    raise self._fail(endpoint, str(item["Message"]), 500)
                yield item

    def _json_object(self, endpoint: str, raw: bytes | str, shape: type[_Body], problem: str) -> _Body:
        try:
            body: _Body = json.loads(raw)
        except ValueError as err:
            raise self._fail(endpoint, f"{problem}: {raw[:200]!r}") from err
        if not isinstance(body, dict):
            raise self._fail(endpoint, f"{problem}: {raw[:200]!r}")
        return body

    @staticmethod
    def _file(data: bytes | BinaryIO, name: str = "") -> list[_FilePart]:
        return [("file", (quote(name, safe=""), data, "application/octet-stream"))]

    # -- UnixFS ---------------------------------------------------------------------------------------
    def _add_params(self, options: AddOptions, progress: bool) -> dict[str, str]:
        params = {"cid-version": str(options.cid_version), "pin": _flag(options.pin), "progress": _flag(progress)}
        if options.raw_leaves is not None:
            params["raw-leaves"] = _flag(options.raw_leaves)
        return params

    def _run_add(
        self, options: AddOptions, files: Sequence[_FilePart], progress: ProgressCallback | None
    ) -> list[AddedEntry]:
        entries: list[AddedEntry] = []
        seen: dict[str, int] = {}
        for item in self._post_ndjson("add", self._add_params(options, progress is not None), files=files):
            if "Hash" in item:
                entries.append(AddedEntry(str(item.get("Name", "")), Cid.parse(item["Hash"]), int(item.get("Size", 0))))
            elif "Bytes" in item and progress is not None:
                name = str(item.get("Name", ""))
                total = int(item["Bytes"])
                progress(total - seen.get(name, 0))
                seen[name] = total
        if not entries:
            raise self._fail("add", "Kubo returned no added entries")
        return entries

    def _add_stream(
        self, stream: BinaryIO, name: str, options: AddOptions, progress: ProgressCallback | None
    ) -> AddedEntry:
        entry = self._run_add(options, self._file(stream, name), progress)[-1]
        return AddedEntry(name or str(entry.cid), entry.cid, entry.size)

    def _add_path(self, path: Path, options: AddOptions, progress: ProgressCallback | None) -> list[AddedEntry]:
        with contextlib.ExitStack() as stack:
            parts: list[_FilePart] = []
            self._collect_parts(path, path.name, options.hidden, parts, stack)
            return self._run_add(options, parts, progress)

    def _collect_parts(
        self, path: Path, rel: str, hidden: bool, parts: list[_FilePart], stack: contextlib.ExitStack
    ) -> None:
        """Kubo's multipart directory form: depth first, directories as `application/x-directory` parts,
        paths URL-escaped in the filename."""
        name = quote(rel, safe="")
        if path.is_symlink():
            parts.append(("file", (name, os.readlink(path).encode("utf-8"), "application/symlink")))
        elif path.is_dir():
            parts.append(("file", (name, b"", "application/x-directory")))
            for child in sorted(path.iterdir(), key=lambda p: p.name):
                if child.name.startswith(".") and not hidden:
                    continue
                self._collect_parts(child, f"{rel}/{child.name}", hidden, parts, stack)
        else:
            parts.append(("file", (name, stack.enter_context(path.open("rb")), "application/octet-stream")))

    def cat_stream(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        params = {"arg": str(path), "offset": str(offset)}
        if length is not None:
            params["length"] = str(length)
        with self._stream("cat", params) as response:
            yield from response.iter_bytes()

    def cat(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat_stream(path, offset=offset, length=length))

    def get(self, path: str | Cid, dest: Path) -> None:
        dest = Path(dest)
        if dest.exists() or dest.is_symlink():
            raise IpfsError(f"cannot write {path} to {dest}: the path exists", path=str(dest))
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".ipfs-get-") as tmp:
            with self._stream("get", {"arg": str(path)}) as response, tempfile.TemporaryFile() as archive:
                for piece in response.iter_bytes():
                    archive.write(piece)
                archive.seek(0)
                try:
                    with tarfile.open(fileobj=archive, mode="r:") as tar:
                        tar.extractall(tmp, filter="data")
                except (tarfile.TarError, OSError) as err:
                    raise self._fail("get", f"bad tar stream: {err}") from err
            top = os.listdir(tmp)
            if len(top) != 1:
                raise self._fail("get", f"expected one top-level entry in the tar stream, got {len(top)}")
            shutil.move(os.path.join(tmp, top[0]), dest)

    # -- blocks ---------------------------------------------------------------------------------------
    def block_put(self, data: bytes, *, codec: str = "raw", pin: bool = False) -> BlockStat:
        expected = Cid.for_data(data, codec_code(codec), 1)
        params = {"cid-codec": codec, "mhtype": "sha2-256", "pin": _flag(pin)}
        body = self._post_json("block/put", _KeySize, params, self._file(data))
        cid = Cid.parse(body["Key"])
        if cid.multihash != expected.multihash:
            raise self._fail("block/put", f"node returned {cid}, expected {expected}")
        return BlockStat(cid, int(body["Size"]))

    def block_get(self, cid: str | Cid) -> bytes:
        cid = Cid.parse(cid)
        data = self._post_bytes("block/get", {"arg": str(cid)})
        if not cid.verify(data):
            raise BlockCorruptedError(
                f"block {cid} from {self.api_url} does not hash to its CID", cid=str(cid), url=self.api_url
            )
        return data

    def block_stat(self, cid: str | Cid) -> BlockStat:
        cid = Cid.parse(cid)
        body = self._post_json("block/stat", _KeySize, {"arg": str(cid)})
        return BlockStat(Cid.parse(body["Key"]), int(body["Size"]))

    def block_rm(self, cid: str | Cid) -> None:
        cid = Cid.parse(cid)
        for item in self._post_ndjson("block/rm", {"arg": str(cid)}):
            if item.get("Error"):
                raise self._fail("block/rm", str(item["Error"]), 500)

    # -- DAGs -----------------------------------------------------------------------------------------
    def dag_put(self, value: IpldValue, *, store_codec: str = "dag-cbor", pin: bool = False) -> Cid:
        block = encode_block(value, store_codec)
        params = {"store-codec": store_codec, "input-codec": store_codec, "pin": _flag(pin), "hash": "sha2-256"}
        body = self._post_json("dag/put", _DagPut, params, self._file(block))
        cid = Cid.parse(body["Cid"]["/"])
        if cid.multihash != Cid.for_data(block).multihash:
            raise self._fail("dag/put", f"node stored {cid}, which is not the block that was sent")
        return cid

    def dag_get(self, path: str | Cid) -> IpldValue:
        raw = self._post_bytes("dag/get", {"arg": str(path), "output-codec": "dag-cbor"})
        return decode_dag_cbor(raw)

    def dag_resolve(self, path: str | Cid) -> tuple[Cid, list[str]]:
        body = self._post_json("dag/resolve", _DagResolve, {"arg": str(path)})
        rest = str(body.get("RemPath") or "")
        return Cid.parse(body["Cid"]["/"]), [part for part in rest.split("/") if part]

    def dag_export(self, cid: str | Cid, out: BinaryIO) -> None:
        with self._stream("dag/export", {"arg": str(Cid.parse(cid))}) as response:
            for piece in response.iter_bytes():
                out.write(piece)

    def dag_import(self, stream: BinaryIO, *, pin_roots: bool = True) -> list[Cid]:
        roots = []
        for item in self._post_ndjson("dag/import", {"pin-roots": _flag(pin_roots)}, self._file(stream)):
            root = item.get("Root")
            if root:
                if root.get("PinErrorMsg"):
                    raise self._fail("dag/import", str(root["PinErrorMsg"]), 500)
                roots.append(Cid.parse(root["Cid"]["/"]))
        return roots

    # -- pins and gc ----------------------------------------------------------------------------------
    def pin_add(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]:
        body = self._post_json("pin/add", _Pins, {"arg": str(cid), "recursive": _flag(recursive)})
        return [Cid.parse(text) for text in body.get("Pins") or []]

    def pin_rm(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]:
        body = self._post_json("pin/rm", _Pins, {"arg": str(cid), "recursive": _flag(recursive)})
        return [Cid.parse(text) for text in body.get("Pins") or []]

    def pin_ls(self, cid: str | Cid | None = None, *, type: PinFilter = "all") -> dict[Cid, PinKind]:
        params: dict[str, str] = {"type": type}
        if cid is not None:
            params["arg"] = str(cid)
        body = self._post_json("pin/ls", _PinLs, params)
        keys = body.get("Keys") or {}
        return {Cid.parse(text): info.get("Type") for text, info in keys.items()}

    def repo_gc(self) -> list[Cid]:
        removed = []
        for item in self._post_ndjson("repo/gc"):
            if item.get("Error"):
                raise self._fail("repo/gc", str(item["Error"]), 500)
            key = item.get("Key")
            if key:
                removed.append(Cid.parse(key["/"] if isinstance(key, dict) else key))
        return removed

    # -- node info ------------------------------------------------------------------------------------
    def id(self) -> JsonObject:
        return self._post_json("id", JsonObject)

    def version(self) -> JsonObject:
        return self._post_json("version", JsonObject)
