"""The native 4-lane SHA-256 library built from native/ with Zig: same digests and same UnixFS CIDs and blocks
as the pure-Python (hashlib) path, and the loader's refusals."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluence_dao.build import BuiltNative, build_native, native_supported_host
from fluence_dao.errors import BuildError
from fluence_dao.ipfs import Cid, ImportOptions, import_buffer, import_file
from fluence_dao.ipfs import sha256 as sha

pytestmark = pytest.mark.integration

LAYOUTS = [
    pytest.param(ImportOptions(), id="v0"),
    pytest.param(ImportOptions(cid_version=1), id="v1-raw"),
    pytest.param(ImportOptions(cid_version=1, raw_leaves=False), id="v1-dagpb"),
    pytest.param(ImportOptions(chunk_size=1000, max_links=5), id="v0-small-chunks"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltNative:
    if not native_supported_host():
        pytest.skip("the native library is x86-64 Linux code; other hosts use hashlib")
    (lib,) = build_native(out_dir=tmp_path_factory.mktemp("native"))
    return lib


@pytest.fixture(scope="module")
def library(built: BuiltNative) -> sha.NativeSha256:
    loaded = sha.NativeSha256(built.path)
    if not loaded.supported:
        pytest.skip("this CPU has no SHA extensions: the importer uses hashlib here")
    checked, why = sha.load_native(built.path)
    assert checked is not None, f"the built library failed the loader's checks: {why}"
    return loaded


@pytest.fixture
def native_in_use(library: sha.NativeSha256) -> Iterator[sha.NativeSha256]:
    """The importer hashes through the freshly built library for this test."""
    sha.use_library(library)
    assert sha.backend().startswith("native")
    yield library
    sha.use_library(None)


def test_digests_equal_hashlib_for_every_length_and_batch_shape(library: sha.NativeSha256) -> None:
    blocks = [os.urandom(n) for n in range(300)] + [os.urandom(262144 + n) for n in (0, 1, 11, 63)]
    assert library.digests(blocks) == [hashlib.sha256(b).digest() for b in blocks]
    for count in range(1, 10):  # groups of 4, then 2, then 1, with lengths that differ inside a group
        batch = [os.urandom(97 * i + 5) for i in range(count)]
        assert library.digests(batch) == [hashlib.sha256(b).digest() for b in batch]


def test_views_bytearrays_and_slices(library: sha.NativeSha256) -> None:
    data = os.urandom(5000)
    blocks = [memoryview(data)[7:4099], bytearray(data[:333]), memoryview(data)[:0], data]
    assert library.digests(blocks) == [hashlib.sha256(b).digest() for b in blocks]


def _import_both_ways(data: bytes, options: ImportOptions) -> tuple[object, dict[Cid, bytes]]:
    from_buffer: dict[Cid, bytes] = {}
    from_stream: dict[Cid, bytes] = {}
    root = import_buffer(data, lambda c, b: from_buffer.__setitem__(c, bytes(b)), options)
    assert import_file(io.BytesIO(data), from_stream.__setitem__, options) == root
    assert from_buffer == from_stream
    return root, from_buffer


@pytest.mark.parametrize("options", LAYOUTS)
@pytest.mark.parametrize("size", [0, 1, 262144, 262145, 3 * 262144 + 7, 5_000_000])
def test_imports_give_the_same_blocks_on_both_paths(native_in_use: object, options: ImportOptions, size: int) -> None:
    data = os.urandom(size)
    native = _import_both_ways(data, options)
    sha.force_hashlib(True)
    try:
        assert sha.backend().startswith("hashlib")
        pure = _import_both_ways(data, options)
    finally:
        sha.force_hashlib(False)
    assert native == pure


def test_fixture_vectors_through_the_native_path(native_in_use: object) -> None:
    import importlib.util

    tests = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("ipfs_lcg", tests / "unit" / "ipfs" / "ipfs_lcg.py")
    assert spec is not None and spec.loader is not None
    lcg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lcg)
    vectors = tests / "fixtures" / "unixfs-cids.txt"
    checked = 0
    for line in vectors.read_text("utf-8").splitlines():
        if line.startswith("lcg ") and "|" in line:
            spec, mode, cid = (part.strip() for part in line.split("|"))
            words = spec.split()
            data = lcg.lcg_bytes(int(words[1]), int(words[4]))
            options = ImportOptions(cid_version=1) if mode.startswith("v1") else ImportOptions()
            assert str(import_buffer(data, lambda c, b: None, options).cid) == cid
            assert str(import_file(io.BytesIO(data), lambda c, b: None, options).cid) == cid
            checked += 1
    assert checked == 8


def test_loader_refuses_a_library_of_another_abi(built: BuiltNative, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sha, "ABI_VERSION", sha.ABI_VERSION + 1)
    lib, why = sha.load_native(built.path)
    assert lib is None and f"needs {sha.ABI_VERSION}" in why


def test_second_build_is_cached_and_unknown_names_fail(built: BuiltNative, tmp_path: Path) -> None:
    (again,) = build_native(out_dir=tmp_path)
    assert again.sha256 == built.sha256 and again.path.read_bytes() == built.path.read_bytes()
    with pytest.raises(BuildError, match="no_such_lib"):
        build_native(["no_such_lib"], out_dir=tmp_path)
