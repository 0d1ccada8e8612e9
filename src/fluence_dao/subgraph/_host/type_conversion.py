"""`typeConversion.*`: bytes, strings, hex, base58 and BigInt text, as graph-node converts them."""

from __future__ import annotations

from fluence_dao.subgraph._host._context import HostContext, HostFunction
from fluence_dao.subgraph._rpc import hex_bytes


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def bytes_to_string(p: int) -> int:
        h = ctx.h
        return h.new_string(h.read_bytes(p).decode("utf-8", errors="replace").rstrip("\x00"))

    def bytes_to_hex(p: int) -> int:
        h = ctx.h
        return h.new_string("0x" + h.read_bytes(p).hex())

    def big_int_to_string(p: int) -> int:
        h = ctx.h
        return h.new_string(str(h.read_bigint(p)))

    def big_int_to_hex(p: int) -> int:
        h = ctx.h
        # graph-node prints the magnitude (no sign), without leading zeros; zero is "0x0".
        return h.new_string("0x" + format(abs(h.read_bigint(p)), "x"))

    def string_to_h160(p: int) -> int:
        h = ctx.h
        text = h.read_string(p)
        raw = hex_bytes(text)
        if len(raw) != 20:
            raise ValueError(f"Failed to convert string to Address: '{text}'")
        return h.new_bytes(raw)

    def bytes_to_base58(p: int) -> int:
        import base58

        h = ctx.h
        return h.new_string(base58.b58encode(h.read_bytes(p)).decode())

    return {
        "typeConversion.bytesToString": bytes_to_string,
        "typeConversion.bytesToHex": bytes_to_hex,
        "typeConversion.bigIntToString": big_int_to_string,
        "typeConversion.bigIntToHex": big_int_to_hex,
        "typeConversion.stringToH160": string_to_h160,
        "typeConversion.bytesToBase58": bytes_to_base58,
    }
