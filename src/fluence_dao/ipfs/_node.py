"""`LocalIpfs`: the embedded IPFS node over a `BlockStore` (no network; Kubo's CIDs and semantics)."""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from fluence_dao import __version__
from fluence_dao.errors import IpfsError
from fluence_dao.ipfs._api import AddedEntry, AddOptions, BlockStat, Ipfs, PinFilter, PinKind, ProgressCallback
from fluence_dao.ipfs._car import read_car, write_car
from fluence_dao.ipfs._cid import DAG_PB, Cid, codec_code
from fluence_dao.ipfs._codecs import IpldValue, decode_block, encode_block
from fluence_dao.ipfs._store import BlockStore, BlockWriter
from fluence_dao.ipfs._unixfs import (
    ImportedNode,
    ImportOptions,
    export_to_path,
    import_buffer,
    import_file,
    import_path,
    iter_file,
)
from fluence_dao.util.json_types import JsonObject

log = logging.getLogger(__name__)

AGENT_VERSION = f"fluence-dao/{__version__} (embedded IPFS)"


def split_path(path: str | Cid) -> tuple[Cid, list[str]]:
    """`/ipfs/<cid>/a/b`, `ipfs://<cid>/a` or `<cid>/a/b` -> (cid, ['a', 'b'])."""
    if isinstance(path, Cid):
        return path, []
    text = path.strip()
    for prefix in ("ipfs://", "/ipfs/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    parts = [part for part in text.split("/") if part]
    if not parts:
        raise IpfsError(f"invalid IPFS path {path!r}: no CID", path=str(path))
    return Cid.parse(parts[0]), parts[1:]


class LocalIpfs(Ipfs):
    """The embedded node: UnixFS add/cat/get, blocks, DAGs, CAR, pins and gc over one repo directory."""

    def __init__(self, repo: str | Path | BlockStore, *, fsync: bool = True) -> None:
        self.store = repo if isinstance(repo, BlockStore) else BlockStore(repo, fsync=fsync)

    def __repr__(self) -> str:
        return f"LocalIpfs({str(self.store.root)!r})"

    def close(self) -> None:
        pass

    # -- UnixFS ---------------------------------------------------------------------------------------
    def _add_bytes(self, data: bytes, name: str, options: AddOptions) -> AddedEntry:
        # raw leaves are written straight from `data`
        return self._add_file(name, options, lambda sink, layout: import_buffer(data, sink, layout))

    def _add_stream(
        self, stream: BinaryIO, name: str, options: AddOptions, progress: ProgressCallback | None
    ) -> AddedEntry:
        return self._add_file(name, options, lambda sink, layout: import_file(stream, sink, layout, progress))

    def _add_file(
        self, name: str, options: AddOptions, run: Callable[[BlockWriter, ImportOptions], ImportedNode]
    ) -> AddedEntry:
        with self.store.writing():
            with self.store.writer() as sink:
                root = run(sink, ImportOptions(cid_version=options.cid_version, raw_leaves=options.raw_leaves))
            if options.pin:
                self.store.pin_add(root.cid, recursive=True)
        return AddedEntry(name or str(root.cid), root.cid, root.tsize)

    def _add_path(self, path: Path, options: AddOptions, progress: ProgressCallback | None) -> list[AddedEntry]:
        layout = ImportOptions(cid_version=options.cid_version, raw_leaves=options.raw_leaves, hidden=options.hidden)
        with self.store.writing():
            with self.store.writer() as sink:
                entries = import_path(path, sink, layout, progress)
            if options.pin:
                self.store.pin_add(entries[-1].node.cid, recursive=True)
        base = path.name
        return [
            AddedEntry(f"{base}/{entry.path}" if entry.path else base, entry.node.cid, entry.node.tsize)
            for entry in entries
        ]

    def resolve(self, path: str | Cid) -> Cid:
        """The CID a path points to: UnixFS directory entries by name, DAG-CBOR/JSON fields through links.

        `<cid>/dir/file` -> the file's CID; `<cbor-cid>/modules/0` -> the CID stored there.
        """
        cid, segments = split_path(path)
        if not segments:
            return cid
        current, value, _ = self._walk(cid, segments, path, load_last=False)
        if not isinstance(value, Cid):
            raise IpfsError(f"cannot resolve {path}: it ends on a {type(value).__name__}, not a link", path=str(path))
        return current

    def cat_stream(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return iter_file(self.resolve(path), self.store.get, offset, length)

    def cat(self, path: str | Cid, *, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat_stream(path, offset=offset, length=length))

    def get(self, path: str | Cid, dest: Path) -> None:
        export_to_path(self.resolve(path), Path(dest), self.store.get)

    # -- blocks ---------------------------------------------------------------------------------------
    def block_put(self, data: bytes, *, codec: str = "raw", pin: bool = False) -> BlockStat:
        code = codec_code(codec)
        with self.store.writing():
            cid = self.store.put(data, code, 1)
            if pin:
                self.store.pin_add(cid, recursive=True)
        return BlockStat(cid, len(data))

    def block_get(self, cid: str | Cid) -> bytes:
        return self.store.get(Cid.parse(cid))

    def block_stat(self, cid: str | Cid) -> BlockStat:
        cid = Cid.parse(cid)
        return BlockStat(cid, self.store.size(cid))

    def block_rm(self, cid: str | Cid) -> None:
        cid = Cid.parse(cid)
        pinned = self.store.pin_ls(type="all")
        if any(key.multihash == cid.multihash for key in pinned):
            raise IpfsError(f"cannot remove block {cid}: it is pinned", cid=str(cid))
        self.store.delete(cid)

    # -- DAGs -----------------------------------------------------------------------------------------
    def dag_put(self, value: IpldValue, *, store_codec: str = "dag-cbor", pin: bool = False) -> Cid:
        code = codec_code(store_codec)
        block = encode_block(value, code)
        with self.store.writing():
            cid = self.store.put(block, code, 1)
            if pin:
                self.store.pin_add(cid, recursive=True)
        return cid

    def _load(self, cid: Cid) -> IpldValue:
        return decode_block(self.store.get(cid), cid.codec)

    def dag_resolve(self, path: str | Cid) -> tuple[Cid, list[str]]:
        """The last block on `path` and the segments left inside it (as Kubo's `dag resolve`)."""
        cid, segments = split_path(path)
        current, _, in_block = self._walk(cid, segments, path)
        return current, segments[in_block:]

    def dag_get(self, path: str | Cid) -> IpldValue:
        """The value at `path`, following links through blocks; a path ending on a link gives the linked node."""
        cid, segments = split_path(path)
        return self._walk(cid, segments, path)[1]

    def _walk(
        self, cid: Cid, segments: list[str], path: str | Cid, *, load_last: bool = True
    ) -> tuple[Cid, IpldValue, int]:
        """Follow `segments` from block `cid` through links: (the last block reached, the value at the end, how many
        segments led to that block). A path ending on a link gives the linked node unless not `load_last`."""
        current, value, in_block = cid, self._load(cid), 0
        for index, segment in enumerate(segments):
            value = self._step(value, current, segment, path, index, segments)
            if isinstance(value, Cid):
                current, in_block = value, index + 1
                if load_last or in_block < len(segments):
                    value = self._load(value)
        return current, value, in_block

    @staticmethod
    def _step(value: IpldValue, current: Cid, segment: str, path: object, index: int, segments: list[str]) -> IpldValue:
        where = "/".join(segments[:index]) or "(root)"
        if current.codec == DAG_PB and isinstance(value, dict) and isinstance(links := value.get("Links"), list):
            for link in links:
                if isinstance(link, dict) and link.get("Name") == segment:
                    return link["Hash"]
            if segment not in ("Data", "Links"):
                raise IpfsError(
                    f"cannot resolve {path}: no link named {segment!r} under {current} ({where})",
                    path=str(path),
                    cid=str(current),
                )
        if isinstance(value, dict):
            if segment in value:
                return value[segment]
            raise IpfsError(
                f"cannot resolve {path}: no field {segment!r} at {where} in {current}", path=str(path), cid=str(current)
            )
        if isinstance(value, list):
            if segment.isdigit() and int(segment) < len(value):
                return value[int(segment)]
            raise IpfsError(
                f"cannot resolve {path}: index {segment!r} out of range (list of {len(value)}) at {where} in {current}",
                path=str(path),
                cid=str(current),
            )
        raise IpfsError(
            f"cannot resolve {path}: {type(value).__name__} at {where} in {current} has no field {segment!r}",
            path=str(path),
            cid=str(current),
        )

    def dag_export(self, cid: str | Cid, out: BinaryIO) -> None:
        root = Cid.parse(cid)
        write_car([root], self.store.walk(root), out)

    def dag_import(self, stream: BinaryIO, *, pin_roots: bool = True) -> list[Cid]:
        roots, blocks = read_car(stream)
        with self.store.writing():
            with self.store.writer() as sink:
                for cid, data in blocks:
                    sink(cid, data)  # read_car verified it
            if pin_roots:
                for root in roots:
                    self.store.pin_add(root, recursive=True)
        return roots

    # -- pins and gc ----------------------------------------------------------------------------------
    def pin_add(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]:
        return self.store.pin_add(self.resolve(cid), recursive=recursive)

    def pin_rm(self, cid: str | Cid, *, recursive: bool = True) -> list[Cid]:
        return self.store.pin_rm(self.resolve(cid), recursive=recursive)

    def pin_ls(self, cid: str | Cid | None = None, *, type: PinFilter = "all") -> dict[Cid, PinKind]:
        return self.store.pin_ls(None if cid is None else self.resolve(cid), type=type)

    def repo_gc(self) -> list[Cid]:
        return self.store.gc()

    # -- node info ------------------------------------------------------------------------------------
    def id(self) -> JsonObject:
        return {"ID": "", "PublicKey": "", "Addresses": [], "AgentVersion": AGENT_VERSION, "Protocols": []}

    def version(self) -> JsonObject:
        return {
            "Version": f"fluence-dao-{__version__}",
            "Commit": "",
            "Repo": "1",
            "System": f"{platform.machine()}/{platform.system().lower()}",
            "Golang": "",
        }
