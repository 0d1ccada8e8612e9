"""Builtin arguments checked as nox checks them, with nox's error texts ("Error: Field 'x' is missing from args to
call_service", "Error deserializing field ..."): `arg(args, index, name, STR)` is the required argument at `index`
as a str, `opt(...)` an optional one (Aqua options unwrapped); a `Kind` says what a value must be and what nox
calls that type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from fluence_dao.peer.calls import BuiltinError
from fluence_dao.util.json_types import Args, JsonObject, JsonValue


def _args_error(display: str, debug: str) -> BuiltinError:
    return BuiltinError(f"Error: {display}\n{debug}")


def missing(field_name: str) -> BuiltinError:
    return _args_error(f"Field '{field_name}' is missing from args to call_service", f'MissingField("{field_name}")')


def bad_type(field_name: str, value: JsonValue, expected: str) -> BuiltinError:
    shown = json.dumps(value, separators=(",", ":"))
    return _args_error(
        f"Error deserializing field '{field_name}': expected {expected}, got {shown}",
        f'DeserializeError {{ field: "{field_name}", value: {shown}, expected_type: "{expected}" }}',
    )


_T = TypeVar("_T")


@dataclass(frozen=True)
class Kind(Generic[_T]):
    """What an argument must be (`accepts`), with nox's name for it in the error (`label`). `is_list`: an Aqua
    option of it arrives as `[[...]]`, not `[x]`."""

    label: str
    accepts: Callable[[object], bool]
    is_list: bool = False


def _is_int(value: object, bits: int = 0) -> bool:
    """An integer, not a bool; with `bits`, unsigned and below 2**bits."""
    return isinstance(value, int) and not isinstance(value, bool) and (not bits or 0 <= value < 1 << bits)


STR = Kind[str]("String", lambda v: isinstance(v, str))
BOOL = Kind[bool]("bool", lambda v: isinstance(v, bool))
I64 = Kind[int]("i64", _is_int)
U32 = Kind[int]("u32", lambda v: _is_int(v, 32))
U64 = Kind[int]("u64", lambda v: _is_int(v, 64))
F64 = Kind[float]("f64", lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
OBJECT = Kind[JsonObject]("serde_json::map::Map<String, serde_json::value::Value>", lambda v: isinstance(v, dict))
BYTES = Kind[list[int]]("Vec<u8>", lambda v: isinstance(v, list) and all(_is_int(b, 8) for b in v), is_list=True)
STRINGS = Kind[list[str]]("Vec<String>", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), True)
I64S = Kind[list[int]]("Vec<i64>", lambda v: isinstance(v, list) and all(_is_int(i) for i in v), is_list=True)


def check(field_name: str, value: JsonValue, kind: Kind[_T], expected: str | None = None) -> _T:
    """`value` if `kind` accepts it, else nox's error naming `expected` (default: the kind's label)."""
    if not kind.accepts(value):
        raise bad_type(field_name, value, expected or kind.label)
    return cast(_T, value)  # what kind.accepts just checked


def arg(args: Args, index: int, field_name: str, kind: Kind[_T], expected: str | None = None) -> _T:
    """The required argument at `index`, checked like nox's `Args::next`."""
    if index >= len(args):
        raise missing(field_name)
    return check(field_name, args[index], kind, expected)


def opt(args: Args, index: int, field_name: str, kind: Kind[_T], expected: str | None = None) -> _T | None:
    """An optional argument: absent, null or `[]` -> None; `[x]` or `x` -> x (nox's `Args::next_opt`)."""
    if index >= len(args) or args[index] is None:
        return None
    value = args[index]
    if isinstance(value, list) and not kind.is_list:
        if len(value) > 1:
            raise _args_error(
                f"Option's array must contain at most 1 element, '{field_name}' was of {len(value)} elements",
                f'NonUnaryOption {{ field: "{field_name}", length: {len(value)} }}',
            )
        if not value:
            return None
        value = value[0]
    elif isinstance(value, list) and value and isinstance(value[0], list) and len(value) == 1:
        # an Aqua option of an array arrives as [[...]]
        value = value[0]
    return check(field_name, value, kind, expected)


def exact_arity(args: Args, count: int) -> None:
    if len(args) != count:
        raise BuiltinError(f"expected {count} arguments, got {len(args)}")
