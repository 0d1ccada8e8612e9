"""The one IPFS interface that the embedded node (`LocalIpfs`) and the Kubo RPC client (`KuboClient`) share.

Callers (flows, the peer's `aqua-ipfs` builtin, the CLI) take an `Ipfs` and never care which one it is:
moving from the embedded store to a real Kubo node is a change of URL. Both subclass `Ipfs`: its `add_*`
methods check their arguments once and hand an `AddOptions` to the backend's `_add_*` hooks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, Self, TypedDict, Unpack, runtime_checkable

from fluence_dao.errors import IpfsError
from fluence_dao.ipfs._cid import Cid
from fluence_dao.ipfs._codecs import IpldValue
from fluence_dao.util.json_types import JsonObject

PinKind = Literal["recursive", "direct", "indirect"]
PinFilter = Literal["all", "recursive", "direct", "indirect"]
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class AddedEntry:
    """One entry of an add: `name` is the path inside what was added (the file name for one file), `size`
    Kubo's cumulative size (Tsize) of the DAG, as `ipfs add` reports it."""

    name: str
    cid: Cid
    size: int

    def to_dict(self) -> JsonObject:
        return {"name": self.name, "cid": str(self.cid), "size": self.size}


@dataclass(frozen=True, slots=True)
class BlockStat:
    cid: Cid
    size: int

    def to_dict(self) -> JsonObject:
        return {"cid": str(self.cid), "size": self.size}


class FileAddFlags(TypedDict, total=False):
    """The `ipfs add` flags of a file: CID version, raw leaves (None: Kubo's default for the version), pin the
    root. Defaults: `AddOptions`."""

    cid_version: int
    raw_leaves: bool | None
    pin: bool


class PathAddFlags(FileAddFlags, total=False):
    """`FileAddFlags` and, for a directory, whether to include hidden files."""

    hidden: bool


@dataclass(frozen=True, slots=True)
class AddOptions:
    """The `ipfs add` flags as every backend gets them, with their defaults (see `PathAddFlags`)."""

    cid_version: int = 0
    raw_leaves: bool | None = None
    pin: bool = True
    hidden: bool = False


@runtime_checkable
class Ipfs(Protocol):
    """What fluence-dao needs from IPFS. Paths are `<cid>[/seg...]`, optionally prefixed by `/ipfs/`."""

    def add_bytes(self, data: bytes, *, name: str = "", **flags: Unpack[FileAddFlags]) -> AddedEntry:
        return self._add_bytes(data, name, AddOptions(**flags))

    def add_stream(
        self,
        stream: BinaryIO,
        *,
        name: str = "",
        progress: ProgressCallback | None = None,
        **flags: Unpack[FileAddFlags],
    ) -> AddedEntry:
        return self._add_stream(stream, name, AddOptions(**flags), progress)

    def add_path(
        self, path: Path, *, progress: ProgressCallback | None = None, **flags: Unpack[PathAddFlags]
    ) -> list[AddedEntry]:
        """A file or a directory tree; entries children first, the root last (named after `path`)."""
        path = Path(path)
        if not path.exists() and not path.is_symlink():
            raise IpfsError(f"cannot add {path}: no such file or directory", path=str(path))
        return self._add_path(path, AddOptions(**flags), progress)

    def _add_bytes(self, data: bytes, name: str, options: AddOptions) -> AddedEntry:
        """`add_bytes`; a backend that can do better than streaming the bytes overrides it."""
        return self._add_stream(io.BytesIO(data), name, options, None)

    def _add_stream(
        self, stream: BinaryIO, name: str, options: AddOptions, progress: ProgressCallback | None
    ) -> AddedEntry: ...

    def _add_path(self, path: Path, options: AddOptions, progress: ProgressCallback | None) -> list[AddedEntry]:
        """`path` exists (or is a symlink)."""
        ...

    def cat(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> bytes: ...

    def cat_stream(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The file's bytes piece by piece (for large files)."""
        ...

    def get(self, path: str | Cid, dest: Path) -> None: ...

    def block_put(self, data: bytes, *, codec: str = "raw", pin: bool = False) -> BlockStat: ...

    def block_get(self, cid: str | Cid) -> bytes: ...

    def block_stat(self, cid: str | Cid) -> BlockStat: ...

    def block_rm(self, cid: str | Cid) -> None: ...

    def dag_put(self, value: IpldValue, *, store_codec: str = "dag-cbor", pin: bool = False) -> Cid: ...

    def dag_get(self, path: str | Cid) -> IpldValue: ...

    def dag_export(self, cid: str | Cid, out: BinaryIO) -> None: ...

    def dag_import(self, stream: BinaryIO, *, pin_roots: bool = True) -> list[Cid]: ...

    def pin_add(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]: ...

    def pin_rm(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]: ...

    def pin_ls(self, cid: str | Cid | None = None, *, type: PinFilter = "all") -> dict[Cid, PinKind]: ...

    def repo_gc(self) -> list[Cid]: ...

    def id(self) -> JsonObject: ...

    def version(self) -> JsonObject: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
