"""Calls per second through the peer daemon (RemoteNetwork over 127.0.0.1 TCP) vs an in-process LocalNetwork.

    python -m benchmarks.peer_daemon [--iterations N] [--repeat R]

The same compiled Aqua function (`greet` of tests/aqua/basics.aqua: one builtin call on the relay) is called
sequentially from one client, on a one-peer LocalNetwork (the baseline) and on a PeerDaemon started in this
process (its own threads, a real socket). A fresh connection per call (as one CLI invocation) is measured too.
Ratios are daemon / local (higher is better; below 1 is the cost of the socket, framing and threads).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _rate(call: Any, iterations: int) -> float:
    for _ in range(2):
        call()
    started = time.perf_counter()
    for _ in range(iterations):
        call()
    return iterations / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.peer import KeyPair, LocalNetwork, RemoteNetwork, call_function
    from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon

    greet = compile_aqua(ROOT / "tests" / "aqua" / "basics.aqua").function("greet")
    local = LocalNetwork(1)
    local_client = local.client()
    with tempfile.TemporaryDirectory() as state:
        daemon = PeerDaemon(DaemonConfig(state_dir=Path(state))).start()
        key = KeyPair.generate()
        try:
            remote = RemoteNetwork(daemon.address, key)
            rates: dict[str, list[float]] = {"local": [], "daemon": [], "daemon, new connection per call": []}
            for _ in range(args.repeat):
                rates["local"].append(
                    _rate(lambda: call_function(local, greet, ["x"], client=local_client), args.iterations)
                )
                rates["daemon"].append(_rate(lambda: call_function(remote, greet, ["x"]), args.iterations))

                def fresh() -> None:
                    with RemoteNetwork(daemon.address, key) as net:
                        call_function(net, greet, ["x"])

                rates["daemon, new connection per call"].append(_rate(fresh, max(1, args.iterations // 10)))
            remote.close()
        finally:
            daemon.stop()
    baseline = statistics.median(rates["local"])
    print(f"greet, {args.iterations} sequential calls, median of {args.repeat} runs")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:<34} {median:8.1f} calls/s   ratio vs local {median / baseline:5.2f}")


if __name__ == "__main__":
    main()
