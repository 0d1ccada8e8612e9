"""Build wasm/<module>/ (interface.toml + main.zig) into target/wasm/<module>.wasm with Zig from PyPI.

Steps per module: read interface.toml; generate the root and `interface` Zig files (content-addressed under
the cache dir, so two builds of the same sources see the same paths); `zig build-exe` for wasm32-wasi with
an explicit export list; check that the linked module exports exactly the ABI plus the described
functions; append the JSON sections, `__fluence_sdk_version` and the binary `interface-types` section; write
the file atomically. Same sources and Zig version give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fluence_dao.build._interface import interface_zig, load_interface, root_zig
from fluence_dao.build._interface_types import generate_interface_types
from fluence_dao.errors import BuildError
from fluence_dao.util.marine_interface import SDK_VERSION_SECTION, ModuleInterface
from fluence_dao.util.paths import cache_dir, project_root
from fluence_dao.util.wasm_sections import append_custom_section, function_exports, iter_custom_sections

log = logging.getLogger(__name__)

SDK_VERSION = "0.14.0"
INTERFACE_FILE = "interface.toml"
STACK_BYTES = 65536
_EXPORT_FN = re.compile(r"^\s*(?:pub\s+)?export\s+fn\s+(@\"[^\"]+\"|\w+)", re.MULTILINE)
_PUB_DECL = re.compile(r"^\s*pub\s+(?:inline\s+)?(?:fn|const)\s+(@\"[^\"]+\"|\w+)", re.MULTILINE)


@dataclass(frozen=True)
class BuiltModule:
    """One built module: where it is, its size and sha256, and what it exports."""

    name: str
    path: Path
    size: int
    sha256: str
    functions: tuple[str, ...]

    def read_bytes(self) -> bytes:
        """The module's bytes (as `Path.read_bytes`)."""
        return self.path.read_bytes()

    def to_dict(self) -> dict[str, object]:
        return {
            "module": self.name,
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "functions": list(self.functions),
        }


def wasm_source_dir() -> Path:
    return project_root() / "wasm"


def default_out_dir() -> Path:
    return project_root() / "target" / "wasm"


def discover_modules(source_dir: Path | None = None) -> list[str]:
    """Module names: the directories of wasm/ that hold an interface.toml, sorted."""
    root = source_dir or wasm_source_dir()
    if not root.is_dir():
        raise BuildError(f"no wasm source directory at {root}", path=str(root))
    return sorted(p.name for p in root.iterdir() if (p / INTERFACE_FILE).is_file())


def zig_command() -> list[str]:
    """Zig from the `ziglang` PyPI package, run with this interpreter."""
    return [sys.executable, "-m", "ziglang"]


def _zig_env() -> dict[str, str]:
    zig_cache = cache_dir() / "zig"
    zig_cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ZIG_GLOBAL_CACHE_DIR"] = str(zig_cache)
    env["ZIG_LOCAL_CACHE_DIR"] = str(zig_cache)
    return env


