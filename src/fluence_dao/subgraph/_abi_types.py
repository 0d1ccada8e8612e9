"""ABI type strings: parse `uint256`, `bytes32[]`, `(address,uint256)[2]` into a small tree, canonical event
signatures from graph-cli manifests (`Transfer(indexed address,indexed address,uint256)`), and call signatures
(`getX(uint256):(address,bool)`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def abi_json_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI JSON parameter (tuples expanded from `components`)."""
    kind: str = param["type"]
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


def parse_manifest_event(signature: str, abi: list[dict[str, Any]]) -> EventSignature:
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
