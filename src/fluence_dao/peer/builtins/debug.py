"""`debug.stringify` and `run-console.print` (logged, as nox does)."""

from __future__ import annotations

import logging

from fluence_dao.peer.builtins.json_ import stringify
from fluence_dao.peer.calls import BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args

logger = logging.getLogger("fluence_dao.peer.console")


class DebugService(BuiltinService):
    service_id = "debug"

    @export()
    def stringify(self, args: Args, ctx: CallContext) -> str:
        if not args:
            return '"<empty argument list>"'
        return stringify(args[0] if len(args) == 1 else args)


MAX_LOGGED = 500  # characters of one `print` that reach the log: anyone may call it, the log is on disk


class ConsoleService(BuiltinService):
    service_id = "run-console"

    @export()
    def print(self, args: Args, ctx: CallContext) -> None:
        text = stringify(args)  # JSON: a caller's newlines cannot forge log lines
        logger.info("%s %s", ctx.particle.id, text if len(text) <= MAX_LOGGED else text[:MAX_LOGGED] + "...")
        ctx.peer.console.append(args[0] if len(args) == 1 else args)
        return None
