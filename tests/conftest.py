"""Suite-wide helpers.

A missing tool (node, anvil, a built module) skips a test with a reason on a developer machine, but fails it
when the CI environment variable is set: a silent skip in CI would hide a missing install step.
"""

from __future__ import annotations

import pytest

from _helpers import require as _require


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
