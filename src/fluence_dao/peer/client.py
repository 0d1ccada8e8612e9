"""Call an exported Aqua function the way `fluence run` does, from a client peer.

The compiled AIR asks its init peer (the client) for the arguments and the relay through `getDataSrv`, returns
its result with `callbackSrv.response` and reports an uncaught error with `errorHandlingSrv.error`; this module
answers those calls, drives the network until the answer arrives or the TTL passes, and raises AquaCallError
for errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fluence_dao.aqua import AquaFunction
from fluence_dao.errors import AquaCallError
from fluence_dao.peer.builtins import CallContext
from fluence_dao.peer.calls import LocalHandler, ParticleHooks
from fluence_dao.peer.node import Peer
from fluence_dao.peer.particle import DEFAULT_TTL_MS
from fluence_dao.peer.scheduler import error_text
from fluence_dao.util.json_types import Args, JsonValue

CallArgs = Sequence[JsonValue] | Mapping[str, JsonValue]
"""The arguments of an Aqua function: in order, or by name."""


class _PendingWork(Protocol):
    def has_pending_work(self) -> bool: ...


class _Relay(Protocol):
    @property
    def peer_id(self) -> str: ...


class ParticleNetwork(Protocol):
    """What `call_function` needs: `LocalNetwork` (peers in this process) or `remote.RemoteNetwork` (a daemon)."""

    @property
    def relay(self) -> _Relay: ...

    @property
    def peers(self) -> Sequence[_PendingWork]: ...

    @property
    def clients(self) -> Sequence[Peer]: ...

    def client(self) -> Peer: ...

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool: ...


@dataclass
class _Outcome:
    """What the client peer heard of one call, set by its handlers and hooks."""

    result: Args | None = None  # callbackSrv.response's arguments, once it answered
    error: JsonValue = None  # errorHandlingSrv.error's argument
    avm_error: str | None = None  # AquaVM failed on the client
    expired: bool = False
    idle: bool = False

    def respond(self, call_args: Args, ctx: CallContext) -> None:
        self.result = call_args

    def fail(self, call_args: Args, ctx: CallContext) -> None:
        self.error = call_args[0] if call_args else {"message": "unknown error"}

    def on_error(self, message: str) -> None:
        self.avm_error = message

    def on_expired(self) -> None:
        self.expired = True

    def on_idle(self) -> None:
        self.idle = True

    def has_result(self) -> bool:
        return self.result is not None


def call_function(
    network: ParticleNetwork,
    function: AquaFunction,
    args: CallArgs = (),
    *,
    client: Peer | None = None,
    relay: str | None = None,
    ttl_ms: int = DEFAULT_TTL_MS,
) -> JsonValue:
    """Run `function` with `args` on `network` from `client` (default: a new client peer) via `relay`.

    Returns the function's result: None for no result, the value for one, a list for several.
    """
    values = _bind(function, args)
    client = client or network.client()
    names = function.names
    relay_id = relay or network.relay.peer_id
    outcome = _Outcome()

    def get_data(name: str) -> LocalHandler:
        return lambda call_args, ctx: values[name]

    handlers: dict[tuple[str, str], LocalHandler] = {(names["getDataSrv"], names["relay"]): lambda a, c: relay_id}
    for name in values:
        handlers[(names["getDataSrv"], name)] = get_data(name)
    handlers[(names["responseSrv"], names["responseFnName"])] = outcome.respond
    handlers[(names["errorHandlingSrv"], names["errorFnName"])] = outcome.fail

    expects_result = bool(function.return_types)
    hooks = ParticleHooks(
        handlers=handlers,
        on_error=outcome.on_error,
        on_expired=outcome.on_expired,
        on_idle=outcome.on_idle,
        # with the response in, the client's last invoke (feeding the response's empty result) is not needed
        finished=outcome.has_result if expects_result else None,
    )
    particle = client.initiate(function.script, ttl_ms=ttl_ms, hooks=hooks)

    def done() -> bool:
        if outcome.error is not None or outcome.avm_error is not None or outcome.expired:
            return True
        if expects_result:
            return outcome.has_result()
        return outcome.idle and not any(p.has_pending_work() for p in [*network.peers, *network.clients])

    finished = network.run_until(done, ttl_ms / 1000.0 + 1.0)
    client.forget(particle.id)
    if outcome.error is not None:
        raise _call_error(function.name, outcome.error)
    if outcome.avm_error is not None:
        raise AquaCallError(
            f"Aqua function {function.name!r} failed on the client: {outcome.avm_error}",
            function=function.name,
            particle_id=particle.id,
        )
    if not expects_result:
        return None
    if outcome.result is None:
        state = "expired" if outcome.expired or not finished else "ended"
        raise AquaCallError(
            f"Aqua function {function.name!r} got no response: the particle {state} after its TTL of {ttl_ms} ms "
            "(a peer on its path is unreachable or a call never answered)",
            function=function.name,
            particle_id=particle.id,
            ttl_ms=ttl_ms,
        )
    return outcome.result[0] if len(outcome.result) == 1 else outcome.result


def _bind(function: AquaFunction, args: CallArgs) -> dict[str, JsonValue]:
    names = function.arg_names
    if isinstance(args, Mapping):
        missing = [n for n in names if n not in args]
        extra = [k for k in args if k not in names]
        if missing or extra:
            raise AquaCallError(
                f"{function.name}({', '.join(names)}): missing arguments {missing}, unknown arguments {extra}",
                function=function.name,
            )
        return {n: args[n] for n in names}
    if len(args) != len(names):
        raise AquaCallError(
            f"{function.name}({', '.join(names)}) takes {len(names)} argument(s), got {len(args)}",
            function=function.name,
        )
    return dict(zip(names, args, strict=True))


def _call_error(function: str, error: JsonValue) -> AquaCallError:
    """The error as a person reads it: AquaVM's wrapping of a service's answer (`error message is '"..."'`, JSON
    inside a string, once per re-raise) is unwrapped; `aqua_message` keeps AquaVM's text as it came."""
    if isinstance(error, dict):
        message = error.get("message", json.dumps(error))
        return AquaCallError(
            f"Aqua function {function!r} failed: {error_text(message)}",
            function=function,
            error_code=error.get("error_code"),
            instruction=error.get("instruction"),
            peer_id=error.get("peer_id"),
            aqua_message=message,
        )
    return AquaCallError(
        f"Aqua function {function!r} failed: {error_text(str(error))}", function=function, aqua_message=str(error)
    )
