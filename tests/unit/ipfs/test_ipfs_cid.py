from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import CID

from fluence_dao.errors import InvalidCidError
from fluence_dao.ipfs import Cid, b58decode, b58encode, decode_varint, encode_varint

V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
V1 = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"


def test_parse_and_print_match_multiformats() -> None:
    for text in (V0, V1, "bafyreiei4lbqnhivzp7dg46kldn6lwv3pqdooeycnsrskejs5ro25k3lxm"):
        ours = Cid.parse(text)
        ref = CID.decode(text)
        assert str(ours) == str(ref)
        assert ours.to_bytes() == bytes(ref)
        assert ours.version == ref.version and ours.codec == ref.codec.code
        assert Cid.from_bytes(ours.to_bytes()) == ours


def test_v0_to_v1_and_other_bases() -> None:
    cid = Cid.parse(V0)
    v1 = cid.to_v1()
    assert str(v1) == str(CID.decode(V0).set(version=1, base="base32"))
    assert Cid.parse(v1.encode("base58btc")) == v1
    assert Cid.parse(v1.encode("base16")) == v1
    assert Cid.parse(str(v1).upper()) == v1


@given(st.binary(max_size=300))
def test_for_data_hashes_with_sha256(data: bytes) -> None:
    cid = Cid.for_data(data)
    assert cid.digest == hashlib.sha256(data).digest()
    assert cid.verify(data)
    assert not cid.verify(data + b"x")
    assert str(cid) == str(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(data).digest())))


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varint_round_trip(value: int) -> None:
    raw = encode_varint(value)
    assert decode_varint(raw) == (value, len(raw))


@given(st.binary(max_size=64))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data


@pytest.mark.parametrize(
    "bad",
    ["", "Qm123", "bafy!!!", "xyz", V0[:-1] + "0", "zzzz", "b" + "a" * 10, V1[:-4]],
)
def test_invalid_cids_are_named(bad: str) -> None:
    with pytest.raises(InvalidCidError) as info:
        Cid.parse(bad)
    assert repr(bad) in info.value.message or bad == ""
    assert isinstance(info.value, ValueError)


def test_non_minimal_varint_rejected() -> None:
    with pytest.raises(ValueError, match="non-minimal"):
        decode_varint(b"\x81\x00")
