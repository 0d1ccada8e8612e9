"""`dist`: modules and blueprints (nox semantics; content-addressed by CIDv1 raw sha2-256 like nox).

`make_module_config` takes 8 arguments (2021 aqua-lib: name, mem_pages_count, logger_enabled, preopened_files,
envs, mapped_dirs, mounted_binaries, logging_mask) or 9 (current: `max_heap_size` added as the 3rd).
"""

from __future__ import annotations

import base64
import binascii
from typing import cast

from fluence_dao.peer.args import BOOL, BYTES, I64, OBJECT, STR, STRINGS, U32, arg, opt
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.peer.services import (
    decode_blueprint,
    encode_blueprint,
    normalize_module_config,
    unopt_pairs,
)
from fluence_dao.util.json_types import Args, JsonObject, JsonValue


def _config_arg(args: Args, index: int) -> JsonObject:
    config: JsonObject = arg(args, index, "config", OBJECT, "NamedModuleConfig")
    if not isinstance(config.get("name"), str):
        raise BuiltinError(
            "Error: Error deserializing field 'config': expected NamedModuleConfig with a string `name`, "
            f"got {config!r}"
        )
    return config


class DistService(BuiltinService):
    service_id = "dist"

    @export()
    def list_modules(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return ctx.peer.services.list_modules()

    @export()
    def list_blueprints(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return cast(list[JsonObject], ctx.peer.services.list_blueprints())  # Blueprint records are JSON objects

    @export()
    def add_module(self, args: Args, ctx: CallContext) -> str:
        encoded = args[0] if args else None
        if isinstance(encoded, list):  # Aqua `[]u8`
            wasm = bytes(arg(args, 0, "module_bytes", BYTES))
        else:
            text = arg(args, 0, "module_bytes", STR)
            try:
                wasm = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as err:
                raise BuiltinError(f"Error: Error while decoding module bytes from base64: {err}") from err
        config = _config_arg(args, 1)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(wasm, config)

    @export()
    def add_module_from_vault(self, args: Args, ctx: CallContext) -> str:
        path = arg(args, 0, "module_path", STR)
        config = _config_arg(args, 1)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(ctx.peer.vault.read_bytes(ctx.particle, path), config)

    @export()
    def add_module_bytes_from_vault(self, args: Args, ctx: CallContext) -> str:
        name = arg(args, 0, "module_name", STR)
        path = arg(args, 1, "module_path", STR)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(ctx.peer.vault.read_bytes(ctx.particle, path), {"name": name})

    @export()
    def add_blueprint(self, args: Args, ctx: CallContext) -> str:
        if not args:
            raise BuiltinError(
                "Error: Field 'blueprint' is missing from args to call_service\nMissingField(\"blueprint\")"
            )
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_blueprint(args[0])

    @export()
    def make_blueprint(self, args: Args, ctx: CallContext) -> str:
        name = arg(args, 0, "name", STR)
        deps = arg(args, 1, "dependencies", STRINGS)
        return ctx.peer.services.make_blueprint(name, deps)

    @export()
    def load_blueprint(self, args: Args, ctx: CallContext) -> str:
        path = arg(args, 0, "blueprint_path", STR)
        name, deps = decode_blueprint(ctx.peer.vault.read_bytes(ctx.particle, path).decode("utf-8", "replace"))
        return encode_blueprint(name, deps)

    @export()
    def make_module_config(self, args: Args, ctx: CallContext) -> JsonObject:
        name = arg(args, 0, "name", STR)
        opt(args, 1, "mem_pages_count", U32)
        offset = 1 if len(args) >= 9 else 0
        heap = opt(args, 2, "max_heap_size", STR) if offset else None
        logger_enabled = opt(args, 2 + offset, "logger_enabled", BOOL)
        opt(args, 3 + offset, "preopened_files", STRINGS)
        config: JsonObject = {
            "name": name,
            "max_heap_size": heap,
            "logger_enabled": logger_enabled,
            "envs": _pairs_arg(args, 4 + offset, "envs"),
            "mapped_dirs": _pairs_arg(args, 5 + offset, "mapped_dirs"),
            "mounted_binaries": _pairs_arg(args, 6 + offset, "mounted_binaries"),
            "logging_mask": opt(args, 7 + offset, "logging_mask", I64),
        }
        return normalize_module_config(config)

    @export()
    def default_module_config(self, args: Args, ctx: CallContext) -> JsonObject:
        return normalize_module_config({"name": arg(args, 0, "module_name", STR)})

    @export()
    def get_module_interface(self, args: Args, ctx: CallContext) -> JsonObject:
        return ctx.peer.services.module_interface(arg(args, 0, "hex_hash", STR))

    @export()
    def get_blueprint(self, args: Args, ctx: CallContext) -> JsonObject:
        blueprint = ctx.peer.services.get_blueprint(arg(args, 0, "blueprint_id", STR))
        return cast(JsonObject, blueprint)  # a Blueprint record is a JSON object


def _pairs_arg(args: Args, index: int, field_name: str) -> JsonValue:
    if index >= len(args) or args[index] is None:
        return None
    value = unopt_pairs(args[index])
    if isinstance(value, list) and not value:
        return None
    ok = isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in value
    )
    if not ok:
        raise BuiltinError(
            f"Error: Error deserializing field '{field_name}': expected Vec<Vec<String>> of [name, value] pairs, got {value!r}"
        )
    return value
