"""Read and append wasm custom sections (the container format only; no validation of code)."""

from __future__ import annotations

from collections.abc import Iterator

from fluence_dao.util.varint import decode_uvarint, encode_uvarint

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


def keep_exports(data: bytes, names: set[str]) -> bytes:
    """The module with only the exports named in `names` (the others stay in the module, unexported)."""
    out = bytearray(data[:8])
    for section_id, body, end in iter_sections(data):
        payload = data[body:end]
        if section_id == _EXPORT:
            count, at = decode_uvarint(data, body)
            kept = []
            for _ in range(count):
                entry = at
                length, at = decode_uvarint(data, at)
                name = data[at : at + length].decode("utf-8")
                _, at = decode_uvarint(data, at + length + 1)
                if at > end:
                    raise ValueError("truncated wasm: the export section runs past its end")
                if name in names:
                    kept.append(data[entry:at])
            payload = encode_uvarint(len(kept)) + b"".join(kept)
        out += bytes([section_id]) + encode_uvarint(len(payload)) + payload
    return bytes(out)


_DATA = 11
_I32_CONST, _GLOBAL_GET, _END = 0x41, 0x23, 0x0B


def static_data_end(data: bytes) -> int:
    """The first address after every active data segment of memory 0 placed at a constant offset (0 if none).

    Segments placed by `global.get` (an imported base) are skipped. ValueError on other offset expressions."""
    end = 0
    for section_id, body, _end in iter_sections(data):
        if section_id != _DATA:
            continue
        count, at = decode_uvarint(data, body)
        for _ in range(count):
            flags, at = decode_uvarint(data, at)
            offset: int | None = None
            memory_index = 0
            if flags in (0, 2):
                if flags == 2:
                    memory_index, at = decode_uvarint(data, at)
                opcode = data[at]
                if opcode == _I32_CONST:
                    offset, at = _decode_sleb32(data, at + 1)
                elif opcode == _GLOBAL_GET:
                    _global, at = decode_uvarint(data, at + 1)
                else:
                    raise ValueError(f"unsupported data segment offset expression (opcode {opcode:#x})")
                if data[at] != _END:
                    raise ValueError("malformed data segment offset expression")
                at += 1
            length, at = decode_uvarint(data, at)
            if offset is not None and memory_index == 0:
                end = max(end, (offset & 0xFFFFFFFF) + length)
            at += length
    return end


def _decode_sleb32(data: bytes, pos: int) -> tuple[int, int]:
    """A signed LEB128 (wasm's i32.const operand): the unsigned value of its bits, sign-extended."""
    value, end = decode_uvarint(data, pos)
    bits = 7 * (end - pos)
    return (value - (1 << bits) if value >> (bits - 1) & 1 else value), end
