"""The hashing front of the importer without the native library: hashlib digests, the loader's reasons,
and a clear error when the library is required but absent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fluence_dao.errors import IpfsError
from fluence_dao.ipfs import hash_backend
from fluence_dao.ipfs import sha256 as sha


def test_hashlib_path_equals_hashlib() -> None:
    blocks = [b"", b"abc", os.urandom(262155), memoryview(os.urandom(100))[3:50], bytearray(b"xyz")]
    assert sha.sha256_many(blocks, use_native=False) == [hashlib.sha256(b).digest() for b in blocks]
    assert sha.sha256_many([], use_native=False) == []


def test_missing_library_is_reported_not_loaded(tmp_path: Path) -> None:
    lib, why = sha.load_native(tmp_path / "libfluence_sha256.so")
    assert lib is None and "not built" in why and "fluence-dao build" in why


def test_a_file_that_is_no_library_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "libfluence_sha256.so"
    fake.write_bytes(b"not an ELF file")
    lib, why = sha.load_native(fake)
    assert lib is None and why.startswith(f"cannot load {fake}")


def test_forced_hashlib_is_what_the_backend_says() -> None:
    sha.force_hashlib(True)
    try:
        assert hash_backend() == "hashlib (forced)"
        assert sha.native() is None
    finally:
        sha.force_hashlib(False)


def test_requiring_an_absent_library_names_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sha, "_native", None)
    monkeypatch.setattr(sha, "_loaded", True)
    monkeypatch.setattr(sha, "_why_not", "it was never built here")
    with pytest.raises(IpfsError, match="it was never built here"):
        sha.sha256_many([b"x"], use_native=True)
    assert sha.sha256_many([b"x", b"y"]) == [hashlib.sha256(b"x").digest(), hashlib.sha256(b"y").digest()]
