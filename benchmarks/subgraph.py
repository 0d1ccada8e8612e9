"""Subgraph runner throughput and query latency, with baselines measured in the same run.

    python -m benchmarks.subgraph [--proposals 1000] [--voters 9] [--per-block 500] [--queries 200]

Starts its own anvil on 127.0.0.1, deploys Governance and creates `proposals * (1 + voters)` events (10,000 by
default: 1,000 ProposalCreated + 9,000 VoteCast), `--per-block` transactions per block. Then:
- indexing: the demo subgraph (built by graph-cli if needed) indexed from block 0 by the runner: events per
  second of wall-clock time (and of this process's CPU time), each event one fresh wasm instance running its
  handler as graph-node would. Goal: >= 1,000 events/s.
  Baseline: graph-node itself cannot run here (it needs PostgreSQL, IPFS and its own binary), so the figure is
  set against the floor of the same work without mappings: the same eth_getLogs ranges fetched and
  ABI-decoded by eth_abi in Python (the RPC and decoding alone); the ratio is what running the mappings and
  writing the versioned store cost on top.
- query: p50 and p99 latency of a 100-entity collection query over HTTP (`proposals(first: 100, orderBy: ...,
  where: ...)` with scalar fields), after indexing; baseline: p50/p99 of `{ _meta { block { number } } }` on the
  same server (HTTP + GraphQL parse/validate, no entity reads).
Prints the machine, its load before and after, and the versions of everything measured.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.signer import load, machine
from fluence_dao.util.net import LOOPBACK, free_port
from fluence_dao.util.paths import node_package_file, project_root


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    anvil = node_package_file("@foundry-rs/anvil-linux-amd64", "bin/anvil")
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    proc = subprocess.Popen(
        [str(anvil), "--host", LOOPBACK, "--port", str(port), "--gas-limit", "3000000000", "--no-mining", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("anvil did not start")


def _batch(client: Any, url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    replies = sorted(client.post(url, json=body, timeout=300).json(), key=lambda r: r["id"])
    for reply in replies:
        if "error" in reply:
            raise SystemExit(f"RPC error: {reply['error']}")
    return [r["result"] for r in replies]


def _create_activity(url: str, proposals: int, voters: int, per_block: int = 500) -> tuple[str, int]:
    import eth_abi
    import httpx
    from eth_hash.auto import keccak

    from fluence_dao.eth import governance_artifact

    art = governance_artifact()
    client = httpx.Client()
    accounts = _batch(client, url, [("eth_accounts", [])])[0]
    (tx,) = _batch(client, url, [("eth_sendTransaction", [{"from": accounts[0], "data": art["bytecode"]}])])
    _batch(client, url, [("evm_mine", [])])
    address = _batch(client, url, [("eth_getTransactionReceipt", [tx])])[0]["contractAddress"]
    propose = keccak(b"propose(string,uint256)")[:4]
    vote = keccak(b"vote(uint256,bool,uint256)")[:4]
    chunk = per_block
    nonces = {
        a: int(n, 16)
        for a, n in zip(
            accounts, _batch(client, url, [("eth_getTransactionCount", [a, "pending"]) for a in accounts]), strict=True
        )
    }

    def nonce(account: str) -> str:
        nonces[account] += 1
        return hex(nonces[account] - 1)

    calls = [
        (
            "eth_sendTransaction",
            [
                {
                    "from": accounts[0],
                    "to": address,
                    "gas": hex(200_000),
                    "nonce": nonce(accounts[0]),
                    "data": "0x" + (propose + eth_abi.encode(["string", "uint256"], [f"proposal {i} ✓", 10**6])).hex(),
                }
            ],
        )
        for i in range(proposals)
    ]
    for i in range(0, len(calls), chunk):
        _batch(client, url, calls[i : i + chunk])
        _batch(client, url, [("evm_mine", [])])
    calls = [
        (
            "eth_sendTransaction",
            [
                {
                    "from": accounts[1 + v],
                    "to": address,
                    "gas": hex(150_000),
                    "nonce": nonce(accounts[1 + v]),
                    "data": "0x"
                    + (
                        vote + eth_abi.encode(["uint256", "bool", "uint256"], [p + 1, (p + v) % 2 == 0, 2**65 + p * v])
                    ).hex(),
                }
            ],
        )
        for p in range(proposals)
        for v in range(voters)
    ]
    for i in range(0, len(calls), chunk):
        _batch(client, url, calls[i : i + chunk])
        _batch(client, url, [("evm_mine", [])])
    return address, 1


def _baseline_decode(url: str, address: str, head: int) -> tuple[int, float]:
    import eth_abi

    from fluence_dao.subgraph import EthRpc

    rpc = EthRpc(url)
    start = time.perf_counter()
    count = 0
    for frm in range(0, head + 1, 2000):
        for entry in rpc.logs(frm, min(frm + 1999, head), [address]):
            data = bytes.fromhex(entry["data"][2:])
            if len(entry["topics"]) == 3 and len(data) == 64:
                eth_abi.decode(["bool", "uint256"], data)
            else:
                eth_abi.decode(["string", "uint256"], data)
            count += 1
    return count, time.perf_counter() - start


def _versions() -> str:
    import json

    parts = [f"python {platform.python_version()}", f"sqlite {sqlite3.sqlite_version}"]
    for name in ("wasmtime", "eth-abi", "httpx", "graphql-core"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    cli = node_package_file("@graphprotocol/graph-cli", "package.json")
    if cli.is_file():
        parts.append(f"graph-cli {json.loads(cli.read_text())['version']}")
    anvil = node_package_file("@foundry-rs/anvil-linux-amd64", "bin/anvil")
    try:
        out = subprocess.run([str(anvil), "--version"], capture_output=True, text=True, timeout=10).stdout
        parts.append(out.splitlines()[0].strip() if out else "anvil ?")
    except (OSError, subprocess.TimeoutExpired):
        parts.append("anvil ?")
    return ", ".join(parts)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _index(build: Path, url: str, address: str, start_block: int, db: Path) -> tuple[Any, float, float]:
    """Index everything; returns the indexer, wall-clock and CPU seconds."""
    from fluence_dao.subgraph import EthRpc, Indexer, Store

    indexer = Indexer(
        build, Store(db), EthRpc(url), addresses={"Governance": address}, start_blocks={"Governance": start_block}
    )
    wall, cpu = time.perf_counter(), time.process_time()
    indexer.sync()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if indexer.store.error():
        raise SystemExit(f"indexing failed: {indexer.store.error()}")
    return indexer, wall, cpu


def _queries(indexer: Any, proposals: int, count: int) -> None:
    import httpx

    from fluence_dao.subgraph import SubgraphServer

    query = """{ proposals(first: 100, orderBy: forVotes, orderDirection: desc, where: {voteCount_gt: 0})
                  { id number description forVotes againstVotes voteCount closed endBlock } }"""
    trivial = "{ _meta { block { number } } }"
    with SubgraphServer(indexer, 0, index=False) as server, httpx.Client() as client:

        def timed(q: str) -> float:
            t = time.perf_counter()
            reply = client.post(server.url, json={"query": q}).json()
            assert "errors" not in reply, reply
            return time.perf_counter() - t

        returned = len(client.post(server.url, json={"query": query}).json()["data"]["proposals"])
        for _ in range(3):  # warm: schema, caches, connection
            timed(query), timed(trivial)
        collection = [timed(query) for _ in range(count)]
        meta = [timed(trivial) for _ in range(count)]
    p50, p99 = _percentile(collection, 0.5), _percentile(collection, 0.99)
    b50, b99 = _percentile(meta, 0.5), _percentile(meta, 0.99)
    print(f"query: 100-entity collection ({returned} returned of {proposals}), {count} queries: "
          f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")  # fmt: skip
    print(f"  baseline `_meta` query on the same server: p50 {b50 * 1000:.1f} ms, p99 {b99 * 1000:.1f} ms")
    print(f"  ratio collection/baseline: p50 {p50 / b50:.1f}, p99 {p99 / b99:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--voters", type=int, default=9, help="at most 9 (anvil's accounts 1..9)")
    parser.add_argument("--per-block", type=int, default=500, help="transactions mined per block")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from fluence_dao.subgraph import EthRpc, build_subgraph

    voters = min(args.voters, 9)
    events = args.proposals * (1 + voters)
    build = project_root() / "subgraph" / "build"
    if not (build / "subgraph.yaml").exists():
        build_subgraph(project_root() / "subgraph")
    print(f"machine: {machine()}")
    print(f"versions: {_versions()}")
    print(f"load before: {load()}")
    anvil, url = _start_anvil()
    try:
        t0 = time.perf_counter()
        address, start_block = _create_activity(url, args.proposals, voters, args.per_block)
        head = EthRpc(url).block_number()
        print(f"activity: {events} events in {head} blocks, created in {time.perf_counter() - t0:.1f} s")
        if events < 10_000:
            print("  (fewer than 10,000 events: the goal is stated for 10,000 or more)")
        base_events, base_s = _baseline_decode(url, address, head)
        with tempfile.TemporaryDirectory() as tmp:
            indexer, wall, cpu = _index(build, url, address, start_block, Path(tmp) / "bench.sqlite")
            rate, base_rate = base_events / wall, base_events / base_s
            print(f"indexing: {rate:,.0f} events/s ({base_events} events in {wall:.2f} s; "
                  f"{base_events / cpu:,.0f} events per CPU-second of this process) - goal >= 1,000 events/s")  # fmt: skip
            print(f"  baseline, the floor without mappings (eth_getLogs + eth_abi decode): {base_rate:,.0f} events/s")
            print(f"  ratio runner/floor: {rate / base_rate:.3f} (graph-node itself cannot run here)")
            _queries(indexer, args.proposals, args.queries)
            indexer.close()
    finally:
        anvil.terminate()
        anvil.wait(timeout=10)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
