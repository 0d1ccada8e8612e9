"""UnixFS import and export with Kubo's `ipfs add` layout.

Files: fixed 262144-byte chunks; a balanced tree of at most 174 links per node (all leaves at the same
depth; every subtree but the rightmost is full); a single-chunk file is its own root. Default leaves are
dag-pb `File` nodes under CIDv0 (Kubo's default); `raw_leaves=True` makes leaves raw blocks, and
`cid_version=1` implies raw leaves unless told otherwise (as `ipfs add --cid-version 1` does). Raw leaves
are always CIDv1, also under a CIDv0 root (`ipfs add --raw-leaves`). Links of
file nodes carry an empty Name and the cumulative Tsize; parents list their children's file sizes in
`blocksizes`.

Directories: non-sharded UnixFS directories with links sorted by name (byte order), each link's Tsize
being the child's cumulative size. Kubo switches to HAMT-sharded directories above about 256 KiB of links
(thousands of entries); those are not written here (a warning is logged) and not read. Hidden entries (names starting with '.') are skipped unless asked for,
as in `ipfs add -r`.

`import_file` streams: it holds two chunks at a time plus a (cid, tsize, filesize) triple per leaf.
`import_buffer` imports bytes already in memory without copying them (raw leaves are views of the input).
Leaves are hashed in batches through `sha256`, the native 4-lane SHA-NI library when built, else hashlib.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

from fluence_dao.errors import IpfsError
from fluence_dao.ipfs._cid import DAG_PB, RAW, Cid, encode_varint
from fluence_dao.ipfs._dagpb import (
    DIRECTORY,
    FILE,
    RAW_TYPE,
    SYMLINK,
    UNIXFS_TYPE_NAMES,
    PBLink,
    UnixFSData,
    decode_node,
    decode_unixfs,
    encode_unixfs_node,
)
from fluence_dao.ipfs.sha256 import sha256_many

CHUNK_SIZE = 262144
MAX_LINKS = 174
HAMT_THRESHOLD = 262144  # Kubo's Import.UnixFSHAMTDirectorySizeThreshold (estimated link bytes)

log = logging.getLogger(__name__)

# Leaves hashed per batch: a few to let the native library run its 4 lanes; streams keep it at 2 so an import
# holds only a few chunks in memory (tests/unit/ipfs checks the peak).
_BUFFER_BATCH = 16
_STREAM_BATCH = 2

BlockSink = Callable[[Cid, bytes], None]
BufferSink = Callable[[Cid, bytes | memoryview], None]  # import_buffer's: raw leaves are views into the input
BlockSource = Callable[[Cid], bytes]
ProgressCallback = Callable[[int], None]
_Block = TypeVar("_Block", bytes, bytes | memoryview)  # what a sink takes: import_buffer's also takes views


@dataclass(frozen=True, slots=True)
class ImportOptions:
    cid_version: int = 0
    raw_leaves: bool | None = None  # None: True for CIDv1, False for CIDv0 (Kubo's rule)
    chunk_size: int = CHUNK_SIZE
    max_links: int = MAX_LINKS
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise IpfsError(f"cid_version must be 0 or 1, got {self.cid_version}", cid_version=self.cid_version)
        if self.chunk_size <= 0 or self.max_links < 2:
            raise IpfsError(f"bad chunker settings: chunk_size={self.chunk_size}, max_links={self.max_links}")

    @property
    def use_raw_leaves(self) -> bool:
        return self.raw_leaves if self.raw_leaves is not None else self.cid_version == 1


@dataclass(frozen=True, slots=True)
class ImportedNode:
    """A node written by the importer: its CID, cumulative size (Tsize) and, for files, the byte count."""

    cid: Cid
    tsize: int
    filesize: int


@dataclass(frozen=True, slots=True)
class ImportedEntry:
    """One file or directory added from disk: path relative to the added root ('' for the root itself)."""

    path: str
    node: ImportedNode


def _node_cid(block: bytes, options: ImportOptions) -> Cid:
    return Cid.for_data(block, DAG_PB, options.cid_version)


def _read_chunk(stream: BinaryIO, size: int) -> bytes:
    """Exactly `size` bytes unless the stream ends first (streams may return short reads)."""
    first = stream.read(size)
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    got = len(first)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _leaf_frame(size: int) -> tuple[bytes, bytes]:
    """What goes before and after `size` bytes of chunk in a dag-pb `File` leaf: PBNode{Data: UnixFS{Type:
    File, Data: chunk, filesize: size}}, i.e. `0a len 08 02 12 size` + chunk + `18 size` (a non-empty chunk)."""
    size_varint = encode_varint(size)
    unixfs_len = 3 + len(size_varint) + size + 1 + len(size_varint)
    return b"\x0a" + encode_varint(unixfs_len) + b"\x08\x02\x12" + size_varint, b"\x18" + size_varint


class _FileBuilder(Generic[_Block]):
    """Leaves in, balanced tree out. A leaf is the chunk itself (raw leaves: no copy) or one join of a
    precomputed frame around it (dag-pb: one copy). Leaves are hashed once, `batch` at a time, so the
    native library (see ipfs.sha256) can hash several in lockstep; then they reach the sink in order."""

    __slots__ = ("_batch", "_codec", "_frames", "_pending", "_sink", "_version", "leaves", "options", "raw")

    def __init__(self, sink: Callable[[Cid, _Block], None], options: ImportOptions, batch: int) -> None:
        self._sink: Callable[[Cid, _Block], None] = sink
        self.options = options
        self.raw = options.use_raw_leaves
        self._version = 1 if self.raw else options.cid_version
        self._codec = RAW if self.raw else DAG_PB
        self._frames = {options.chunk_size: _leaf_frame(options.chunk_size)}
        self._batch = batch
        self._pending: list[tuple[_Block, int]] = []
        self.leaves: list[ImportedNode] = []

    def add(self, chunk: _Block) -> None:
        size = len(chunk)
        block: _Block
        if self.raw:
            block = chunk
        elif size:
            prefix, suffix = self._frames.get(size) or _leaf_frame(size)
            block = b"".join((prefix, chunk, suffix))
        else:  # the empty file: a File node without Data
            block = encode_unixfs_node(UnixFSData(FILE, filesize=0))
        self._pending.append((block, size))
        if len(self._pending) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        digests = sha256_many([block for block, _ in pending])
        for (block, size), digest in zip(pending, digests, strict=True):
            cid = Cid.trusted(self._version, self._codec, b"\x12\x20" + digest)
            self._sink(cid, block)
            self.leaves.append(ImportedNode(cid, len(block), size))
        pending.clear()

    def finish(self) -> ImportedNode:
        self._flush()
        level = self.leaves
        step = self.options.max_links
        while len(level) > 1:
            level = [
                _write_file_parent(level[i : i + step], self._sink, self.options) for i in range(0, len(level), step)
            ]
        return level[0]


def import_file(
    stream: BinaryIO,
    sink: BlockSink,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ImportedNode:
    """Chunk `stream`, write every block through `sink`, return the root. Equals Kubo's `ipfs add`."""
    options = options or ImportOptions()
    builder = _FileBuilder(sink, options, _STREAM_BATCH)
    size = options.chunk_size
    first = True
    while True:
        chunk = _read_chunk(stream, size)
        if not chunk and not first:
            break
        first = False
        builder.add(chunk)
        if progress is not None:
            progress(len(chunk))
        if len(chunk) < size:
            break
    return builder.finish()


