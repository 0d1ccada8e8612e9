"""Every vector of tests/fixtures/unixfs-cids.txt (Kubo `ipfs add` CIDs), import and export."""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import pytest
from ipfs_lcg import lcg_bytes, lcg_bytes_slow

from fluence_dao.ipfs import Cid, ImportOptions, import_file, iter_file

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "unixfs-cids.txt"
SLOW_BYTES = 10_000_000


@functools.lru_cache(maxsize=2)
def _content(spec: str) -> bytes:
    if spec == "empty":
        return b""
    match = re.fullmatch(r"lcg (\d+) bytes seed (\d+)(?: \(.*\))?", spec)
    if match:
        return lcg_bytes(int(match[1]), int(match[2]))
    return spec.encode("utf-8").decode("unicode_escape").encode("latin-1")


def _vectors() -> list[object]:
    params = []
    for line in VECTORS.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        content, mode, cid = (part.strip() for part in line.split("|"))
        size = re.match(r"lcg (\d+)", content)
        marks = [pytest.mark.slow] if size and int(size[1]) > SLOW_BYTES else []
        params.append(pytest.param(content, mode, cid, marks=marks, id=f"{content[:28]}-{mode}"))
    return params


def test_fixture_is_the_shared_vector_file() -> None:
    shared = Path(__file__).resolve().parents[3].parent / "shared" / "vectors" / "unixfs-cids.txt"
    if shared.exists():
        assert VECTORS.read_text("utf-8") == shared.read_text("utf-8")
    assert len(_vectors()) == 12


def test_fast_lcg_equals_the_header_definition() -> None:
    assert lcg_bytes(200_000, 3, lanes=1024) == lcg_bytes_slow(200_000, 3)


@pytest.mark.parametrize(("content", "mode", "expected"), _vectors())
def test_vector(content: str, mode: str, expected: str) -> None:
    data = _content(content)
    options = ImportOptions(cid_version=1, raw_leaves=True) if mode.startswith("v1") else ImportOptions()
    blocks: dict[Cid, bytes] = {}
    root = import_file(io.BytesIO(data), blocks.__setitem__, options)
    assert str(root.cid) == expected
    assert root.filesize == len(data)
    assert b"".join(iter_file(root.cid, blocks.__getitem__)) == data
    chunks = max(1, -(-len(data) // 262144))
    parents = 0 if chunks == 1 else -(-chunks // 174) + (1 if chunks > 174 else 0)
    assert len(blocks) == len({hash(bytes(chunk)) for chunk in _chunks(data)}) + parents


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 262144] for i in range(0, len(data), 262144)] or [b""]


def test_short_reads_give_the_same_cid() -> None:
    data = lcg_bytes(600_000, 9)

    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.pos = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            piece = data[self.pos : self.pos + min(size, 1000)]
            self.pos += len(piece)
            return piece

    whole = import_file(io.BytesIO(data), lambda c, b: None)
    trickled = import_file(Trickle(), lambda c, b: None)  # type: ignore[arg-type]
    assert trickled.cid == whole.cid


def test_ranged_export() -> None:
    data = lcg_bytes(900_000, 4)
    blocks: dict[Cid, bytes] = {}
    root = import_file(io.BytesIO(data), blocks.__setitem__, ImportOptions(chunk_size=1000, max_links=5))
    for offset, length in [(0, 10), (999, 2), (1000, 1000), (123_456, 300_000), (899_990, 50), (0, None)]:
        got = b"".join(iter_file(root.cid, blocks.__getitem__, offset, length))
        assert got == data[offset : None if length is None else offset + length]


def test_import_streams_one_chunk_at_a_time() -> None:
    """16 MiB from a generating stream: peak Python memory stays at a few chunks, not the file."""
    import tracemalloc

    class Generated(io.RawIOBase):
        def __init__(self, total: int) -> None:
            self.left = total

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = self.left if size < 0 else min(size, self.left)
            self.left -= size
            return b"\x5a" * size

    total = 16 << 20
    tracemalloc.start()
    try:
        root = import_file(Generated(total), lambda cid, block: None)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert root.filesize == total
    assert peak < 4 * 262144 + (256 << 10), f"peak {peak} bytes while importing {total}"
