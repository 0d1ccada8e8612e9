"""Native shared libraries for the host (not wasm): native/<name>/*.zig -> target/native/lib<name>.so.

The one today is `fluence_sha256` (native/sha256/lanes.zig): 4-lane SHA-NI hashing for the UnixFS importer,
loaded with ctypes by fluence_dao.ipfs.sha256, which falls back to hashlib whenever the library is
missing, built for another CPU, or disagrees with hashlib on its self-test. Built from source by
`fluence-dao build` (so by scripts/setup and CI), only on x86-64 Linux; elsewhere nothing is built and the
pure-Python path runs. Outputs are cached under the cache dir by a digest of the Zig version, the arguments
and the source, like the wasm builds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fluence_dao.build._builder import _zig_env, _zig_version, zig_command
from fluence_dao.errors import BuildError
from fluence_dao.util.paths import cache_dir, project_root

log = logging.getLogger(__name__)

# name -> (root source under native/, the -mcpu it is built for)
NATIVE_LIBRARIES: dict[str, tuple[str, str]] = {
    "fluence_sha256": ("sha256/lanes.zig", "x86_64_v2+sha"),
}


@dataclass(frozen=True)
class BuiltNative:
    """One built library: where it is, its size and sha256."""

    name: str
    path: Path
    size: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"library": self.name, "path": str(self.path), "size": self.size, "sha256": self.sha256}


def native_source_dir() -> Path:
    return project_root() / "native"


def native_out_dir() -> Path:
    return project_root() / "target" / "native"


def native_supported_host() -> bool:
    """The libraries are x86-64 SHA-NI code for Linux shared objects: built and loaded only there."""
    return sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")


def native_build_args(name: str, source: Path, output: Path) -> list[str]:
    _, cpu = NATIVE_LIBRARIES[name]
    return ["build-lib", "-dynamic", "-O", "ReleaseFast", "-fstrip", f"-mcpu={cpu}", "--name", name,
            f"-femit-bin={output}", str(source)]  # fmt: skip


def build_native(
    names: list[str] | None = None,
    out_dir: Path | None = None,
    *,
    source_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BuiltNative]:
    """Build the named libraries (all when None) into `out_dir` (default target/native). On a host the
    libraries are not for, builds nothing and returns []."""
    wanted = list(NATIVE_LIBRARIES) if names is None else names
    unknown = [n for n in wanted if n not in NATIVE_LIBRARIES]
    if unknown:
        raise BuildError(
            f"unknown native library {', '.join(unknown)}; known: {', '.join(sorted(NATIVE_LIBRARIES))}",
            libraries=unknown,
        )
    if not native_supported_host():
        log.info("native libraries are built for x86-64 Linux only; %s uses the pure-Python paths", sys.platform)
        if progress:
            progress(f"native libraries: skipped on {sys.platform}/{platform.machine()} (pure-Python paths)")
        return []
    return [
        _build_one(name, out_dir or native_out_dir(), source_dir or native_source_dir(), progress) for name in wanted
    ]


def _build_one(name: str, out_dir: Path, source_dir: Path, progress: Callable[[str], None] | None) -> BuiltNative:
    source = source_dir / NATIVE_LIBRARIES[name][0]
    if not source.is_file():
        raise BuildError(f"native library {name}: {source} not found", library=name, path=str(source))
    digest = hashlib.sha256()
    digest.update(f"zig {_zig_version()}\n".encode())
    digest.update(json.dumps(native_build_args(name, Path("SOURCE"), Path("OUT"))).encode())
    for path in sorted(source.parent.rglob("*.zig")):  # the library's directory holds everything it imports
        content = path.read_bytes()
        digest.update(f"{path.relative_to(source.parent).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    key = digest.hexdigest()[:32]
    cached = cache_dir() / "native" / f"lib{name}-{key}.so"
    if cached.is_file():
        if progress:
            progress(f"{name}: up to date (cached Zig output)")
    else:
        if progress:
            progress(f"building native library {name}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            _run_zig(name, source, tmp)
            tmp.replace(cached)
        finally:
            tmp.unlink(missing_ok=True)
            for extra in tmp.parent.glob(f"{tmp.name}*.o"):
                extra.unlink(missing_ok=True)
    data = cached.read_bytes()
    target = out_dir / f"lib{name}.so"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    partial.replace(target)  # a process that loaded the old file keeps its mapping
    log.info("built native library %s: %d bytes", name, len(data))
    return BuiltNative(name, target, len(data), hashlib.sha256(data).hexdigest())


def _run_zig(name: str, source: Path, output: Path) -> None:
    args = native_build_args(name, source, output)
    log.debug("zig %s", " ".join(args))
    try:
        proc = subprocess.run(
            [*zig_command(), *args], cwd=project_root(), env=_zig_env(), capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        raise BuildError(f"native library {name}: zig build-lib timed out after 600 s", library=name) from err
    if proc.returncode != 0:
        details = (proc.stderr or proc.stdout).strip()
        raise BuildError(f"native library {name}: zig build-lib failed:\n{details}", library=name, stderr=details)
