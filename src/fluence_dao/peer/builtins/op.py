"""`op`: identity, noop, array, array_length, concat, concat_strings, base58 and sha256 helpers (nox semantics)."""

from __future__ import annotations

import hashlib

import base58

from fluence_dao.peer.args import BOOL, BYTES, STR, arg, opt
from fluence_dao.peer.calls import JSON_NULL, BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonArray


def _b58decode(text: str) -> bytes:
    try:
        return base58.b58decode(text)
    except ValueError as err:
        raise BuiltinError(f"Error: error decoding base58: {err}\nDecodeBase58({err!s})") from err


class OpService(BuiltinService):
    service_id = "op"

    @export()
    def noop(self, args: Args, ctx: CallContext) -> None:
        return None

    @export()
    def array(self, args: Args, ctx: CallContext) -> JsonArray:
        return list(args)

    @export()
    def identity(self, args: Args, ctx: CallContext) -> object:
        if len(args) > 1:
            raise BuiltinError(f"identity accepts up to 1 arguments, received {len(args)} arguments")
        if not args:
            return None
        return JSON_NULL if args[0] is None else args[0]

    @export()
    def array_length(self, args: Args, ctx: CallContext) -> int:
        if len(args) != 1:
            raise BuiltinError(f"op array_length accepts exactly 1 argument: {len(args)} found")
        if not isinstance(args[0], list):
            raise BuiltinError("op array_length's argument must be an array")
        return len(args[0])

    @export()
    def concat(self, args: Args, ctx: CallContext) -> JsonArray:
        out: JsonArray = []
        for index, value in enumerate(args):
            if not isinstance(value, list):
                raise BuiltinError(f"all arguments of 'concat' must be arrays: argument #{index} is not")
            out.extend(value)
        return out

    @export()
    def concat_strings(self, args: Args, ctx: CallContext) -> str:
        strings: list[str] = []
        for index, value in enumerate(args):
            if not isinstance(value, str):
                raise BuiltinError(f"all arguments of 'concat_strings' must be strings: argument #{index} is not")
            strings.append(value)
        return "".join(strings)

    @export()
    def string_to_b58(self, args: Args, ctx: CallContext) -> str:
        return base58.b58encode(arg(args, 0, "string", STR).encode()).decode()

    @export()
    def string_from_b58(self, args: Args, ctx: CallContext) -> str:
        raw = _b58decode(arg(args, 0, "b58_string", STR))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BuiltinError(f"Error: error decoding UTF8 string: {err}\nDecodeUTF8({err!s})") from err

    @export()
    def bytes_to_b58(self, args: Args, ctx: CallContext) -> str:
        return base58.b58encode(bytes(arg(args, 0, "bytes", BYTES))).decode()

    @export()
    def bytes_from_b58(self, args: Args, ctx: CallContext) -> list[int]:
        return list(_b58decode(arg(args, 0, "b58_string", STR)))

    @export()
    def sha256_string(self, args: Args, ctx: CallContext) -> list[int] | str:
        """sha256 multihash (0x12 0x20 || digest) as base58; `digest_only` and `as_bytes` flags as nox."""
        text = arg(args, 0, "string", STR)
        digest_only = opt(args, 1, "digest_only", BOOL)
        as_bytes = opt(args, 2, "as_bytes", BOOL)
        digest = hashlib.sha256(text.encode()).digest()
        out = digest if digest_only else bytes([0x12, 0x20]) + digest
        return list(out) if as_bytes else base58.b58encode(out).decode()
