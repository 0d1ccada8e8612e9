"""`trust-graph` answering as a one-peer network: no certificates, no weights, nothing to revoke.

Results keep the shapes of fluencelabs/trust-graph's Aqua API ({success, error, ...}) so callers that
check `success` behave as they would against a fresh nox with an empty trust graph.
"""

from __future__ import annotations

from fluence_dao.peer.calls import BuiltinService, CallContext, Function
from fluence_dao.util.json_types import Args, JsonObject


def _certs(args: Args, ctx: CallContext) -> JsonObject:
    return {"success": True, "certificates": [], "error": ""}


def _weight(args: Args, ctx: CallContext) -> JsonObject:
    peer_id = args[0] if args and isinstance(args[0], str) else ""
    return {"success": True, "weight": 0, "peer_id": peer_id, "error": ""}


def _unsupported(name: str) -> Function:
    def call(args: Args, ctx: CallContext) -> JsonObject:
        return {"success": False, "error": f"trust-graph.{name} is not supported by this one-peer network"}

    return call


class TrustGraphService(BuiltinService):
    service_id = "trust-graph"

    def functions(self) -> dict[str, Function]:
        return {
            "get_all_certs": _certs,
            "get_all_certs_from": _certs,
            "get_host_certs": _certs,
            "get_host_certs_from": _certs,
            "get_weight": _weight,
            "get_weight_from": _weight,
            "get_revocations": lambda args, ctx: {"success": True, "revocations": [], "error": ""},
            "add_root": _unsupported("add_root"),
            "set_root": _unsupported("set_root"),
            "add_trust": _unsupported("add_trust"),
            "insert_cert": _unsupported("insert_cert"),
            "revoke": _unsupported("revoke"),
        }
