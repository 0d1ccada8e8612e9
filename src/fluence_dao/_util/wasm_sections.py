"""Read and append wasm custom sections (the container format only; no validation of code)."""

from __future__ import annotations

from collections.abc import Iterator

WASM_MAGIC = b"\0asm\x01\0\0\0"
_CUSTOM = 0


def _read_uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated LEB128 value in wasm module")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def iter_custom_sections(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (name, payload) of every custom section in file order. Raises ValueError if not wasm."""
    if data[:8] != WASM_MAGIC:
        raise ValueError("not a wasm module (bad magic or version)")
    pos = 8
    while pos < len(data):
        section_id = data[pos]
        size, body = _read_uleb(data, pos + 1)
        end = body + size
        if end > len(data):
            raise ValueError("truncated section in wasm module")
        if section_id == _CUSTOM:
            name_len, name_start = _read_uleb(data, body)
            name = data[name_start : name_start + name_len].decode("utf-8")
            yield name, data[name_start + name_len : end]
        pos = end


def append_custom_section(data: bytes, name: str, payload: bytes) -> bytes:
    """The module with one more custom section at the end (position does not matter to runtimes)."""
    encoded_name = name.encode("utf-8")
    body = _uleb(len(encoded_name)) + encoded_name + payload
    return data + bytes([_CUSTOM]) + _uleb(len(body)) + body