def build_modules(
    names: Sequence[str] | None = None,
    out_dir: Path | None = None,
    *,
    source_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> list[BuiltModule]:
    """Build the named modules (all of wasm/ when `names` is empty) into `out_dir` (default target/wasm).

    Up to `jobs` (default: the number of cores) Zig processes run at once; results keep the order of `names`.
    """
    source_dir = source_dir or wasm_source_dir()
    available = discover_modules(source_dir)
    wanted = list(names) if names else available
    missing = [n for n in wanted if n not in available]
    if missing:
        raise BuildError(
            f"unknown module(s) {', '.join(missing)}; modules in {source_dir}: {', '.join(available) or 'none'}",
            modules=missing,
        )
    out = out_dir or default_out_dir()
    workers = max(1, min(jobs or os.cpu_count() or 1, len(wanted)))
    if workers == 1:
        return [build_module(name, out, source_dir=source_dir, progress=progress) for name in wanted]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # each build is a zig subprocess
        futures = [pool.submit(build_module, name, out, source_dir=source_dir, progress=progress) for name in wanted]
        return [f.result() for f in futures]


def build_module(
    name: str,
    out_dir: Path | None = None,
    *,
    source_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuiltModule:
    """Build one module; raises BuildError naming the module and the failing step."""
    source_dir = source_dir or wasm_source_dir()
    module_dir = source_dir / name
    out = out_dir or default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    interface = load_interface(module_dir / INTERFACE_FILE, name)
    main_zig = module_dir / "main.zig"
    if not main_zig.is_file():
        raise BuildError(f"module {name}: {main_zig} not found", module=name)
    check_sources(interface, module_dir)

    started = time.monotonic()
    glue_dir = write_glue(interface, f"wasm/{name}/{INTERFACE_FILE}")
    marine_zig = source_dir / "lib" / "marine.zig"
    key = linked_cache_key(name, glue_dir, module_dir, marine_zig, interface)
    cached = cache_dir() / "linked" / f"{name}-{key}.wasm"
    target = out / f"{name}.wasm"
    if cached.is_file():
        linked = cached.read_bytes()
        if progress:
            progress(f"{name}: up to date (cached Zig output)")
    else:
        if progress:
            progress(f"building {name}")
        tmp = out / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp.wasm"
        try:
            _run_zig(name, glue_dir, module_dir, marine_zig, interface, tmp)
            linked = tmp.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_suffix(".o").unlink(missing_ok=True)
        _check_exports(interface, linked)
        _write_atomically(cached, linked)
    data = add_sections(linked, interface)
    _write_atomically(target, data)
    digest = hashlib.sha256(data).hexdigest()
    log.info("built %s: %d bytes in %.1f s", name, len(data), time.monotonic() - started)
    return BuiltModule(name, target, len(data), digest, tuple(interface.functions))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def linked_cache_key(name: str, glue_dir: Path, module_dir: Path, marine_zig: Path, interface: ModuleInterface) -> str:
    """A digest of everything the Zig output depends on.

    `zig build-exe` from the command line does not reuse its own cache for the final output (only the
    build system does), so the build keeps the linked module under this key. A Zig module can only
    import and embed files under its own directory, so hashing the module directory, the generated glue,
    the shared wasm/lib/*.zig, the Zig version and the arguments covers every input.
    """
    digest = hashlib.sha256()
    digest.update(f"zig {_zig_version()}\n".encode())
    args = zig_build_args(name, Path("GLUE"), Path("MODULE"), Path("MARINE"), interface, Path("OUT"))
    digest.update(json.dumps(args).encode())
    files = [("glue/" + p.name, p) for p in sorted(glue_dir.glob("*.zig"))]
    files += [(f"lib/{p.name}", p) for p in sorted(marine_zig.parent.glob("*.zig"))]  # marine.zig, hex.zig
    files += [
        ("module/" + p.relative_to(module_dir).as_posix(), p) for p in sorted(module_dir.rglob("*")) if p.is_file()
    ]
    for label, path in files:
        content = path.read_bytes()
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:32]


@functools.cache
def _zig_version() -> str:
    try:
        return importlib.metadata.version("ziglang")
    except importlib.metadata.PackageNotFoundError as err:
        raise BuildError("Zig is not installed: pip install ziglang==0.17.0") from err


def add_sections(linked: bytes, interface: ModuleInterface) -> bytes:
    """Append the Marine custom sections: JSON descriptions, the sdk version and interface-types."""
    sections = interface.sections()
    existing = {n for n, _ in iter_custom_sections(linked)}
    clash = existing & ({n for n, _ in sections} | {SDK_VERSION_SECTION, "interface-types"})
    if clash:
        raise BuildError(f"module {interface.name}: already has sections {sorted(clash)}", module=interface.name)
    data = linked
    for section_name, payload in sections:
        data = append_custom_section(data, section_name, payload)
    data = append_custom_section(data, SDK_VERSION_SECTION, SDK_VERSION.encode())
    # interface-types is generated from the JSON exactly as written above, as Fluence's tools read it back
    docs = [json.loads(payload) for _, payload in sections]
    return append_custom_section(data, "interface-types", generate_interface_types(docs))


def check_sources(interface: ModuleInterface, module_dir: Path) -> None:
    """Fail loudly when Zig sources and interface.toml disagree about what is exported."""
    described = set(interface.functions)
    declared: set[str] = set()
    for source in sorted(module_dir.glob("*.zig")):
        text = source.read_text(encoding="utf-8")
        for match in _EXPORT_FN.finditer(text):
            fn = match.group(1).strip('@"')
            if fn in described:
                raise BuildError(
                    f"module {interface.name}: {source.name} declares `export fn {fn}`; write `pub fn {fn}` and "
                    f"let the build generate the export from {INTERFACE_FILE}",
                    module=interface.name,
                    function=fn,
                )
            raise BuildError(
                f"module {interface.name}: {source.name} exports `{fn}` but {INTERFACE_FILE} has no description "
                f"of it; add [functions.{fn}] or make it a plain `pub fn`",
                module=interface.name,
                function=fn,
            )
        if source.name == "main.zig":
            declared = {m.group(1).strip('@"') for m in _PUB_DECL.finditer(text)}
    missing = sorted(described - declared)
    if missing:
        raise BuildError(
            f"module {interface.name}: {INTERFACE_FILE} describes {', '.join(missing)} but main.zig has no "
            f"`pub fn` of that name",
            module=interface.name,
            functions=missing,
        )


def write_glue(interface: ModuleInterface, label: str) -> Path:
    """Write the generated Zig files into a directory named by their content."""
    files = {"root.zig": root_zig(interface, label), "interface.zig": interface_zig(interface, label)}
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:24]
    glue_dir = cache_dir() / "glue" / digest
    glue_dir.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        path = glue_dir / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = glue_dir / f".{file_name}.{os.getpid()}"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    return glue_dir


