"""`vault`: put and cat in the particle vault (a directory per particle, removed when the particle expires)."""

from __future__ import annotations

from fluence_dao.peer.calls import BuiltinService, CallContext, Function, arg
from fluence_dao.util.json_types import Args


class VaultService(BuiltinService):
    service_id = "vault"

    def functions(self) -> dict[str, Function]:
        return {"put": self.put, "cat": self.cat}

    def put(self, args: Args, ctx: CallContext) -> str:
        return ctx.peer.vault.put(ctx.particle, arg(args, 0, "data", str).encode())

    def cat(self, args: Args, ctx: CallContext) -> str:
        return ctx.peer.vault.read_bytes(ctx.particle, arg(args, 0, "path", str)).decode("utf-8", "replace")
