"""`stat`: service_stat (call counts and times the peer collected) and service_memory."""

from __future__ import annotations

from fluence_dao.peer.args import STR, arg
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.peer.services import stats_to_aqua
from fluence_dao.util.json_types import Args, JsonObject


class StatService(BuiltinService):
    service_id = "stat"

    @export()
    def service_stat(self, args: Args, ctx: CallContext) -> JsonObject:
        record = ctx.peer.services.require(arg(args, 0, "service_id", STR))
        total = record.stats.get("__total__")
        if total is None:
            return {"status": False, "error": f"No stats were collected for the `{record.id}` service", "result": []}
        functions: list[JsonObject] = [
            {"name": name, "stats": stats_to_aqua(entry)} for name, entry in record.stats.items() if name != "__total__"
        ]
        return {
            "status": True,
            "error": "",
            "result": [{"total_stats": stats_to_aqua(total), "functions_stats": functions}],
        }

    @export()
    def service_memory(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        record = ctx.peer.services.require(arg(args, 0, "service_id", STR))
        memory = getattr(record.service, "memory_stats", None)
        if memory is None:
            raise BuiltinError(f"Error: memory statistics are not available for service {record.id}")
        return list(memory())
