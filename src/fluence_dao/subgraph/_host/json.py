"""`json.*`: JSON bytes as graph-ts JSONValue trees; numbers keep their source text, as graph-ts expects."""

from __future__ import annotations

import json as _json

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._host._context import HostContext, HostFunction
from fluence_dao.util.json_types import JsonValue


class _RawNumber(str):
    """A JSON number kept as its source text (graph-ts JSONValue numbers are strings)."""


def new_json(h: AscHeap, value: JsonValue) -> int:
    """A parsed JSON value (numbers as _RawNumber) as a JSONValue in the guest."""
    if isinstance(value, _RawNumber):
        return h.new_enum(A.IDX_JSON_VALUE, A.JV_NUMBER, h.new_string(str(value)))
    if isinstance(value, list):
        items = [new_json(h, v) for v in value]
        return h.new_enum(A.IDX_JSON_VALUE, A.JV_ARRAY, h.new_array_ptrs(A.IDX_ARRAY_JSON_VALUE, items))
    if isinstance(value, dict):
        entries = [
            h.new_wrapped(A.IDX_TYPED_MAP_ENTRY_STRING_JSON_VALUE, h.new_string(k), new_json(h, v))
            for k, v in value.items()
        ]
        array = h.new_array_ptrs(A.IDX_ARRAY_TYPED_MAP_ENTRY_STRING_JSON_VALUE, entries)
        return h.new_enum(A.IDX_JSON_VALUE, A.JV_OBJECT, h.new_wrapped(A.IDX_TYPED_MAP_STRING_JSON_VALUE, array))
    return h.new_json_value(value)


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def parse(p: int) -> JsonValue:
        value: JsonValue = _json.loads(ctx.h.read_bytes(p), parse_int=_RawNumber, parse_float=_RawNumber)
        return value

    def from_bytes(p: int) -> int:
        return new_json(ctx.h, parse(p))

    def try_from_bytes(p: int) -> int:
        h = ctx.h
        try:
            value = parse(p)
        except ValueError:
            error = h.new_wrapped(A.IDX_WRAPPED_BOOL, 1)
            return h.new_wrapped(40, 0, error)  # ResultJsonValueBool
        wrapped = h.new_wrapped(29, new_json(h, value))  # WrappedJsonValue
        return h.new_wrapped(40, wrapped, 0)

    def to_i64(p: int) -> int:
        return int(ctx.h.read_string(p))

    def to_f64(p: int) -> float:
        return float(ctx.h.read_string(p))

    def to_big_int(p: int) -> int:
        h = ctx.h
        return h.new_bigint(int(h.read_string(p)))

    return {
        "json.fromBytes": from_bytes,
        "json.try_fromBytes": try_from_bytes,
        "json.toI64": to_i64,
        "json.toU64": to_i64,
        "json.toF64": to_f64,
        "json.toBigInt": to_big_int,
    }
