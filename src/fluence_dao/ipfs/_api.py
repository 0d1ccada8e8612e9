"""The one IPFS interface that the embedded node (`LocalIpfs`) and the Kubo RPC client (`KuboClient`) share.

Callers (flows, the peer's `aqua-ipfs` builtin, the CLI) take an `Ipfs` and never care which one it is:
moving from the embedded store to a real Kubo node is a change of URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, runtime_checkable

from fluence_dao.ipfs._cid import Cid
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


@runtime_checkable
class Ipfs(Protocol):
    """What fluence-dao needs from IPFS. Paths are `<cid>[/seg...]`, optionally prefixed by `/ipfs/`."""

    def add_bytes(
        self, data: bytes, *, name: str = "", cid_version: int = 0, raw_leaves: bool | None = None, pin: bool = True
    ) -> AddedEntry: ...

    def add_stream(
        self,
        stream: BinaryIO,
        *,
        name: str = "",
        cid_version: int = 0,
        raw_leaves: bool | None = None,
        pin: bool = True,
        progress: ProgressCallback | None = None,
    ) -> AddedEntry: ...

    def add_path(
        self,
        path: Path,
        *,
        cid_version: int = 0,
        raw_leaves: bool | None = None,
        pin: bool = True,
        hidden: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[AddedEntry]:
        """A file or a directory tree; entries children first, the root last (named after `path`)."""
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

    def dag_put(self, value: Any, *, store_codec: str = "dag-cbor", pin: bool = False) -> Cid: ...

    def dag_get(self, path: str | Cid) -> Any: ...

    def dag_export(self, cid: str | Cid, out: BinaryIO) -> None: ...

    def dag_import(self, stream: BinaryIO, *, pin_roots: bool = True) -> list[Cid]: ...

    def pin_add(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]: ...

    def pin_rm(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]: ...

    def pin_ls(self, cid: str | Cid | None = None, *, type: PinFilter = "all") -> dict[Cid, PinKind]: ...

    def repo_gc(self) -> list[Cid]: ...

    def id(self) -> JsonObject: ...

    def version(self) -> JsonObject: ...

    def close(self) -> None: ...
