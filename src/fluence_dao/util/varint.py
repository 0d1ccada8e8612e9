"""Unsigned LEB128, which is also multiformats' unsigned-varint: the one implementation in the package.

Used for wasm section sizes, the interface-types encoding, CIDs and multihashes, and particle framing. Errors are
ValueError; each caller turns them into its own error class with its own context.
"""

from __future__ import annotations


def encode_uvarint(value: int) -> bytes:
    if value < 0:
        raise ValueError(f"an unsigned varint cannot hold {value}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_uvarint(
    data: bytes | bytearray | memoryview, offset: int = 0, *, max_bytes: int | None = None, minimal: bool = False
) -> tuple[int, int]:
    """(value, offset after it). `max_bytes` bounds the encoding (multiformats: 9); `minimal` refuses padded
    encodings such as `80 00` for 0, as multiformats requires."""
    result = shift = 0
    pos = offset
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint: it runs past the end of the data")
        if max_bytes is not None and pos - offset >= max_bytes:
            raise ValueError(f"varint longer than {max_bytes} bytes")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if minimal and byte == 0 and pos - offset > 1:
                raise ValueError(f"non-minimal varint at byte {offset}")
            return result, pos
