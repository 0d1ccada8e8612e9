"""Byte layouts of lowering and lifting, checked against layouts written out by hand from marine-rs-sdk's
generated glue (record fields packed, strings/vectors as (ptr, len), vectors of strings as u32 pairs, vectors
of records as u32 pointers) on a plain bytearray standing in for guest memory."""

from __future__ import annotations

import struct

import pytest

from fluence_dao.errors import AbiError
from fluence_dao.marine import Lifter, Lowerer, MType, RecordField, RecordType, scalar_from_wasm, scalar_to_wasm

STRING = MType("Utf8String")
U64 = MType("U64")
INNER = RecordType("Inner", (RecordField("id", MType("U32")), RecordField("label", STRING)))
REC = RecordType(
    "Rec",
    (
        RecordField("flag", MType("Boolean")),
        RecordField("value", U64),
        RecordField("name", STRING),
        RecordField("inner", MType("Record", record="Inner")),
    ),
)
RECORDS = {"Inner": INNER, "Rec": REC}


class BumpMemory:
    """A bytearray with a bump allocator that records every allocate(count, tag) call."""

    def __init__(self, start: int = 1000, fail: bool = False) -> None:
        self.data = bytearray(1 << 16)
        self.next = start
        self.calls: list[tuple[int, int]] = []
        self.fail = fail

    def read(self, ptr: int, size: int) -> bytes:
        return bytes(self.data[ptr : ptr + size])

    def write(self, ptr: int, data: bytes) -> None:
        self.data[ptr : ptr + len(data)] = data

    def allocate(self, count: int, type_tag: int) -> int:
        self.calls.append((count, type_tag))
        if self.fail:
            return 0
        ptr = self.next
        self.next += 64 * max(count, 1)
        return ptr


def lowerer(mem: BumpMemory) -> Lowerer:
    return Lowerer(mem, RECORDS.__getitem__)


def test_record_is_packed_without_padding() -> None:
    mem = BumpMemory()
    value = {"flag": True, "value": 2**64 - 2, "name": "ab", "inner": {"id": 7, "label": ""}}
    ptr = lowerer(mem).lower_record(REC, value, "r")
    assert REC.size == 1 + 8 + 8 + 4
    raw = mem.read(ptr, REC.size)
    flag, value, name_ptr, name_len, inner_ptr = struct.unpack("<BQIII", raw)
    assert (flag, value, name_len) == (1, 2**64 - 2, 2)
    assert mem.read(name_ptr, 2) == b"ab"
    assert struct.unpack("<III", mem.read(inner_ptr, 12)) == (7, 0, 0)  # empty label is (0, 0)
    # string bytes and records are allocated as u8 buffers of their byte length
    assert mem.calls == [(2, 1), (12, 1), (21, 1)]


def test_vector_of_strings_is_a_table_of_u32_pairs() -> None:
    mem = BumpMemory()
    ptr, count = lowerer(mem).lower_sequence(MType("Vector", element=STRING), ["xy", "", "zzz"], "v")
    assert count == 3
    pairs = struct.unpack("<6I", mem.read(ptr, 24))
    assert pairs[2:4] == (0, 0)
    assert mem.read(pairs[0], pairs[1]) == b"xy" and mem.read(pairs[4], pairs[5]) == b"zzz"
    assert mem.calls[-1] == (6, 3)  # 2n u32 elements, as the guest rebuilds Vec<u32> of 2n


def test_vector_of_records_and_of_vectors() -> None:
    mem = BumpMemory()
    low = lowerer(mem)
    ptr, count = low.lower_sequence(MType("Vector", element=MType("Record", record="Inner")),
                                    [{"id": 1, "label": "a"}, {"id": 2, "label": "b"}], "v")  # fmt: skip
    assert count == 2 and mem.calls[-1] == (2, 3)
    record_ptrs = struct.unpack("<2I", mem.read(ptr, 8))
    assert [struct.unpack("<I", mem.read(p, 4))[0] for p in record_ptrs] == [1, 2]

    mem.calls.clear()
    nested = MType("Vector", element=MType("Vector", element=U64))
    ptr, count = low.lower_sequence(nested, [[1, 2], [3]], "m")
    assert mem.calls == [(2, 4), (1, 4), (4, 3)]  # u64 elements by count, then the pair table
    first_ptr, first_len, _second_ptr, second_len = struct.unpack("<4I", mem.read(ptr, 16))
    assert struct.unpack("<2Q", mem.read(first_ptr, 16)) == (1, 2) and (first_len, second_len) == (2, 1)
    lifted = Lifter(mem, RECORDS.__getitem__).lift_sequence(nested, ptr, count)
    assert lifted == [[1, 2], [3]]


