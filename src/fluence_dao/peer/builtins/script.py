"""`script`: add, remove, list (the 2021 scheduler; see fluence_dao.peer.scheduler for the semantics)."""

from __future__ import annotations

import time
from typing import Any

from fluence_dao.peer.builtins._base import BuiltinError, BuiltinService, CallContext, Function, arg, opt


class ScriptService(BuiltinService):
    service_id = "script"

    def functions(self) -> dict[str, Function]:
        return {"add": self.add, "remove": self.remove, "list": self.list_scripts, "runs": self.runs}

    def add(self, args: list[Any], ctx: CallContext) -> str:
        air = arg(args, 0, "script", str)
        raw = opt(args, 1, "interval_sec", (str, int, float), "Option<String>")
        interval: float | None = None
        if raw is not None and raw != "":
            try:
                interval = float(raw)
            except ValueError as err:
                raise BuiltinError(f"Error: interval {raw!r} is not a number of seconds") from err
            if interval <= 0:
                raise BuiltinError(f"Error: interval must be positive, got {raw!r}")
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        ctx.peer.check_air(air)
        return ctx.peer.scheduler.add(air, ctx.init_peer_id, interval, time.monotonic())

    def remove(self, args: list[Any], ctx: CallContext) -> bool:
        script_id = arg(args, 0, "uuid", str)
        script = ctx.peer.scheduler.get(script_id)
        if script is None:
            return False
        ctx.peer.policy.guard_owner(ctx.init_peer_id, script.owner, "remove_script", "script")
        return ctx.peer.scheduler.remove(script_id)

    def list_scripts(self, args: list[Any], ctx: CallContext) -> list[dict[str, Any]]:
        return [s.to_aqua() for s in ctx.peer.scheduler.scripts()]

    def runs(self, args: list[Any], ctx: CallContext) -> list[dict[str, Any]]:
        """The script's recent runs, oldest first (fluence-dao's addition to the 2021 interface)."""
        script = ctx.peer.scheduler.get(arg(args, 0, "script_id", str))
        if script is None:
            raise BuiltinError(f"Error: script {args[0]!r} not found")
        return [run.to_aqua() for run in list(script.history)]
