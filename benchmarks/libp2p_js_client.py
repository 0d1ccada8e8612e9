"""Particles per second of js-client 0.9.0 using our peer daemon as its relay over libp2p, next to js-client's
own ephemeral network running the same compiled Aqua, in the same run.

    python -m benchmarks.libp2p_js_client [--iterations N] [--repeat R]

Aqua: benchmarks/js/bench.aqua, `one_call` (1 builtin call on the relay) and `twenty_calls` (20 builtin calls,
all on the relay: its three peer arguments are the relay). A "particle" is one complete function call from the
js-client through the relay and back (sequential calls). Ours: a PeerDaemon in this process with libp2p on
127.0.0.1 (ws, noise, yamux), driven by benchmarks/js/relay_bench.mjs (js-client `createClient(relay)`). Baseline:
js-client's EphemeralNetwork with 1 peer (in-process peers, each with AquaVM in a marine worker) via
benchmarks/js/ephemeral_bench.mjs, the driver of benchmarks/peer_particles.py. Ratio: ours / ephemeral.
Each side runs in its own node process per round; the median of --repeat rounds is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FUNCTIONS = ("one_call", "twenty_calls")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH")
    return node


def _run_node(script: Path, request: dict[str, Any]) -> dict[str, Any]:
    from fluence_dao._util import paths

    proc = subprocess.run(
        [_node(), str(script)],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=1800,
        cwd=str(paths.project_root()),
        check=False,
    )
    reply: dict[str, Any] = json.loads(proc.stdout.decode() or "{}")
    if "results" not in reply:
        raise RuntimeError(f"{script.name} failed: {reply.get('fatal', '')} {proc.stderr.decode()[-2000:]}")
    return reply


def _count(function: str, iterations: int) -> int:
    return iterations if function == "one_call" else max(1, iterations // 4)


def _args(function: str, relay_id: str) -> list[str]:
    return [relay_id] if function == "one_call" else [relay_id, relay_id, relay_id]


def measure_relay(functions: dict[str, Any], multiaddr: str, relay_id: str, iterations: int) -> dict[str, float]:
    request = {
        "relay": multiaddr,
        "functions": {name: {"script": f.script, "funcDef": f.func_def} for name, f in functions.items()},
        "cases": [
            {
                "name": function,
                "function": function,
                "args": _args(function, relay_id),
                "iterations": _count(function, iterations),
                "warmup": 2,
            }
            for function in FUNCTIONS
        ],
    }
    reply = _run_node(HERE / "js" / "relay_bench.mjs", request)
    if reply["relayPeerId"] != relay_id:
        raise RuntimeError(f"js-client connected to {reply['relayPeerId']}, not our daemon {relay_id}")
    for result in reply["results"]:  # the same answers as on js-client's own network
        expected = "ab" if result["name"] == "one_call" else "x19"
        if result["sample"] != expected:
            raise RuntimeError(f"{result['name']} returned {result['sample']!r} through our relay, not {expected!r}")
    return {r["name"]: r["particles_per_s"] for r in reply["results"]}


def measure_ephemeral(functions: dict[str, Any], iterations: int) -> dict[str, float]:
    from fluence_dao._util import paths

    request = {
        "jsClientDist": str(paths.node_package_file("@fluencelabs/js-client", "dist")),
        "functions": {name: {"script": f.script, "funcDef": f.func_def} for name, f in functions.items()},
        "cases": [
            {
                "name": function,
                "function": function,
                "peers": 1,
                "iterations": _count(function, iterations),
                "warmup": 2,
            }
            for function in FUNCTIONS
        ],
    }
    reply = _run_node(HERE / "js" / "ephemeral_bench.mjs", request)
    return {r["name"]: r["particles_per_s"] for r in reply["results"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=40, help="one_call calls per round (twenty_calls: /4)")
    parser.add_argument("--repeat", type=int, default=3, help="node processes per side; the median is reported")
    opts = parser.parse_args()

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon

    functions = compile_aqua(HERE / "js" / "bench.aqua").functions
    with tempfile.TemporaryDirectory(prefix="libp2p-bench-") as state_dir:
        daemon = PeerDaemon(DaemonConfig(state_dir=Path(state_dir), libp2p_port=0)).start()
        try:
            relay_runs, ephemeral_runs = [], []
            for _ in range(opts.repeat):  # interleaved, so both sides see the same machine load
                relay_runs.append(measure_relay(functions, daemon.libp2p.multiaddr, daemon.peer_id, opts.iterations))
                ephemeral_runs.append(measure_ephemeral(functions, opts.iterations))
        finally:
            daemon.stop()

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} python={sys.version.split()[0]}"
    )
    print(f"js-client 0.9.0 -> relay, {opts.repeat} round(s), median particles/s (one particle = one call and back)")
    print(f"{'case':<16}{'our peer (libp2p)':>19}{'js ephemeral':>15}{'ratio':>9}")
    for function in FUNCTIONS:
        ours = statistics.median(r[function] for r in relay_runs)
        theirs = statistics.median(r[function] for r in ephemeral_runs)
        print(f"{function:<16}{ours:>19.1f}{theirs:>15.1f}{ours / theirs:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
