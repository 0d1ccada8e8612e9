"""The aggregation pipeline's costs.

    python -m benchmarks.aggregate [--sizes 10,1000,10000] [--updates 5] [--events 3]

1. Tree updates: a tree of N items under one protocol, built by the ipld module (wasm, through curl_adapter and
   KuboServer's dag/put + dag/get); then `--updates` single-item updates, each timed and its written blocks
   counted. Baseline in the same run: the same update done in-process with the Python codec and LocalIpfs
   (read the path, re-encode, put the changed nodes). Prints blocks written per update and the time ratio.
2. Event to root (skipped with --events 0): a real anvil with ENS, the Governance contract, the demo subgraph
   indexed by the runner, the modules published with CIDs in ENS and the signer deployed; each iteration sends
   one proposal (the event), indexes it and runs aggregate once on the peer; timed from the event's receipt to
   the new root readable in ENS. Baseline: one setText of the same record sent from Python (web3).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _items(ids: range, tag: str) -> list[dict[str, str]]:
    return [{"id": str(i), "content": json.dumps({"id": str(i), "state": tag, "votes": i})} for i in ids]


def _python_update(node: Any, root: str, item_id: str, content: dict[str, Any]) -> tuple[str, int]:
    """The baseline: the same path copy with the Python codec, in-process."""
    from fluence_dao.ipfs import Cid

    tree = node.dag_get(root)
    ((template_name, template_cid),) = tree["templates"].items()
    template = node.dag_get(template_cid)
    ((protocol_name, protocol_cid),) = template["protocols"].items()
    protocol = node.dag_get(protocol_cid)
    item_cid = node.dag_put(content)
    written = 1
    if isinstance(protocol["items"].get(item_id), Cid) and protocol["items"][item_id] == item_cid:
        return root, 0
    protocol["items"][item_id] = item_cid
    template["protocols"][protocol_name] = node.dag_put(protocol)
    tree["templates"][template_name] = node.dag_put(template)
    return str(node.dag_put(tree)), written + 3


def bench_tree(sizes: list[int], updates: int) -> None:
    from fluence_dao.build import build_module
    from fluence_dao.ipfs import KuboServer, LocalIpfs
    from fluence_dao.marine import MarineService, ModuleConfig

    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is needed")
    with tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as tmp:
        out = Path(tmp) / "wasm"
        service = MarineService(
            [
                (
                    ModuleConfig(name="curl_adapter", mounted_binaries={"curl": curl}, max_call_seconds=900),
                    build_module("curl_adapter", out).read_bytes(),
                ),
                (ModuleConfig(name="ipld", max_call_seconds=900), build_module("ipld", out).read_bytes()),
            ]
        )
        print("tree updates (one changed item per update; wasm via Kubo RPC vs Python codec in-process)")
        print(f"{'items':>7} {'build s':>8} {'blocks/update':>13} {'wasm ms':>8} {'python ms':>9} {'ratio':>6}")
        for n in sizes:
            node = LocalIpfs(Path(tmp) / f"repo-{n}")
            server = KuboServer(node, allow_unauthenticated_writes=True).start()  # a throwaway repo: no token
            try:
                started = time.perf_counter()
                if n <= 1000:  # built by the module itself, in batches as successive runs would
                    root, failed = "", ""
                    for lo in range(0, n, 250):
                        batch = _items(range(lo, min(n, lo + 250)), "v0")
                        r = service.call("update", [server.url, root, "gov", "p", batch])
                        if not r["success"]:
                            failed = r["error"]
                            break
                        root = r["root"]
                    if failed:
                        print(f"{n:>7} failed while building: {failed[:160]}")
                        continue
                else:  # the same layout with the Python codec (the updates below check both agree)
                    links = {str(i): node.dag_put({"id": str(i), "state": "v0", "votes": i}) for i in range(n)}
                    protocol = node.dag_put({"items": links})
                    template = node.dag_put({"protocols": {"p": protocol}})
                    root = str(node.dag_put({"templates": {"gov": template}}))
                build_s = time.perf_counter() - started
                wasm_ms, py_ms, blocks = [], [], []
                py_root = root
                for u in range(updates):
                    item = _items(range(u, u + 1), f"v{u + 1}")
                    t0 = time.perf_counter()
                    r = service.call("update", [server.url, root, "gov", "p", item])
                    wasm_ms.append((time.perf_counter() - t0) * 1000)
                    if not r["success"]:
                        raise SystemExit(f"update failed at {n} items: {r['error']}")
                    root = r["root"]
                    blocks.append(len(r["written"]))
                    t0 = time.perf_counter()
                    py_root, _ = _python_update(node, py_root, str(u), json.loads(item[0]["content"]))
                    py_ms.append((time.perf_counter() - t0) * 1000)
                    assert py_root == root, "the Python baseline and the module disagree on the root"
                w, p = statistics.median(wasm_ms), statistics.median(py_ms)
                print(f"{n:>7} {build_s:>8.2f} {statistics.median(blocks):>13g} {w:>8.1f} {p:>9.1f} {w / p:>6.1f}")
            finally:
                server.stop()


def bench_event_to_root(events: int) -> None:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import Devnet
    from fluence_dao.eth import GovernanceContract
    from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish
    from fluence_dao.flows.aggregate import TIP_KEY, AggregateConfig, aggregate_once, publish_aggregate
    from fluence_dao.ipfs import KuboServer
    from fluence_dao.peer import LocalNetwork
    from fluence_dao.subgraph import EthRpc, Indexer, Store, SubgraphServer, build_subgraph

    with tempfile.TemporaryDirectory(prefix="fluence-dao-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings({"state_dir": root / "state"}, env_file=None)
        devnet = Devnet(settings)
        info = devnet.up()
        context = FlowContext(settings, ipfs_repo=root / "ipfs")
        kubo = KuboServer(context.ipfs, allow_unauthenticated_writes=True).start()  # type: ignore[arg-type]
        origins = [kubo.url]  # the peer's curl reaches only allowlisted origins: these ad-hoc servers too
        network = LocalNetwork(1, base_dir=root / "net", config=context.peer_config(http_origins=origins))
        session = PeerSession(network, ttl_ms=240_000)
        server = None
        try:
            gov, deploy_block = GovernanceContract.deploy(context.governance)
            indexer = Indexer(build_subgraph(ROOT / "subgraph"), Store(root / "sg.sqlite"), EthRpc(info["rpc_url"]),
                              addresses={"Governance": gov.address}, start_blocks={"Governance": deploy_block})  # fmt: skip
            server = SubgraphServer(indexer, 0, index=False).start()
            origins.append(server.url)
            publish(context)
            publish_aggregate(context)
            deploy_signer(context, session)
            agg = AggregateConfig(subgraph_url=server.url, contract=gov.address, ipfs_api=kubo.url)
            signer_name = settings.ens.signer_name
            aggregate_once(session, agg)  # warm: compiled AIR, module caches
            latencies, baseline = [], []
            for i in range(events):
                gov.propose(f"bench {i}", 100)
                t0 = time.perf_counter()
                indexer.sync()
                result = aggregate_once(session, agg)
                assert context.ens.text(signer_name, TIP_KEY) == result.root
                latencies.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                context.governance.send_and_wait(*_set_text(context, "bench-baseline", str(i)))
                baseline.append(time.perf_counter() - t0)
            lat, base = statistics.median(latencies), statistics.median(baseline)
            print(f"event to root in ENS: median {lat:.2f} s over {events} events (index + aggregate once);")
            print(f"  one setText from Python: {base * 1000:.0f} ms; ratio {lat / base:.0f}x")
        finally:
            if server is not None:
                server.stop()
            network.stop()
            kubo.stop()
            context.close()
            devnet.down()


def _set_text(context: Any, key: str, value: str) -> tuple[str, bytes]:
    request = context.ens.set_text_request(context.settings.ens.project_name, key, value)
    return request.to, request.data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--events", type=int, default=3)
    args = parser.parse_args()
    bench_tree([int(s) for s in args.sizes.split(",")], args.updates)
    if args.events > 0:
        bench_event_to_root(args.events)


if __name__ == "__main__":
    main()
