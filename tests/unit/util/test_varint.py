"""The one unsigned-varint implementation: round trips, known encodings, and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluence_dao.util.varint import decode_uvarint, encode_uvarint


@given(st.integers(min_value=0, max_value=2**63))
def test_round_trip(value: int) -> None:
    encoded = encode_uvarint(value)
    assert decode_uvarint(encoded + b"\xff", 0) == (value, len(encoded))
    assert decode_uvarint(b"\x00" + encoded, 1, minimal=True) == (value, len(encoded) + 1)


@pytest.mark.parametrize(("value", "encoded"), [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"),
                                                (0x0201, "8104"), (12857, "b964")])  # fmt: skip
def test_known_encodings(value: int, encoded: str) -> None:
    assert encode_uvarint(value).hex() == encoded  # 0x0201 is the particle multicodec prefix `81 04`


def test_refusals() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        encode_uvarint(-1)
    with pytest.raises(ValueError, match="truncated"):
        decode_uvarint(b"\x80\x80")
    with pytest.raises(ValueError, match="longer than 9"):
        decode_uvarint(b"\x80" * 9 + b"\x01", max_bytes=9)
    with pytest.raises(ValueError, match="non-minimal"):
        decode_uvarint(b"\x80\x00", minimal=True)
    assert decode_uvarint(b"\x80\x00") == (0, 2)  # wasm's LEB128 allows padding