def test_empty_values_are_zero_pairs_without_allocation() -> None:
    mem = BumpMemory()
    assert lowerer(mem).lower_sequence(STRING, "", "s") == (0, 0)
    assert lowerer(mem).lower_sequence(MType("Vector", element=STRING), [], "v") == (0, 0)
    assert lowerer(mem).lower_sequence(MType("Vector", element=MType("U8")), b"", "b") == (0, 0)
    assert mem.calls == []


def test_bools_in_vectors_are_bytes() -> None:
    mem = BumpMemory()
    ptr, count = lowerer(mem).lower_sequence(MType("Vector", element=MType("Boolean")), [True, False, True], "b")
    assert mem.read(ptr, count) == b"\x01\x00\x01" and mem.calls == [(3, 0)]


def test_lift_reads_hand_written_memory() -> None:
    mem = BumpMemory()
    mem.write(100, b"hi")
    mem.write(200, struct.pack("<I", 5) + struct.pack("<II", 100, 2))  # Inner {id: 5, label: "hi"}
    mem.write(300, struct.pack("<BQIII", 0, 9, 100, 2, 200))  # Rec
    assert Lifter(mem, RECORDS.__getitem__).lift_record(REC, 300) == {
        "flag": False,
        "value": 9,
        "name": "hi",
        "inner": {"id": 5, "label": "hi"},
    }
    mem.write(400, b"\xff\xfe")
    with pytest.raises(AbiError, match="UTF-8"):
        Lifter(mem, RECORDS.__getitem__).lift_sequence(STRING, 400, 2)


@pytest.mark.parametrize(
    ("kind", "value"),
    [("U8", 256), ("U8", -1), ("I8", 128), ("U32", 2**32), ("I64", 2**63), ("U64", -1), ("U16", 1.5)],
)
def test_out_of_range_or_wrong_type_scalars_are_refused(kind: str, value: object) -> None:
    with pytest.raises(AbiError, match="where"):
        lowerer(BumpMemory()).lower(MType(kind), value, "where")


def test_wrong_shapes_name_the_offending_part() -> None:
    low = lowerer(BumpMemory())
    with pytest.raises(AbiError, match="missing field 'name'"):
        low.lower_record(REC, {"flag": True, "value": 1, "inner": {"id": 1, "label": ""}}, "arg")
    with pytest.raises(AbiError, match="no field 'extra'"):
        low.lower_record(REC, {"flag": True, "value": 1, "name": "", "inner": {"id": 1, "label": ""}, "extra": 1}, "a")
    with pytest.raises(AbiError, match=r"arg.inner.id"):
        low.lower_record(REC, {"flag": True, "value": 1, "name": "", "inner": {"id": -1, "label": ""}}, "arg")
    with pytest.raises(AbiError, match="expected bool"):
        low.lower(MType("Boolean"), 1, "b")
    with pytest.raises(AbiError, match="UTF-8"):
        low.lower(STRING, "lone surrogate \ud800", "s")
    with pytest.raises(AbiError, match="expected str"):
        low.lower(STRING, b"bytes", "s")
    with pytest.raises(AbiError, match=r"v\[1\]"):
        low.lower_sequence(MType("Vector", element=STRING), ["ok", 3], "v")


def test_guest_out_of_memory_is_an_abi_error() -> None:
    with pytest.raises(AbiError, match="out of memory"):
        lowerer(BumpMemory(fail=True)).lower(STRING, "x", "arg")


def test_scalar_wasm_conversions() -> None:
    assert scalar_to_wasm(MType("U32"), 2**32 - 1) == -1
    assert scalar_to_wasm(U64, 2**64 - 1) == -1
    assert scalar_from_wasm(MType("U32"), -1) == 2**32 - 1
    assert scalar_from_wasm(MType("I8"), 0xFF) == -1
    assert scalar_from_wasm(MType("U8"), -1) == 255
    assert scalar_from_wasm(MType("Boolean"), 2) is True
