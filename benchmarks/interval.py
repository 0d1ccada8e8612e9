"""The interval loop's timing: start jitter, and one iteration split into its steps.

    python -m benchmarks.interval [--runs 60] [--every 1] [--iterations 20]

1. Jitter: the governed interval AIR runs `--runs` times every `--every` s on the local peer (a real anvil with ENS,
   the real modules); p50/p99 of how late each run started against its scheduled time. The scheduler's tick is
   0.05 s here (nox's was 3 s), so a run can be up to one tick late by design.
2. Split: ENS read (the signer's service id through curl_adapter + ens), signing (prepare setText + sign_tx),
   sending (eth_sendRawTransaction) and the receipt, each run on the peer as its own particle, next to the same
   step done directly from Python (web3 / eth-account) in the same run: the ratio is what the peer costs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet
    from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish, start_interval, stop_interval
    from fluence_dao.peer import LocalNetwork, call_function

    with tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings({"state_dir": root / "state"}, env_file=None)
        devnet = Devnet(settings)
        devnet.up()
        context = FlowContext(settings, ipfs_repo=root / "ipfs")
        network = LocalNetwork(1, base_dir=root / "net", config=context.peer_config())
        session = PeerSession(network)
        try:
            publish(context)
            signer = deploy_signer(context, session)
            print(f"machine: {_machine()}")
            _jitter(context, session, network, args.runs, args.every, start_interval, stop_interval)
            steps = compile_aqua(Path(__file__).parent / "aqua" / "interval_steps.aqua")

            def on_peer(name: str, *call_args: Any) -> Any:
                return call_function(network, steps.function(name), list(call_args), client=session.client)

            _split(context, signer.service_id, signer.address, on_peer, args.iterations)
        finally:
            network.stop()
            context.close()
            devnet.down()


def _jitter(context: Any, session: Any, network: Any, runs: int, every: float, start: Any, stop: Any) -> None:
    started = start(context, session, every)
    network.start()
    deadline = time.monotonic() + runs * every * 3 + 30
    script = network.relay.scheduler.get(started.script_id)
    while time.monotonic() < deadline and sum(r.ok is not None for r in script.history) < min(runs, 20):
        time.sleep(0.2)
    late: list[float] = []
    seen: set[str] = set()
    while time.monotonic() < deadline and len(late) < runs:
        for run in list(script.history):
            if run.particle_id not in seen:
                seen.add(run.particle_id)
                late.append(run.late_ms)
        time.sleep(0.2)
    network.stop()
    stop(session, started.script_id)
    ok = sum(1 for r in script.history if r.ok and isinstance(r.result, dict) and r.result.get("success"))
    print(f"\ninterval start jitter over {len(late)} runs every {every:g} s (scheduler tick 0.05 s; "
          f"{ok}/{len(script.history)} of the last runs sent a confirmed update)")  # fmt: skip
    print(f"  late by  p50 {_percentile(late, 0.5):7.1f} ms   p99 {_percentile(late, 0.99):7.1f} ms   "
          f"max {max(late):7.1f} ms")  # fmt: skip


def _split(context: Any, service_id: str, address: str, on_peer: Any, iterations: int) -> None:
    from eth_account import Account

    ens, eth, chain_id = context.ens, context.eth, context.chain_id
    project, signer_name = context.settings.ens.project_name, context.settings.ens.signer_name
    resolver = str(ens.resolver(signer_name))
    reference = Account.create()  # the direct baseline signs with a throwaway key: the same work, done in Python
    context.governance.transfer(reference.address, 10**17)
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
        f"\none iteration, median of {iterations} (peer: each step is a particle through AquaVM and the modules; "
        "direct: web3/eth-account from Python; the reference setText reverts on chain, which costs the same to send)"
    )
    print(f"  {'step':<10} {'peer ms':>9} {'direct ms':>10} {'peer/direct':>12}")
    total_peer = total_direct = 0.0
    for label in peer:
        p, d = statistics.median(peer[label]), statistics.median(direct[label])
        total_peer, total_direct = total_peer + p, total_direct + d
        print(f"  {label:<10} {p:9.1f} {d:10.1f} {p / d:11.1f}x")
    print(f"  {'total':<10} {total_peer:9.1f} {total_direct:10.1f} {total_peer / total_direct:11.1f}x")


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


def _machine() -> str:
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
