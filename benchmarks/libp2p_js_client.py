"""Particles per second of js-client 0.9.0 using our peer daemon as its relay over libp2p, next to js-client's
own ephemeral network running the same compiled Aqua, in the same run.

    python -m benchmarks.libp2p_js_client [--iterations N] [--rounds R]

Aqua: benchmarks/js/bench.aqua, `one_call` (1 builtin call on the relay) and `twenty_calls` (20 builtin calls,
all on the relay: its three peer arguments are the relay). A "particle" is one complete function call from the
js-client through the relay and back (sequential calls, each one's latency kept).

Ours: `fluence-dao peer serve --libp2p-port 0` in its own process (libp2p on 127.0.0.1: ws, noise, yamux), driven
by benchmarks/js/relay_bench.mjs: js-client's `createClient(relay)` once, then sequential `callAquaFunction`.
Baseline: js-client's EphemeralNetwork with 1 peer run the usual way (benchmarks/js/ephemeral_bench.mjs, the
driver of benchmarks/peer_particles.py): started once, one client on its relay, sequential `callAquaFunction`,
no logging, warm-up excluded. Each side runs in its own node process per round, rounds alternate; rates are the
median round's, latencies pooled. Ratio: ours / ephemeral. The same js-client and AquaVM run on both sides, so
the ratio is what our relay and its libp2p transport cost next to an in-process relay.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._peer import (
    HERE,
    Timing,
    daemon_process,
    js_client_ephemeral,
    js_timing,
    load,
    machine,
    merged,
    run_js_bench,
    versions,
)

FUNCTIONS = ("one_call", "twenty_calls")


def _count(function: str, iterations: int) -> int:
    return iterations if function == "one_call" else max(1, iterations // 4)


def _warmup(function: str) -> int:
    return 10 if function == "one_call" else 3


def measure_relay(functions: dict[str, Any], daemon: Any, iterations: int) -> tuple[dict[str, Timing], dict[str, Any]]:
    """js-client through our daemon's libp2p endpoint; cpu_s is js-client's process plus the daemon's."""

    request = {
        "relay": daemon.libp2p_multiaddr,
        "functions": {name: {"script": f.script, "funcDef": f.func_def} for name, f in functions.items()},
        "cases": [
            {
                "name": function,
                "function": function,
                "args": [daemon.peer_id] * (1 if function == "one_call" else 3),
                "iterations": _count(function, iterations),
                "warmup": _warmup(function),
            }
            for function in FUNCTIONS
        ],
        "relayPid": daemon.pid,
        "ticksPerSecond": os.sysconf("SC_CLK_TCK"),
    }
    reply = run_js_bench("relay_bench.mjs", request)
    if reply["relayPeerId"] != daemon.peer_id:
        raise RuntimeError(f"js-client connected to {reply['relayPeerId']}, not our daemon {daemon.peer_id}")
    out = {}
    for result in reply["results"]:  # the same answers as on js-client's own network
        expected = "ab" if result["name"] == "one_call" else "x19"
        if result["sample"] != expected:
            raise RuntimeError(f"{result['name']} returned {result['sample']!r} through our relay, not {expected!r}")
        timing = js_timing(result)
        timing.cpu_s += result["relay_cpu_ms"] / 1000.0  # the daemon's CPU during the timed calls
        out[result["name"]] = timing
    return out, reply["config"]


