"""sign_tx through the Marine host next to eth-account signing the same transactions, in the same run.

    python -m benchmarks.signer [--transactions 300] [--repeats 5] [--out-dir target/wasm]

Builds wasm/signer and wasm/ens (Zig from PyPI), feeds a known key through the host's `random_source`, and
signs the same mix of legacy and EIP-1559 transactions with the module (full ABI round trip from Python:
lowering the JSON, signing, lifting the result record) and with `eth_account.Account.sign_transaction`
(which uses coincurve when it is installed). Every module signature is checked byte for byte against
eth-account's before timing. Prints calls/s (median of `--repeats` passes over all transactions), the ratio,
one-off costs (build, load, instantiate + initiate) and the module sizes.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from fluence_dao.build import build_module, default_out_dir
from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig, ParticleParameters

PEER = "12D3KooWBenchCreatorPeer"
CALL_PARAMETERS = CallParameters(
    particle=ParticleParameters(id="bench", init_peer_id=PEER), service_creator_peer_id=PEER, host_id=PEER
)


def transactions(count: int, seed: int = 1) -> list[tuple[dict[str, Any], int]]:
    """Typical transactions (transfers, setText-sized calls, creations), half legacy, half EIP-1559."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        chain_id = rng.choice([1, 5, 31337])
        tx: dict[str, Any] = {
            "nonce": rng.randrange(10_000),
            "gas": rng.choice([21_000, 60_000, 500_000]),
            "value": rng.choice([0, rng.randrange(10**18)]),
            "data": "0x" + rng.randbytes(rng.choice([0, 4, 196, 1000])).hex(),
            "chainId": chain_id,
        }
        if rng.random() > 0.05:
            tx["to"] = to_checksum_address(rng.randbytes(20))
        if i % 2:
            tx["gasPrice"] = rng.randrange(10**9, 10**11)
        else:
            tx["type"] = 2
            tx["maxFeePerGas"] = rng.randrange(10**9, 10**11)
            tx["maxPriorityFeePerGas"] = rng.randrange(tx["maxFeePerGas"])
            tx["accessList"] = []
        out.append((tx, chain_id))
    return out


def timed_pass(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Median calls per second over `repeats` runs of `fn` (each run makes `calls` calls)."""
    fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(calls / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args()

    out_dir = args.out_dir or default_out_dir()
    started = time.perf_counter()
    signer = build_module("signer", out_dir)
    build_s = time.perf_counter() - started
    ens = build_module("ens", out_dir)
    wasm = signer.read_bytes()
    key = keccak(b"fluence-dao benchmark key")

    started = time.perf_counter()
    module = MarineModule.load(wasm, ModuleConfig(name="signer", random_source=lambda n: key[:n]))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    initiated = module.call("initiate", [], call_parameters=CALL_PARAMETERS)
    initiate_s = time.perf_counter() - started
    if initiated["value"] != Account.from_key(key).address:
        raise SystemExit(f"initiate returned {initiated!r}, expected {Account.from_key(key).address}")

    txs = transactions(args.transactions)
    requests = [(json.dumps(tx), chain_id) for tx, chain_id in txs]
    for (tx, _), (request, chain_id) in zip(txs, requests, strict=True):
        got = module.call("sign_tx", [request, chain_id], call_parameters=CALL_PARAMETERS)
        expected = "0x" + Account.sign_transaction(tx, key).raw_transaction.hex()
        if got["value"] != expected:
            raise SystemExit(f"signature mismatch for {request}: {got!r} != {expected}")

    def module_pass() -> None:
        for request, chain_id in requests:
            module.call("sign_tx", [request, chain_id], call_parameters=CALL_PARAMETERS)

    def eth_account_pass() -> None:
        for tx, _ in txs:
            Account.sign_transaction(tx, key)

    module_rate = timed_pass(module_pass, len(requests), args.repeats)
    reference_rate = timed_pass(eth_account_pass, len(txs), args.repeats)
    try:
        import coincurve  # noqa: F401

        backend = "coincurve"
    except ImportError:
        backend = "pure Python"

    print(f"signer benchmark on {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"  {len(txs)} transactions (half legacy, half EIP-1559), median of {args.repeats} passes")
    print(
        f"  {'sign_tx through the Marine host':<44} {module_rate:10,.0f} calls/s  {module_rate / reference_rate:6.3f} x baseline"
    )
    print(f"  {'eth-account sign_transaction (' + backend + ')':<44} {reference_rate:10,.0f} calls/s  (baseline)")
    print(
        f"  {'mean latency: module / eth-account':<44} {1e6 / module_rate:10,.0f} µs / {1e6 / reference_rate:,.0f} µs"
    )
    print(
        f"  build signer {build_s:.1f} s, load {load_s * 1e3:.0f} ms, first call (instantiate + initiate) {initiate_s * 1e3:.0f} ms"
    )
    for built in (signer, ens):
        print(f"  module size {built.name:<8} {built.size:>9,} bytes ({built.path})")


if __name__ == "__main__":
    main()
