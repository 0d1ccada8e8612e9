"""`vault`: put and cat in the particle vault (a directory per particle, removed when the particle expires)."""

from __future__ import annotations

from fluence_dao.peer.args import STR, arg
from fluence_dao.peer.calls import BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args


class VaultService(BuiltinService):
    service_id = "vault"

    @export()
    def put(self, args: Args, ctx: CallContext) -> str:
        return ctx.peer.vault.put(ctx.particle, arg(args, 0, "data", STR).encode())

    @export()
    def cat(self, args: Args, ctx: CallContext) -> str:
        return ctx.peer.vault.read_bytes(ctx.particle, arg(args, 0, "path", STR)).decode("utf-8", "replace")
