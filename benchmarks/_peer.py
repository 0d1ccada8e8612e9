"""What the peer benchmarks share: the daemon in its own process, timing with latencies, machine and versions.

`daemon_process(state_dir)` starts `python -m fluence_dao peer serve --state-dir DIR --port 0` (what `devnet up`
runs), waits for its daemon.json and a Pong, and stops it with SIGTERM; the CLI client's key in that state dir is
the daemon's management key, as for `fluence-dao run`. `timed(call, count, warmup)` runs sequential calls and
returns their rate, p50/p99 latency and CPU time. `js_client_ephemeral(...)` runs benchmarks/js/ephemeral_bench.mjs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Timing:
    """Sequential calls: how many, how long, each call's latency, and the CPU time this process used."""

    count: int
    seconds: float
    latencies_s: list[float] = field(repr=False)
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], Any], count: int, warmup: int) -> Timing:
    """`warmup` untimed calls, then `count` timed ones (each one's latency kept)."""
    for _ in range(warmup):
        call()
    latencies = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    seconds = time.perf_counter() - started
    return Timing(count, seconds, latencies, time.process_time() - cpu_started)


def merged(timings: list[Timing]) -> Timing:
    """Rounds pooled for latency percentiles; the rate is the median round's."""
    middle = sorted(timings, key=lambda t: t.rate)[len(timings) // 2]
    latencies = [x for t in timings for x in t.latencies_s]
    return Timing(middle.count, middle.seconds, latencies, middle.cpu_s)


# ---- the machine ------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cpus, {platform.system()} {platform.release()}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not on PATH (the js-client baseline needs it)")
    return found


def npm_version(package: str) -> str:
    from fluence_dao.util import paths

    try:
        return str(json.loads(paths.node_package_file(package, "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


def versions() -> str:
    def pip(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    try:
        node_version = subprocess.run([node(), "--version"], capture_output=True, text=True, check=False).stdout
    except RuntimeError:
        node_version = "none"
    return (
        f"python {sys.version.split()[0]}, fluence-dao {pip('fluence-dao')}, wasmtime {pip('wasmtime')}, "
        f"cryptography {pip('cryptography')}, msgpack {pip('msgpack')}, avm.wasm {npm_version('@fluencelabs/avm')}, "
        f"node {node_version.strip()}, js-client {npm_version('@fluencelabs/js-client')}"
    )


# ---- the daemon, as `devnet up` starts it -----------------------------------------------------------------


@dataclass
class DaemonProcess:
    address: str
    peer_id: str
    pid: int
    state_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)  # its Pong: libp2p_multiaddr, counters

    @property
    def libp2p_multiaddr(self) -> str:
        return str(self.facts["libp2p_multiaddr"])

    def cpu_s(self) -> float:
        """CPU time the daemon process used so far (user + system, all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def client_key(self) -> Any:
        """The CLI client's key of this state dir: the daemon's management key (what `fluence-dao run` signs with)."""
        from fluence_dao.peer import KeyPair
        from fluence_dao.peer.paths import client_key_path

        return KeyPair.from_base64(client_key_path(self.state_dir).read_text())


@contextlib.contextmanager
def daemon_process(
    state_dir: Path, *, timeout_s: float = 60.0, extra: list[str] | None = None
) -> Iterator[DaemonProcess]:
    """`fluence-dao peer serve` in its own process on a free port; stopped with SIGTERM on exit."""
    from fluence_dao.peer.paths import daemon_file
    from fluence_dao.peer.remote import ping

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUENCE_DAO_")}
    argv = [sys.executable, "-m", "fluence_dao", "peer", "serve", "--state-dir", str(state_dir), "--port", "0"]
    log = (state_dir / "daemon.log").open("wb")
    proc = subprocess.Popen([*argv, *(extra or [])], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=state_dir)
    try:
        deadline = time.monotonic() + timeout_s
        facts = None
        while facts is None:
            if proc.poll() is not None:
                raise RuntimeError(f"the peer daemon exited with {proc.returncode}: see {state_dir / 'daemon.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the peer daemon did not answer within {timeout_s} s")
            time.sleep(0.05)
            with contextlib.suppress(OSError, ValueError, KeyError):
                address = json.loads(daemon_file(state_dir).read_text())["address"]
                facts = ping(address, 1.0)
        yield DaemonProcess(address, str(facts["peer_id"]), proc.pid, state_dir, dict(facts))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# ---- js-client 0.9.0's EphemeralNetwork -------------------------------------------------------------------


def js_client_ephemeral(
    functions: dict[str, Any], cases: list[dict[str, Any]], profile_calls: int = 0
) -> dict[str, Any]:
    """Run benchmarks/js/ephemeral_bench.mjs in its own node process (DEBUG unset: js-client logs nothing).

    `cases`: [{"name", "function", "peers", "args": "last" | "round_robin", "iterations", "warmup"}].
    Returns its reply: {"config": {...}, "results": [{"name", "latencies_ms", "seconds", "cpu_ms", ...}]}.
    """
    from fluence_dao.util import paths

    request = {
        "jsClientDist": str(paths.node_package_file("@fluencelabs/js-client", "dist")),
        "functions": {name: {"script": f.script, "funcDef": f.func_def} for name, f in functions.items()},
        "cases": cases,
        "profileCalls": profile_calls,
    }
    return run_js_bench("ephemeral_bench.mjs", request)


def run_js_bench(script: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run benchmarks/js/`script` in its own node process (no DEBUG logging): `request` as JSON on stdin, its JSON
    reply (which must hold "results") back."""
    from fluence_dao.util import paths

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "NODE_OPTIONS")}
    proc = subprocess.run(
        [node(), str(HERE / "js" / script)],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=1800,
        cwd=str(paths.project_root()),
        env=env,
        check=False,
    )
    try:
        reply: dict[str, Any] = json.loads(proc.stdout.decode() or "{}")
    except ValueError:
        reply = {}
    if "results" not in reply:
        raise RuntimeError(f"{script} failed: {reply.get('fatal', '')} {proc.stderr.decode()[-2000:]}")
    return reply


def js_timing(result: dict[str, Any]) -> Timing:
    latencies = [ms / 1000.0 for ms in result["latencies_ms"]]
    return Timing(len(latencies), float(result["seconds"]), latencies, float(result["cpu_ms"]) / 1000.0)


def median(values: list[float]) -> float:
    return statistics.median(values)
