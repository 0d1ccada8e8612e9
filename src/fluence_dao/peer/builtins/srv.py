"""`srv`: create, remove, list, add_alias, resolve_alias(_opt), get_interface, info (nox semantics)."""

from __future__ import annotations

from fluence_dao.peer.args import STR, arg
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonObject


class SrvService(BuiltinService):
    service_id = "srv"

    @export()
    def create(self, args: Args, ctx: CallContext) -> str:
        blueprint_id = arg(args, 0, "blueprint_id", STR)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.create_service(blueprint_id, ctx.init_peer_id)

    @export()
    def remove(self, args: Args, ctx: CallContext) -> None:
        target = arg(args, 0, "service_id_or_alias", STR)
        ctx.peer.services.remove_service(target, ctx.init_peer_id)

    @export("list")
    def list_services(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return [rec.to_aqua(ctx.peer.peer_id) for rec in list(ctx.peer.services.services.values())]

    @export()
    def add_alias(self, args: Args, ctx: CallContext) -> None:
        alias = arg(args, 0, "alias", STR)
        service_id = arg(args, 1, "service_id", STR)
        ctx.peer.services.add_alias(alias, service_id, ctx.init_peer_id)

    @export()
    def resolve_alias(self, args: Args, ctx: CallContext) -> str:
        alias = arg(args, 0, "alias", STR)
        service_id = ctx.peer.services.aliases.get(alias)
        if service_id is None:
            raise BuiltinError(f"Error: Service with alias '{alias}' is not found on worker 'Host'")
        return service_id

    @export()
    def resolve_alias_opt(self, args: Args, ctx: CallContext) -> list[str]:
        service_id = ctx.peer.services.aliases.get(arg(args, 0, "alias", STR))
        return [service_id] if service_id else []

    @export()
    def get_interface(self, args: Args, ctx: CallContext) -> JsonObject:
        return ctx.peer.services.interface(arg(args, 0, "service_id", STR))

    @export()
    def info(self, args: Args, ctx: CallContext) -> JsonObject:
        return ctx.peer.services.require(arg(args, 0, "service_id_or_alias", STR)).to_aqua(ctx.peer.peer_id)
