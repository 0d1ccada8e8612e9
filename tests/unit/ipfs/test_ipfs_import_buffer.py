"""import_buffer (no-copy import from memory) against import_file, the framed dag-pb leaves against the generic
encoder, and the block writer taking memoryviews."""

from __future__ import annotations

import fcntl
import io
import os
from pathlib import Path

import pytest
from ipfs_lcg import lcg_bytes

from fluence_dao.errors import IpfsError
from fluence_dao.ipfs import (
    DAG_PB,
    FILE,
    RAW,
    BlockStore,
    Cid,
    ImportOptions,
    LocalIpfs,
    PBNode,
    UnixFSData,
    encode_node,
    encode_unixfs,
    import_buffer,
    import_file,
    iter_file,
)

LAYOUTS = [
    pytest.param(ImportOptions(), id="v0"),
    pytest.param(ImportOptions(cid_version=1, raw_leaves=True), id="v1-raw"),
    pytest.param(ImportOptions(cid_version=1, raw_leaves=False), id="v1-dagpb"),
    pytest.param(ImportOptions(cid_version=0, raw_leaves=True), id="v0-raw"),
    pytest.param(ImportOptions(chunk_size=1000, max_links=5), id="v0-small-chunks"),
    pytest.param(ImportOptions(cid_version=1, chunk_size=999, max_links=3), id="v1-small-chunks"),
]
SIZES = [0, 1, 12, 999, 1000, 1001, 262143, 262144, 262145, 1_000_000]


@pytest.mark.parametrize("options", LAYOUTS)
@pytest.mark.parametrize("size", SIZES)
def test_same_blocks_as_import_file(options: ImportOptions, size: int) -> None:
    data = lcg_bytes(size, 11)
    from_stream: dict[Cid, bytes] = {}
    from_buffer: dict[Cid, bytes | memoryview] = {}
    expected = import_file(io.BytesIO(data), from_stream.__setitem__, options)
    got = import_buffer(data, from_buffer.__setitem__, options)
    assert got == expected
    assert {cid: bytes(block) for cid, block in from_buffer.items()} == from_stream
    assert all(cid.verify(block) for cid, block in from_buffer.items())
    assert b"".join(iter_file(got.cid, from_buffer.__getitem__)) == data  # type: ignore[arg-type]


def test_vectors_from_the_fixture_file() -> None:
    """Two vectors of tests/fixtures/unixfs-cids.txt through import_buffer (the rest go through import_file)."""
    data = lcg_bytes(1_000_000, 7)
    assert str(import_buffer(data, lambda c, b: None).cid) == "QmaeuFX9XjVCseNEdP3piNJp6E7u7XYoWkqdFJqke693cB"
    v1 = import_buffer(data, lambda c, b: None, ImportOptions(cid_version=1))
    assert str(v1.cid) == "bafybeih4ekuuj237u2rt2mtqhjiv6yhbyikbwwxyls3lq6s4nhoqk2u35m"


def test_raw_leaves_are_read_only_views_of_the_input() -> None:
    data = lcg_bytes(600_000, 3)
    blocks: dict[Cid, bytes | memoryview] = {}
    import_buffer(data, blocks.__setitem__, ImportOptions(cid_version=1))
    leaves = [block for cid, block in blocks.items() if cid.codec == RAW]
    assert len(leaves) == 3
    for leaf in leaves:
        assert isinstance(leaf, memoryview) and leaf.readonly and leaf.obj is data


def test_a_mutable_buffer_is_copied_first() -> None:
    data = bytearray(lcg_bytes(300_000, 5))
    blocks: dict[Cid, bytes | memoryview] = {}
    root = import_buffer(data, blocks.__setitem__, ImportOptions(cid_version=1))
    data[:10] = b"\0" * 10
    assert all(cid.verify(block) for cid, block in blocks.items())
    assert b"".join(iter_file(root.cid, blocks.__getitem__)) != bytes(data)  # type: ignore[arg-type]


def test_progress_counts_every_byte() -> None:
    seen: list[int] = []
    import_buffer(lcg_bytes(700_000, 2), lambda c, b: None, progress=seen.append)
    assert seen == [262144, 262144, 700_000 - 2 * 262144]


@pytest.mark.parametrize("size", [1, 2, 100, 127, 128, 129, 16_380, 16_384, 262_144, 2_097_151, 2_097_152])
def test_framed_leaf_equals_the_generic_encoder(size: int) -> None:
    chunk = lcg_bytes(size, size)
    blocks: list[bytes] = []
    # one chunk of a chunk-size file is its own root: the leaf the importer frames around it is the only block
    import_buffer(chunk, lambda cid, block: blocks.append(bytes(block)), ImportOptions(chunk_size=size))
    generic = encode_node(PBNode((), encode_unixfs(UnixFSData(FILE, data=chunk, filesize=size))))
    assert blocks == [generic]


def test_trusted_cid_equals_a_checked_one() -> None:
    checked = Cid.for_data(b"abc", DAG_PB, 0)
    trusted = Cid.trusted(0, DAG_PB, checked.multihash)
    assert trusted == checked and hash(trusted) == hash(checked) and str(trusted) == str(checked)
    assert {checked: 1}[trusted] == 1


def test_block_writer_takes_views_and_holds_the_repo_lock_until_closed(tmp_path: Path) -> None:
    store = BlockStore(tmp_path / "repo", fsync=False)
    data = lcg_bytes(800_000, 8)
    with store.writer(workers=2, max_pending=2) as sink:
        root = import_buffer(data, sink, ImportOptions(cid_version=1))
        # what gc would need is refused meanwhile
        with open(tmp_path / "repo" / "repo.lock", "rb") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "repo" / "repo.lock", "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by close()
        fcntl.flock(other, fcntl.LOCK_UN)
    assert b"".join(iter_file(root.cid, store.get)) == data
    with pytest.raises(IpfsError, match="closed"):
        sink(Cid.for_data(b"late"), b"late")


def test_block_writer_releases_the_lock_when_the_import_fails(tmp_path: Path) -> None:
    store = BlockStore(tmp_path / "repo", fsync=False)
    with pytest.raises(RuntimeError), store.writer() as sink:
        sink(Cid.for_data(b"one"), b"one")
        raise RuntimeError("import failed halfway")
    with open(tmp_path / "repo" / "repo.lock", "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_shard_directory_removed_behind_the_store_is_made_again(tmp_path: Path) -> None:
    store = BlockStore(tmp_path / "repo", fsync=False)
    first = store.put(b"first")
    shard = store.path_of(first).parent
    for entry in shard.iterdir():
        entry.unlink()
    shard.rmdir()
    second = Cid(1, RAW, first.multihash)
    store.put_block(second, b"first")
    assert store.get(second) == b"first"
    assert not [p for p in shard.iterdir() if p.name.startswith(".tmp-")]


def test_local_ipfs_add_bytes_equals_add_stream(tmp_path: Path) -> None:
    node = LocalIpfs(tmp_path / "repo", fsync=False)
    data = os.urandom(600_000)
    for version in (0, 1):
        from_bytes = node.add_bytes(data, cid_version=version)
        from_stream = node.add_stream(io.BytesIO(data), cid_version=version)
        assert from_bytes == from_stream
        assert node.cat(from_bytes.cid) == data
