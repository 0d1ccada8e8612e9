"""The interval loop as `start-interval` runs it: achieved period and start lateness on the peer daemon.

    python -m benchmarks.interval [--runs 300] [--every 1] [--iterations 20]

1. Timing: the same stack the CLI uses (`devnet up`: anvil with ENS, the IPFS server and the peer daemon; then
   publish, deploy-signer and start-interval through the flows, on the daemon over its loopback endpoint). The
   governed interval AIR runs `--runs` times every `--every` s; the run history is read from the peer
   (`script.runs`) as `status` reads it. Reported: the achieved period (mean time between run starts per grid step),
   start lateness against the grid start + k * every (p50/p99/max), skipped and failed runs. Goal for `--every 1`
   over >= 300 runs: mean period within 1 ms of the requested one, p99 lateness < 20 ms.
2. Split: ENS read (the signer's service id through curl_adapter + ens), signing (prepare setText + sign_tx),
   sending (eth_sendRawTransaction) and the receipt, each run on the daemon as its own particle, next to the same
   step done directly from Python (web3 / eth-account) in the same run: the ratio is what the peer costs.
   `--iterations 0` leaves it out.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks._peer import load, machine

GOAL_PERIOD_MS = 1.0
GOAL_P99_LATE_MS = 20.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="runs to measure (>= 300 for the goal; 60 for a look)")
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=20, help="iterations of the step split (0: none)")
    args = parser.parse_args()

    with deployed_signer() as (context, session, signer):
        print(f"machine: {machine()}, load {load()}")
        print(f"versions: {_versions(context.settings)}")
        _timing(context, session, args.runs, args.every)
        if args.iterations > 0:
            _split(context, session, signer.service_id, signer.address, args.iterations)
        print(f"load after: {os.getloadavg()[0]:.2f}")


@contextmanager
def deployed_signer() -> Iterator[tuple[Any, Any, Any]]:
    """(FlowContext, PeerSession, DeployResult): a fresh devnet (no subgraph) in a temporary state dir, reached the
    way the CLI reaches it, with the modules published and the signer deployed; torn down after."""
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet
    from fluence_dao.flows import FlowContext, deploy_signer, open_session, publish

    with tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as tmp:
        settings = load_settings({"state_dir": Path(tmp) / "state", "devnet": {"subgraph": False}}, env_file=None)
        devnet = Devnet(settings)
        devnet.start()
        context = FlowContext(settings)
        try:
            session = open_session(settings)
            publish(context)
            yield context, session, deploy_signer(context, session)
        finally:
            context.close()
            devnet.down()


def _timing(context: Any, session: Any, runs: int, every: float) -> None:
    """Start the interval as `start-interval` does and collect its first `runs` grid points from the peer."""
    from fluence_dao.flows import start_interval, stop_interval
    from fluence_dao.peer.scheduler import HISTORY

    started = start_interval(context, session, every)
    records: dict[int, dict[str, Any]] = {}  # grid index -> run (or the first index of a skipped range)
    poll_s = max(0.5, min(20.0, every * HISTORY / 4))  # well before the peer's history wraps
    deadline = time.monotonic() + runs * every * 1.5 + 60
    covered = 0
    while time.monotonic() < deadline:
        time.sleep(min(poll_s, max(0.5, (runs - covered) * every)))
        for run in session.call("deploy.aqua", "script_runs", [started.script_id]):
            if run["outcome"] != "running":
                records[int(run["seq"])] = run
        covered = sum(int(r["skipped"]) or 1 for r in records.values() if int(r["seq"]) < runs)
        if covered >= runs:
            break
    stop_interval(session, started.script_id)

    ran = sorted(
        (r for r in records.values() if not int(r["skipped"]) and int(r["seq"]) < runs), key=lambda r: r["seq"]
    )
    skipped = sum(int(r["skipped"]) for r in records.values() if int(r["skipped"]) and int(r["seq"]) < runs)
    failed = [r for r in ran if r["outcome"] == "failed"]
    if len(ran) < 2:
        raise SystemExit(f"only {len(ran)} runs finished; last records: {list(records.values())[-3:]}")
    late = [float(r["late_ms"]) for r in ran]
    first, last = ran[0], ran[-1]
    grid_steps = int(last["seq"]) - int(first["seq"])
    period_ms = (int(last["started_ms"]) - int(first["started_ms"])) / grid_steps
    between_ms = (int(last["started_ms"]) - int(first["started_ms"])) / (len(ran) - 1)
    requested_ms = every * 1000
    durations = [int(r["finished_ms"]) - int(r["started_ms"]) for r in ran if int(r["finished_ms"])]
    print(f"\ninterval every {every:g} s on the peer daemon (start-interval), grid points 0..{runs - 1}:")
    print(f"  runs {len(ran)}, skipped {skipped}, failed {len(failed)}"
          + (f" (first failure at step {failed[0]['step'] or '?'}: {failed[0]['error'][:120]})" if failed else ""))  # fmt: skip
    print(f"  achieved period: mean {period_ms:.3f} ms per grid step (requested {requested_ms:g} ms, "
          f"off by {period_ms - requested_ms:+.3f} ms); mean between run starts {between_ms:.3f} ms")  # fmt: skip
    print(f"  start lateness vs the grid: p50 {_percentile(late, 0.5):.2f} ms   p99 {_percentile(late, 0.99):.2f} ms"
          f"   max {max(late):.2f} ms")  # fmt: skip
    worst = sorted(ran, key=lambda r: -float(r["late_ms"]))[:3]
    print("  latest starts: " + ", ".join(f"run {r['seq']} {float(r['late_ms']):.1f} ms" for r in worst))
    slope = _slope([(int(r["seq"]), int(r["started_ms"])) for r in ran])
    print(f"  least-squares period over all starts: {slope:.3f} ms")
    if durations:
        print(f"  run length: median {statistics.median(durations)} ms, max {max(durations)} ms")
    period_ok = abs(period_ms - requested_ms) <= GOAL_PERIOD_MS
    late_ok = _percentile(late, 0.99) < GOAL_P99_LATE_MS
    print(f"  goal (mean period within {GOAL_PERIOD_MS:g} ms, p99 lateness < {GOAL_P99_LATE_MS:g} ms): "
          f"{'met' if period_ok and late_ok else 'NOT met'}" + ("" if runs >= 300 else " (fewer than 300 runs)"))  # fmt: skip


def _slope(points: list[tuple[int, int]]) -> float:
    """The least-squares slope of (grid index, start ms): the period every start fits best."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den


