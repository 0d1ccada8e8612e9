"""`sig`: sign (host and management peers only), verify, get_peer_id, with the peer's ed25519 key."""

from __future__ import annotations

from fluence_dao.peer.args import BYTES, arg
from fluence_dao.peer.calls import BuiltinService, CallContext, export
from fluence_dao.peer.particle import verify_signature
from fluence_dao.util.json_types import Args, JsonObject


class SigService(BuiltinService):
    service_id = "sig"

    @export()
    def get_peer_id(self, args: Args, ctx: CallContext) -> str:
        return ctx.peer.peer_id

    @export()
    def sign(self, args: Args, ctx: CallContext) -> JsonObject:
        data = bytes(arg(args, 0, "data", BYTES))
        if not ctx.peer.policy.is_privileged(ctx.init_peer_id):
            message = f"peer '{ctx.init_peer_id}' is not allowed to sign data on '{ctx.peer.peer_id}'"
            return {"success": False, "error": [message], "signature": []}
        return {"success": True, "error": [], "signature": [list(ctx.peer.key_pair.sign(data))]}

    @export()
    def verify(self, args: Args, ctx: CallContext) -> bool:
        signature = bytes(arg(args, 0, "signature", BYTES))
        data = bytes(arg(args, 1, "data", BYTES))
        return verify_signature(ctx.peer.peer_id, data, signature)
