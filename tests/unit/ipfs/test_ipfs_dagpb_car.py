from __future__ import annotations

import io
from pathlib import Path

import pytest

from fluence_dao.errors import BlockCorruptedError, CarError, IpldCodecError
from fluence_dao.ipfs import (
    Cid,
    LocalIpfs,
    PBLink,
    PBNode,
    decode_node,
    decode_unixfs,
    encode_node,
    read_car,
    write_car,
)

EMPTY_DIR = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"  # Kubo's well-known empty directory


def test_empty_directory_cid(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    node = LocalIpfs(tmp_path / "repo", fsync=False)
    entries = node.add_path(tmp_path / "empty")
    assert [(e.name, str(e.cid), e.size) for e in entries] == [("empty", EMPTY_DIR, 4)]


def test_links_come_before_data_on_the_wire() -> None:
    child = Cid.for_data(b"x", 0x55)
    raw = encode_node(PBNode((PBLink(child, "a", 3),), b"\x08\x01"))
    assert raw[0] == 0x12 and raw[-4:] == b"\x0a\x02\x08\x01"
    assert decode_node(raw) == PBNode((PBLink(child, "a", 3),), b"\x08\x01")


@pytest.mark.parametrize(
    "bad",
    ["0a0108" + "12", "0a02080112", "1a00", "0a0208010a020801", "120212340a00"],
)
def test_invalid_dag_pb_rejected(bad: str) -> None:
    with pytest.raises(IpldCodecError):
        decode_node(bytes.fromhex(bad))


def test_unixfs_requires_a_type() -> None:
    with pytest.raises(IpldCodecError):
        decode_unixfs(bytes.fromhex("1800"))


def test_car_round_trip_between_repos(tmp_path: Path) -> None:
    source = LocalIpfs(tmp_path / "a", fsync=False)
    entry = source.add_bytes(bytes(range(256)) * 3000)
    root = source.dag_put({"file": entry.cid, "n": 1})
    buffer = io.BytesIO()
    source.dag_export(root, buffer)
    target = LocalIpfs(tmp_path / "b", fsync=False)
    assert target.dag_import(io.BytesIO(buffer.getvalue())) == [root]
    assert target.dag_get(f"{root}/n") == 1
    assert target.cat(f"{root}/file") == bytes(range(256)) * 3000
    assert target.pin_ls(type="recursive") == {root: "recursive"}
    assert {c.multihash for c in target.store.all_cids()} == {c.multihash for c in source.store.all_cids()}


def test_car_import_verifies_each_block(tmp_path: Path) -> None:
    good = Cid.for_data(b"good")
    buffer = io.BytesIO()
    write_car([good], [(good, b"good"), (Cid.for_data(b"x"), b"tampered")], buffer)
    roots, blocks = read_car(io.BytesIO(buffer.getvalue()))
    assert roots == [good]
    assert next(blocks) == (good, b"good")
    with pytest.raises(BlockCorruptedError):
        next(blocks)
    node = LocalIpfs(tmp_path / "r", fsync=False)
    with pytest.raises(BlockCorruptedError):
        node.dag_import(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("bad", [b"", b"\x05abc", b"\x0a" + b"\xa1\x61\x61\x01" + b"\x00" * 6])
def test_not_a_car(bad: bytes) -> None:
    with pytest.raises(CarError):
        read_car(io.BytesIO(bad))


def test_car_v2_is_refused_by_name() -> None:
    from fluence_dao.ipfs import encode_dag_cbor

    header = encode_dag_cbor({"roots": [], "version": 2})
    with pytest.raises(CarError, match="version 2"):
        read_car(io.BytesIO(bytes([len(header)]) + header))
