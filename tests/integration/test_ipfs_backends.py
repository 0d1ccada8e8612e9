"""One suite, two backends: the embedded store directly, and KuboClient -> KuboServer on 127.0.0.1.

Both must behave alike: same CIDs, same bytes back, same error classes naming the CID.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fluence_dao.errors import BlockCorruptedError, BlockNotFoundError, InvalidCidError, IpfsError
from fluence_dao.ipfs import Cid, Ipfs, KuboClient, KuboServer, LocalIpfs

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "unixfs-cids.txt"


def _vector(content: str, mode: str) -> str:
    for line in VECTORS.read_text("utf-8").splitlines():
        if line.startswith("#") or "|" not in line:
            continue
        parts = [part.strip() for part in line.split("|")]
        if parts[0] == content and parts[1] == mode:
            return parts[2]
    raise LookupError(content)


def _lcg(n: int, seed: int) -> bytes:
    x, out = seed, bytearray(n)
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = x >> 24
    return bytes(out)


@dataclass
class Backend:
    ipfs: Ipfs
    node: LocalIpfs  # the store behind it, to damage files on disk


@pytest.fixture(params=["store", "kubo-client"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    node = LocalIpfs(tmp_path / "repo", fsync=False)
    if request.param == "store":
        yield Backend(node, node)
        return
    with KuboServer(node, auth_token="backend-test-token-0123456789") as server:
        client = KuboClient(server.url, timeout_s=20, api_token="backend-test-token-0123456789")
        try:
            yield Backend(client, node)
        finally:
            client.close()


def test_add_gives_kubo_cids_and_cat_gives_bytes_back(backend: Backend) -> None:
    ipfs = backend.ipfs
    hello = ipfs.add_bytes(b"hello world\n")
    assert str(hello.cid) == _vector("hello world\\n", "v0") and hello.size == 20
    assert ipfs.cat(hello.cid) == b"hello world\n"
    data = _lcg(262145, 1)
    v0 = ipfs.add_bytes(data)
    v1 = ipfs.add_bytes(data, cid_version=1, raw_leaves=True)
    assert str(v0.cid) == _vector("lcg 262145 bytes seed 1", "v0")
    assert str(v1.cid) == _vector("lcg 262145 bytes seed 1", "v1 raw-leaves")
    assert ipfs.cat(v0.cid) == data and ipfs.cat(f"/ipfs/{v1.cid}") == data
    assert ipfs.cat(v0.cid, offset=262140, length=4) == data[262140:262144]
    assert ipfs.cat(v0.cid, offset=10) == data[10:]


def test_add_stream_reports_progress(backend: Backend) -> None:
    data = os.urandom(700_000)
    seen: list[int] = []
    entry = backend.ipfs.add_stream(io.BytesIO(data), name="blob.bin", progress=seen.append)
    assert entry.name == "blob.bin"
    assert sum(seen) == len(data) and len(seen) >= 1
    assert backend.ipfs.cat(entry.cid) == data


def test_directories_add_resolve_and_get(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "bundle"
    (src / "sub").mkdir(parents=True)
    (src / "module.wasm").write_bytes(b"\0asm" + os.urandom(300_000))
    (src / "sub" / "config.json").write_text('{"a": 1}')
    (src / ".hidden").write_text("not added")
    entries = backend.ipfs.add_path(src)
    assert [e.name for e in entries] == ["bundle/module.wasm", "bundle/sub/config.json", "bundle/sub", "bundle"]
    root = entries[-1].cid
    assert backend.ipfs.cat(f"{root}/sub/config.json") == b'{"a": 1}'
    with pytest.raises(IpfsError, match="no link named"):
        backend.ipfs.cat(f"{root}/.hidden")
    backend.ipfs.get(root, tmp_path / "out")
    assert (tmp_path / "out" / "module.wasm").read_bytes() == (src / "module.wasm").read_bytes()
    assert (tmp_path / "out" / "sub" / "config.json").read_text() == '{"a": 1}'
    assert not (tmp_path / "out" / ".hidden").exists()
    backend.ipfs.get(f"{root}/module.wasm", tmp_path / "single.wasm")
    assert (tmp_path / "single.wasm").read_bytes() == (src / "module.wasm").read_bytes()
    assert backend.ipfs.pin_ls(type="recursive") == {root: "recursive"}


def test_blocks(backend: Backend) -> None:
    ipfs = backend.ipfs
    stat = ipfs.block_put(b"raw bytes")
    assert stat.cid == Cid.for_data(b"raw bytes") and stat.size == 9
    assert ipfs.block_get(stat.cid) == b"raw bytes"
    assert ipfs.block_stat(stat.cid).size == 9
    cbor = ipfs.block_put(b"\xa1\x61\x61\x01", codec="dag-cbor")
    assert cbor.cid.codec_name == "dag-cbor"
    assert ipfs.dag_get(cbor.cid) == {"a": 1}
    ipfs.block_rm(stat.cid)
    with pytest.raises(BlockNotFoundError) as info:
        ipfs.block_get(stat.cid)
    assert str(stat.cid) in info.value.message and info.value.details["cid"] == str(stat.cid)


def test_corrupted_block_fails_naming_the_cid(backend: Backend) -> None:
    entry = backend.ipfs.add_bytes(b"precious module bytes")
    backend.node.store.path_of(entry.cid).write_bytes(b"evil module bytes")
    with pytest.raises(BlockCorruptedError) as info:
        backend.ipfs.cat(entry.cid)
    assert str(entry.cid) in info.value.message
    with pytest.raises(BlockCorruptedError):
        backend.ipfs.block_get(entry.cid)


def test_deleted_block_fails_naming_the_cid(backend: Backend) -> None:
    entry = backend.ipfs.add_bytes(b"will vanish")
    backend.node.store.path_of(entry.cid).unlink()
    with pytest.raises(BlockNotFoundError) as info:
        backend.ipfs.cat(entry.cid)
    assert str(entry.cid) in info.value.message


def test_dag_put_get_with_paths(backend: Backend) -> None:
    ipfs = backend.ipfs
    leaf = ipfs.dag_put({"value": 42, "bytes": b"\x00\x01", "f": 1.25})
    middle = ipfs.dag_put({"items": [leaf, {"inline": True}]}, store_codec="dag-json")
    root = ipfs.dag_put({"a": {"b": [middle]}, "name": "tree"}, pin=True)
    assert root.codec_name == "dag-cbor" and middle.codec_name == "dag-json"
    assert ipfs.dag_get(f"{root}/a/b/0/items/0/value") == 42
    assert ipfs.dag_get(f"{root}/a/b/0/items/0") == {"value": 42, "bytes": b"\x00\x01", "f": 1.25}
    assert ipfs.dag_get(f"{root}/a/b/0/items/1/inline") is True
    assert ipfs.dag_get(root)["a"]["b"] == [middle]
    with pytest.raises(IpfsError, match="nope"):
        ipfs.dag_get(f"{root}/a/nope")
    file_entry = ipfs.add_bytes(b"x" * 10)
    model = ipfs.dag_get(file_entry.cid)
    assert model["Links"] == [] and model["Data"].startswith(b"\x08\x02")
    assert set(ipfs.pin_ls(type="indirect")) >= {middle, leaf}


def test_car_export_import(backend: Backend, tmp_path: Path) -> None:
    ipfs = backend.ipfs
    entry = ipfs.add_bytes(os.urandom(600_000), cid_version=1)
    root = ipfs.dag_put({"file": entry.cid})
    car = io.BytesIO()
    ipfs.dag_export(root, car)
    other = LocalIpfs(tmp_path / "other", fsync=False)
    assert other.dag_import(io.BytesIO(car.getvalue())) == [root]
    assert other.cat(entry.cid) == ipfs.cat(entry.cid)
    fresh = LocalIpfs(tmp_path / "third", fsync=False)
    fresh_root = fresh.dag_put({"n": 7})
    car2 = io.BytesIO()
    fresh.dag_export(fresh_root, car2)
    assert ipfs.dag_import(io.BytesIO(car2.getvalue())) == [fresh_root]
    assert ipfs.dag_get(f"{fresh_root}/n") == 7
    assert fresh_root in ipfs.pin_ls(type="recursive")


def test_pins_and_gc(backend: Backend) -> None:
    ipfs = backend.ipfs
    kept = ipfs.add_bytes(b"kept")
    loose = ipfs.add_bytes(b"loose", pin=False)
    direct = ipfs.block_put(b"direct")
    assert ipfs.pin_add(direct.cid, recursive=False) == [direct.cid]
    assert ipfs.pin_ls() == {kept.cid: "recursive", direct.cid: "direct"}
    assert ipfs.pin_ls(kept.cid) == {kept.cid: "recursive"}
    removed = ipfs.repo_gc()
    assert {cid.multihash for cid in removed} == {loose.cid.multihash}
    with pytest.raises(BlockNotFoundError):
        ipfs.cat(loose.cid)
    assert ipfs.cat(kept.cid) == b"kept"
    assert ipfs.pin_rm(kept.cid) == [kept.cid]
    with pytest.raises(IpfsError, match="not pinned"):
        ipfs.pin_rm(kept.cid)
    assert {c.multihash for c in ipfs.repo_gc()} == {kept.cid.multihash}


def test_node_info(backend: Backend) -> None:
    assert {"ID", "AgentVersion", "Addresses"} <= set(backend.ipfs.id())
    assert backend.ipfs.version()["Version"]


def test_invalid_cid_is_named(backend: Backend) -> None:
    with pytest.raises(InvalidCidError, match="not-a-cid"):
        backend.ipfs.block_get("not-a-cid")
