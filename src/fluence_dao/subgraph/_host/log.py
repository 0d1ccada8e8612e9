"""`log.log`: mapping log lines on `fluence_dao.subgraph` loggers; level 0 (critical) fails the handler."""

from __future__ import annotations

import logging

from fluence_dao.subgraph._host._context import HostContext, HostFailure, HostFunction

log = logging.getLogger("fluence_dao.subgraph.mapping")

_LOG_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def log_log(level: int, msg: int) -> None:
        text = ctx.h.read_string(msg)
        log.log(_LOG_LEVELS.get(level, logging.INFO), "[%s] %s", ctx.mapping.name, text)
        if level == 0:
            raise HostFailure("log.log", f"Critical error logged in mapping with log message: {text}")

    return {"log.log": log_log}
