"""DAG-CBOR and DAG-JSON, checked against the `dag-cbor` package as an oracle."""

from __future__ import annotations

import math

import dag_cbor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID

from fluence_dao.errors import IpldCodecError
from fluence_dao.ipfs import Cid, decode_dag_cbor, decode_dag_json, encode_dag_cbor, encode_dag_json

cids = st.builds(lambda data, codec: Cid.for_data(data, codec), st.binary(max_size=8), st.sampled_from([0x55, 0x71]))
cids_v0 = st.builds(lambda data: Cid.for_data(data, 0x70, 0), st.binary(max_size=8))
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | cids
    | cids_v0
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=15,
)


def to_oracle(value: object) -> object:
    if isinstance(value, Cid):
        return CID.decode(value.to_bytes())
    if isinstance(value, list):
        return [to_oracle(item) for item in value]
    if isinstance(value, dict):
        return {key: to_oracle(item) for key, item in value.items()}
    return value


@settings(max_examples=60, deadline=None)
@given(values)
def test_dag_cbor_round_trip_and_equals_oracle(value: object) -> None:
    encoded = encode_dag_cbor(value)
    assert encoded == dag_cbor.encode(to_oracle(value))
    assert decode_dag_cbor(encoded) == value
    assert to_oracle(decode_dag_cbor(encoded)) == dag_cbor.decode(encoded)


@settings(max_examples=60, deadline=None)
@given(values)
def test_dag_json_round_trip(value: object) -> None:
    encoded = encode_dag_json(value)
    assert decode_dag_json(encoded) == value
    assert encode_dag_json(decode_dag_json(encoded)) == encoded


@settings(max_examples=100, deadline=None)
@given(values, st.data())
def test_mutated_cbor_accepted_iff_oracle_accepts(value: object, data: st.DataObject) -> None:
    encoded = bytearray(encode_dag_cbor(value))
    index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[index] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        oracle = dag_cbor.decode(bytes(encoded))
    except KeyError:
        # The oracle looks codes up in its multicodec table; CIDs with codes it does not know are valid
        # DAG-CBOR (Kubo accepts them too), so only the CBOR rules are compared here.
        return
    except Exception:
        oracle = IpldCodecError
    try:
        ours = decode_dag_cbor(bytes(encoded))
    except IpldCodecError:
        ours = IpldCodecError
    if oracle is IpldCodecError or ours is IpldCodecError:
        assert ours is oracle
    else:
        assert to_oracle(ours) == oracle


NON_CANONICAL = {
    "unsorted keys": "a2616201616101",
    "keys sorted bytewise, not length first": "a262616101616202",
    "duplicate key": "a2616101616102",
    "non-minimal int": "1801",
    "non-minimal length": "5801ff",
    "indefinite array": "9fff",
    "indefinite map": "bfff",
    "float16": "f93c00",
    "float32": "fa3fc00000",
    "NaN": "fb7ff8000000000000",
    "Infinity": "fb7ff0000000000000",
    "undefined": "f7",
    "tag other than 42": "c101",
    "CID without 0x00 prefix": "d82a4401020304",
    "integer map key": "a10101",
    "trailing bytes": "0100",
    "invalid UTF-8": "62c328",
    "truncated": "8201",
}


@pytest.mark.parametrize("hex_input", list(NON_CANONICAL.values()), ids=list(NON_CANONICAL))
def test_non_canonical_cbor_is_rejected(hex_input: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the oracle must reject it too
        dag_cbor.decode(bytes.fromhex(hex_input))
    with pytest.raises(IpldCodecError):
        decode_dag_cbor(bytes.fromhex(hex_input))


def test_cbor_cid_encoding_is_tag_42_with_zero_prefix() -> None:
    cid = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    assert encode_dag_cbor(cid) == b"\xd8\x2a\x58\x23\x00" + cid.to_bytes()


@pytest.mark.parametrize("bad", [float("nan"), math.inf, 2**64, -(2**64) - 1, {1: 2}, object()])
def test_unencodable_values(bad: object) -> None:
    with pytest.raises(IpldCodecError):
        encode_dag_cbor(bad)


def test_dag_json_forms() -> None:
    cid = Cid.parse("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
    value = {"z": 1, "a": [cid, b"\x00\xff"], "é": None}
    text = encode_dag_json(value)
    assert text == (
        b'{"a":[{"/":"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"},{"/":{"bytes":"AP8"}}],'
        b'"z":1,"\xc3\xa9":null}'
    )
    assert decode_dag_json(text) == value


@pytest.mark.parametrize("bad", ['{"a":1,"a":2}', '{"/":"notacid"}', "NaN", "[1,", '{"/":{"bytes":"!!"}}'])
def test_bad_dag_json_rejected(bad: str) -> None:
    with pytest.raises(IpldCodecError):
        decode_dag_json(bad)
