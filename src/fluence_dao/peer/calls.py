"""The call protocol of the peer: what builtins, hosted services and local handlers share (the handler base class
and its `@export()` marker, the call context, Deferred answers, the hooks a local initiator attaches to a particle).
Below `builtins`, `services`, `vault` and `node`, so none of them imports another for it.

A builtin function takes the call's JSON arguments (a list) and a `CallContext`, and returns a JSON value
(None means nox's "empty" outcome, which AquaVM receives as the string ""). It raises `BuiltinError` for a
failed call: the peer answers the call request with ret_code 1 and the message as the result, which Aqua
`try/catch` receives as `LastError.message`. Its arguments are checked with nox's texts by `peer.args`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeAlias, TypeVar

from fluence_dao.peer.particle import Particle
from fluence_dao.util.json_types import Args, JsonValue

if TYPE_CHECKING:  # node imports the builtins, which import this module
    from fluence_dao.peer.node import Peer


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
    value: JsonValue = None
    error: str | None = None


CallValue: TypeAlias = "JsonValue | Deferred | _JsonNull"
"""What a builtin function or a local handler returns: a JSON value (None: nox's empty outcome), `JSON_NULL` for
null, or a `Deferred` answer."""


@dataclass
class CallContext:
    peer: Peer
    particle: Particle
    tetraplets: list[JsonValue] = field(default_factory=list)  # per argument: a list of tetraplet objects
    call_id: int = 0
    function_name: str = ""

    @property
    def init_peer_id(self) -> str:
        return self.particle.init_peer_id


Function = Callable[[Args, CallContext], CallValue]


class BuiltinHandler(Protocol):
    """What the peer needs from a builtin service: one call entry point."""

    def call(self, function_name: str, args: Args, ctx: CallContext) -> CallValue: ...


_EXPORT = "_builtin_function"
_Method = TypeVar("_Method", bound=Callable[..., object])


def export(name: str | None = None) -> Callable[[_Method], _Method]:
    """Mark a method of a `BuiltinService` as its function `name` (default: the method's own name)."""

    def mark(method: _Method) -> _Method:
        setattr(method, _EXPORT, name or method.__name__)
        return method

    return mark


class BuiltinService:
    """One builtin service. Subclasses set `service_id` and mark their functions with `@export()`; `functions()`
    may add computed ones."""

    service_id: ClassVar[str] = ""
    _exports: ClassVar[dict[str, str]] = {}  # function name -> method name, collected per class

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        marked = {getattr(v, _EXPORT): k for k, v in vars(cls).items() if hasattr(v, _EXPORT)}
        cls._exports = {**cls._exports, **marked}

    def functions(self) -> dict[str, Function]:
        """The service's functions by name: its `@export()` methods, bound to this instance."""
        table: dict[str, Function] = {name: getattr(self, method) for name, method in self._exports.items()}
        return table

    def call(self, function_name: str, args: Args, ctx: CallContext) -> CallValue:
        table = self.functions()
        handler = table.get(function_name)
        if handler is None:
            raise BuiltinError(
                f"Function '{function_name}' not found on builtin service '{self.service_id}' "
                f"(functions: {', '.join(sorted(table))})"
            )
        return handler(args, ctx)


LocalHandler = Function


_Item = TypeVar("_Item")


def by_id_or_alias(items: Mapping[str, _Item], aliases: Mapping[str, str], id_or_alias: str) -> _Item | None:
    """The item (a service, a spell) named by its id or one of its aliases; the id wins."""
    item = items.get(id_or_alias)
    if item is None and id_or_alias in aliases:
        item = items.get(aliases[id_or_alias])
    return item


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
