"""The call protocol of the peer: what builtins, hosted services and local handlers share (the handler base class,
the call context, nox-style argument errors, Deferred answers, the hooks a local initiator attaches to a particle).
Below `builtins`, `services`, `vault` and `node`, so none of them imports another for it.

A builtin function takes the call's JSON arguments (a list) and a `CallContext`, and returns a JSON value
(None means nox's "empty" outcome, which AquaVM receives as the string ""). It raises `BuiltinError` for a
failed call: the peer answers the call request with ret_code 1 and the message as the result, which Aqua
`try/catch` receives as `LastError.message`. Argument errors reproduce nox's texts
("Error: Field 'x' is missing from args to call_service", "Error deserializing field ...").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from fluence_dao.peer.node import Peer
    from fluence_dao.peer.particle import Particle


class BuiltinError(Exception):
    """A failed builtin call; `result` is what AquaVM receives (nox puts a JSON string there)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.result = message


class _JsonNull:
    """Returned by a builtin to answer JSON null (None means nox's "empty" outcome, the string "")."""

    def __repr__(self) -> str:
        return "JSON_NULL"


JSON_NULL = _JsonNull()


@dataclass(frozen=True)
class Deferred:
    """A result delivered `delay_s` seconds later (peer.timeout): the peer keeps serving meanwhile."""

    delay_s: float
    value: Any = None
    error: str | None = None


@dataclass
class CallContext:
    peer: Peer
    particle: Particle
    tetraplets: list[Any] = field(default_factory=list)
    call_id: int = 0
    function_name: str = ""

    @property
    def init_peer_id(self) -> str:
        return self.particle.init_peer_id


Function = Callable[[list[Any], CallContext], Any]


class BuiltinHandler(Protocol):
    """What the peer needs from a builtin service: one call entry point."""

    def call(self, function_name: str, args: list[Any], ctx: CallContext) -> Any: ...


class BuiltinService:
    """One builtin service. Subclasses set `service_id` and map function names to methods in `functions()`."""

    service_id: ClassVar[str] = ""

    def functions(self) -> dict[str, Function]:
        raise NotImplementedError

    def call(self, function_name: str, args: list[Any], ctx: CallContext) -> Any:
        table = self.functions()
        handler = table.get(function_name)
        if handler is None:
            raise BuiltinError(
                f"Function '{function_name}' not found on builtin service '{self.service_id}' "
                f"(functions: {', '.join(sorted(table))})"
            )
        return handler(args, ctx)


# ---- argument helpers with nox's messages -------------------------------------------------------------------


def _args_error(display: str, debug: str) -> BuiltinError:
    return BuiltinError(f"Error: {display}\n{debug}")


def missing(field_name: str) -> BuiltinError:
    return _args_error(f"Field '{field_name}' is missing from args to call_service", f'MissingField("{field_name}")')


def bad_type(field_name: str, value: Any, expected: str) -> BuiltinError:
    shown = json.dumps(value, separators=(",", ":"))
    return _args_error(
        f"Error deserializing field '{field_name}': expected {expected}, got {shown}",
        f'DeserializeError {{ field: "{field_name}", value: {shown}, expected_type: "{expected}" }}',
    )


_EXPECTED = {
    str: "String",
    bool: "bool",
    int: "i64",
    float: "f64",
    list: "Vec<serde_json::value::Value>",
    dict: "serde_json::map::Map<String, serde_json::value::Value>",
}


def check(field_name: str, value: Any, kind: Any, expected: str | None = None) -> Any:
    """`value` if it is of `kind` (str, bool, int, float, list, dict, 'u8list', 'u32', 'strlist'), else nox's error."""
    label = expected or _EXPECTED.get(kind, str(kind))
    ok: bool
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "u32":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32
        label = expected or "u32"
    elif kind == "u64":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64
        label = expected or "u64"
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind == "u8list":
        ok = isinstance(value, list) and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value
        )
        label = expected or "Vec<u8>"
    elif kind == "strlist":
        ok = isinstance(value, list) and all(isinstance(s, str) for s in value)
        label = expected or "Vec<String>"
    elif kind == "i64list":
        ok = isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
        label = expected or "Vec<i64>"
    else:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        raise bad_type(field_name, value, label)
    return value


def arg(args: list[Any], index: int, field_name: str, kind: Any, expected: str | None = None) -> Any:
    """The required argument at `index`, checked like nox's `Args::next`."""
    if index >= len(args):
        raise missing(field_name)
    return check(field_name, args[index], kind, expected)


def opt(args: list[Any], index: int, field_name: str, kind: Any, expected: str | None = None) -> Any:
    """An optional argument: absent, null or `[]` -> None; `[x]` or `x` -> x (nox's `Args::next_opt`)."""
    if index >= len(args) or args[index] is None:
        return None
    value = args[index]
    if isinstance(value, list) and kind not in (list, "u8list", "strlist", "i64list"):
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


def exact_arity(args: list[Any], count: int) -> None:
    if len(args) != count:
        raise BuiltinError(f"expected {count} arguments, got {len(args)}")


LocalHandler = Callable[[list[Any], CallContext], Any]


@dataclass
class ParticleHooks:
    """Callbacks a local initiator (the client, a script, a spell) attaches to its own particle."""

    handlers: dict[tuple[str, str], LocalHandler] = field(default_factory=dict)
    on_error: Callable[[str], None] | None = None  # AquaVM failed on this peer
    on_idle: Callable[[], None] | None = None  # an invoke left no call pending on this peer
    on_expired: Callable[[], None] | None = None
    # True once the initiator has what it waited for (call_function: the response): the peer then feeds no more
    # call results to AquaVM for this particle (the initiator forgets it right away; that invoke would be wasted)
    finished: Callable[[], bool] | None = None
