"""Plain helpers shared by the test suites (import as `from _helpers import ...`: tests/ is on sys.path because
tests/conftest.py sits there and there is no __init__.py).

Fixtures live in the conftest.py files; what is here is what a fixture or a test calls directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Read from the process environment by _util/paths, not Settings: a clean environment keeps them.
_PROCESS_ONLY_SUFFIXES = ("PROJECT_ROOT", "CACHE_DIR")


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail under CI (CI=true), where everything must be installed: a silent skip in CI would hide a
    missing install step."""
    if os.environ.get("CI"):
        pytest.fail(f"required for this test but missing in CI: {reason}")
    pytest.skip(reason)


def require(condition: object, reason: str) -> None:
    """Skip locally / fail in CI when `condition` is false (also the `require` fixture of tests/conftest.py)."""
    if not condition:
        skip_or_fail(reason)


def require_graph_cli() -> None:
    """node and the project's graph-cli (node_modules/.bin/graph, from `npm ci`) build subgraphs."""
    require(
        shutil.which("node") is not None and (ROOT / "node_modules" / ".bin" / "graph").exists(),
        "node and node_modules/.bin/graph (npm ci) are needed to build a subgraph",
    )


def run_cli(
    state_dir: Path,
    *args: str,
    check: bool = True,
    timeout: float = 240,
    env: dict[str, str] | None = None,
    umask: int = -1,
) -> subprocess.CompletedProcess[str]:
    """`fluence-dao ARGS` in a subprocess with only this state dir configured (no FLUENCE_DAO_* from the shell
    but the process-only ones); `check` raises with the command's stderr when it exits non-zero."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("FLUENCE_DAO_") or k.endswith(_PROCESS_ONLY_SUFFIXES)
    }
    clean["FLUENCE_DAO_STATE_DIR"] = str(state_dir)
    clean.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "fluence_dao", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        umask=umask,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"fluence-dao {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


@contextlib.contextmanager
def evm_snapshot(w3: Any) -> Iterator[None]:
    """Runs the block on an anvil snapshot and reverts it after (the chain is as before for the next test)."""
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True


def require_marine_js() -> tuple[str, Path]:
    """(node, marine-js.wasm) for running modules under the reference marine-js; skips / fails in CI without them."""
    from fluence_dao._util.paths import node_modules

    node = shutil.which("node")
    package = node_modules() / "@fluencelabs/marine-js/dist/marine-js.wasm"
    if node is None or not package.exists():
        skip_or_fail(
            f"node and npm @fluencelabs/marine-js are needed (node: {node}, {package} exists: {package.exists()})"
        )
    assert node is not None
    return node, package


def module_ok(result: dict[str, Any]) -> Any:
    """The value of a module's successful `{success, error, value}` result (fails the test on an error result)."""
    assert result["success"] is True, result["error"]
    assert result["error"] == ""
    return result["value"]


def module_failed(result: dict[str, Any]) -> str:
    """The error text of a module's failed `{success, error, value}` result; it must say what went wrong."""
    assert result["success"] is False, f"expected an error, got {result!r}"
    assert result["error"], "an error result must say what went wrong"
    return str(result["error"])


def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """`handler` served on a free 127.0.0.1 port from a daemon thread (the caller shuts it down)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler: it logs nothing, `body()` reads the request body and `reply` sends a whole
    body with its Content-Length."""

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, body: bytes, status: int = 200, content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def write_filler(self, n: int, chunk: int = 65536) -> None:
        """`n` bytes of b"x" in chunks; a client that stops reading (at its cap) ends it quietly."""
        block = b"x" * chunk
        try:
            for start in range(0, n, chunk):
                self.wfile.write(block[: n - start])
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a failing test shows its own output, not the server's access log."""


@contextlib.contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """`serve_loopback(handler)`, shut down and closed when the block ends."""
    server = serve_loopback(handler)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class PreparedRandom:
    """A module's `random_source` that serves the prepared draws first (each must be the size the module asks for)
    and OS randomness afterwards; `requests` records every size asked for."""

    def __init__(self, *draws: bytes) -> None:
        self.draws = list(draws)
        self.requests: list[int] = []

    def __call__(self, n: int) -> bytes:
        self.requests.append(n)
        if self.draws:
            chunk = self.draws.pop(0)
            assert len(chunk) == n, f"module asked for {n} random bytes, test prepared {len(chunk)}"
            return chunk
        return os.urandom(n)


def process_running(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie (exited, not yet reaped), read from /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