def measure_ephemeral(functions: dict[str, Any], iterations: int) -> tuple[dict[str, Timing], dict[str, Any]]:
    cases = [
        {
            "name": function,
            "function": function,
            "peers": 1,
            "args": "last" if function == "one_call" else "round_robin",
            "iterations": _count(function, iterations),
            "warmup": _warmup(function),
        }
        for function in FUNCTIONS
    ]
    reply = js_client_ephemeral(functions, cases)
    return {r["name"]: js_timing(r) for r in reply["results"]}, reply["config"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=40, help="one_call calls per round (twenty_calls: /4)")
    parser.add_argument("--rounds", type=int, default=3, help="node processes per side; the median is reported")
    opts = parser.parse_args()

    from fluence_dao.aqua import compile_aqua

    load_before = load()
    functions = compile_aqua(HERE / "js" / "bench.aqua").functions
    relay_runs, ephemeral_runs = [], []
    relay_config: dict[str, Any] = {}
    ephemeral_config: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="libp2p-bench-") as state_dir,
        daemon_process(Path(state_dir), extra=["--libp2p-port", "0"]) as daemon,
    ):
        for _ in range(opts.rounds):  # interleaved, so both sides see the same machine load
            relay_round, relay_config = measure_relay(functions, daemon, opts.iterations)
            relay_runs.append(relay_round)
            ephemeral_round, ephemeral_config = measure_ephemeral(functions, opts.iterations)
            ephemeral_runs.append(ephemeral_round)

    print("js-client 0.9.0 with our peer daemon as its libp2p relay vs js-client's own ephemeral network")
    print(f"machine: {machine()}")
    print(f"load: {load_before} before, {load()} after")
    print(f"versions: {versions()}")
    print(
        f"{opts.iterations} one_call / {max(1, opts.iterations // 4)} twenty_calls calls per round after "
        f"{_warmup('one_call')} / {_warmup('twenty_calls')} warm-up calls, {opts.rounds} round(s) per side "
        "interleaved, each in its own node process"
    )
    print("ours: `fluence-dao peer serve --libp2p-port 0` in its own process; " + _describe(relay_config))
    print("baseline: " + _describe(ephemeral_config))
    print("CPU ms/call: the node process (all threads), plus the daemon process for ours")
    print()
    print(f"{'case':<14}{'side':<20}{'particles/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/call':>12}{'ratio':>8}")
    rows = {}
    for function in FUNCTIONS:
        ours = merged([r[function] for r in relay_runs])
        theirs = merged([r[function] for r in ephemeral_runs])
        rows[function] = (ours, theirs)
        for side, timing in (("our relay (libp2p)", ours), ("js ephemeral", theirs)):
            ratio = f"{ours.rate / theirs.rate:7.2f}x" if timing is ours else ""
            print(
                f"{function:<14}{side:<20}{timing.rate:>12.1f}{timing.percentile(0.5) * 1000:>9.2f}"
                f"{timing.percentile(0.99) * 1000:>9.2f}{timing.cpu_s / timing.count * 1000:>12.2f}{ratio:>8}"
            )
    explain(rows)
    return 0


def _describe(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in config.items())


def explain(rows: dict[str, tuple[Timing, Timing]]) -> None:
    """Why, where ours and the ephemeral network differ by more than 2x either way."""
    lines = []
    for function, (ours, theirs) in rows.items():
        ratio = ours.rate / theirs.rate
        if 0.5 <= ratio <= 2.0:
            continue
        lines.append(
            f"  {function}: {ratio:.2f}x; per call ours {ours.percentile(0.5) * 1000:.1f} ms p50 with "
            f"{ours.cpu_s / ours.count * 1000:.1f} ms CPU (js-client + daemon), the ephemeral network "
            f"{theirs.percentile(0.5) * 1000:.1f} ms with {theirs.cpu_s / theirs.count * 1000:.1f} ms CPU."
        )
    if not lines:
        return
    print()
    print("Why the two differ by more than 2x:")
    print("\n".join(lines))
    print(
        "  The same js-client and AquaVM run on both sides; what differs is the relay. The ephemeral relay is a\n"
        "  js peer in the client's own process (particles passed as objects), ours a separate process reached\n"
        "  over libp2p: every particle is framed, encrypted (noise) and multiplexed (yamux) by js-libp2p, and\n"
        "  py-libp2p opens a new stream per particle with multistream-select negotiation each way, which\n"
        "  dominates a one-call function's latency; the relay's own AquaVM work is the smaller part."
    )


if __name__ == "__main__":
    sys.exit(main())
