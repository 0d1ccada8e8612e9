"""The dag-pb codec and the UnixFS `Data` message, written by hand from the specs.

dag-pb (ipld/specs block-layer/codecs/dag-pb): PBNode = { Links (field 2, repeated PBLink), Data (field 1,
bytes) }, encoded with *all links first, then Data*; PBLink = { Hash (1, bytes), Name (2, string),
Tsize (3, varint) } in that order. Decoding is strict: fields must come in that order and with the right
wire types, nothing unknown.

UnixFS Data (ipfs/specs UNIXFS): Type (1), Data (2), filesize (3), blocksizes (4, repeated, unpacked),
hashType (5), fanout (6), mode (7), mtime (8). Only the fields that are set are written, in field order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fluence_dao.errors import IpldCodecError
from fluence_dao.ipfs._cid import Cid, decode_varint, encode_varint

# UnixFS node types
RAW_TYPE = 0
DIRECTORY = 1
FILE = 2
METADATA = 3
SYMLINK = 4
HAMT_SHARD = 5

UNIXFS_TYPE_NAMES = {0: "raw", 1: "directory", 2: "file", 3: "metadata", 4: "symlink", 5: "hamt-sharded-directory"}


@dataclass(frozen=True, slots=True)
class PBLink:
    hash: Cid
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


@dataclass(slots=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = field(default_factory=list)
    hash_type: int | None = None
    fanout: int | None = None
    mode: int | None = None


def _key(field_no: int, wire: int) -> bytes:
    return bytes([(field_no << 3) | wire])


def _bytes_field(field_no: int, value: bytes) -> list[bytes]:
    """Key, length and value as separate pieces, joined once by the caller (chunks are not copied twice)."""
    return [_key(field_no, 2), encode_varint(len(value)), value]


def encode_link(link: PBLink) -> bytes:
    parts = _bytes_field(1, link.hash.to_bytes())
    if link.name is not None:
        parts += _bytes_field(2, link.name.encode("utf-8"))
    if link.tsize is not None:
        parts += [_key(3, 0), encode_varint(link.tsize)]
    return b"".join(parts)


def encode_node(node: PBNode) -> bytes:
    parts: list[bytes] = []
    for link in node.links:
        parts += _bytes_field(2, encode_link(link))
    if node.data is not None:
        parts += _bytes_field(1, node.data)
    return b"".join(parts)


def _read_fields(buf: bytes | memoryview, what: str) -> list[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) triples; values of wire type 2 are memoryviews."""
    view = memoryview(buf)
    fields: list[tuple[int, int, int | memoryview]] = []
    pos = 0
    try:
        while pos < len(view):
            key, pos = decode_varint(view, pos)
            field_no, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = decode_varint(view, pos)
                fields.append((field_no, wire, value))
            elif wire == 2:
                length, pos = decode_varint(view, pos)
                if pos + length > len(view):
                    raise ValueError(f"field {field_no} runs past the end")
                fields.append((field_no, wire, view[pos : pos + length]))
                pos += length
            else:
                raise ValueError(f"unsupported wire type {wire} for field {field_no}")
    except ValueError as err:
        raise IpldCodecError(f"invalid {what}: {err}") from err
    return fields


def decode_node(data: bytes | memoryview) -> PBNode:
    links: list[PBLink] = []
    node_data: bytes | None = None
    for field_no, wire, value in _read_fields(data, "dag-pb node"):
        if field_no == 2 and wire == 2 and node_data is None:
            assert isinstance(value, memoryview)
            links.append(_decode_link(value))
        elif field_no == 1 and wire == 2 and node_data is None:
            assert isinstance(value, memoryview)
            node_data = bytes(value)
        else:
            raise IpldCodecError(f"invalid dag-pb node: unexpected field {field_no} (wire type {wire})")
    return PBNode(tuple(links), node_data)


def _decode_link(buf: memoryview) -> PBLink:
    cid: Cid | None = None
    name: str | None = None
    tsize: int | None = None
    last = 0
    for field_no, wire, value in _read_fields(buf, "dag-pb link"):
        if field_no <= last:
            raise IpldCodecError(f"invalid dag-pb link: field {field_no} out of order or repeated")
        last = field_no
        if field_no == 1 and wire == 2:
            assert isinstance(value, memoryview)
            cid = Cid.from_bytes(bytes(value))
        elif field_no == 2 and wire == 2:
            assert isinstance(value, memoryview)
            try:
                name = bytes(value).decode("utf-8")
            except UnicodeDecodeError as err:
                raise IpldCodecError("invalid dag-pb link: Name is not UTF-8") from err
        elif field_no == 3 and wire == 0:
            assert isinstance(value, int)
            tsize = value
        else:
            raise IpldCodecError(f"invalid dag-pb link: unexpected field {field_no} (wire type {wire})")
    if cid is None:
        raise IpldCodecError("invalid dag-pb link: no Hash")
    return PBLink(cid, name, tsize)


def encode_unixfs(msg: UnixFSData) -> bytes:
    parts = [_key(1, 0), encode_varint(msg.type)]
    if msg.data is not None:
        parts += _bytes_field(2, msg.data)
    if msg.filesize is not None:
        parts += [_key(3, 0), encode_varint(msg.filesize)]
    for size in msg.blocksizes:
        parts += [_key(4, 0), encode_varint(size)]
    for field_no, value in ((5, msg.hash_type), (6, msg.fanout), (7, msg.mode)):
        if value is not None:
            parts += [_key(field_no, 0), encode_varint(value)]
    return b"".join(parts)


def encode_unixfs_node(unixfs: UnixFSData, links: tuple[PBLink, ...] = ()) -> bytes:
    """A dag-pb node whose Data is `unixfs`: every UnixFS file, directory and symlink node is one."""
    return encode_node(PBNode(links, encode_unixfs(unixfs)))


def decode_unixfs(data: bytes | memoryview) -> UnixFSData:
    msg: UnixFSData | None = None
    kind: int | None = None
    rest: dict[str, object] = {}
    sizes: list[int] = []
    for field_no, wire, value in _read_fields(data, "UnixFS Data"):
        if field_no == 1 and wire == 0:
            assert isinstance(value, int)
            kind = value
        elif field_no == 2 and wire == 2:
            assert isinstance(value, memoryview)
            rest["data"] = bytes(value)
        elif field_no == 3 and wire == 0:
            rest["filesize"] = value
        elif field_no == 4 and wire == 0:
            assert isinstance(value, int)
            sizes.append(value)
        elif field_no == 4 and wire == 2:  # tolerate packed encoding from other writers
            assert isinstance(value, memoryview)
            pos = 0
            while pos < len(value):
                size, pos = decode_varint(value, pos)
                sizes.append(size)
        elif field_no == 5 and wire == 0:
            rest["hash_type"] = value
        elif field_no == 6 and wire == 0:
            rest["fanout"] = value
        elif field_no == 7 and wire == 0:
            rest["mode"] = value
        elif field_no == 8:
            pass  # mtime: accepted and ignored
        else:
            raise IpldCodecError(f"invalid UnixFS Data: unexpected field {field_no} (wire type {wire})")
    if kind is None or kind not in UNIXFS_TYPE_NAMES:
        raise IpldCodecError(f"invalid UnixFS Data: missing or unknown Type {kind}")
    msg = UnixFSData(kind, blocksizes=sizes)
    for name, item in rest.items():
        setattr(msg, name, item)
    return msg
