"""Suite-wide helpers.

A missing tool (node, anvil, a built module) skips a test with a reason on a developer machine, but fails it
when the CI environment variable is set: a silent skip in CI would hide a missing install step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import require as _require

AQUA_DIR = Path(__file__).resolve().parent / "aqua"


@pytest.fixture(scope="session")
def require():
    """`require(condition, reason)`: skip locally / fail in CI when `condition` is false (tests/_helpers.py)."""
    return _require


@pytest.fixture(scope="session")
def built_wasm(tmp_path_factory):
    """`built_wasm(name) -> bytes`: wasm/<name> built from source once per test session."""
    from fluence_dao.build import build_module

    out = tmp_path_factory.mktemp("zig-modules")
    cache: dict[str, bytes] = {}

    def build(name: str) -> bytes:
        if name not in cache:
            cache[name] = build_module(name, out).read_bytes()
        return cache[name]

    return build


@pytest.fixture(scope="session")
def compiled_aqua():
    """`compiled_aqua(source) -> CompiledAqua`: `source` a name in tests/aqua ("basics") or a path to an .aqua
    file, compiled once per session; skips locally / fails in CI without node (the compiler runs on it)."""
    from fluence_dao.aqua import compile_aqua

    cache: dict[Path, Any] = {}

    def compile_(source: str | Path) -> Any:
        path = AQUA_DIR / f"{source}.aqua" if isinstance(source, str) else Path(source)
        if path not in cache:
            _require(shutil.which("node"), "node is not installed (the Aqua compiler runs on it)")
            cache[path] = compile_aqua(path)
        return cache[path]

    return compile_


@pytest.fixture
def local_network(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`local_network(peers=1, config=None, name="net") -> LocalNetwork`: an in-process network with its state
    under tmp_path/<name>, stopped when the test ends."""
    from fluence_dao.peer import LocalNetwork, PeerConfig

    made: list[LocalNetwork] = []

    def make(peers: int = 1, config: PeerConfig | None = None, name: str = "net") -> LocalNetwork:
        made.append(LocalNetwork(peers, base_dir=tmp_path / name, config=config))
        return made[-1]

    yield make
    for network in made:
        network.stop()