def _split(context: Any, session: Any, service_id: str, address: str, iterations: int) -> None:
    from eth_account import Account

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.peer import call_function

    steps = compile_aqua(Path(__file__).parent / "aqua" / "interval_steps.aqua")

    def on_peer(name: str, *call_args: Any) -> Any:
        if session.client is None:
            session.client = session.network.client()
        return call_function(session.network, steps.function(name), list(call_args), client=session.client)

    ens, eth, chain_id = context.ens, context.eth, context.chain_id
    project, signer_name = context.settings.ens.project_name, context.settings.ens.signer_name
    resolver = str(ens.resolver(signer_name))
    reference = Account.create()  # the direct baseline signs with a throwaway key: the same work, done in Python
    context.governance.transfer(reference.address, 10**17)
    _wait_for_quiet_nonce(eth, address)
    peer: dict[str, list[float]] = {k: [] for k in ("ens read", "signing", "sending", "receipt")}
    direct: dict[str, list[float]] = {k: [] for k in peer}
    for i in range(iterations):
        value = f"bench-{i}"
        peer["ens read"].append(_timed(on_peer, "read_signer_service")[1])
        direct["ens read"].append(_timed(ens.text, project, "signer.service")[1])

        nonce = int(eth.rpc("eth_getTransactionCount", [address, "pending"]), 16)
        raw, ms = _timed(on_peer, "sign_set_text", service_id, resolver, hex(nonce), value)
        peer["signing"].append(ms)
        ref_nonce = int(eth.rpc("eth_getTransactionCount", [reference.address, "pending"]), 16)
        ref_raw, ms = _timed(_sign_directly, ens, reference, signer_name, value, ref_nonce, chain_id)
        direct["signing"].append(ms)

        tx_hash, ms = _timed(on_peer, "send_raw", raw)
        peer["sending"].append(ms)
        ref_hash, ms = _timed(eth.rpc, "eth_sendRawTransaction", [ref_raw])
        direct["sending"].append(ms)

        peer["receipt"].append(_timed(on_peer, "get_receipt", tx_hash)[1])
        direct["receipt"].append(_timed(eth.rpc, "eth_getTransactionReceipt", [ref_hash])[1])

    print(
        f"\none iteration, median of {iterations} (peer: each step is a particle through the daemon, AquaVM and the "
        "modules; direct: web3/eth-account from Python; the reference setText reverts on chain, which costs the same "
        "to send)"
    )
    print(f"  {'step':<10} {'peer ms':>9} {'direct ms':>10} {'peer/direct':>12}")
    total_peer = total_direct = 0.0
    for label in peer:
        p, d = statistics.median(peer[label]), statistics.median(direct[label])
        total_peer, total_direct = total_peer + p, total_direct + d
        print(f"  {label:<10} {p:9.1f} {d:10.1f} {p / d:11.1f}x")
    print(f"  {'total':<10} {total_peer:9.1f} {total_direct:10.1f} {total_peer / total_direct:11.1f}x")


def _wait_for_quiet_nonce(eth: Any, address: str, quiet_s: float = 3.0, timeout_s: float = 60.0) -> None:
    """Until the signer's pending nonce holds still for `quiet_s`: a run that had started before `stop_interval`
    still sends its transaction, and would take the nonce the split's first iteration reads."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        nonce = eth.rpc("eth_getTransactionCount", [address, "pending"])
        if nonce != last:
            last, since = nonce, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.25)
    raise SystemExit(f"the signer's nonce kept moving for {timeout_s:g} s after the interval stopped")


def _sign_directly(ens: Any, account: Any, name: str, value: str, nonce: int, chain_id: int) -> str:
    """What the peer's signing step does, in Python: build setText and sign it (EIP-1559)."""
    request = ens.set_text_request(name, "bench", value)
    tx = {"type": 2, "nonce": nonce, "gas": 120_000, "maxFeePerGas": 2_000_000_000,
          "maxPriorityFeePerGas": 1_000_000_000, "to": request.to, "value": 0, "data": request.data,
          "chainId": chain_id}  # fmt: skip
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    """fn(*args) and how long it took, in ms."""
    started = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - started) * 1000


def _versions(settings: Any) -> str:
    import json
    from importlib.metadata import version

    from fluence_dao import __version__
    from fluence_dao.devnet import anvil_binary
    from fluence_dao.util import paths

    anvil = subprocess.run([str(anvil_binary(settings)), "--version"], capture_output=True, text=True, check=False)
    anvil_version = anvil.stdout.strip().splitlines()[0] if anvil.stdout.strip() else "anvil ?"
    avm = json.loads((paths.node_modules() / "@fluencelabs" / "avm" / "package.json").read_text())["version"]
    return (
        f"fluence-dao {__version__}, Python {platform.python_version()}, wasmtime {version('wasmtime')}, "
        f"AquaVM {avm}, {anvil_version}"
    )


if __name__ == "__main__":
    main()
