"""Particles per second on the fluence-dao peer vs js-client 0.9.0's ephemeral network, in the same run.

    python -m benchmarks.peer_particles [--iterations N] [--js-iterations N] [--repeat R] [--no-js]

Two Aqua functions (benchmarks/js/bench.aqua): `one_call` (one builtin call on the last peer) and
`twenty_calls` (20 builtin calls round robin over three peers), each on 1 and 3 peers. A "particle" is one
complete function call from a client through the relay and back (calls are sequential). The baseline runs
the same compiled AIR with js-client's EphemeralNetwork (in-process peers, each with AquaVM in a marine
worker) via benchmarks/js/ephemeral_bench.mjs; the ratio is ours / js-client (higher is better for us).
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
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = [("one_call", 1), ("one_call", 3), ("twenty_calls", 1), ("twenty_calls", 3)]


def _args(function: str, ids: list[str]) -> list[str]:
    if function == "one_call":
        return [ids[-1]]
    return [ids[0], ids[1 % len(ids)], ids[2 % len(ids)]]


def measure_ours(functions: dict[str, Any], iterations: int) -> dict[str, float]:
    from fluence_dao.peer import LocalNetwork, call_function

    out: dict[str, float] = {}
    for peers in sorted({p for _, p in CASES}):
        network = LocalNetwork(peers)
        client = network.client()
        ids = [p.peer_id for p in network.peers]
        for function, case_peers in CASES:
            if case_peers != peers:
                continue
            fn = functions[function]
            args = _args(function, ids)
            count = iterations if function == "one_call" else max(1, iterations // 4)
            for _ in range(2):
                call_function(network, fn, args, client=client)
            started = time.perf_counter()
            for _ in range(count):
                call_function(network, fn, args, client=client)
            out[f"{function}/{peers}"] = count / (time.perf_counter() - started)
    return out


def measure_js(functions: dict[str, Any], iterations: int) -> dict[str, float]:
    from fluence_dao._util import paths

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH")
    request = {
        "jsClientDist": str(paths.node_package_file("@fluencelabs/js-client", "dist")),
        "functions": {name: {"script": f.script, "funcDef": f.func_def} for name, f in functions.items()},
        "cases": [
            {
                "name": f"{function}/{peers}",
                "function": function,
                "peers": peers,
                "iterations": iterations if function == "one_call" else max(1, iterations // 4),
                "warmup": 2,
            }
            for function, peers in CASES
        ],
    }
    proc = subprocess.run(
        [node, str(HERE / "js" / "ephemeral_bench.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        timeout=1800,
        cwd=str(paths.project_root()),
        check=False,
    )
    reply = json.loads(proc.stdout.decode() or "{}")
    if "results" not in reply:
        raise RuntimeError(f"ephemeral network driver failed: {reply.get('fatal', '')} {proc.stderr.decode()[-2000:]}")
    return {r["name"]: r["particles_per_s"] for r in reply["results"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=60, help="one_call calls per case (twenty_calls: /4)")
    parser.add_argument("--js-iterations", type=int, default=20, help="the same for js-client (it is slower)")
    parser.add_argument("--repeat", type=int, default=1, help="processes/rounds per side; the median is reported")
    parser.add_argument("--no-js", action="store_true", help="skip the js-client baseline")
    opts = parser.parse_args()

    from fluence_dao.aqua import compile_aqua

    functions = compile_aqua(HERE / "js" / "bench.aqua").functions
    ours_runs = [measure_ours(functions, opts.iterations) for _ in range(opts.repeat)]
    js_runs = [] if opts.no_js else [measure_js(functions, opts.js_iterations) for _ in range(opts.repeat)]

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} python={sys.version.split()[0]}"
    )
    print(f"{'case':<18}{'fluence-dao p/s':>16}{'js-client p/s':>16}{'ratio':>9}")
    for function, peers in CASES:
        key = f"{function}/{peers}"
        ours = statistics.median(r[key] for r in ours_runs)
        if js_runs:
            js = statistics.median(r[key] for r in js_runs)
            print(f"{key:<18}{ours:>16.1f}{js:>16.2f}{ours / js:>8.1f}x")
        else:
            print(f"{key:<18}{ours:>16.1f}{'-':>16}{'-':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
