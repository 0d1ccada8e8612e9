"""BlockStore: verified reads, crash-safe writes, pins and garbage collection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluence_dao.errors import BlockCorruptedError, BlockNotFoundError, IpfsError
from fluence_dao.ipfs import DAG_CBOR, BlockStore, Cid, LocalIpfs, encode_dag_cbor


@pytest.fixture
def store(tmp_path: Path) -> BlockStore:
    return BlockStore(tmp_path / "repo", fsync=False)


def test_put_get_has_delete(store: BlockStore) -> None:
    cid = store.put(b"hello")
    assert cid == Cid.for_data(b"hello")
    assert store.has(cid) and store.get(cid) == b"hello" and store.size(cid) == 5
    store.delete(cid)
    assert not store.has(cid)
    with pytest.raises(BlockNotFoundError) as info:
        store.get(cid)
    assert str(cid) in info.value.message and info.value.details["cid"] == str(cid)


def test_blocks_are_keyed_by_multihash(store: BlockStore) -> None:
    raw = store.put(b"same bytes")
    as_cbor = Cid(1, DAG_CBOR, raw.multihash)
    assert store.get(as_cbor) == b"same bytes"
    assert list(store.all_cids()) == [raw]


def test_corrupted_block_is_named_never_served(store: BlockStore) -> None:
    cid = store.put(b"original content")
    path = store.path_of(cid)
    path.write_bytes(b"original contenT")
    with pytest.raises(BlockCorruptedError) as info:
        store.get(cid)
    assert str(cid) in info.value.message
    assert info.value.details["path"] == str(path)


def test_deleted_block_file_is_named(tmp_path: Path) -> None:
    node = LocalIpfs(tmp_path / "repo", fsync=False)
    entry = node.add_bytes(os.urandom(600_000))
    leaves = [cid for cid in node.store.all_cids() if cid.multihash != entry.cid.multihash]
    node.store.path_of(leaves[1]).unlink()
    with pytest.raises(BlockNotFoundError) as info:
        node.cat(entry.cid)
    assert leaves[1].multihash == Cid.parse(info.value.details["cid"]).multihash


def test_put_block_refuses_mismatched_data(store: BlockStore) -> None:
    cid = Cid.for_data(b"a")
    with pytest.raises(BlockCorruptedError):
        store.put_block(cid, b"b")
    assert not store.has(cid)


def test_half_written_temp_file_is_never_served(store: BlockStore) -> None:
    cid = Cid.for_data(b"block")
    path = store.path_of(cid)
    path.parent.mkdir(parents=True)
    (path.parent / ".tmp-crashed.part").write_bytes(b"blo")  # a writer died before its rename
    assert not store.has(cid)
    with pytest.raises(BlockNotFoundError):
        store.get(cid)
    store.put_block(cid, b"block")
    assert store.get(cid) == b"block"
    store.gc()
    assert not (path.parent / ".tmp-crashed.part").exists()


def test_identity_cids_need_no_storage(store: BlockStore) -> None:
    cid = Cid(1, 0x55, b"\x00\x03abc")
    assert store.has(cid) and store.get(cid) == b"abc"


def test_pins_and_gc(store: BlockStore) -> None:
    leaf = store.put(b"leaf")
    other = store.put(b"unpinned")
    direct = store.put(b"direct")
    root = store.put(encode_dag_cbor({"child": leaf}), DAG_CBOR)
    store.pin_add(root, recursive=True)
    store.pin_add(direct, recursive=False)
    assert store.pin_ls(type="recursive") == {root: "recursive"}
    assert store.pin_ls(type="direct") == {direct: "direct"}
    assert store.pin_ls()[leaf] == "indirect"
    removed = store.gc()
    assert [cid.multihash for cid in removed] == [other.multihash]
    assert store.has(leaf) and store.has(root) and store.has(direct) and not store.has(other)
    store.pin_rm(root)
    store.pin_rm(direct)
    assert store.pin_ls() == {}
    assert {cid.multihash for cid in store.gc()} == {leaf.multihash, root.multihash, direct.multihash}
    assert list(store.all_cids()) == []


def test_pin_needs_the_whole_dag(store: BlockStore) -> None:
    missing = Cid.for_data(b"never stored")
    root = store.put(encode_dag_cbor([missing]), DAG_CBOR)
    with pytest.raises(BlockNotFoundError) as info:
        store.pin_add(root)
    assert str(missing) in info.value.message
    assert store.pin_ls() == {}
    store.pin_add(root, recursive=False)
    assert store.pin_ls() == {root: "direct"}


def test_pin_errors(store: BlockStore) -> None:
    cid = store.put(b"x")
    with pytest.raises(IpfsError, match="not pinned"):
        store.pin_rm(cid)
    store.pin_add(cid)
    with pytest.raises(IpfsError, match="recursively"):
        store.pin_rm(cid, recursive=False)
    with pytest.raises(IpfsError, match="not pinned"):
        store.pin_ls(store.put(b"y"))


def test_pins_survive_reopening(tmp_path: Path) -> None:
    first = BlockStore(tmp_path / "r", fsync=False)
    cid = first.put(b"kept")
    first.pin_add(cid)
    second = BlockStore(tmp_path / "r", fsync=False)
    assert second.pin_ls() == {cid: "recursive"}
    assert second.gc() == []


def test_parallel_writer_reports_a_failed_write(store: BlockStore) -> None:
    good, bad = Cid.for_data(b"good"), Cid.for_data(b"bad")
    shard = store.path_of(bad).parent
    shard.parent.mkdir(parents=True, exist_ok=True)
    shard.write_bytes(b"a file where the shard directory should be")
    with pytest.raises(OSError), store.writer(workers=2, max_pending=2) as sink:
        sink(good, b"good")
        sink(bad, b"bad")
    if store.path_of(good).parent != shard:
        assert store.get(good) == b"good"


def test_parallel_writer_writes_everything(store: BlockStore) -> None:
    payloads = [os.urandom(1000) for _ in range(50)]
    with store.writer(workers=3, max_pending=4) as sink:
        for data in payloads:
            sink(Cid.for_data(data), data)
    assert all(store.get(Cid.for_data(data)) == data for data in payloads)


def test_gc_waits_for_an_add_in_progress(tmp_path: Path) -> None:
    import io
    import threading

    node = LocalIpfs(tmp_path / "repo", fsync=False)
    first_chunk_read = threading.Event()
    release = threading.Event()
    data = os.urandom(3 * 262144)

    class Paused(io.RawIOBase):
        pos = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.pos > 0:
                first_chunk_read.set()
                assert release.wait(10)
            piece = data[self.pos : self.pos + size]
            self.pos += len(piece)
            return piece

    added: list[Cid] = []
    adder = threading.Thread(target=lambda: added.append(node.add_stream(Paused()).cid))  # type: ignore[arg-type]
    adder.start()
    assert first_chunk_read.wait(10)
    collector = threading.Thread(target=node.repo_gc)
    collector.start()
    collector.join(0.2)
    assert collector.is_alive()  # blocked on the repo lock while the add holds it
    release.set()
    adder.join(10)
    collector.join(10)
    assert node.cat(added[0]) == data
