"""Read and append wasm custom sections (the container format only; no validation of code)."""

from __future__ import annotations

from collections.abc import Iterator

from fluence_dao._util.varint import decode_uvarint, encode_uvarint

WASM_MAGIC = b"\0asm\x01\0\0\0"
_CUSTOM = 0
_EXPORT = 7


def iter_sections(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (section id, start, end) of every section's payload in file order. ValueError if not wasm."""
    if data[:8] != WASM_MAGIC:
        raise ValueError("not a wasm module (bad magic or version)")
    pos = 8
    while pos < len(data):
        section_id = data[pos]
        size, body = decode_uvarint(data, pos + 1)
        end = body + size
        if end > len(data):
            raise ValueError(f"truncated wasm: section {section_id} runs past the end")
        yield section_id, body, end
        pos = end


def iter_custom_sections(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (name, payload) of every custom section in file order. Raises ValueError if not wasm."""
    for section_id, body, end in iter_sections(data):
        if section_id == _CUSTOM:
            name_len, name_start = decode_uvarint(data, body)
            name = data[name_start : name_start + name_len].decode("utf-8")
            yield name, data[name_start + name_len : end]


def function_exports(data: bytes) -> list[str]:
    """Names of the functions a wasm module exports (export section entries of kind 0)."""
    for section_id, body, _end in iter_sections(data):
        if section_id == _EXPORT:
            count, at = decode_uvarint(data, body)
            names = []
            for _ in range(count):
                length, at = decode_uvarint(data, at)
                name, kind = data[at : at + length].decode("utf-8"), data[at + length]
                _, at = decode_uvarint(data, at + length + 1)
                if kind == 0:
                    names.append(name)
            return names
    return []


def append_custom_section(data: bytes, name: str, payload: bytes) -> bytes:
    """The module with one more custom section at the end (position does not matter to runtimes)."""
    encoded_name = name.encode("utf-8")
    body = encode_uvarint(len(encoded_name)) + encoded_name + payload
    return data + bytes([_CUSTOM]) + encode_uvarint(len(body)) + body
