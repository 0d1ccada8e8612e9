"""`dist`: modules and blueprints (nox semantics; content-addressed by CIDv1 raw sha2-256 like nox).

`make_module_config` takes 8 arguments (2021 aqua-lib: name, mem_pages_count, logger_enabled, preopened_files,
envs, mapped_dirs, mounted_binaries, logging_mask) or 9 (current: `max_heap_size` added as the 3rd).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, Function, arg, opt
from fluence_dao.peer.services import Blueprint, normalize_module_config, unopt_pairs
from fluence_dao.util.json_types import Args, JsonObject


def _config_arg(args: Args, index: int) -> JsonObject:
    config: JsonObject = arg(args, index, "config", dict, "NamedModuleConfig")
    if not isinstance(config.get("name"), str):
        raise BuiltinError(
            "Error: Error deserializing field 'config': expected NamedModuleConfig with a string `name`, "
            f"got {config!r}"
        )
    return config


class DistService(BuiltinService):
    service_id = "dist"

    def functions(self) -> dict[str, Function]:
        return {
            "add_module": self.add_module,
            "add_module_from_vault": self.add_module_from_vault,
            "add_module_bytes_from_vault": self.add_module_bytes_from_vault,
            "add_blueprint": self.add_blueprint,
            "make_blueprint": self.make_blueprint,
            "load_blueprint": self.load_blueprint,
            "make_module_config": self.make_module_config,
            "default_module_config": self.default_module_config,
            "list_modules": lambda args, ctx: ctx.peer.services.list_modules(),
            "get_module_interface": self.get_module_interface,
            "list_blueprints": lambda args, ctx: ctx.peer.services.list_blueprints(),
            "get_blueprint": self.get_blueprint,
        }

    def add_module(self, args: Args, ctx: CallContext) -> str:
        encoded = args[0] if args else None
        if isinstance(encoded, list):  # Aqua `[]u8`
            wasm = bytes(arg(args, 0, "module_bytes", "u8list"))
        else:
            text = arg(args, 0, "module_bytes", str)
            try:
                wasm = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as err:
                raise BuiltinError(f"Error: Error while decoding module bytes from base64: {err}") from err
        config = _config_arg(args, 1)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(wasm, config)

    def add_module_from_vault(self, args: Args, ctx: CallContext) -> str:
        path = arg(args, 0, "module_path", str)
        config = _config_arg(args, 1)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(ctx.peer.vault.read_bytes(ctx.particle, path), config)

    def add_module_bytes_from_vault(self, args: Args, ctx: CallContext) -> str:
        name = arg(args, 0, "module_name", str)
        path = arg(args, 1, "module_path", str)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_module(ctx.peer.vault.read_bytes(ctx.particle, path), {"name": name})

    def add_blueprint(self, args: Args, ctx: CallContext) -> str:
        if not args:
            raise BuiltinError(
                "Error: Field 'blueprint' is missing from args to call_service\nMissingField(\"blueprint\")"
            )
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.services.add_blueprint(args[0])

    def make_blueprint(self, args: Args, ctx: CallContext) -> str:
        name = arg(args, 0, "name", str)
        deps = arg(args, 1, "dependencies", "strlist")
        return ctx.peer.services.make_blueprint(name, deps)

    def load_blueprint(self, args: Args, ctx: CallContext) -> str:
        from fluence_dao.peer.services import decode_blueprint, encode_blueprint

        path = arg(args, 0, "blueprint_path", str)
        name, deps = decode_blueprint(ctx.peer.vault.read_bytes(ctx.particle, path).decode("utf-8", "replace"))
        return encode_blueprint(name, deps)

    def make_module_config(self, args: Args, ctx: CallContext) -> JsonObject:
        name = arg(args, 0, "name", str)
        opt(args, 1, "mem_pages_count", "u32")
        offset = 1 if len(args) >= 9 else 0
        heap = opt(args, 2, "max_heap_size", str) if offset else None
        logger_enabled = opt(args, 2 + offset, "logger_enabled", bool)
        opt(args, 3 + offset, "preopened_files", "strlist")
        config = {
            "name": name,
            "max_heap_size": heap,
            "logger_enabled": logger_enabled,
            "envs": _pairs_arg(args, 4 + offset, "envs"),
            "mapped_dirs": _pairs_arg(args, 5 + offset, "mapped_dirs"),
            "mounted_binaries": _pairs_arg(args, 6 + offset, "mounted_binaries"),
            "logging_mask": opt(args, 7 + offset, "logging_mask", int),
        }
        return normalize_module_config(config)

    def default_module_config(self, args: Args, ctx: CallContext) -> JsonObject:
        return normalize_module_config({"name": arg(args, 0, "module_name", str)})

    def get_module_interface(self, args: Args, ctx: CallContext) -> JsonObject:
        return ctx.peer.services.module_interface(arg(args, 0, "hex_hash", str))

    def get_blueprint(self, args: Args, ctx: CallContext) -> Blueprint:
        return ctx.peer.services.get_blueprint(arg(args, 0, "blueprint_id", str))


def _pairs_arg(args: Args, index: int, field_name: str) -> Any:
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
