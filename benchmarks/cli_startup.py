"""How long `fluence-dao --help` takes, next to the interpreter alone and `import web3` in the same run.

    python -m benchmarks.cli_startup [--repeat 10]

The CLI must answer `--help` in under 300 ms: heavy libraries (web3, wasmtime, libp2p) load inside the commands
that need them, and help is rendered without rich. CPU time (user + sys) is reported as well as wall time, since
wall time on a busy machine says more about the machine than about the code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _measure(argv: list[str], repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        before = os.times()
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - started)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    repeat = parser.parse_args().repeat
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "fluence-dao --help": [sys.executable, "-m", "fluence_dao", "--help"],
        "fluence-dao devnet --help": [sys.executable, "-m", "fluence_dao", "devnet", "--help"],
        "python -c 'import web3'": [sys.executable, "-c", "import web3"],
    }
    print(f"median of {repeat}, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'command':<28} {'wall ms':>8} {'cpu ms':>8} {'cpu / baseline':>15}")
    baseline = None
    for name, argv in cases.items():
        wall, cpu = _measure(argv, repeat)
        baseline = baseline or cpu
        print(f"  {name:<28} {wall:8.0f} {cpu:8.0f} {cpu / baseline:14.1f}x")


if __name__ == "__main__":
    main()
