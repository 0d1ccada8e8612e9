"""sha2-256 of many blocks at once: the native 4-lane SHA-NI library when it is there, else hashlib.

One OpenSSL SHA-256 stream (hashlib) waits on the latency of each SHA-NI instruction; the library
(native/sha256/lanes.zig, built by `fluence-dao build` into target/native/) hashes 4 buffers in lockstep on
the same core, about 1.7x faster. It is loaded once, on first use, and only if: the host is x86-64 Linux,
the file exists, its ABI version matches, the CPU has the SHA extensions, and its digests of a few test
buffers equal hashlib's. Otherwise hashlib runs, with the same digests (tests check both paths agree).
ctypes releases the GIL during the call, as hashlib does for large buffers.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import platform
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from fluence_dao.errors import IpfsError
from fluence_dao.util.paths import project_root

log = logging.getLogger(__name__)

LIBRARY_NAME = "fluence_sha256"
ABI_VERSION = 1
_PyBUF_SIMPLE = 0


class _PyBuffer(ctypes.Structure):
    """CPython's Py_buffer (the buffer protocol's view struct), for the address of any bytes-like object."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),  # a reference the buffer protocol owns: PyBuffer_Release drops it
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def library_path() -> Path:
    return project_root() / "target" / "native" / f"lib{LIBRARY_NAME}.so"


class NativeSha256:
    """The loaded library. `digests` hashes a batch; the caller keeps the blocks alive for the call."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        self._many = lib.fd_sha256_many
        self._many.argtypes = [ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._many.restype = None
        lib.fd_sha256_abi.restype = ctypes.c_uint32
        lib.fd_sha256_supported.restype = ctypes.c_uint32
        self.abi = int(lib.fd_sha256_abi())
        self.supported = bool(lib.fd_sha256_supported())
        self.path = path

    def digests(self, blocks: Sequence[bytes | memoryview]) -> list[bytes]:
        count = len(blocks)
        if count == 0:
            return []
        views = (_PyBuffer * count)()
        taken = 0
        try:
            for block in blocks:
                if _get_buffer(block, views[taken], _PyBUF_SIMPLE) != 0:  # pragma: no cover - raises first
                    raise TypeError(f"not a contiguous bytes-like object: {type(block).__name__}")
                taken += 1
            ptrs = (ctypes.c_void_p * count)(*(view.buf for view in views))
            lens = (ctypes.c_size_t * count)(*(view.len for view in views))
            out = ctypes.create_string_buffer(32 * count)
            self._many(count, ptrs, lens, out)
        finally:
            for index in range(taken):
                _release_buffer(views[index])
        raw = out.raw
        return [raw[i : i + 32] for i in range(0, 32 * count, 32)]


_SELF_TEST = [b"", b"abc", bytes(range(256)) * 3 + b"x", b"\xa5" * 262155, b"q" * 55, b"r" * 56, b"s" * 64]
_lock = threading.Lock()
_native: NativeSha256 | None = None
_loaded = False
_why_not = "not loaded yet"


def load_native(path: Path | None = None) -> tuple[NativeSha256 | None, str]:
    """The library at `path` (default target/native/) if it passes every check, else None and why not."""
    path = path or library_path()
    if not (sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")):
        return None, f"no native library for {sys.platform}/{platform.machine()}"
    if not path.is_file():
        return None, f"{path} is not built (run `fluence-dao build`)"
    try:
        native = NativeSha256(path)
    except (OSError, AttributeError) as err:
        return None, f"cannot load {path}: {err}"
    if native.abi != ABI_VERSION:
        return None, f"{path} has ABI {native.abi}, this code needs {ABI_VERSION} (run `fluence-dao build`)"
    if not native.supported:
        return None, "this CPU lacks the SHA extensions the library needs"
    if native.digests(_SELF_TEST) != [hashlib.sha256(b).digest() for b in _SELF_TEST]:
        return None, f"{path} gives wrong digests on its self-test"
    return native, ""


def use_library(library: NativeSha256 | None) -> None:
    """Hash with `library` from now on (a library built elsewhere, e.g. by a test); None loads target/native again."""
    global _native, _loaded, _why_not
    with _lock:
        _native, _loaded, _why_not = library, library is not None, "not loaded yet"


def force_hashlib(enabled: bool) -> None:
    """For benchmarks and tests: True makes this process hash with hashlib only; False undoes it."""
    global _forced_hashlib
    _forced_hashlib = enabled


_forced_hashlib = False


def native() -> NativeSha256 | None:
    """The library, loaded on first call; None when hashlib must do."""
    global _native, _loaded, _why_not
    if _forced_hashlib:
        return None
    if not _loaded:
        with _lock:
            if not _loaded:
                _native, _why_not = load_native()
                _loaded = True
                if _native is None and "not built" not in _why_not and "lacks" not in _why_not:
                    log.warning("sha256: %s; hashing with hashlib", _why_not)
                log.debug("sha256 backend: %s", backend())
    return _native


def backend() -> str:
    """What hashes blocks in this process, for benchmarks and logs."""
    lib = native()
    if lib is not None:
        return f"native 4-lane SHA-NI ({lib.path.name})"
    return f"hashlib ({'forced' if _forced_hashlib else _why_not})"


def sha256_many(blocks: Sequence[bytes | memoryview], *, use_native: bool | None = None) -> list[bytes]:
    """The sha2-256 digest of each block. `use_native`: None picks the library when loaded; False forces
    hashlib; True requires the library (IpfsError when it did not load) and uses it even for one block."""
    lib = native() if use_native is not False else None
    if use_native and lib is None:
        raise IpfsError(f"the native sha256 library is not available: {_why_not}")
    if lib is not None and (len(blocks) > 1 or use_native):
        return lib.digests(blocks)
    return [hashlib.sha256(block).digest() for block in blocks]
