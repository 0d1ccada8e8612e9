"""Calls per second through the Marine host, as ratios against raw wasmtime measured in the same run.

    python -m benchmarks.marine_calls [--seconds 1.0] [--repeats 5]

Rows:
- string -> string (`echo_string` of target/wasm/conformance.wasm when built, else the WAT test module),
  on one instance and re-instantiated before every call;
- avm.wasm `invoke` of a one-call script, on one instance and re-instantiated before every call;
- baselines: a raw wasmtime call of an (i32) -> i32 export with no ABI work, and a raw instantiation;
- execution bound: avm.wasm `invoke` on engines without a bound, with epoch interruption and with fuel
  (why marine/_engine.py uses epochs).
Each figure is the median of `--repeats` runs of about `--seconds` each.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

from fluence_dao.marine import MarineModule, ModuleConfig
from fluence_dao.util import paths

ROOT = Path(__file__).resolve().parent.parent
WAT_MODULE = ROOT / "tests" / "fixtures" / "wat" / "abi.wat"
CONFORMANCE = ROOT / "target" / "wasm" / "conformance.wasm"
LIMIT = 4294967296


def rate(fn: Callable[[], object], seconds: float, repeats: int) -> float:
    """Median calls per second over `repeats` timed runs of about `seconds` each."""
    fn()
    results = []
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            for _ in range(10):
                fn()
            count += 10
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        results.append(count / elapsed)
    return statistics.median(results)


def row(label: str, value: float, baseline: float | None = None, unit: str = "calls/s") -> None:
    ratio = f"   {value / baseline:6.3f} x baseline" if baseline else ""
    print(f"  {label:<52} {value:12,.0f} {unit}{ratio}")


def avm_arguments() -> list[object]:
    peer = "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D"
    params = {
        "init_peer_id": peer, "current_peer_id": peer, "timestamp": int(time.time() * 1000), "ttl": 10_000,
        "key_format": 0, "secret_key_bytes": bytes(32), "particle_id": "bench", "air_size_limit": LIMIT,
        "particle_size_limit": LIMIT, "call_result_size_limit": LIMIT, "hard_limit_enabled": False,
    }  # fmt: skip
    return ['(call %init_peer_id% ("svc" "fn") ["a"] x)', b"", b"", params, b"\x81\x04\x80"]


def raw_baselines(seconds: float, repeats: int) -> tuple[float, float]:
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, '(module (func (export "id") (param i32) (result i32) (local.get 0)))')
    store = wasmtime.Store(engine)
    func = wasmtime.Instance(store, module, []).exports(store)["id"]
    assert isinstance(func, wasmtime.Func)
    calls = rate(lambda: func(store, 7), seconds, repeats)
    instantiations = rate(lambda: wasmtime.Instance(wasmtime.Store(engine), module, []), seconds, repeats)
    return calls, instantiations


def execution_bound(seconds: float, repeats: int) -> None:
    """avm.wasm `invoke` on engines without a bound, with epoch interruption and with fuel."""
    from fluence_dao.marine import alternative_engine

    modules = {}
    for bound in ("none", "epoch", "fuel"):
        with alternative_engine(bound):  # compiles avm.wasm once per engine (cached on disk after)
            modules[bound] = MarineModule.load(paths.avm_wasm_path(), ModuleConfig(name="avm"))
    avm_args = avm_arguments()
    results: dict[str, list[float]] = {bound: [] for bound in modules}
    for _ in range(repeats):  # interleaved, so load changes hit all three alike
        for bound, module in modules.items():
            results[bound].append(rate(lambda m=module: m.call("invoke", avm_args), seconds / 3, 1))
    print("execution bound, avm.wasm invoke (interleaved runs):")
    baseline = statistics.median(results["none"])
    for bound, values in results.items():
        row(f"bound: {bound}", statistics.median(values), baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (the median is shown)")
    args = parser.parse_args()
    seconds, repeats = args.seconds, args.repeats

    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    raw_call, raw_instantiate = raw_baselines(seconds, repeats)
    print("baselines (raw wasmtime, no Marine ABI):")
    row("call of an (i32) -> i32 export", raw_call)
    row("instantiate an empty module", raw_instantiate, unit="inst/s")

    source = CONFORMANCE if CONFORMANCE.is_file() else WAT_MODULE
    text = MarineModule.load(source, ModuleConfig(name="bench"))
    print(f"string -> string: echo_string of {source.relative_to(ROOT)}")
    row("one instance", rate(lambda: text.call("echo_string", ["hello marine"]), seconds, repeats), raw_call)

    def fresh_echo() -> None:
        text.reset()
        text.call("echo_string", ["hello marine"])

    row("re-instantiated before each call", rate(fresh_echo, seconds, repeats), raw_call)

    avm = MarineModule.load(paths.avm_wasm_path(), ModuleConfig(name="avm"))
    avm_args = avm_arguments()
    print("avm.wasm invoke of a one-call script:")
    row("one instance", rate(lambda: avm.call("invoke", avm_args), seconds, repeats), raw_call)

    def fresh_invoke() -> None:
        avm.reset()
        avm.call("invoke", avm_args)

    row("re-instantiated before each call", rate(fresh_invoke, seconds, repeats), raw_call)
    execution_bound(seconds, repeats)


if __name__ == "__main__":
    main()
