"""Plain helpers shared by the test suites (import as `from _helpers import ...`: tests/ is on sys.path because
tests/conftest.py sits there and there is no __init__.py).

Fixtures live in the conftest.py files; what is here is what a fixture or a test calls directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]

#: Read from the process environment by util/paths, not Settings: a clean environment keeps them.
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


def cli_env(state_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `fluence-dao` subprocess for `state_dir`: no FLUENCE_DAO_* from the shell but the
    process-only ones, plus `env`."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("FLUENCE_DAO_") or k.endswith(_PROCESS_ONLY_SUFFIXES)
    }
    clean["FLUENCE_DAO_STATE_DIR"] = str(state_dir)
    clean.update(env or {})
    return clean


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
    done = subprocess.run(
        [sys.executable, "-m", "fluence_dao", *args],
        capture_output=True,
        text=True,
        env=cli_env(state_dir, env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        umask=umask,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"fluence-dao {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def invoke_cli(args: list[str] | tuple[str, ...], env: dict[str, str] | None = None) -> Any:
    """`fluence-dao ARGS` in this process (typer's CliRunner; a click Result), the CLI's output modes (--json,
    -q) reset after it so they never leak into the next invocation or test."""
    from typer.testing import CliRunner

    from fluence_dao.cli import console
    from fluence_dao.cli.main import app

    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        console.reset()


@dataclass
class CliOutcome:
    """One in-process `fluence-dao` invocation (`cli_here`): its exit code and what it wrote."""

    code: int
    stdout: str
    stderr: str

    def document(self) -> dict[str, Any]:
        """stdout as exactly one JSON document (json.loads refuses a second one, or text around it)."""
        value = json.loads(self.stdout)
        assert isinstance(value, dict), self.stdout
        return value


def cli_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, keep: tuple[str, ...] = ()) -> Path:
    """No FLUENCE_DAO_* variable of the developer's (but those ending in one of `keep`), the state dir
    `tmp_path/state`, and `tmp_path` as the working directory (no .env of the developer's); returns the state dir."""
    for key in [k for k in os.environ if k.startswith("FLUENCE_DAO_") and not (keep and k.endswith(keep))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("FLUENCE_DAO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "state"


def cli_here(capsys: pytest.CaptureFixture[str], args: list[str]) -> CliOutcome:
    """`fluence-dao ARGS` in this process through `fluence_dao.cli.main.run` (the console script's exit codes);
    the output modes and the log handler are reset after it, so nothing leaks into the next invocation."""
    import logging

    from fluence_dao.cli import console, main

    try:
        code = main.run(list(args))
    finally:
        console.reset()
        if main._log_handler is not None:  # it writes to this test's captured stderr
            logging.getLogger().removeHandler(main._log_handler)
            main._log_handler = None
        logging.getLogger("fluence_dao").setLevel(logging.NOTSET)
    captured = capsys.readouterr()
    return CliOutcome(code, captured.out, captured.err)


@contextlib.contextmanager
def evm_snapshot(w3: Any) -> Iterator[None]:
    """Runs the block on an anvil snapshot and reverts it after (the chain is as before for the next test)."""
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True


@dataclass
class Stack:
    """The stack `user_stack` brought up: the state dir, the peer daemon, the chain, the signer and the interval.
    `devnet` is `devnet up --json`'s document."""

    state_dir: Path
    daemon_address: str
    peer_id: str
    rpc_url: str
    signer_service: str
    signer_address: str
    script_id: str = ""
    devnet: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return run_cli(self.state_dir, *args, check=check, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`fluence-dao ARGS` in the background (a server), stdout piped as text, stderr to <state dir>/../NAME.log."""
        log = (self.state_dir.parent / f"{args[0]}.log").open("a")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "fluence_dao", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=cli_env(self.state_dir),
            )
        finally:
            log.close()

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json").stdout)

    def management_key(self) -> Any:
        from fluence_dao.peer.particle import KeyPair

        return KeyPair.load_or_create(self.state_dir / "client" / "key")

    def network(self, key: Any) -> Any:
        from fluence_dao.peer.remote import RemoteNetwork

        return RemoteNetwork(self.daemon_address, key)

    def rpc(self, method: str, params: list[Any]) -> Any:
        import httpx

        reply = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        return reply.json()["result"]

    def signer_updates(self) -> list[dict[str, Any]]:
        """Transactions the signer sent, oldest first (nonce, hash, fees), read from the chain."""
        count = int(self.rpc("eth_getTransactionCount", [self.signer_address, "latest"]), 16)
        return [
            self.rpc("eth_getTransactionBySenderAndNonce", [self.signer_address, hex(nonce)]) for nonce in range(count)
        ]

    def wait_for_updates(self, more_than: int, timeout_s: float = 60.0) -> int:
        """Wait until the signer has sent more than `more_than` transactions; returns the count."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            count = int(self.rpc("eth_getTransactionCount", [self.signer_address, "latest"]), 16)
            if count > more_than:
                return count
            time.sleep(0.5)
        raise AssertionError(f"the interval sent no new transaction within {timeout_s} s (still {count})")


@contextlib.contextmanager
def user_stack(state_dir: Path, *, before_interval: Callable[[Stack], None] | None = None) -> Iterator[Stack]:
    """The stack brought up as a user does, through the CLI in `state_dir`: `devnet up`, `publish`,
    `deploy-signer`, then `before_interval(stack)` if given, then `start-interval --every 1`; `devnet down` after.
    Needs node (skips locally, fails in CI without it)."""
    require(shutil.which("node"), "node is not installed")
    up = json.loads(run_cli(state_dir, "devnet", "up", "--json").stdout)
    try:
        run_cli(state_dir, "publish", "--json")
        signer = json.loads(run_cli(state_dir, "deploy-signer", "--json").stdout)
        daemon = json.loads((state_dir / "peer" / "daemon.json").read_text())
        stack = Stack(
            state_dir=state_dir,
            daemon_address=daemon["address"],
            peer_id=daemon["peer_id"],
            rpc_url=up["rpc_url"],
            signer_service=signer["service_id"],
            signer_address=signer["address"],
            devnet=up,
        )
        if before_interval is not None:
            before_interval(stack)
        stack.script_id = json.loads(run_cli(state_dir, "start-interval", "--every", "1", "--json").stdout)["script_id"]
        yield stack
    finally:
        run_cli(state_dir, "devnet", "down", check=False)


def require_marine_js() -> tuple[str, Path]:
    """(node, marine-js.wasm) for running modules under the reference marine-js; skips / fails in CI without them."""
    from fluence_dao.util.paths import node_modules

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


def in_threads(work: Callable[[int], T], count: int) -> list[T]:
    """`work(0)` ... `work(count - 1)` at the same time, one thread each; their results in order. An exception in
    any of them is raised here, after all have finished."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, index) for index in range(count)]
    return [future.result() for future in futures]


def call_params(init_peer_id: str, creator: str, host: str, service_id: str = "svc") -> Any:
    """Marine CallParameters for a call from `init_peer_id` to a service `creator` made on `host` (its worker)."""
    from fluence_dao.marine import CallParameters, ParticleParameters

    return CallParameters(
        particle=ParticleParameters(id="particle-1", init_peer_id=init_peer_id, timestamp=1, ttl=10_000),
        service_id=service_id,
        service_creator_peer_id=creator,
        host_id=host,
        worker_id=host,
    )


def process_running(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie (exited, not yet reaped), read from /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
