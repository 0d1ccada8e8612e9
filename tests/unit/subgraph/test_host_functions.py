"""graph-node host functions as the runner implements them, called directly on a real wasmtime memory."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from fluence_dao.subgraph import (
    BigDecimal,
    EntitySchema,
    HostContext,
    HostFailure,
    Mapping,
    Store,
    bind,
    host_functions,
)
from fluence_dao.subgraph import asc as A


@pytest.fixture
def host(bump_heap: Any) -> tuple[dict[str, Any], A.AscHeap, HostContext]:
    """Host functions over a real instance's memory (a bump allocator: no mapping wasm needed)."""
    heap = bump_heap(lambda index: index, pages=2)
    mapping = Mapping("ethereum", "test", "anvil", "", (0, 0, 9), Path("test.wasm"), {}, [])
    ctx = HostContext(mapping, EntitySchema({}, {}, ""), Store(":memory:"), None, {}, heap=heap)
    ctx.address = b"\x22" * 20
    ctx.block_number = 1
    return host_functions(ctx), heap, ctx


def test_bigint_semantics_follow_rust(host: Any) -> None:
    table, heap, _ = host

    def op(name: str, x: int, y: int) -> int:
        return heap.read_bigint(table[name](heap.new_bigint(x), heap.new_bigint(y)))

    assert op("bigInt.dividedBy", -7, 2) == -3  # truncation toward zero, like num-bigint
    assert op("bigInt.mod", -7, 2) == -1
    assert op("bigInt.times", 2**128, -(2**128)) == -(2**256)
    assert heap.read_bigint(table["bigInt.pow"](heap.new_bigint(10), 30)) == 10**30
    assert heap.read_bigint(table["bigInt.rightShift"](heap.new_bigint(-5), 1)) == -3
    with pytest.raises(ValueError, match="divide BigInt `1` by zero"):
        table["bigInt.dividedBy"](heap.new_bigint(1), heap.new_bigint(0))
    assert heap.read_string(table["typeConversion.bigIntToHex"](heap.new_bigint(255))) == "0xff"
    assert heap.read_string(table["typeConversion.bigIntToHex"](heap.new_bigint(0))) == "0x0"
    assert heap.read_string(table["typeConversion.bigIntToString"](heap.new_bigint(-(2**70)))) == str(-(2**70))
    assert (
        heap.read_bigint(table["bigInt.fromString"](heap.new_string("-123456789012345678901234567890")))
        == -123456789012345678901234567890
    )


def test_bigdecimal_functions(host: Any) -> None:
    table, heap, _ = host
    third = table["bigDecimal.dividedBy"](
        heap.new_bigdecimal(BigDecimal.parse("1")), heap.new_bigdecimal(BigDecimal.parse("3"))
    )
    assert heap.read_string(table["bigDecimal.toString"](third)) == "0." + "3" * 34
    parsed = table["bigDecimal.fromString"](heap.new_string("1.2300"))
    assert heap.read_bigdecimal(parsed) == BigDecimal(123, -2)
    by_decimal = table["bigInt.dividedByDecimal"](heap.new_bigint(3), heap.new_bigdecimal(BigDecimal.parse("0.5")))
    assert str(heap.read_bigdecimal(by_decimal)) == "6"
    assert (
        table["bigDecimal.equals"](
            heap.new_bigdecimal(BigDecimal.parse("1.0")), heap.new_bigdecimal(BigDecimal.parse("1"))
        )
        == 1
    )


