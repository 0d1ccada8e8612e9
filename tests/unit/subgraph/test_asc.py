"""AssemblyScript object layout in a real wasmtime memory: headers, alignment, and value round trips."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from fluence_dao.subgraph import BigDecimal
from fluence_dao.subgraph import asc as A


@pytest.fixture
def heap(bump_heap: Any) -> A.AscHeap:
    return bump_heap(lambda index: 1000 + index)


def test_header_layout(heap: A.AscHeap) -> None:
    ptr = heap.new_string("hé")
    assert heap.u32(ptr - 8) == 1000 + A.IDX_STRING  # rtId from id_of_type
    assert heap.u32(ptr - 4) == 4  # rtSize: payload bytes (UTF-16LE)
    mm_info = heap.u32(ptr - 20)
    assert (mm_info + 4) % 16 == 0  # header + payload padded to 16 bytes
    second = heap.new_string("x")
    assert (second - ptr) % 16 == 0 and second > ptr
    assert heap.read(ptr, 4) == "hé".encode("utf-16-le")


def test_round_trips(heap: A.AscHeap) -> None:
    assert heap.read_string(heap.new_string("Über ☕ 提案")) == "Über ☕ 提案"
    for value in (0, -1, 2**64 + 1, -(2**200)):
        assert heap.read_bigint(heap.new_bigint(value)) == value
    dec = BigDecimal.parse("-12.345")
    assert heap.read_bigdecimal(heap.new_bigdecimal(dec)) == dec
    entity = {
        "id": (A.SV_STRING, "1"),
        "n": (A.SV_INT, -5),
        "d": (A.SV_BIGDECIMAL, BigDecimal.parse("0.001")),
        "b": (A.SV_BOOL, True),
        "l": (A.SV_ARRAY, [(A.SV_STRING, "a"), (A.SV_BIGINT, 2**70)]),
        "x": (A.SV_BYTES, b"\x00\xff"),
        "i8": (A.SV_INT8, -(2**40)),
        "z": (A.SV_NULL, None),
    }
    assert heap.read_entity(heap.new_entity(entity)) == entity
    eth = (
        A.EV_TUPLE,
        [(A.EV_ADDRESS, b"\x11" * 20), (A.EV_UINT, 2**255), (A.EV_ARRAY, [(A.EV_STRING, "s"), (A.EV_BOOL, False)])],
    )
    assert heap.read_eth_value(heap.new_eth_value(eth)) == eth


def test_typed_array_layout(heap: A.AscHeap) -> None:
    ptr = heap.new_bytes(b"abc")
    buffer, data_start, length = struct.unpack("<III", heap.read(ptr, 12))
    assert buffer == data_start and length == 3 and heap.read(data_start, 3) == b"abc"
    assert heap.u32(ptr - 8) == 1000 + A.IDX_UINT8_ARRAY and heap.u32(buffer - 8) == 1000 + A.IDX_ARRAY_BUFFER


def test_null_and_bounds(heap: A.AscHeap) -> None:
    with pytest.raises(ValueError, match="null"):
        heap.read_string(0)
    with pytest.raises(ValueError, match="out of bounds"):
        heap.read(65530, 100)


def test_entity_objects_have_headers(heap: A.AscHeap) -> None:
    """Every object of an entity (entries, store values, their payloads) carries its rtId and a padded size."""
    entity = {
        "s": (A.SV_STRING, "ünï"),
        "b": (A.SV_BIGINT, -(2**70)),
        "x": (A.SV_BYTES, b"\x01" * 17),
        "i": (A.SV_INT, -1),
        "t": (A.SV_BOOL, False),
        "n": (A.SV_NULL, None),
        "l": (A.SV_ARRAY, [(A.SV_INT8, 2**40)]),
    }

    def check(ptr: int, index: int) -> None:
        assert heap.u32(ptr - 8) == 1000 + index
        assert (heap.u32(ptr - 20) + 4) % 16 == 0 and ptr % 16 == 0

    map_ptr = heap.new_entity(entity)
    check(map_ptr, A.IDX_TYPED_MAP_STRING_STORE_VALUE)
    for entry in heap.read_array_ptrs(heap.u32(map_ptr)):
        check(entry, A.IDX_TYPED_MAP_ENTRY_STRING_STORE_VALUE)
        key_ptr, value_ptr = struct.unpack("<II", heap.read(entry, 8))
        check(key_ptr, A.IDX_STRING)
        assert heap.read_string(key_ptr) in entity
        check(value_ptr, A.IDX_STORE_VALUE)
        kind, payload = heap.read_enum(value_ptr)
        if kind in (A.SV_BIGINT, A.SV_BYTES):
            check(payload, A.IDX_UINT8_ARRAY)
            check(heap.u32(payload), A.IDX_ARRAY_BUFFER)
        elif kind == A.SV_STRING:
            check(payload, A.IDX_STRING)
    assert heap.read_entity(map_ptr) == entity


def test_cached_objects_are_replayed_only_at_the_same_address(bump_heap: Any) -> None:
    def _fresh_heap() -> A.AscHeap:
        return bump_heap(lambda index: 1000 + index)

    cache: dict[Any, tuple[int, bytes, int]] = {}
    first = _fresh_heap()
    ptr = first.cached(cache, "k", lambda: first.new_bytes(b"block"))
    assert first.read_bytes(ptr) == b"block" and "k" in cache
    second = _fresh_heap()  # allocates exactly as the first did: the bytes are copied, not built
    assert second.cached(cache, "k", lambda: pytest.fail("built again")) == ptr
    assert second.read_bytes(ptr) == b"block"
    third = _fresh_heap()
    third.new_bytes(b"x" * 5000)  # something else first: another address, so it is built there
    moved = third.cached(cache, "k", lambda: third.new_bytes(b"block"))
    assert moved != ptr and third.read_bytes(moved) == b"block"
