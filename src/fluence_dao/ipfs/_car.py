"""CAR v1 (ipld/specs transport/car/carv1): a DAG-CBOR header `{roots, version: 1}` and length-prefixed
(CID bytes + block) sections, every length an unsigned varint. Import verifies each block's hash."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from fluence_dao.errors import BlockCorruptedError, CarError, IpfsError, IpldCodecError
from fluence_dao.ipfs._cid import Cid, decode_varint, encode_varint
from fluence_dao.ipfs._codecs import decode_dag_cbor, encode_dag_cbor

MAX_SECTION = 1 << 27  # far above any block Kubo would make (bitswap caps blocks at 2 MiB)


def write_car(roots: list[Cid], blocks: Iterable[tuple[Cid, bytes]], out: BinaryIO) -> int:
    """Write a CAR v1; returns the number of blocks written."""
    header = encode_dag_cbor({"roots": list(roots), "version": 1})
    out.write(encode_varint(len(header)) + header)
    count = 0
    for cid, data in blocks:
        raw = cid.to_bytes()
        out.write(encode_varint(len(raw) + len(data)))
        out.write(raw)
        out.write(data)
        count += 1
    return count


def _read_varint(stream: BinaryIO) -> int | None:
    value = 0
    shift = 0
    first = True
    while True:
        byte = stream.read(1)
        if not byte:
            if first:
                return None
            raise CarError("truncated varint in CAR")
        first = False
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise CarError("varint too long in CAR")


def _read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CarError(f"truncated CAR: {what} needs {size} bytes, got {len(data)}")
    return data


def read_car(stream: BinaryIO) -> tuple[list[Cid], Iterator[tuple[Cid, bytes]]]:
    """Parse the header now; the blocks come from the returned iterator, each verified against its CID."""
    length = _read_varint(stream)
    if length is None or length == 0 or length > MAX_SECTION:
        raise CarError(f"not a CAR file: bad header length {length}")
    try:
        header = decode_dag_cbor(_read_exact(stream, length, "the header"))
    except IpldCodecError as err:
        raise CarError(f"not a CAR v1 file: header is not DAG-CBOR ({err})") from err
    if not isinstance(header, dict) or header.get("version") != 1:
        version = header.get("version") if isinstance(header, dict) else None
        raise CarError(f"unsupported CAR version {version!r} (only CAR v1)", version=str(version))
    listed = header.get("roots")
    roots = [root for root in listed if isinstance(root, Cid)] if isinstance(listed, list) else []
    if not isinstance(listed, list) or len(roots) != len(listed):
        raise CarError("CAR header 'roots' must be a list of CIDs")

    def blocks() -> Iterator[tuple[Cid, bytes]]:
        while True:
            size = _read_varint(stream)
            if size is None:
                return
            if size > MAX_SECTION:
                raise CarError(f"CAR section of {size} bytes is too large")
            section = _read_exact(stream, size, "a block section")
            cid, offset = _split_cid(section)
            data = section[offset:]
            if not cid.verify(data):
                raise BlockCorruptedError(f"block {cid} in the CAR does not hash to its CID", cid=str(cid))
            yield cid, data

    return roots, blocks()


def _split_cid(section: bytes) -> tuple[Cid, int]:
    """The CID at the start of a section and where the block begins."""
    try:
        if section[:2] == b"\x12\x20":
            return Cid.from_bytes(section[:34]), 34
        _version, pos = decode_varint(section)
        _codec, pos = decode_varint(section, pos)
        _hash_code, pos = decode_varint(section, pos)
        digest_len, pos = decode_varint(section, pos)
        end = pos + digest_len
        if end > len(section):
            raise ValueError("CID runs past the end of its section")
        return Cid.from_bytes(section[:end]), end
    except (ValueError, IpfsError) as err:
        raise CarError(f"bad CID in CAR section: {err}") from err
