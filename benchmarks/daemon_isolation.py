"""The interval under attack: its largest gap while a stranger holds slow calls, idle connections and large particles.

    python -m benchmarks.daemon_isolation [--runs 30] [--every 1] [--attackers 2]

The stack a user brings up (`devnet up`: anvil with ENS, the IPFS server and the peer daemon; then publish,
deploy-signer and start-interval through the flows, on the daemon over its loopback endpoint, as `start-interval`
does). The interval runs `--runs` times quietly, then `--runs` times while attacker processes (separate OS
processes with fresh client keys, neither host nor management nor creator of anything) keep up, each:
- idle connections: as many as the daemon accepts, held open, reopened when the daemon closes them;
- slow calls: `ens.namehash` of a 512 KiB name on the `ens` service the interval itself uses (a shared
  service instance: the stranger's calls queue on the same worker as the interval's);
- tight loops: AIR with three nested folds (seconds of AquaVM time each, if nothing stopped them);
- large particles: 3 MiB of particle data each.
Reported per phase: runs, skipped and failed runs, start lateness against the grid (p50/p99/max) and the largest
gap between consecutive run starts. Goal: under attack the period is kept within 100 ms (largest gap <= period +
100 ms) and no run fails or is skipped because of the attack.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from benchmarks._peer import load, machine
from benchmarks.interval import _percentile, deployed_signer  # one way to take percentiles and set up the signer

GOAL_GAP_MS = 100.0
KINDS = ("idle", "slow", "loops", "large")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="runs to measure in each phase")
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--attackers", type=int, default=1, help="attacker processes of each kind")
    parser.add_argument("--attacker", choices=KINDS, help=argparse.SUPPRESS)  # internal: run one attacker
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--peer-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        _attack(args.attacker, args.address, args.peer_id)
        return

    from fluence_dao.flows import start_interval, stop_interval

    with deployed_signer() as (context, session, _signer):
        network = session.network
        attackers: list[subprocess.Popen[bytes]] = []
        try:
            print(f"machine: {machine()}, load {load()}")
            started = start_interval(context, session, args.every)
            seen: dict[int, dict[str, Any]] = {}
            quiet = _collect(session, started.script_id, seen, args.runs, args.every)
            _report("quiet", quiet, args.every)
            address, peer_id = network.daemon_info["address"], network.relay.peer_id
            before = network.ping()
            for kind in KINDS[1:] + KINDS[:1]:  # the idle connections last: they take what the others left
                for _ in range(args.attackers):
                    argv = [sys.executable, "-m", "benchmarks.daemon_isolation", "--attacker", kind]
                    attackers.append(subprocess.Popen([*argv, "--address", address, "--peer-id", peer_id]))
                time.sleep(1.0)
            time.sleep(2.0)  # the attackers fill the daemon's queues
            load_now = os.getloadavg()[0]
            attacked = _collect(session, started.script_id, seen, args.runs, args.every)
            info = network.ping()
            received = int(info["particles_received"]) - int(before["particles_received"])
            refused = int(info["particles_refused"]) - int(before["particles_refused"])
            _report(f"under attack ({len(attackers)} attacker processes, load {load_now:.2f})", attacked, args.every)
            print(
                f"  the daemon meanwhile: {received} particles received, {refused} refused; now "
                f"{info.get('connections')} connections, {int(info.get('held_bytes', 0)) / 2**20:.0f} MiB held"
            )
            _verdict(attacked, args.every)
            stop_interval(session, started.script_id)
        finally:
            for process in attackers:
                process.terminate()
            for process in attackers:
                process.wait(10)


def _collect(session: Any, script_id: str, seen: dict[int, dict[str, Any]], runs: int, every: float) -> list[Any]:
    """The next `runs` finished runs (or skipped grid points) of the interval, read from the peer's history."""
    first = max(seen, default=-1) + 1
    deadline = time.monotonic() + runs * every * 2 + 60
    while time.monotonic() < deadline:
        time.sleep(min(5.0, max(0.5, every * 3)))
        for run in session.call("deploy.aqua", "script_runs", [script_id]):
            if run["outcome"] != "running":
                seen[int(run["seq"])] = run
        if sum(1 for seq in seen if seq >= first) >= runs:
            break
    return [seen[seq] for seq in sorted(seen) if seq >= first][:runs]