def zig_build_args(
    name: str, glue_dir: Path, module_dir: Path, marine_zig: Path, interface: ModuleInterface, output: Path
) -> list[str]:
    """The `zig build-exe` arguments (see runtime-facts: build-exe, explicit exports, small stack)."""
    return [
        "build-exe",
        "-O",
        "ReleaseSafe",
        "-target",
        "wasm32-wasi",
        "-fno-entry",
        "-fstrip",
        "--stack",
        str(STACK_BYTES),
        *(f"--export={e}" for e in interface.exports),
        "--name",
        name,
        f"-femit-bin={output}",
        "--dep",
        "marine",
        "--dep",
        "interface",
        "--dep",
        "impl",
        f"-Mroot={glue_dir / 'root.zig'}",
        "--dep",
        "marine",
        f"-Minterface={glue_dir / 'interface.zig'}",
        "--dep",
        "marine",
        "--dep",
        "interface",
        "--dep",
        "hex",
        f"-Mimpl={module_dir / 'main.zig'}",
        f"-Mmarine={marine_zig}",
        f"-Mhex={marine_zig.parent / 'hex.zig'}",
    ]


def zig_test(source: Path, *, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a module's own Zig tests (`zig test`), with the shared wasm/lib modules it may import."""
    lib = wasm_source_dir() / "lib"
    args = ["test", "--dep", "hex", "--dep", "marine", f"-Mroot={source}", f"-Mhex={lib / 'hex.zig'}",
            f"-Mmarine={lib / 'marine.zig'}"]  # fmt: skip
    return subprocess.run(
        [*zig_command(), *args], cwd=project_root(), env=_zig_env(), capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip


def _run_zig(
    name: str, glue_dir: Path, module_dir: Path, marine_zig: Path, interface: ModuleInterface, output: Path
) -> None:
    args = zig_build_args(name, glue_dir, module_dir, marine_zig, interface, output)
    log.debug("zig %s", " ".join(args))
    try:
        proc = subprocess.run(
            [*zig_command(), *args],
            cwd=project_root(),
            env=_zig_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise BuildError(f"module {name}: zig build-exe timed out after 600 s", module=name) from err
    if proc.returncode != 0:
        details = (proc.stderr or proc.stdout).strip()
        if "No module named ziglang" in details:
            raise BuildError("Zig is not installed: pip install ziglang==0.17.0", module=name)
        raise BuildError(f"module {name}: zig build-exe failed:\n{details}", module=name, stderr=details)


def _check_exports(interface: ModuleInterface, data: bytes) -> None:
    exported = set(wasm_function_exports(data))
    expected = set(interface.exports)
    extra, missing = sorted(exported - expected), sorted(expected - exported)
    if extra or missing:
        raise BuildError(
            f"module {interface.name}: exports do not match {INTERFACE_FILE}: "
            f"undescribed exports {extra or 'none'}, described but not exported {missing or 'none'}",
            module=interface.name,
        )


def wasm_function_exports(data: bytes) -> list[str]:
    """Names of the functions a wasm module exports (export section, kind 0)."""
    return function_exports(data)
