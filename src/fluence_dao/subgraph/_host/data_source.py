"""`dataSource.*`: the running data source (address, network, context) and new ones from templates."""

from __future__ import annotations

from fluence_dao.subgraph._host._context import HostContext, HostFunction
from fluence_dao.subgraph._store import decode_value, encode_value
from fluence_dao.util.json_types import JsonObject


def _create(ctx: HostContext, name: str, params: list[str], context: JsonObject | None) -> None:
    if name not in ctx.templates:
        raise ValueError(
            f"Failed to create data source from name `{name}`: No template with this name in parent data source "
            f"`{ctx.mapping.name}`. Available names: {', '.join(ctx.templates)}."
        )
    if not params:
        raise ValueError(f"data source template `{name}` needs an address parameter")
    ctx.state.created.append((name, params[0].lower(), context))


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def create(name: int, params: int) -> None:
        h = ctx.h
        _create(ctx, h.read_string(name), h.read_string_array(params), None)

    def create_with_context(name: int, params: int, context: int) -> None:
        h = ctx.h
        entries = h.read_entity(context)
        _create(ctx, h.read_string(name), h.read_string_array(params), {k: encode_value(v) for k, v in entries.items()})

    def address() -> int:
        return ctx.h.new_bytes(ctx.address)

    def network() -> int:
        return ctx.h.new_string(ctx.mapping.network)

    def context() -> int:
        if ctx.context is None:
            return 0
        return ctx.h.new_entity({k: decode_value(v) for k, v in ctx.context.items()})

    return {
        "dataSource.create": create,
        "dataSource.createWithContext": create_with_context,
        "dataSource.address": address,
        "dataSource.network": network,
        "dataSource.context": context,
    }