def import_buffer(
    data: bytes | bytearray | memoryview,
    sink: BufferSink,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ImportedNode:
    """`import_file` for bytes already in memory, without copying them: raw leaves reach `sink` as read-only
    memoryviews into `data` (so they keep it alive), dag-pb leaves and parents as new bytes. A bytearray or
    memoryview is copied once first, so later changes to it cannot alter a stored block."""
    options = options or ImportOptions()
    view = memoryview(data if isinstance(data, bytes) else bytes(data))
    builder = _FileBuilder(sink, options, _BUFFER_BATCH)
    size = options.chunk_size
    total = len(view)
    for start in range(0, total or 1, size):
        chunk = view[start : start + size]
        builder.add(chunk)
        if progress is not None:
            progress(len(chunk))
    return builder.finish()


def _write_file_parent(children: list[ImportedNode], sink: BlockSink, options: ImportOptions) -> ImportedNode:
    filesize = sum(child.filesize for child in children)
    unixfs = UnixFSData(FILE, filesize=filesize, blocksizes=[child.filesize for child in children])
    links = tuple(PBLink(child.cid, "", child.tsize) for child in children)
    cid, size = _write_node(unixfs, links, sink, options)
    return ImportedNode(cid, size + sum(child.tsize for child in children), filesize)


def _write_node(
    unixfs: UnixFSData, links: tuple[PBLink, ...], sink: BlockSink, options: ImportOptions
) -> tuple[Cid, int]:
    """Write the dag-pb node of `unixfs` through `sink`: its CID and block size."""
    block = encode_unixfs_node(unixfs, links)
    cid = _node_cid(block, options)
    sink(cid, block)
    return cid, len(block)


def import_bytes(data: bytes, sink: BlockSink, options: ImportOptions | None = None) -> ImportedNode:
    import io

    return import_file(io.BytesIO(data), sink, options)


def write_directory(
    entries: dict[str, ImportedNode], sink: BlockSink, options: ImportOptions | None = None
) -> ImportedNode:
    """A non-sharded UnixFS directory over named children (links sorted by UTF-8 name bytes)."""
    options = options or ImportOptions()
    for name in entries:
        if not name or "/" in name or name in (".", ".."):
            raise IpfsError(f"invalid directory entry name {name!r}", name=name)
    names = sorted(entries, key=lambda n: n.encode("utf-8"))
    estimate = sum(len(n.encode("utf-8")) + len(entries[n].cid.to_bytes()) for n in names)
    if estimate > HAMT_THRESHOLD:
        log.warning(
            "directory of %d entries (~%d bytes of links) written unsharded; Kubo would make it a HAMT shard, "
            "so its CID will differ from Kubo's",
            len(names),
            estimate,
        )
    links = tuple(PBLink(entries[n].cid, n, entries[n].tsize) for n in names)
    cid, size = _write_node(UnixFSData(DIRECTORY), links, sink, options)
    return ImportedNode(cid, size + sum(entries[n].tsize for n in names), 0)


def write_symlink(target: str, sink: BlockSink, options: ImportOptions | None = None) -> ImportedNode:
    cid, size = _write_node(UnixFSData(SYMLINK, data=target.encode("utf-8")), (), sink, options or ImportOptions())
    return ImportedNode(cid, size, 0)


def import_path(
    path: Path,
    sink: BlockSink,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> list[ImportedEntry]:
    """Add a file or a directory tree. Returns every entry, children before parents, the root last."""
    options = options or ImportOptions()
    path = Path(path)
    out: list[ImportedEntry] = []
    _import_any(path, "", sink, options, progress, out)
    return out


def _import_any(
    path: Path,
    rel: str,
    sink: BlockSink,
    options: ImportOptions,
    progress: ProgressCallback | None,
    out: list[ImportedEntry],
) -> ImportedNode:
    if path.is_symlink():
        node = write_symlink(os.readlink(path), sink, options)
    elif path.is_dir():
        children: dict[str, ImportedNode] = {}
        for child in sorted(path.iterdir(), key=lambda p: p.name):
            if child.name.startswith(".") and not options.hidden:
                continue
            child_rel = f"{rel}/{child.name}" if rel else child.name
            children[child.name] = _import_any(child, child_rel, sink, options, progress, out)
        node = write_directory(children, sink, options)
    elif path.is_file():
        with path.open("rb") as stream:
            node = import_file(stream, sink, options, progress)
    else:
        raise IpfsError(f"cannot add {path}: not a regular file, directory or symlink", path=str(path))
    out.append(ImportedEntry(rel, node))
    return node


# -- export ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnixFSNode:
    """A decoded UnixFS node (or a raw leaf, reported as type 'raw')."""

    cid: Cid
    type_name: str
    links: tuple[PBLink, ...]
    unixfs: UnixFSData | None
    raw: bytes | None = None

    @property
    def filesize(self) -> int:
        if self.raw is not None:
            return len(self.raw)
        assert self.unixfs is not None
        if self.unixfs.filesize is not None:
            return self.unixfs.filesize
        return len(self.unixfs.data or b"")


def load_node(cid: Cid, source: BlockSource) -> UnixFSNode:
    block = source(cid)
    if cid.codec == RAW:
        return UnixFSNode(cid, "raw", (), None, block)
    if cid.codec != DAG_PB:
        raise IpfsError(f"{cid} is {cid.codec_name}, not a UnixFS (dag-pb or raw) node", cid=str(cid))
    node = decode_node(block)
    if node.data is None:
        raise IpfsError(f"{cid} is a dag-pb node without UnixFS data", cid=str(cid))
    unixfs = decode_unixfs(node.data)
    return UnixFSNode(cid, UNIXFS_TYPE_NAMES[unixfs.type], node.links, unixfs)


def iter_file(cid: Cid, source: BlockSource, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The bytes of a UnixFS file, streamed block by block; `offset`/`length` skip whole subtrees."""
    node = load_node(cid, source)
    if node.type_name not in ("file", "raw"):
        raise IpfsError(f"{cid} is a {node.type_name}, not a file", cid=str(cid), type=node.type_name)
    end = None if length is None else offset + length
    yield from _iter_node(node, source, offset, end, 0)


def _iter_node(node: UnixFSNode, source: BlockSource, start: int, end: int | None, base: int) -> Iterator[bytes]:
    """Yield the bytes of `node` (which begins at file position `base`) that fall within [start, end)."""
    if node.raw is not None:
        yield from _clip(node.raw, start, end, base)
        return
    assert node.unixfs is not None
    if node.unixfs.type not in (FILE, RAW_TYPE):
        raise IpfsError(f"{node.cid} inside a file is a {node.type_name}", cid=str(node.cid))
    own = node.unixfs.data or b""
    if own:
        yield from _clip(own, start, end, base)
    pos = base + len(own)
    sizes = node.unixfs.blocksizes
    if node.links and len(sizes) != len(node.links):
        raise IpfsError(f"{node.cid}: {len(node.links)} links but {len(sizes)} blocksizes", cid=str(node.cid))
    for link, size in zip(node.links, sizes, strict=False):
        if pos + size > start and (end is None or pos < end):
            yield from _iter_node(load_node(link.hash, source), source, start, end, pos)
        pos += size
        if end is not None and pos >= end:
            return


def _clip(data: bytes, start: int, end: int | None, base: int) -> Iterator[bytes]:
    lo = max(start - base, 0)
    hi = len(data) if end is None else min(end - base, len(data))
    if hi > lo:
        yield data[lo:hi] if (lo, hi) != (0, len(data)) else data


def list_directory(cid: Cid, source: BlockSource) -> list[PBLink]:
    node = load_node(cid, source)
    if node.type_name != "directory":
        raise IpfsError(f"{cid} is a {node.type_name}, not a directory", cid=str(cid), type=node.type_name)
    return list(node.links)


def export_to_path(cid: Cid, dest: Path, source: BlockSource) -> None:
    """Write a file, directory tree or symlink to `dest` (which must not exist), like `ipfs get -o`."""
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise IpfsError(f"cannot write {cid} to {dest}: the path exists", cid=str(cid), path=str(dest))
    node = load_node(cid, source)
    if node.type_name == "directory":
        dest.mkdir(parents=True)
        for link in node.links:
            name = link.name or ""
            if not name or "/" in name or name in (".", ".."):
                raise IpfsError(f"{cid} has an unsafe entry name {name!r}", cid=str(cid), name=name)
            export_to_path(link.hash, dest / name, source)
    elif node.type_name == "symlink":
        assert node.unixfs is not None
        os.symlink((node.unixfs.data or b"").decode("utf-8"), dest)
    elif node.type_name in ("file", "raw"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        with tmp.open("wb") as out:
            for piece in _iter_node(node, source, 0, None, 0):
                out.write(piece)
        os.replace(tmp, dest)
    else:
        raise IpfsError(f"cannot export {cid}: UnixFS type {node.type_name} is not supported", cid=str(cid))
