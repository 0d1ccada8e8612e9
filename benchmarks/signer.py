"""sign_tx through the Marine host next to eth-account (coincurve backend) signing the same transactions.

    python -m benchmarks.signer [--transactions 300] [--repeats 7] [--out-dir target/wasm]

Builds wasm/signer and wasm/ens (Zig from PyPI), feeds a known key through the host's `random_source`, and
signs the same mix of legacy and EIP-1559 transactions with the module (full ABI round trip from Python:
lowering the JSON, signing, lifting the result record) and with eth-account. Every module signature is
checked byte for byte against eth-account's before timing.

The baseline is eth-account as its documentation uses it, `Account.sign_transaction(tx, key)`, with the key
given as an eth-keys `PrivateKey` made once (what `LocalAccount` holds; a raw-bytes key would re-derive the
public key on every call), on eth-keys' coincurve backend (libsecp256k1), which the benchmark checks rather
than assumes. It runs warm in a process of its own: a fresh interpreter that imports only eth-account, so it
shares no GC heap, threads (the Marine host's epoch ticker) or imports with the module under test. Passes
alternate between the two processes so both see the same machine load; the median of `--repeats` passes is
reported. The same-process figure is printed as a cross-check. Where the two rates differ by more than 2x
either way, the benchmark prints what the time goes to on each side.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._peer import load, machine

PEER = "12D3KooWBenchCreatorPeer"
KEY_SEED = b"fluence-dao benchmark key"
BASELINE_PACKAGES = ("eth-account", "eth-keys", "coincurve", "eth-rlp", "rlp", "eth-utils", "hexbytes")


def transactions(count: int, seed: int = 1) -> list[tuple[dict[str, Any], int]]:
    """Typical transactions (transfers, setText-sized calls, creations), half legacy, half EIP-1559."""
    from eth_utils import to_checksum_address

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


def benchmark_key() -> bytes:
    from eth_utils import keccak

    return keccak(KEY_SEED)


def versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this process, wall-clock seconds) of one call of `fn`."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def digest(raw_transactions: list[str]) -> str:
    return hashlib.sha256("\n".join(raw_transactions).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# the baseline process


class EthAccountSigner:
    """eth-account signing the benchmark transactions; reports its configuration."""

    def __init__(self, count: int) -> None:
        from eth_account import Account
        from eth_keys import KeyAPI

        self.account = Account
        self.key = KeyAPI().PrivateKey(benchmark_key())
        self.txs = [tx for tx, _ in transactions(count)]
        self.hash = benchmark_key()  # any 32 bytes: the pure secp256k1 signing time

    def config(self) -> dict[str, Any]:
        backend = self.key.backend
        return {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "versions": versions(BASELINE_PACKAGES),
            "backend": f"{type(backend).__module__}.{type(backend).__name__}",
            "ecc_backend_env": os.environ.get("ECC_BACKEND_CLASS", ""),
            "digest": digest(self.raw()),
        }

    def raw(self) -> list[str]:
        return ["0x" + self.account.sign_transaction(tx, self.key).raw_transaction.hex() for tx in self.txs]

    def run_pass(self) -> tuple[float, float]:
        sign, key = self.account.sign_transaction, self.key
        return timed(lambda: [sign(tx, key) for tx in self.txs])

    def ecdsa_pass(self) -> tuple[float, float]:
        """The same number of bare ECDSA signatures through eth-keys (coincurve), no transaction work."""
        key, msg_hash = self.key, self.hash
        return timed(lambda: [key.sign_msg_hash(msg_hash) for _ in self.txs])


def baseline_worker(count: int) -> None:
    """`--baseline-worker`: answers one JSON line per command read from stdin (config, pass, ecdsa, quit)."""
    signer = EthAccountSigner(count)
    signer.run_pass()  # warm-up
    for line in sys.stdin:
        command = line.strip()
        if command == "config":
            answer: Any = signer.config()
        elif command == "pass":
            answer = signer.run_pass()
        elif command == "ecdsa":
            answer = signer.ecdsa_pass()
        elif command == "quit":
            return
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), flush=True)


class BaselineProcess:
    """The eth-account worker as a child process, driven one command at a time."""

    def __init__(self, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.signer", "--baseline-worker", "--transactions", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the eth-account worker exited (code {self.proc.wait()}) on {command!r}")
        return json.loads(line)

    def close(self) -> None:
        with contextlib.suppress(SystemExit, BrokenPipeError):
            self.ask("quit")
        self.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------------------
# main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--baseline-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(args.transactions)
        return

    from fluence_dao.build import build_module, default_out_dir
    from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig, ParticleParameters

    load_before = load()
    call_parameters = CallParameters(
        particle=ParticleParameters(id="bench", init_peer_id=PEER), service_creator_peer_id=PEER, host_id=PEER
    )
    out_dir = args.out_dir or default_out_dir()
    started = time.perf_counter()
    signer = build_module("signer", out_dir)
    build_s = time.perf_counter() - started
    ens = build_module("ens", out_dir)
    key = benchmark_key()

    started = time.perf_counter()
    module = MarineModule.load(signer.read_bytes(), ModuleConfig(name="signer", random_source=lambda n: key[:n]))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    initiated = module.call("initiate", [], call_parameters=call_parameters)
    initiate_s = time.perf_counter() - started

    local = EthAccountSigner(args.transactions)
    if initiated["value"] != local.key.public_key.to_checksum_address():
        raise SystemExit(f"initiate returned {initiated!r}, expected {local.key.public_key.to_checksum_address()}")
    txs = transactions(args.transactions)
    requests = [(json.dumps(tx), chain_id) for tx, chain_id in txs]
    expected = local.raw()
    signed = [module.call("sign_tx", [r, c], call_parameters=call_parameters)["value"] for r, c in requests]
    for (request, _), got, want in zip(requests, signed, expected, strict=True):
        if got != want:
            raise SystemExit(f"signature mismatch for {request}: {got!r} != {want!r}")

    worker = BaselineProcess(args.transactions)
    try:
        config = worker.ask("config")
        if "CoinCurve" not in config["backend"]:
            raise SystemExit(
                f"eth-keys uses {config['backend']} (ECC_BACKEND_CLASS={config['ecc_backend_env']!r}), not "
                "coincurve: install coincurve (`pip install -e .[dev]`) so the baseline is eth-account with "
                "libsecp256k1"
            )
        if config["digest"] != digest(signed):
            raise SystemExit("the eth-account worker signed different transactions than the module")

        def module_pass() -> tuple[float, float]:
            return timed(lambda: [module.call("sign_tx", [r, c], call_parameters=call_parameters) for r, c in requests])

        def floor_pass() -> tuple[float, float]:
            return timed(lambda: [module.call("address", [], call_parameters=call_parameters) for _ in requests])

        for warm_up in (module_pass, local.run_pass, floor_pass):  # the worker warmed itself
            warm_up()
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in ("module", "worker", "local", "floor", "ecdsa")}
        for i in range(args.repeats):
            # alternate the order so neither side always runs right after the other
            steps: list[tuple[str, Callable[[], tuple[float, float]]]] = [
                ("module", module_pass),
                ("worker", lambda: tuple(worker.ask("pass"))),
                ("local", local.run_pass),
            ]
            for name, step in steps if i % 2 == 0 else reversed(steps):
                times[name].append(step())
            times["floor"].append(floor_pass())
            times["ecdsa"].append(tuple(worker.ask("ecdsa")))
    finally:
        worker.close()

    count = len(requests)
    rate = {name: count / statistics.median(cpu for cpu, _ in values) for name, values in times.items()}
    wall = {name: count / statistics.median(w for _, w in values) for name, values in times.items()}
    us = {name: 1e6 / value for name, value in rate.items()}
    ratio = rate["module"] / rate["worker"]

    from fluence_dao.marine import wasmtime_version

    print("signer benchmark: sign_tx through the Marine host vs eth-account with coincurve")
    print(f"  machine   {machine()}; load before {load_before}, after {load()}")
    print(
        f"  module    {platform.python_implementation()} {platform.python_version()}, wasmtime "
        f"{wasmtime_version()}, zig {versions(('ziglang',))['ziglang']}; signer.wasm {signer.size:,} bytes"
    )
    packages = ", ".join(f"{name} {version}" for name, version in config["versions"].items())
    print(f"  baseline  {config['python']}, {packages}")
    print(f"            eth-keys backend {config['backend']} (checked in the baseline process)")
    what = (
        f"{count} transactions (half legacy, half EIP-1559; data 0-1000 bytes), median of {args.repeats} warm "
        "passes. Rates from each process's CPU time (on a shared machine wall-clock time also counts waiting "
        "for a core); wall-clock rates beside them."
    )
    print(textwrap.fill(what, width=112, initial_indent="  ", subsequent_indent="  "))
    print()
    print(f"  {'':<54} {'calls/s':>8} {'µs/call':>8} {'wall calls/s':>13}")
    rows = [
        ("sign_tx through the Marine host", "module", ""),
        ("eth-account Account.sign_transaction, own process", "worker", "  (baseline)"),
        ("eth-account, in the benchmark process (cross-check)", "local", ""),
    ]
    for label, name, note in rows:
        print(f"  {label:<54} {rate[name]:8,.0f} {us[name]:8.0f} {wall[name]:13,.0f}{note}")
    print(
        f"  ratio: module / eth-account {ratio:.2f}x (wall clock {wall['module'] / wall['worker']:.2f}x; "
        f"in-process cross-check {rate['module'] / rate['local']:.2f}x)"
    )
    print()
    print("  where the time goes")
    print(f"  {'  eth-keys sign_msg_hash alone (libsecp256k1 via coincurve)':<58} {us['ecdsa']:17.0f} µs")
    print(f"  {'  module: host round trip of address() (no signing)':<58} {us['floor']:17.0f} µs")
    if ratio > 2 or ratio < 0.5:
        print()
        print(f"  why the rates differ by more than 2x ({ratio:.2f}x):")
        python_us = us["worker"] - us["ecdsa"]
        if ratio > 2:
            why = (
                f"eth-account spends {python_us:.0f} of its {us['worker']:.0f} µs per transaction in Python "
                "(validating the transaction dict, building the typed transaction, RLP-encoding it twice, "
                f"hashing, wrapping the result) and {us['ecdsa']:.0f} µs in libsecp256k1. The module does the "
                "parsing, RLP, keccak and signing in compiled wasm; it costs the host round trip "
                f"({us['floor']:.0f} µs) plus ~{us['module'] - us['floor']:.0f} µs of lowering the JSON and "
                "the call parameters, signing and lifting the result."
            )
        else:
            why = (
                f"the module takes {us['module']:.0f} µs per transaction: {us['floor']:.0f} µs of host round "
                f"trip (Marine ABI through wasmtime-py) and ~{us['module'] - us['floor']:.0f} µs of lowering, "
                f"wasm signing and lifting, against eth-account's {us['worker']:.0f} µs ({us['ecdsa']:.0f} µs "
                "of it in libsecp256k1)."
            )
        print(textwrap.fill(why, width=112, initial_indent="    ", subsequent_indent="    "))
    print()
    print(
        f"  build signer {build_s:.1f} s, load {load_s * 1e3:.0f} ms, first call (instantiate + initiate, "
        f"including the comb table) {initiate_s * 1e3:.0f} ms"
    )
    for built in (signer, ens):
        print(f"  module size {built.name:<8} {built.size:>9,} bytes ({built.path})")


if __name__ == "__main__":
    main()