def _report(phase: str, runs: list[dict[str, Any]], every: float) -> None:
    ran = [r for r in runs if r["outcome"] != "skipped"]
    skipped = sum(int(r["skipped"]) or 1 for r in runs if r["outcome"] == "skipped")
    failed = [r for r in ran if r["outcome"] == "failed"]
    late = [float(r["late_ms"]) for r in ran]
    gaps = [int(b["started_ms"]) - int(a["started_ms"]) for a, b in itertools.pairwise(ran)]
    gaps = [g / (int(b["seq"]) - int(a["seq"])) for g, a, b in zip(gaps, ran, ran[1:], strict=False)]
    print(f"\n{phase}: {len(ran)} runs, {skipped} skipped, {len(failed)} failed")
    if failed:
        print(f"  first failure at step {failed[0]['step'] or '?'}: {failed[0]['error'][:160]}")
    if late:
        print(
            f"  start lateness vs the grid: p50 {_percentile(late, 0.5):.1f} ms  p99 {_percentile(late, 0.99):.1f} ms"
            f"  max {max(late):.1f} ms"
        )
    if gaps:
        print(f"  largest gap between run starts: {max(gaps):.1f} ms (period {every * 1000:g} ms)")


def _verdict(runs: list[dict[str, Any]], every: float) -> None:
    ran = [r for r in runs if r["outcome"] != "skipped"]
    gaps = [
        (int(b["started_ms"]) - int(a["started_ms"])) / (int(b["seq"]) - int(a["seq"]))
        for a, b in itertools.pairwise(ran)
    ]
    worst = max(gaps, default=float("inf")) - every * 1000
    clean = len(ran) == len(runs) and not any(r["outcome"] == "failed" for r in ran)
    met = worst <= GOAL_GAP_MS and clean
    print(
        f"  goal (largest gap within {GOAL_GAP_MS:g} ms of the period, no run failed or skipped): "
        f"{'met' if met else 'NOT met'} (largest gap {worst:+.1f} ms off the period)"
    )


# ---- the attacker (a separate process) --------------------------------------------------------------------------


def _attack(kind: str, address: str, peer_id: str) -> None:
    """Keep up one kind of attack against the daemon at `address` until terminated."""
    from fluence_dao.peer.particle import KeyPair, Particle
    from fluence_dao.peer.wire import encode_particle, frame

    host, port = address.rsplit(":", 1)
    target = (host, int(port))
    # every local client is on 127.0.0.0/8: an attacker spreads over source addresses past per-address limits
    sources = [f"127.0.{KINDS.index(kind) + 1}.{n}" for n in range(1, 255)]
    if kind == "idle":
        held: list[socket.socket] = []
        while True:
            held = [s for s in held if _open(s)]
            for source in sources[: max(0, 100 - len(held))]:
                try:
                    held.append(socket.create_connection(target, timeout=5, source_address=(source, 0)))
                except OSError:
                    break
            time.sleep(1.0)
    key = KeyPair.generate()
    sock = _connect(target, sources)
    script = _attack_script(kind, peer_id)
    data = b"x" * (3 * 2**20) if kind == "large" else b""
    while True:
        particle = Particle.create(script, key, ttl_ms=20_000)
        if data:
            particle = particle.with_data(data)
        try:
            sock.sendall(frame(encode_particle(particle)))
        except OSError:  # the daemon closed it: open another
            sock = _connect(target, sources)
        time.sleep(0.01)


def _connect(target: tuple[str, int], sources: list[str]) -> socket.socket:
    """A connection from the first source address the daemon accepts (retried until one is)."""
    while True:
        for source in sources:
            try:
                sock = socket.create_connection(target, timeout=30, source_address=(source, 0))
            except OSError:
                continue
            threading.Thread(target=_drain, args=(sock,), daemon=True).start()
            return sock
        time.sleep(0.5)


def _attack_script(kind: str, peer_id: str) -> str:
    if kind == "slow":
        name = ".".join(["a"] * (32 * 1024 - 8))  # 64 KiB, the most a stranger may send: a keccak per label
        return f'(call "{peer_id}" ("ens" "namehash") ["{name}"] r)'
    if kind == "loops":
        numbers = " ".join(str(i) for i in range(200))
        inner = "(fold arr k (seq (null) (next k)))"
        loops = f"(fold arr i (seq (fold arr j (seq {inner} (next j))) (next i)))"
        return f'(seq (call "{peer_id}" ("op" "array") [{numbers}] arr) {loops})'
    return f'(call "{peer_id}" ("op" "noop") [])'  # large: the data is the load


def _open(sock: socket.socket) -> bool:
    try:
        sock.setblocking(False)
        try:
            return sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        finally:
            sock.setblocking(True)
    except OSError:
        return False


def _drain(sock: socket.socket) -> None:
    """Read and drop whatever the daemon sends (refusals, failures), so it never blocks on this connection."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        return


if __name__ == "__main__":
    main()
