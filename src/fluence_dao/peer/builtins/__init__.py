"""Builtin services with nox's service ids, function names, argument/result shapes and error texts.

The registry is a plain dict `service id -> handler`; a handler is any object with
`call(function_name: str, args: list, ctx: CallContext) -> JSON value` (raise BuiltinError for a failed call,
return `Deferred` to answer later). Plug an extra builtin in with `Peer.register_builtin(service_id, handler)`
or `PeerConfig(extra_builtins={...})` (e.g. the `aqua-ipfs` service).
"""

from __future__ import annotations

from fluence_dao.peer.builtins.array import ArrayService
from fluence_dao.peer.builtins.cmp import CmpService
from fluence_dao.peer.builtins.debug import ConsoleService, DebugService
from fluence_dao.peer.builtins.dist import DistService
from fluence_dao.peer.builtins.json_ import JsonService
from fluence_dao.peer.builtins.kad import KademliaService
from fluence_dao.peer.builtins.math import MathService
from fluence_dao.peer.builtins.op import OpService
from fluence_dao.peer.builtins.peer import PeerService
from fluence_dao.peer.builtins.script import ScriptService
from fluence_dao.peer.builtins.sig import SigService
from fluence_dao.peer.builtins.spell import SpellService
from fluence_dao.peer.builtins.srv import SrvService
from fluence_dao.peer.builtins.stat import StatService
from fluence_dao.peer.builtins.trust_graph import TrustGraphService
from fluence_dao.peer.builtins.vault import VaultService
from fluence_dao.peer.calls import JSON_NULL, BuiltinError, BuiltinHandler, BuiltinService, CallContext, Deferred

BUILTIN_CLASSES: tuple[type[BuiltinService], ...] = (
    ArrayService,
    CmpService,
    ConsoleService,
    DebugService,
    DistService,
    JsonService,
    KademliaService,
    MathService,
    OpService,
    PeerService,
    ScriptService,
    SigService,
    SpellService,
    SrvService,
    StatService,
    TrustGraphService,
    VaultService,
)


def default_builtins() -> dict[str, BuiltinHandler]:
    """A fresh registry of every builtin service, keyed by nox's service id."""
    return {cls.service_id: cls() for cls in BUILTIN_CLASSES}


__all__ = [
    "BUILTIN_CLASSES",
    "JSON_NULL",
    "BuiltinError",
    "BuiltinHandler",
    "BuiltinService",
    "CallContext",
    "Deferred",
    "default_builtins",
]
