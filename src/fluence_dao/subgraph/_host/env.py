"""`abort`: AssemblyScript's abort (a failed assertion or an explicit `abort()` in the mapping)."""

from __future__ import annotations

from fluence_dao.subgraph._host._context import HostContext, HostFailure, HostFunction


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def abort(msg: int, file: int, line: int, col: int) -> None:
        h = ctx.h
        message = h.read_opt_string(msg)
        filename = h.read_opt_string(file)
        where = f"{filename}, line {line}, column {col}" if filename else "an unknown location"
        raise HostFailure("abort", f"Mapping aborted at {where}, with message: {message or 'no message'}")

    return {"abort": abort}
