"""Call an exported Aqua function the way `fluence run` does, from a client peer.

The compiled AIR asks its init peer (the client) for the arguments and the relay through `getDataSrv`, returns
its result with `callbackSrv.response` and reports an uncaught error with `errorHandlingSrv.error`; this module
answers those calls, drives the network until the answer arrives or the TTL passes, and raises AquaCallError
for errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from fluence_dao.aqua import AquaFunction
from fluence_dao.errors import AquaCallError
from fluence_dao.peer.builtins import CallContext
from fluence_dao.peer.calls import LocalHandler, ParticleHooks
from fluence_dao.peer.node import Peer
from fluence_dao.peer.particle import DEFAULT_TTL_MS

_NO_RESULT = object()


class _PendingWork(Protocol):
    def has_pending_work(self) -> bool: ...


class ParticleNetwork(Protocol):
    """What `call_function` needs: `LocalNetwork` (peers in this process) or `remote.RemoteNetwork` (a daemon)."""

    @property
    def relay(self) -> Any: ...  # has `.peer_id`

    @property
    def peers(self) -> Sequence[_PendingWork]: ...

    @property
    def clients(self) -> Sequence[Peer]: ...

    def client(self) -> Peer: ...

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool: ...


def call_function(
    network: ParticleNetwork,
    function: AquaFunction,
    args: Sequence[Any] | Mapping[str, Any] = (),
    *,
    client: Peer | None = None,
    relay: str | None = None,
    ttl_ms: int = DEFAULT_TTL_MS,
) -> Any:
    """Run `function` with `args` on `network` from `client` (default: a new client peer) via `relay`.

    Returns the function's result: None for no result, the value for one, a list for several.
    """
    values = _bind(function, args)
    client = client or network.client()
    names = function.names
    relay_id = relay or network.relay.peer_id
    outcome: dict[str, Any] = {"result": _NO_RESULT, "error": None, "avm_error": None, "expired": False, "idle": False}

    def get_data(name: str) -> Any:
        def handler(call_args: list[Any], ctx: CallContext) -> Any:
            return values[name]

        return handler

    def response(call_args: list[Any], ctx: CallContext) -> None:
        outcome["result"] = call_args
        return None

    def error(call_args: list[Any], ctx: CallContext) -> None:
        outcome["error"] = call_args[0] if call_args else {"message": "unknown error"}
        return None

    handlers: dict[tuple[str, str], LocalHandler] = {(names["getDataSrv"], names["relay"]): lambda a, c: relay_id}
    for name in values:
        handlers[(names["getDataSrv"], name)] = get_data(name)
    handlers[(names["responseSrv"], names["responseFnName"])] = response
    handlers[(names["errorHandlingSrv"], names["errorFnName"])] = error

    expects_result = bool(function.return_types)
    hooks = ParticleHooks(
        handlers=handlers,
        on_error=lambda message: outcome.__setitem__("avm_error", message),
        on_expired=lambda: outcome.__setitem__("expired", True),
        on_idle=lambda: outcome.__setitem__("idle", True),
        # with the response in, the client's last invoke (feeding the response's empty result) is not needed
        finished=(lambda: outcome["result"] is not _NO_RESULT) if expects_result else None,
    )
    particle = client.initiate(function.script, ttl_ms=ttl_ms, hooks=hooks)

    def done() -> bool:
        if outcome["error"] is not None or outcome["avm_error"] is not None or outcome["expired"]:
            return True
        if expects_result:
            return outcome["result"] is not _NO_RESULT
        return outcome["idle"] and not any(p.has_pending_work() for p in [*network.peers, *network.clients])

    finished = network.run_until(done, ttl_ms / 1000.0 + 1.0)
    client.forget(particle.id)
    if outcome["error"] is not None:
        raise _call_error(function.name, outcome["error"])
    if outcome["avm_error"] is not None:
        raise AquaCallError(
            f"Aqua function {function.name!r} failed on the client: {outcome['avm_error']}",
            function=function.name,
            particle_id=particle.id,
        )
    if expects_result and outcome["result"] is _NO_RESULT:
        state = "expired" if outcome["expired"] or not finished else "ended"
        raise AquaCallError(
            f"Aqua function {function.name!r} got no response: the particle {state} after its TTL of {ttl_ms} ms "
            "(a peer on its path is unreachable or a call never answered)",
            function=function.name,
            particle_id=particle.id,
            ttl_ms=ttl_ms,
        )
    if not expects_result:
        return None
    result: list[Any] = outcome["result"]
    return result[0] if len(result) == 1 else result


def _bind(function: AquaFunction, args: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
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


def _call_error(function: str, error: Any) -> AquaCallError:
    """The error as a person reads it: AquaVM's wrapping of a service's answer (`error message is '"..."'`, JSON
    inside a string, once per re-raise) is unwrapped; `aqua_message` keeps AquaVM's text as it came."""
    from fluence_dao.peer.scheduler import error_text

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
