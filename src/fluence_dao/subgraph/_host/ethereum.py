"""`ethereum.*`: contract calls at the trigger's block, ABI encode/decode, balances and code."""

from __future__ import annotations

import logging
import struct

from eth_hash.auto import keccak

from fluence_dao.errors import RpcUnavailableError
from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._abi_types import (
    eth_value_from_python,
    eth_value_to_python,
    eth_value_type,
    parse_call_signature,
    parse_type,
)
from fluence_dao.subgraph._host._context import HostContext, HostFunction
from fluence_dao.subgraph._rpc import RpcError, hex_bytes, hex_int

log = logging.getLogger(__name__)


def _call(ctx: HostContext, p: int) -> int:
    import eth_abi.abi as eth_abi

    h = ctx.h
    # SmartContractCall {contractName, contractAddress, functionName, functionSignature, functionArgs}
    _name_ptr, address_ptr, fn_name_ptr, signature_ptr, args_ptr = struct.unpack("<5I", h.read(p, 20))
    address = "0x" + h.read_bytes(address_ptr).hex()
    signature = h.read_string(signature_ptr) if signature_ptr else h.read_string(fn_name_ptr)
    name, inputs, outputs = parse_call_signature(signature)
    args = [eth_value_to_python(h.read_eth_value(a)) for a in h.read_array_ptrs(args_ptr)]
    selector = keccak(f"{name}({','.join(t.canonical() for t in inputs)})".encode())[:4]
    calldata = selector + eth_abi.encode([t.canonical() for t in inputs], args)
    block = ctx.block_number
    try:
        result = ctx.rpc.call("eth_call", {"to": address, "data": "0x" + calldata.hex()}, hex(block))
    except RpcError as err:
        if err.details.get("code") != 3 and "revert" not in err.message.lower():
            raise RpcUnavailableError(
                f"ethereum.call {signature} on {address} at block {block}: {err.message}"
            ) from err
        log.info("ethereum.call %s on %s reverted: %s", signature, address, err)
        return 0  # a revert: graph-ts `tryCall` sees null, `call` aborts
    raw = hex_bytes(result)
    if not raw and outputs:
        return 0
    decoded = eth_abi.decode([t.canonical() for t in outputs], raw)
    h = ctx.h  # the RPC did not run the guest, but keep to the rule: re-read the heap after leaving it
    values = [h.new_eth_value(eth_value_from_python(t, v)) for t, v in zip(outputs, decoded, strict=True)]
    return h.new_array_ptrs(A.IDX_ARRAY_ETHEREUM_VALUE, values)


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def call(p: int) -> int:
        return _call(ctx, p)

    def encode(p: int) -> int:
        import eth_abi.abi as eth_abi

        h = ctx.h
        value = h.read_eth_value(p)
        try:
            data = eth_abi.encode([eth_value_type(value)], [eth_value_to_python(value)])
        except Exception:  # graph-node returns null when encoding fails
            return 0
        return h.new_bytes(data)

    def decode(types: int, data: int) -> int:
        import eth_abi.abi as eth_abi

        h = ctx.h
        type_text = h.read_string(types)
        try:
            t = parse_type(type_text)
            decoded = eth_abi.decode([t.canonical()], h.read_bytes(data))[0]
            value = eth_value_from_python(t, decoded)
        except Exception:  # graph-node returns null when decoding fails
            return 0
        return h.new_eth_value(value)

    def get_balance(p: int) -> int:
        h = ctx.h
        address = "0x" + h.read_bytes(p).hex()
        return h.new_bigint(hex_int(ctx.rpc.call("eth_getBalance", address, hex(ctx.block_number))))

    def has_code(p: int) -> int:
        h = ctx.h
        address = "0x" + h.read_bytes(p).hex()
        code = ctx.rpc.call("eth_getCode", address, hex(ctx.block_number))
        return h.new_wrapped(A.IDX_WRAPPED_BOOL, 1 if code not in (None, "0x", "0x0") else 0)

    return {
        "ethereum.call": call,
        "ethereum.encode": encode,
        "ethereum.decode": decode,
        "ethereum.getBalance": get_balance,
        "ethereum.hasCode": has_code,
    }
