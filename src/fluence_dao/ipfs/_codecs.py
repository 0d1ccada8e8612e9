"""IPLD codecs: DAG-CBOR and DAG-JSON (with links as `Cid`), and the dag-pb data model.

DAG-CBOR is implemented here (about 150 lines, strict per ipld/specs codecs/dag-cbor) instead of calling the
`dag-cbor` package at run time: that package builds a `multiformats.CID` for every link it decodes, which
costs about 0.3 ms per link, and pin walks, garbage collection and CAR export decode every block of a DAG.
The package stays the test oracle: tests/unit/ipfs check with hypothesis that both encoders produce the
same bytes and that both decoders accept and reject the same inputs.

Strict decoding rejects: non-minimal integer/length heads, indefinite lengths, map keys that are not
strings or not in canonical order (length first, then bytes) or repeated, tags other than 42, CIDs whose
bytes do not start with 0x00, floats other than 64-bit and NaN/Infinity, simple values other than
false/true/null, invalid UTF-8, and trailing bytes.

The Python data model (`IpldValue`): None, bool, int, float, str, bytes, list, dict[str, ...], Cid.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Callable, Iterator
from typing import NoReturn, TypeAlias

from fluence_dao.errors import IpfsError, IpldCodecError
from fluence_dao.ipfs._cid import DAG_CBOR, DAG_JSON, DAG_PB, RAW, Cid, codec_code
from fluence_dao.ipfs._dagpb import PBLink, PBNode, decode_node, encode_node
from fluence_dao.util.json_types import JsonObject, JsonValue

MAX_DEPTH = 512

IpldValue: TypeAlias = "bool | int | float | str | bytes | Cid | list[IpldValue] | dict[str, IpldValue] | None"
"""A value of the IPLD data model as the codecs decode it (Kubo's DAG-CBOR/DAG-JSON model, links as `Cid`).
The encoders also take tuples for lists and bytearray/memoryview for bytes."""


# -- DAG-CBOR ------------------------------------------------------------------------------------------


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([(major << 5) | value])
    if value < 0x100:
        return bytes([(major << 5) | 24, value])
    if value < 0x10000:
        return bytes([(major << 5) | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([(major << 5) | 26]) + value.to_bytes(4, "big")
    return bytes([(major << 5) | 27]) + value.to_bytes(8, "big")


def _map_key_order(key: bytes) -> tuple[int, bytes]:
    return (len(key), key)


def encode_dag_cbor(value: IpldValue) -> bytes:
    out = bytearray()
    _enc_cbor(value, out, "", 0)
    return bytes(out)


def _enc_cbor(value: object, out: bytearray, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise IpldCodecError(f"value nested deeper than {MAX_DEPTH} at {where or '/'}")
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if 0 <= value < 2**64:
            out += _head(0, value)
        elif -(2**64) <= value < 0:
            out += _head(1, -1 - value)
        else:
            raise IpldCodecError(f"integer {value} at {where or '/'} does not fit DAG-CBOR's 64 bits")
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise IpldCodecError(f"float {value} at {where or '/'} is not allowed in DAG-CBOR")
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out += _head(3, len(raw))
        out += raw
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        out += _head(2, len(raw))
        out += raw
    elif isinstance(value, Cid):
        raw = b"\x00" + value.to_bytes()
        out += b"\xd8\x2a"
        out += _head(2, len(raw))
        out += raw
    elif isinstance(value, list | tuple):
        out += _head(4, len(value))
        for index, item in enumerate(value):
            _enc_cbor(item, out, f"{where}/{index}", depth + 1)
    elif isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise IpldCodecError(f"map key {key!r} at {where or '/'} is not a string")
            items.append((key.encode("utf-8"), key, item))
        items.sort(key=lambda entry: _map_key_order(entry[0]))
        out += _head(5, len(items))
        for raw_key, key, item in items:
            out += _head(3, len(raw_key))
            out += raw_key
            _enc_cbor(item, out, f"{where}/{key}", depth + 1)
    else:
        raise IpldCodecError(f"cannot encode {type(value).__name__} at {where or '/'} as DAG-CBOR")


def decode_dag_cbor(data: bytes | memoryview) -> IpldValue:
    view = memoryview(data)
    value, pos = _dec_cbor(view, 0, 0)
    if pos != len(view):
        raise IpldCodecError(f"invalid DAG-CBOR: {len(view) - pos} trailing bytes after the top-level item")
    return value


def _dec_head(view: memoryview, pos: int) -> tuple[int, int, int, int]:
    """(major, additional info, argument, next pos) with the minimal-encoding check."""
    if pos >= len(view):
        raise IpldCodecError(f"invalid DAG-CBOR: truncated at byte {pos}")
    first = view[pos]
    major, info = first >> 5, first & 0x1F
    pos += 1
    if info < 24:
        return major, info, info, pos
    if info > 27:
        raise IpldCodecError(f"invalid DAG-CBOR: additional info {info} (indefinite or reserved) at byte {pos - 1}")
    size = 1 << (info - 24)
    if pos + size > len(view):
        raise IpldCodecError(f"invalid DAG-CBOR: truncated at byte {pos}")
    arg = int.from_bytes(view[pos : pos + size], "big")
    if major != 7:
        minimum = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}[info]
        if arg < minimum:
            raise IpldCodecError(f"invalid DAG-CBOR: non-minimal encoding of {arg} at byte {pos - 1}")
    return major, info, arg, pos + size


def _dec_cbor(view: memoryview, pos: int, depth: int) -> tuple[IpldValue, int]:
    if depth > MAX_DEPTH:
        raise IpldCodecError(f"invalid DAG-CBOR: nested deeper than {MAX_DEPTH}")
    start = pos
    major, info, arg, pos = _dec_head(view, pos)
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        end = pos + arg
        if end > len(view):
            raise IpldCodecError(f"invalid DAG-CBOR: string at byte {start} runs past the end")
        raw = bytes(view[pos:end])
        if major == 2:
            return raw, end
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError as err:
            raise IpldCodecError(f"invalid DAG-CBOR: text string at byte {start} is not UTF-8") from err
    if major == 4:
        items: list[IpldValue] = []
        for _ in range(arg):
            item, pos = _dec_cbor(view, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        result: dict[str, IpldValue] = {}
        previous: bytes | None = None
        for _ in range(arg):
            key_start = pos
            key_major, _, key_len, pos = _dec_head(view, pos)
            if key_major != 3:
                raise IpldCodecError(f"invalid DAG-CBOR: map key at byte {key_start} is not a string")
            raw_key = bytes(view[pos : pos + key_len])
            if len(raw_key) != key_len:
                raise IpldCodecError(f"invalid DAG-CBOR: map key at byte {key_start} runs past the end")
            pos += key_len
            if previous is not None and _map_key_order(raw_key) <= _map_key_order(previous):
                raise IpldCodecError(
                    f"invalid DAG-CBOR: map key {raw_key!r} at byte {key_start} is repeated or out of canonical order"
                )
            previous = raw_key
            try:
                key = raw_key.decode("utf-8")
            except UnicodeDecodeError as err:
                raise IpldCodecError(f"invalid DAG-CBOR: map key at byte {key_start} is not UTF-8") from err
            result[key], pos = _dec_cbor(view, pos, depth + 1)
        return result, pos
    if major == 6:
        if arg != 42:
            raise IpldCodecError(f"invalid DAG-CBOR: tag {arg} at byte {start} (only 42, a CID, is allowed)")
        inner_major, _, length, pos = _dec_head(view, pos)
        if inner_major != 2 or pos + length > len(view):
            raise IpldCodecError(f"invalid DAG-CBOR: tag 42 at byte {start} does not hold a byte string")
        raw = bytes(view[pos : pos + length])
        if not raw or raw[0] != 0:
            raise IpldCodecError(f"invalid DAG-CBOR: CID at byte {start} does not start with the 0x00 multibase prefix")
        try:
            return Cid.from_bytes(raw[1:]), pos + length
        except IpfsError as err:
            raise IpldCodecError(f"invalid DAG-CBOR: bad CID at byte {start}: {err}") from err
    # major 7
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info == 22:
        return None, pos
    if info == 27:
        value = float(struct.unpack(">d", view[pos - 8 : pos])[0])
        if math.isnan(value) or math.isinf(value):
            raise IpldCodecError(f"invalid DAG-CBOR: float {value} at byte {start} is not allowed")
        return value, pos
    raise IpldCodecError(f"invalid DAG-CBOR: simple value or float of info {info} at byte {start} is not allowed")


# -- DAG-JSON ------------------------------------------------------------------------------------------


def _to_json_model(value: object, where: str, depth: int) -> JsonValue:
    if depth > MAX_DEPTH:
        raise IpldCodecError(f"value nested deeper than {MAX_DEPTH} at {where or '/'}")
    if isinstance(value, Cid):
        return {"/": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"/": {"bytes": base64.b64encode(bytes(value)).decode("ascii").rstrip("=")}}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise IpldCodecError(f"float {value} at {where or '/'} is not allowed in DAG-JSON")
        return value
    if isinstance(value, list | tuple):
        return [_to_json_model(item, f"{where}/{i}", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: JsonObject = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise IpldCodecError(f"map key {key!r} at {where or '/'} is not a string")
            out[key] = _to_json_model(item, f"{where}/{key}", depth + 1)
        return out
    if value is None or isinstance(value, bool | int | str):
        return value
    raise IpldCodecError(f"cannot encode {type(value).__name__} at {where or '/'} as DAG-JSON")


def encode_dag_json(value: IpldValue) -> bytes:
    """Canonical DAG-JSON: no whitespace, map keys sorted by their UTF-8 bytes, links `{"/": cid}`."""
    model = _to_json_model(value, "", 0)
    return json.dumps(model, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _json_pairs(pairs: list[tuple[str, IpldValue]]) -> IpldValue:
    seen: dict[str, IpldValue] = {}
    for key, value in pairs:
        if key in seen:
            raise IpldCodecError(f"invalid DAG-JSON: repeated map key {key!r}")
        seen[key] = value
    if len(seen) == 1 and "/" in seen:
        inner = seen["/"]
        if isinstance(inner, str):
            return Cid.parse(inner)
        if isinstance(inner, dict) and len(inner) == 1 and isinstance(text := inner.get("bytes"), str):
            try:
                return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            except ValueError as err:
                raise IpldCodecError(f"invalid DAG-JSON: bad base64 bytes {text[:40]!r}") from err
    return seen


def _reject_constant(name: str) -> NoReturn:
    raise IpldCodecError(f"invalid DAG-JSON: {name} is not allowed")


def decode_dag_json(data: bytes | str) -> IpldValue:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value: IpldValue = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_reject_constant)
    except IpldCodecError:
        raise
    except IpfsError as err:
        raise IpldCodecError(f"invalid DAG-JSON: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise IpldCodecError(f"invalid DAG-JSON: {err}") from err
    return value


# -- dag-pb data model ------------------------------------------------------------------------------


def dagpb_to_model(node: PBNode) -> dict[str, IpldValue]:
    """The IPLD data model of a dag-pb node, as Kubo's `dag get` shows it."""
    links: list[IpldValue] = []
    for link in node.links:
        entry: dict[str, IpldValue] = {"Hash": link.hash}
        if link.name is not None:
            entry["Name"] = link.name
        if link.tsize is not None:
            entry["Tsize"] = link.tsize
        links.append(entry)
    model: dict[str, IpldValue] = {"Links": links}
    if node.data is not None:
        model["Data"] = node.data
    return model


def dagpb_from_model(value: IpldValue) -> PBNode:
    if not isinstance(value, dict) or set(value) - {"Data", "Links"}:
        raise IpldCodecError("a dag-pb node must be a map with only 'Data' and 'Links'")
    data = value.get("Data")
    if data is not None and not isinstance(data, bytes):
        raise IpldCodecError("dag-pb 'Data' must be bytes")
    entries = value.get("Links", [])
    if not isinstance(entries, list):
        raise IpldCodecError("dag-pb 'Links' must be a list")
    links = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(link_cid := entry.get("Hash"), Cid):
            raise IpldCodecError(f"dag-pb link {index} must be a map with a CID 'Hash'")
        name, tsize = entry.get("Name"), entry.get("Tsize")
        if (name is not None and not isinstance(name, str)) or (tsize is not None and not isinstance(tsize, int)):
            raise IpldCodecError(f"dag-pb link {index}: Name must be a string and Tsize an integer")
        links.append(PBLink(link_cid, name, tsize))
    links.sort(key=lambda link: (link.name or "").encode("utf-8"))
    return PBNode(tuple(links), data)


# -- by codec ---------------------------------------------------------------------------------------


def _encode_raw(value: IpldValue) -> bytes:
    if not isinstance(value, bytes):
        raise IpldCodecError("a raw block must be bytes")
    return value


def _decode_raw(data: bytes) -> IpldValue:
    return data


#: codec -> (encoder, decoder) of the block codecs this node reads and writes.
_BLOCK_CODECS: dict[int, tuple[Callable[[IpldValue], bytes], Callable[[bytes], IpldValue]]] = {
    DAG_CBOR: (encode_dag_cbor, decode_dag_cbor),
    DAG_JSON: (encode_dag_json, decode_dag_json),
    DAG_PB: (lambda value: encode_node(dagpb_from_model(value)), lambda data: dagpb_to_model(decode_node(data))),
    RAW: (_encode_raw, _decode_raw),
}


def _block_codec(codec: int | str, action: str) -> tuple[Callable[[IpldValue], bytes], Callable[[bytes], IpldValue]]:
    pair = _BLOCK_CODECS.get(codec_code(codec))
    if pair is None:
        raise IpldCodecError(f"cannot {action} codec {codec!r} (dag-cbor, dag-json, dag-pb or raw)", codec=str(codec))
    return pair


def encode_block(value: IpldValue, codec: int | str) -> bytes:
    return _block_codec(codec, "encode")[0](value)


def decode_block(data: bytes, codec: int | str) -> IpldValue:
    return _block_codec(codec, "decode")[1](data)


def iter_links(value: IpldValue) -> Iterator[Cid]:
    """Every CID inside a decoded data-model value, depth first, in order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Cid):
            yield item
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def block_links(cid: Cid, data: bytes) -> list[Cid]:
    """The CIDs a block links to (empty for raw and unknown codecs, which cannot hold links we can read)."""
    if cid.codec == DAG_PB:
        return [link.hash for link in decode_node(data).links]
    if cid.codec in (DAG_CBOR, DAG_JSON):
        return list(iter_links(decode_block(data, cid.codec)))
    return []
