"""Particles per second on the fluence-dao peer vs js-client 0.9.0's ephemeral network, in the same run.

    python -m benchmarks.peer_particles [--iterations N] [--rounds R] [--no-js] [--no-daemon]

Two Aqua functions (benchmarks/js/bench.aqua): `one_call` (one builtin call on the last peer) and
`twenty_calls` (20 builtin calls round robin over three peers), on 1 and 3 peers. A "particle" is one complete
function call from a client through the relay and back; calls are sequential, each one's latency is kept.

Ours, as users get it:
- daemon: `fluence-dao peer serve` in its own process (what `devnet up` starts), reached as `fluence-dao run` and
  `start-interval` reach it: a RemoteNetwork over 127.0.0.1 TCP signing with the CLI client's key (the daemon's
  management key). One peer, so the 1-peer cases only.
- local: a LocalNetwork in this process (all peers and the client on one thread).

Baseline: js-client's EphemeralNetwork run the usual way, in its own node process (benchmarks/js/ephemeral_bench.mjs):
the network started once, one client connected to its relay, sequential `callAquaFunction` of the same compiled
AIR, no logging (DEBUG unset), warm-up excluded. Rounds alternate ours and js-client so both see the same load;
rates are the median round's, latencies pooled over rounds. The ratio is ours / js-client (higher is better).
After the timed calls a few more are made with every AquaVM invoke timed on both sides (not in the figures):
where our figure and js-client's differ by more than 2x, those counts say why.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    timed,
    versions,
)

CASES = [("one_call", 1), ("twenty_calls", 1), ("one_call", 3), ("twenty_calls", 3)]
PROFILE_CALLS = 10


def _args(function: str, ids: list[str]) -> list[str]:
    if function == "one_call":
        return [ids[-1]]
    return [ids[0], ids[1 % len(ids)], ids[2 % len(ids)]]


def _count(function: str, iterations: int) -> int:
    return iterations if function == "one_call" else max(1, iterations // 4)


def _warmup(function: str) -> int:
    return 20 if function == "one_call" else 5


@contextmanager
def _counting_invokes() -> Iterator[dict[str, float]]:
    """Every AquaVM invoke in this process counted and timed (the profiling pass only)."""
    from fluence_dao.peer.avm import AquaVM

    counter = {"invokes": 0.0, "seconds": 0.0}
    original = AquaVM.invoke

    def invoke(self: AquaVM, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            counter["invokes"] += 1
            counter["seconds"] += time.perf_counter() - started

    AquaVM.invoke = invoke  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        AquaVM.invoke = original  # type: ignore[method-assign]


def measure_local(functions: dict[str, Any], iterations: int) -> dict[str, Timing]:
    from fluence_dao.peer import LocalNetwork, call_function

    out: dict[str, Timing] = {}
    for peers in sorted({p for _, p in CASES}):
        network = LocalNetwork(peers)
        client = network.client()
        ids = [p.peer_id for p in network.peers]
        for function, case_peers in CASES:
            if case_peers == peers:
                fn, args = functions[function], _args(function, ids)
                out[f"{function}/{peers}"] = timed(
                    lambda fn=fn, args=args, network=network, client=client: call_function(
                        network, fn, args, client=client
                    ),
                    _count(function, iterations),
                    _warmup(function),
                )
    return out


def profile_local(functions: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """(invokes per call, seconds per invoke) of each case on a LocalNetwork: the code the daemon runs too."""
    from fluence_dao.peer import LocalNetwork, call_function

    out: dict[str, tuple[float, float]] = {}
    for peers in sorted({p for _, p in CASES}):
        network = LocalNetwork(peers)
        client = network.client()
        ids = [p.peer_id for p in network.peers]
        for function, case_peers in CASES:
            if case_peers != peers:
                continue
            call_function(network, functions[function], _args(function, ids), client=client)
            with _counting_invokes() as counter:
                for _ in range(PROFILE_CALLS):
                    call_function(network, functions[function], _args(function, ids), client=client)
            out[f"{function}/{peers}"] = (
                counter["invokes"] / PROFILE_CALLS,
                counter["seconds"] / max(1.0, counter["invokes"]),
            )
    return out


def measure_daemon(functions: dict[str, Any], iterations: int) -> dict[str, Timing]:
    """The 1-peer cases through `fluence-dao peer serve` in its own process; cpu_s is client + daemon."""
    from fluence_dao.peer import RemoteNetwork, call_function

    out: dict[str, Timing] = {}
    with (
        tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as state,
        daemon_process(Path(state)) as daemon,
        RemoteNetwork(daemon.address, daemon.client_key()) as network,
    ):
        for function, peers in CASES:
            if peers != 1:
                continue
            fn, args = functions[function], _args(function, [daemon.peer_id])

            def call(fn: Any = fn, args: list[str] = args) -> None:
                call_function(network, fn, args)

            for _ in range(_warmup(function)):
                call()
            daemon_cpu = daemon.cpu_s()
            timing = timed(call, _count(function, iterations), 0)
            timing.cpu_s += daemon.cpu_s() - daemon_cpu
            out[f"{function}/{peers}"] = timing
    return out


def measure_js(functions: dict[str, Any], iterations: int) -> tuple[dict[str, Timing], dict[str, Any]]:
    cases = [
        {
            "name": f"{function}/{peers}",
            "function": function,
            "peers": peers,
            "args": "last" if function == "one_call" else "round_robin",
            "iterations": _count(function, iterations),
            "warmup": _warmup(function),
        }
        for function, peers in CASES
    ]
    reply = js_client_ephemeral(functions, cases, profile_calls=PROFILE_CALLS)
    for result in reply["results"]:
        expected = "ab" if result["name"].startswith("one_call") else "x19"
        if result["sample"] != expected:
            raise RuntimeError(f"js-client's {result['name']} returned {result['sample']!r}, not {expected!r}")
    return {r["name"]: js_timing(r) for r in reply["results"]}, reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100, help="one_call calls per round (twenty_calls: /4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side, interleaved; the median is reported")
    parser.add_argument("--no-js", action="store_true", help="skip the js-client baseline")
    parser.add_argument("--no-daemon", action="store_true", help="skip the daemon (LocalNetwork only)")
    opts = parser.parse_args()

    from fluence_dao.aqua import compile_aqua

    load_before = load()
    functions = compile_aqua(HERE / "js" / "bench.aqua").functions
    runs: dict[str, list[dict[str, Timing]]] = {"daemon": [], "local": [], "js-client": []}
    js_reply: dict[str, Any] = {}
    for _ in range(opts.rounds):
        if not opts.no_daemon:
            runs["daemon"].append(measure_daemon(functions, opts.iterations))
        runs["local"].append(measure_local(functions, opts.iterations))
        if not opts.no_js:
            js_round, js_reply = measure_js(functions, opts.iterations)
            runs["js-client"].append(js_round)
    ours_profile = profile_local(functions)
    report(runs, js_reply, ours_profile, opts, load_before)
    return 0


def _row(case: str, side: str, timing: Timing, js: Timing | None) -> str:
    ratio = f"{timing.rate / js.rate:7.2f}x" if js is not None and side != "js-client" else f"{'':>8}"
    cpu_ms = timing.cpu_s / timing.count * 1000
    return (
        f"{case:<16}{side:<11}{timing.rate:>12.1f}{timing.percentile(0.5) * 1000:>9.2f}"
        f"{timing.percentile(0.99) * 1000:>9.2f}{cpu_ms:>12.2f}{ratio}"
    )


def report(
    runs: dict[str, list[dict[str, Timing]]],
    js_reply: dict[str, Any],
    ours_profile: dict[str, tuple[float, float]],
    opts: argparse.Namespace,
    load_before: str,
) -> None:
    rounds = opts.rounds
    print("fluence-dao peer vs js-client's ephemeral network: one particle = one Aqua function call from a client")
    print("through the relay and back (benchmarks/js/bench.aqua), sequential calls")
    print(f"machine: {machine()}")
    print(f"load: {load_before} before, {load()} after")
    print(f"versions: {versions()}")
    print(
        f"{opts.iterations} one_call / {max(1, opts.iterations // 4)} twenty_calls calls per round after 20 / 5 "
        f"warm-up calls, {rounds} round(s) per side interleaved: rate of the median round, p50/p99 over all rounds"
    )
    print("ours: daemon = `fluence-dao peer serve` in its own process, RemoteNetwork over 127.0.0.1 TCP with the CLI")
    print("      client's (management) key, as `fluence-dao run` reaches it; local = LocalNetwork in this process")
    if js_reply:
        config = js_reply["config"]
        print("baseline, in its own node process: " + ", ".join(f"{k}: {v}" for k, v in config.items()))
    print("CPU ms/call: this process, plus the daemon process for `daemon`; js-client: its node process (all threads)")
    print()
    print(f"{'case':<16}{'side':<11}{'particles/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/call':>12}{'vs js':>8}")
    merged_runs = {side: {case: merged([r[case] for r in rs]) for case in rs[0]} for side, rs in runs.items() if rs}
    js_side = merged_runs.get("js-client", {})
    for function, peers in CASES:
        case = f"{function}/{peers}"
        for side in ("daemon", "local", "js-client"):
            timing = merged_runs.get(side, {}).get(case)
            if timing is not None:
                print(_row(case, side, timing, js_side.get(case)))
    if not js_side:
        return
    print()
    print(
        f"AquaVM invokes per call and their cost ({PROFILE_CALLS} more calls, every invoke timed; not in the figures):"
    )
    js_avm = {r["name"]: r["avm"] for r in js_reply["results"]}
    for function, peers in CASES:
        case = f"{function}/{peers}"
        invokes, seconds = ours_profile[case]
        theirs = js_avm[case]
        js_invokes = theirs["invokes"] / max(1, theirs["calls"])
        js_ms = theirs["invoke_ms"] / max(1, theirs["invokes"])
        print(
            f"  {case:<16} ours {invokes:5.1f} invokes x {seconds * 1000:.3f} ms   "
            f"js-client {js_invokes:5.1f} invokes x {js_ms:.3f} ms"
        )
    explain(merged_runs, js_avm, ours_profile)


def explain(
    merged_runs: dict[str, dict[str, Timing]],
    js_avm: dict[str, Any],
    ours_profile: dict[str, tuple[float, float]],
) -> None:
    """Say why, for every case where ours and js-client's differ by more than 2x either way."""
    js_side = merged_runs["js-client"]
    lines = []
    for side in ("daemon", "local"):
        for case, timing in merged_runs.get(side, {}).items():
            js = js_side[case]
            ratio = timing.rate / js.rate
            if 0.5 <= ratio <= 2.0:
                continue
            invokes, seconds = ours_profile[case]
            theirs = js_avm[case]
            js_invokes = theirs["invokes"] / max(1, theirs["calls"])
            js_ms = theirs["invoke_ms"] / max(1, theirs["invokes"])
            lines.append(
                f"  {case} {side}: {ratio:.1f}x. Both run the same AIR with the same avm.wasm: ours {invokes:.0f} "
                f"invokes per call at {seconds * 1000:.2f} ms, js-client {js_invokes:.0f} at {js_ms:.2f} ms; CPU per "
                f"call {timing.cpu_s / timing.count * 1000:.1f} ms vs {js.cpu_s / js.count * 1000:.1f} ms."
            )
    if not lines:
        return
    print()
    print("Why ours and js-client's figures differ by more than 2x:")
    print("\n".join(lines))
    print(
        "  An invoke costs js-client more: its AquaVM runs in a marine worker thread, so every invoke's arguments\n"
        "  (AIR, prev_data, data, call results) and outcome cross postMessage and marine-js's interface-types\n"
        "  layer as JS values (the time per invoke grows with the particle's data: compare one_call and\n"
        "  twenty_calls), every call request costs another worker round trip (`hasService`), and each particle\n"
        "  passes RxJS queues; the last invoke of a call (feeding the response's empty result back) is run too.\n"
        "  Ours calls avm.wasm in-process through wasmtime with each argument copied once into its memory, and the\n"
        "  client stops at the response (call_function's `finished` hook). Per call the work is the same AquaVM\n"
        "  work: parsing the AIR, ed25519 key derivation and signing, merging data, on every invoke."
    )


if __name__ == "__main__":
    sys.exit(main())