def test_conversions_crypto_and_abi(host: Any) -> None:
    import eth_abi.abi as eth_abi

    table, heap, _ = host
    assert heap.read_string(table["typeConversion.bytesToString"](heap.new_bytes("ünï\0\0".encode()))) == "ünï"
    assert heap.read_string(table["typeConversion.bytesToHex"](heap.new_bytes(b"\x01\xab"))) == "0x01ab"
    # Base58 of the sha2-256 multihash of "hello" -> its well-known CIDv0.
    import hashlib

    multihash = b"\x12\x20" + hashlib.sha256(b"hello").digest()
    assert heap.read_string(table["typeConversion.bytesToBase58"](heap.new_bytes(multihash))).startswith("Qm")
    empty = table["crypto.keccak256"](heap.new_bytes(b""))
    assert heap.read_bytes(empty).hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    with pytest.raises(ValueError, match="Failed to convert string to Address"):
        table["typeConversion.stringToH160"](heap.new_string("0x1234"))
    value = (A.EV_TUPLE, [(A.EV_STRING, "ünï"), (A.EV_UINT, 2**200), (A.EV_ARRAY, [(A.EV_ADDRESS, b"\x11" * 20)])])
    encoded = heap.read_bytes(table["ethereum.encode"](heap.new_eth_value(value)))
    assert encoded == eth_abi.encode(["(string,uint256,address[])"], [("ünï", 2**200, ["0x" + "11" * 20])])
    decoded = table["ethereum.decode"](heap.new_string("(string,uint256,address[])"), heap.new_bytes(encoded))
    assert heap.read_eth_value(decoded) == value
    assert table["ethereum.decode"](heap.new_string("(string)"), heap.new_bytes(b"\x01")) == 0  # null on failure


def test_json_and_data_source(host: Any) -> None:
    table, heap, _ = host
    ptr = table["json.fromBytes"](heap.new_bytes(b'{"a": [1, 2.5e3, "x"], "b": null}'))
    kind, payload = heap.read_enum(ptr)
    assert kind == A.JV_OBJECT
    (entries_ptr,) = struct.unpack("<I", heap.read(payload, 4))
    entries = heap.read_array_ptrs(entries_ptr)
    key_ptr, value_ptr = struct.unpack("<II", heap.read(entries[0], 8))
    assert heap.read_string(key_ptr) == "a"
    items = heap.read_array_ptrs(heap.read_enum(value_ptr)[1])
    numbers = [heap.read_string(heap.read_enum(p)[1]) for p in items[:2]]
    assert numbers == ["1", "2.5e3"]  # JSON numbers keep their source text, as graph-ts expects
    result = table["json.try_fromBytes"](heap.new_bytes(b"{nope"))
    value_ptr, error_ptr = struct.unpack("<II", heap.read(result, 8))
    assert value_ptr == 0 and heap.u32(error_ptr) == 1
    assert table["json.toI64"](heap.new_string("-42")) == -42
    assert heap.read_bytes(table["dataSource.address"]()) == b"\x22" * 20
    assert table["dataSource.context"]() == 0


def test_unsupported_and_critical(host: Any) -> None:
    table, heap, ctx = host
    assert "ipfs.cat" not in table
    wrapped = bind(ctx, table, "ipfs.cat")
    with pytest.raises(HostFailure, match=r"unsupported host function ipfs\.cat"):
        wrapped(0)
    with pytest.raises(HostFailure, match="Critical error logged in mapping with log message: boom"):
        table["log.log"](0, heap.new_string("boom"))


def test_rpc_outage_in_ethereum_call_is_not_a_mapping_failure(host: Any) -> None:
    """A dead endpoint (a real closed port) surfaces as RpcUnavailableError, so the block is retried later
    instead of failing the subgraph."""
    from fluence_dao.errors import RpcUnavailableError
    from fluence_dao.subgraph import EthRpc
    from fluence_dao.util.net import free_port

    table, heap, ctx = host
    ctx.rpc = EthRpc(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    call = struct.pack(
        "<5I",
        heap.new_string("Vault"),
        heap.new_bytes(b"\x33" * 20),
        heap.new_string("total"),
        heap.new_string("total():(uint256)"),
        heap.new_array_ptrs(A.IDX_ARRAY_ETHEREUM_VALUE, []),
    )
    ptr = heap.new(22, call)  # SmartContractCall
    wrapped = bind(ctx, table, "ethereum.call")
    with pytest.raises(RpcUnavailableError):
        wrapped(ptr)
