"""Subgraph runner throughput and query latency, with baselines measured in the same run.

    python -m benchmarks.subgraph [--proposals 1000] [--voters 9] [--queries 30]

Starts its own anvil on 127.0.0.1, deploys Governance and creates `proposals * (1 + voters)` events (10,000 by
default: 1,000 ProposalCreated + 9,000 VoteCast), mined in large blocks. Then:
- indexing: the demo subgraph (built by graph-cli if needed) indexed from block 0 by the runner, in events per
  second; baseline: the same eth_getLogs ranges fetched and ABI-decoded in Python with no mapping (the floor
  set by the RPC and decoding alone), so the ratio is the cost of running the wasm mappings and the store;
- query: median latency of a 100-entity collection query over HTTP (`proposals(first: 100, orderBy: ...,
  where: ...)` with scalar fields); baseline: the median of `{ _meta { block { number } } }` over the same
  server (HTTP + GraphQL parse/validate with no entity reads).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from fluence_dao._util.net import LOOPBACK, free_port
from fluence_dao._util.paths import node_package_file, project_root


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


def _create_activity(url: str, proposals: int, voters: int) -> tuple[str, int]:
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
    chunk = 500
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--voters", type=int, default=9, help="at most 9 (anvil's accounts 1..9)")
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    import httpx

    from fluence_dao.subgraph import EthRpc, Indexer, Store, SubgraphServer, build_subgraph

    build = project_root() / "subgraph" / "build"
    if not (build / "subgraph.yaml").exists():
        build_subgraph(project_root() / "subgraph")
    anvil, url = _start_anvil()
    try:
        t0 = time.perf_counter()
        address, start_block = _create_activity(url, args.proposals, min(args.voters, 9))
        head = EthRpc(url).block_number()
        print(
            f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} python={platform.python_version()}"
        )
        print(
            f"activity: {args.proposals * (1 + min(args.voters, 9))} events in {head} blocks, created in {time.perf_counter() - t0:.1f} s"
        )

        base_events, base_s = _baseline_decode(url, address, head)
        with tempfile.TemporaryDirectory() as tmp:
            indexer = Indexer(
                build,
                Store(Path(tmp) / "bench.sqlite"),
                EthRpc(url),
                addresses={"Governance": address},
                start_blocks={"Governance": start_block},
            )
            t1 = time.perf_counter()
            indexer.sync()
            index_s = time.perf_counter() - t1
            if indexer.store.error():
                raise SystemExit(f"indexing failed: {indexer.store.error()}")
            runner_rate = base_events / index_s
            base_rate = base_events / base_s
            print(f"indexing: {runner_rate:,.0f} events/s ({base_events} events in {index_s:.1f} s)")
            print(f"  baseline (eth_getLogs + eth_abi decode, no mappings): {base_rate:,.0f} events/s")
            print(f"  ratio runner/baseline: {runner_rate / base_rate:.3f}")

            query = """{ proposals(first: 100, orderBy: forVotes, orderDirection: desc, where: {voteCount_gt: 0})
                          { id number description forVotes againstVotes voteCount closed endBlock } }"""
            trivial = "{ _meta { block { number } } }"
            with SubgraphServer(indexer, 0, index=False) as server, httpx.Client() as client:

                def timed(q: str) -> float:
                    t = time.perf_counter()
                    reply = client.post(server.url, json={"query": q}).json()
                    assert "errors" not in reply, reply
                    return time.perf_counter() - t

                n = len(client.post(server.url, json={"query": query}).json()["data"]["proposals"])
                coll = statistics.median(timed(query) for _ in range(args.queries))
                meta = statistics.median(timed(trivial) for _ in range(args.queries))
            print(f"query: 100-entity collection ({n} returned of {args.proposals}): median {coll * 1000:.1f} ms")
            print(f"  baseline `_meta` query on the same server: median {meta * 1000:.1f} ms")
            print(f"  ratio collection/baseline: {coll / meta:.1f}")
    finally:
        anvil.terminate()
        anvil.wait(timeout=10)


if __name__ == "__main__":
    main()
