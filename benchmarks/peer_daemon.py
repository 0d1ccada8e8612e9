"""Calls per second through the peer daemon (RemoteNetwork over 127.0.0.1 TCP) vs an in-process LocalNetwork.

    python -m benchmarks.peer_daemon [--iterations N] [--rounds R]

Two compiled Aqua functions of benchmarks/js/bench.aqua, called sequentially from one client: `one_call` (one
builtin call on the relay, a result) and `no_result` (one builtin call, no result: the client returns once the
daemon has run it, which it learns with a Sync round trip). Baseline: a one-peer LocalNetwork in this process
(peer and client on one thread: no socket, no second process). The daemon is `fluence-dao peer serve` in its own
process, as `devnet up` starts it, reached as the CLI reaches it:
- management key: the CLI client's key (what `fluence-dao run` and `start-interval` sign with), one connection;
- stranger's key: any other key, whose particles the daemon runs in budgeted slices under size and time limits;
- new connection per call: a RemoteNetwork per call, as each CLI invocation opens one (its own client peer and
  AquaVM instance, a signed Ping), interpreter start-up not included.
Rounds alternate; rates are the median round's, latencies pooled. Ratios are daemon / local (higher is better;
below 1 is the cost of the socket, framing, a second process and its threads).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._peer import HERE, Timing, daemon_process, load, machine, merged, timed, versions

WARMUP = 10
FUNCTIONS = ("one_call", "no_result")
SIDES = ("local (baseline)", "daemon, management key", "daemon, stranger's key", "daemon, new connection per call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.peer import AquaVM, KeyPair, LocalNetwork, RemoteNetwork, call_function

    load_before = load()
    functions = compile_aqua(HERE / "js" / "bench.aqua").functions
    local = LocalNetwork(1)
    local_client = local.client()
    rows: dict[tuple[str, str], list[Timing]] = {(f, side): [] for f in FUNCTIONS for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as state, daemon_process(Path(state)) as daemon:
        management = RemoteNetwork(daemon.address, daemon.client_key())
        stranger = RemoteNetwork(daemon.address, KeyPair.generate())

        def through(network: Any, function: Any, count: int, warmup: int) -> Timing:
            for _ in range(warmup):
                call_function(network, function, [daemon.peer_id])
            cpu = daemon.cpu_s()
            timing = timed(lambda: call_function(network, function, [daemon.peer_id]), count, 0)
            timing.cpu_s += daemon.cpu_s() - cpu
            return timing

        def fresh_call(function: Any) -> None:
            with RemoteNetwork(daemon.address, daemon.client_key()) as network:
                call_function(network, function, [daemon.peer_id])

        try:
            for _ in range(args.rounds):
                for name in FUNCTIONS:
                    fn = functions[name]
                    rows[(name, SIDES[0])].append(
                        timed(
                            lambda fn=fn: call_function(local, fn, [local.relay.peer_id], client=local_client),
                            args.iterations,
                            WARMUP,
                        )
                    )
                    rows[(name, SIDES[1])].append(through(management, fn, args.iterations, WARMUP))
                    rows[(name, SIDES[2])].append(through(stranger, fn, args.iterations, WARMUP))
                    cpu = daemon.cpu_s()
                    timing = timed(lambda fn=fn: fresh_call(fn), max(1, args.iterations // 10), 2)
                    timing.cpu_s += daemon.cpu_s() - cpu
                    rows[(name, SIDES[3])].append(timing)
        finally:
            management.close()
            stranger.close()

    started = time.perf_counter()
    for _ in range(5):
        AquaVM()
    instantiate_ms = (time.perf_counter() - started) / 5 * 1000

    print("one builtin call on the relay, with and without a result, through the peer daemon vs a LocalNetwork")
    print(f"machine: {machine()}")
    print(f"load: {load_before} before, {load()} after")
    print(f"versions: {versions()}")
    print(
        f"{args.iterations} sequential calls per round ({max(1, args.iterations // 10)} with a new connection each) "
        f"after {WARMUP} warm-up calls, {args.rounds} rounds interleaved: rate of the median round, p50/p99 over all"
    )
    print("daemon: `fluence-dao peer serve` in its own process; CPU ms/call: this process plus the daemon's")
    merged_rows = {key: merged(timings) for key, timings in rows.items()}
    for name in FUNCTIONS:
        print()
        print(f"{name:<34}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/call':>12}{'vs local':>10}")
        baseline = merged_rows[(name, SIDES[0])]
        for side in SIDES:
            timing = merged_rows[(name, side)]
            print(
                f"  {side:<32}{timing.rate:>9.1f}{timing.percentile(0.5) * 1000:>9.2f}"
                f"{timing.percentile(0.99) * 1000:>9.2f}{timing.cpu_s / timing.count * 1000:>12.2f}"
                f"{timing.rate / baseline.rate:>9.2f}x"
            )
    explain(merged_rows, instantiate_ms)
    return 0


def explain(rows: dict[tuple[str, str], Timing], instantiate_ms: float) -> None:
    lines = []
    for (name, side), timing in rows.items():
        ratio = timing.rate / rows[(name, SIDES[0])].rate
        if 0.5 <= ratio <= 2.0:
            continue
        if "new connection" in side:
            why = (
                "each call opens a RemoteNetwork: a TCP connection, a signed Ping and a new client peer whose "
                f"AquaVM instance alone takes {instantiate_ms:.0f} ms to create here (a CLI invocation pays this too)"
            )
        elif name == "no_result":
            why = "the client waits for the daemon's Synced reply after the particle ran: one more round trip"
        else:
            why = "the socket round trips and the second process"
        lines.append(f"  {name}, {side}: {ratio:.2f}x local: {why}.")
    if lines:
        print()
        print("Why these differ from the local baseline by more than 2x:")
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
