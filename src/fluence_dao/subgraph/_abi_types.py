"""ABI type strings: parse `uint256`, `bytes32[]`, `(address,uint256)[2]` into a small tree, canonical event
signatures from graph-cli manifests (`Transfer(indexed address,indexed address,uint256)`), and call signatures
(`getX(uint256):(address,bool)`), and ABI values as graph-ts `ethereum.Value`s (kind, value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, TypedDict

from fluence_dao.subgraph import _asc as A


@dataclass(frozen=True)
class AbiType:
    base: str  # "uint256", "address", "tuple", ... ; for arrays the element is in `inner`
    inner: tuple[AbiType, ...] = ()
    array_len: int | None = None  # for base == "array": None = dynamic, k = fixed
    is_array: bool = False

    def canonical(self) -> str:
        if self.is_array:
            return f"{self.inner[0].canonical()}[{'' if self.array_len is None else self.array_len}]"
        if self.base == "tuple":
            return "(" + ",".join(t.canonical() for t in self.inner) + ")"
        return self.base

    @property
    def is_dynamic(self) -> bool:
        if self.is_array:
            return self.array_len is None or self.inner[0].is_dynamic
        if self.base == "tuple":
            return any(t.is_dynamic for t in self.inner)
        return self.base in ("string", "bytes")


#: A Python value of an ABI type, as eth_abi decodes and encodes it (addresses as 0x-hex strings, tuples as tuples).
AbiValue: TypeAlias = "int | bool | str | bytes | list[AbiValue] | tuple[AbiValue, ...]"


class AbiParam(TypedDict, total=False):
    """An input of an ABI JSON entry (`components` for tuples)."""

    name: str
    type: str
    indexed: bool
    components: list[AbiParam]


class AbiEntry(TypedDict, total=False):
    """An entry of an ABI JSON file (events are the ones read here)."""

    type: str
    name: str
    inputs: list[AbiParam]


_ALIASES = {"uint": "uint256", "int": "int256"}


def split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def parse_type(text: str) -> AbiType:
    s = text.strip()
    if s.endswith("]"):
        open_at = s.rindex("[")
        size = s[open_at + 1 : -1]
        return AbiType("array", (parse_type(s[:open_at]),), int(size) if size else None, True)
    if s.startswith("(") and s.endswith(")"):
        return AbiType("tuple", tuple(parse_type(p) for p in split_top_level(s[1:-1])))
    if s.startswith("tuple"):
        raise ValueError(f"unresolved tuple type {text!r}: expand components first")
    if not s or not s.replace("_", "").isalnum():
        raise ValueError(f"not an ABI type: {text!r}")
    return AbiType(_ALIASES.get(s, s))


def abi_json_type(param: AbiParam) -> str:
    """The canonical type string of an ABI JSON parameter (tuples expanded from `components`)."""
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(abi_json_type(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return _ALIASES.get(kind, kind)


@dataclass(frozen=True)
class EventParam:
    name: str
    type: AbiType
    indexed: bool


@dataclass(frozen=True)
class EventSignature:
    name: str
    params: tuple[EventParam, ...]

    @property
    def canonical(self) -> str:
        return f"{self.name}({','.join(p.type.canonical() for p in self.params)})"


def parse_manifest_event(signature: str, abi: list[AbiEntry]) -> EventSignature:
    """`Name(indexed t1,t2)` from subgraph.yaml, with parameter names taken from the matching ABI event."""
    name, _, rest = signature.partition("(")
    if not rest.endswith(")"):
        raise ValueError(f"bad event signature {signature!r}")
    raw = split_top_level(rest[:-1])
    kinds: list[tuple[bool, AbiType]] = []
    for item in raw:
        indexed = item.startswith("indexed ")
        kinds.append((indexed, parse_type(item[len("indexed ") :] if indexed else item)))
    names = [f"param{i}" for i in range(len(kinds))]
    for entry in abi:
        if entry.get("type") != "event" or entry.get("name") != name.strip():
            continue
        inputs = entry.get("inputs", [])
        if len(inputs) == len(kinds) and all(
            parse_type(abi_json_type(i)).canonical() == k.canonical() and bool(i.get("indexed")) == ix
            for i, (ix, k) in zip(inputs, kinds, strict=True)
        ):
            names = [i.get("name") or f"param{n}" for n, i in enumerate(inputs)]
            break
    return EventSignature(name.strip(), tuple(EventParam(n, t, ix) for n, (ix, t) in zip(names, kinds, strict=True)))


def parse_call_signature(signature: str) -> tuple[str, list[AbiType], list[AbiType]]:
    """`fn(uint256,address):(bool)` -> (name, inputs, outputs)."""
    head, sep, outputs = signature.partition("):")
    if not sep:
        head, outputs = signature.rstrip(")"), ""
    name, _, inputs = head.partition("(")
    outs = outputs.strip()
    if outs.startswith("(") and outs.endswith(")"):
        outs = outs[1:-1]
    return (
        name.strip(),
        [parse_type(t) for t in split_top_level(inputs)],
        [parse_type(t) for t in split_top_level(outs)] if outs else [],
    )


def _abi_items(t: AbiType, value: object) -> list[object] | tuple[object, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"a {t.canonical()} value must be a list or tuple, not {type(value).__name__}")
    return value


def _abi_bytes(t: AbiType, value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview | list | tuple):
        return bytes(value)
    raise ValueError(f"a {t.canonical()} value must be bytes, not {type(value).__name__}")


def _abi_int(t: AbiType, value: object) -> int:
    if isinstance(value, int | str | bytes):
        return int(value)
    raise ValueError(f"a {t.canonical()} value must be an integer, not {type(value).__name__}")


def eth_value_from_python(t: AbiType, value: object) -> A.EthValue:
    """An eth_abi-decoded value as a graph-ts ethereum.Value."""
    if t.is_array:
        kind = A.EV_FIXED_ARRAY if t.array_len is not None else A.EV_ARRAY
        return kind, [eth_value_from_python(t.inner[0], v) for v in _abi_items(t, value)]
    if t.base == "tuple":
        return A.EV_TUPLE, [eth_value_from_python(s, v) for s, v in zip(t.inner, _abi_items(t, value), strict=True)]
    if t.base == "address":
        if isinstance(value, str):
            return A.EV_ADDRESS, bytes.fromhex(value[2:] if value.startswith("0x") else value)
        return A.EV_ADDRESS, _abi_bytes(t, value)
    if t.base == "bytes":
        return A.EV_BYTES, _abi_bytes(t, value)
    if t.base.startswith("bytes"):
        return A.EV_FIXED_BYTES, _abi_bytes(t, value)
    if t.base.startswith("uint"):
        return A.EV_UINT, _abi_int(t, value)
    if t.base.startswith("int"):
        return A.EV_INT, _abi_int(t, value)
    if t.base == "bool":
        return A.EV_BOOL, bool(value)
    if t.base == "string":
        return A.EV_STRING, str(value)
    raise ValueError(f"unsupported ABI type {t.canonical()}")


def eth_value_to_python(value: A.EthValue) -> AbiValue:
    kind, v = value
    if kind in (A.EV_FIXED_ARRAY, A.EV_ARRAY):
        return [eth_value_to_python(x) for x in v]
    if kind == A.EV_TUPLE:
        return tuple(eth_value_to_python(x) for x in v)
    payload: AbiValue = v  # address and bytes as bytes, numbers as int, bool, string
    return payload


def eth_value_type(value: A.EthValue) -> str:
    """The ABI type a graph-ts ethereum.Value encodes as (ethereum.encode)."""
    kind, v = value
    if kind == A.EV_ADDRESS:
        return "address"
    if kind == A.EV_FIXED_BYTES:
        return f"bytes{len(v)}"
    if kind == A.EV_BYTES:
        return "bytes"
    if kind == A.EV_INT:
        return "int256"
    if kind == A.EV_UINT:
        return "uint256"
    if kind == A.EV_BOOL:
        return "bool"
    if kind == A.EV_STRING:
        return "string"
    if kind == A.EV_TUPLE:
        return "(" + ",".join(eth_value_type(x) for x in v) + ")"
    inner = eth_value_type(v[0]) if v else "uint256"
    return f"{inner}[{len(v)}]" if kind == A.EV_FIXED_ARRAY else f"{inner}[]"


_ZEROS = bytes(32)


def decode_elementary(types: list[AbiType], data: bytes) -> list[AbiValue] | None:
    """`eth_abi.decode` (strict) for elementary types (uintN, intN, address, bool, bytesN, bytes, string), or None
    when this cannot decide: another type, or data eth_abi would reject (then eth_abi decodes, and raises).

    Decoding every log through eth_abi's generic decoders cost more than running many mappings' handlers;
    values are the same (addresses as lowercase 0x-hex strings, as eth_abi returns them).
    """
    head = 32 * len(types)
    size = len(data)
    if size < head:
        return None
    out: list[AbiValue] = []
    for i, t in enumerate(types):
        if t.is_array:
            return None
        base = t.base
        word = data[32 * i : 32 * i + 32]
        if base in ("string", "bytes"):
            offset = int.from_bytes(word, "big")
            if offset < head or offset + 32 > size:
                return None
            length = int.from_bytes(data[offset : offset + 32], "big")
            start = offset + 32
            padded = (length + 31) // 32 * 32
            if start + padded > size or data[start + length : start + padded] != _ZEROS[: padded - length]:
                return None
            raw = data[start : start + length]
            if base == "bytes":
                out.append(raw)
                continue
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return None
        elif base == "address":
            if word[:12] != _ZEROS[:12]:
                return None
            out.append("0x" + word[12:].hex())
        elif base == "bool":
            if word[:31] != _ZEROS[:31] or word[31] > 1:
                return None
            out.append(word[31] == 1)
        elif base.startswith("uint") and base[4:].isdigit():
            value = int.from_bytes(word, "big")
            if value >> int(base[4:]):
                return None
            out.append(value)
        elif base.startswith("int") and base[3:].isdigit():
            value = int.from_bytes(word, "big", signed=True)
            bound = 1 << (int(base[3:]) - 1)
            if not -bound <= value < bound:
                return None
            out.append(value)
        elif base.startswith("bytes") and base[5:].isdigit():
            n = int(base[5:])
            if word[n:] != _ZEROS[: 32 - n]:
                return None
            out.append(word[:n])
        else:
            return None
    return out
