"""`script`: add, remove, list (the 2021 scheduler; see fluence_dao.peer.scheduler for the semantics), and runs.

`add(air, interval?, args?)`: `args` is fluence-dao's addition, an optional record whose fields answer the script's
`getDataSrv.<field>` calls in every run (a compiled Aqua function's arguments), so each script carries its own
settings. `runs(script_id)` lists the script's recent runs (also an addition to the 2021 interface).
"""

from __future__ import annotations

import time

from fluence_dao.peer.args import OBJECT, STR, Kind, arg, opt
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonObject

#: getDataSrv names the peer answers itself in a script's particles; an argument cannot take them over
RESERVED_ARGS = frozenset({"-relay-"})
_INTERVAL = Kind[str | int | float](
    "Option<String>", lambda v: isinstance(v, str | int | float) and not isinstance(v, bool)
)  # seconds, as text or a number


class ScriptService(BuiltinService):
    service_id = "script"

    @export()
    def add(self, args: Args, ctx: CallContext) -> str:
        air = arg(args, 0, "script", STR)
        raw = opt(args, 1, "interval_sec", _INTERVAL)
        run_args = opt(args, 2, "args", OBJECT, "Option<Map<String, Value>>") or {}
        interval: float | None = None
        if raw is not None and raw != "":
            try:
                interval = float(raw)
            except ValueError as err:
                raise BuiltinError(f"Error: interval {raw!r} is not a number of seconds") from err
            if not interval > 0 or interval == float("inf"):
                raise BuiltinError(f"Error: interval must be a positive number of seconds, got {raw!r}")
        reserved = sorted(RESERVED_ARGS & set(run_args))
        if reserved:
            raise BuiltinError(f"Error: script argument {reserved[0]!r} is reserved (the peer answers it)")
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        ctx.peer.check_air(air)
        return ctx.peer.scheduler.add(air, ctx.init_peer_id, interval, time.monotonic(), args=run_args)

    @export()
    def remove(self, args: Args, ctx: CallContext) -> bool:
        script_id = arg(args, 0, "uuid", STR)
        script = ctx.peer.scheduler.get(script_id)
        if script is None:
            return False
        ctx.peer.policy.guard_owner(ctx.init_peer_id, script.owner, "remove_script", "script")
        return ctx.peer.scheduler.remove(script_id)

    @export("list")
    def list_scripts(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return [s.to_aqua() for s in ctx.peer.scheduler.scripts()]

    @export()
    def runs(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        """The script's recent runs and skipped ranges, oldest first."""
        script_id = arg(args, 0, "script_id", STR)
        script = ctx.peer.scheduler.get(script_id)
        if script is None:
            raise BuiltinError(f"Error: script {script_id!r} not found")
        return [run.to_aqua() for run in list(script.history)]
