"""UnixFS import throughput of fluence-dao vs the reference JS importer, on the same 64 MB in the same run.

    python -m benchmarks.ipfs_import [--mib 64] [--repeats 3]

The reference is ipfs-unixfs-importer 17.1.1 with blockstore-core 6.1.2's MemoryBlockstore, run by
benchmarks/js/unixfs_import.mjs with Kubo's `ipfs add` settings (CIDv0 with dag-pb leaves, and CIDv1 with
raw leaves); its figure times the import alone, not node's start-up. Ours streams the file from disk into:
- an in-memory dict (like-for-like with MemoryBlockstore),
- the on-disk BlockStore without fsync (the cost of files and renames),
- the on-disk BlockStore with fsync per block (what `fluence-dao ipfs add` does; disk-bound).
Each figure is the median of `--repeats` runs (JS: one process per run). Exits 1 if any CID differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

from fluence_dao.ipfs import BlockStore, Cid, ImportOptions, import_file

ROOT = Path(__file__).resolve().parent.parent
JS_SCRIPT = ROOT / "benchmarks" / "js" / "unixfs_import.mjs"
MIB = 1 << 20


def lcg_bytes(n: int, seed: int, lanes: int = 1 << 16) -> bytes:
    """tests/fixtures/unixfs-cids.txt's generator (x = x*1103515245 + 12345 mod 2^32, byte = x >> 24),
    run as `lanes` interleaved sequences packed in one big integer so 64 MB takes about a second."""
    a, c, m = 1103515245, 12345, 0xFFFFFFFF
    x, first = seed, []
    for _ in range(min(n, lanes)):
        x = (x * a + c) & m
        first.append(x)
    if n <= lanes:
        return bytes(v >> 24 for v in first)
    a_k, c_k = 1, 0
    for _ in range(lanes):
        a_k, c_k = (a_k * a) & m, (c_k * a + c) & m
    state = int.from_bytes(array("Q", first).tobytes(), "little")
    add = int.from_bytes(array("Q", [c_k] * lanes).tobytes(), "little")
    mask = int.from_bytes(array("Q", [m] * lanes).tobytes(), "little")
    parts, produced = [], 0
    while produced < n:
        parts.append(state.to_bytes(8 * lanes, "little")[3::8])
        produced += lanes
        state = (state * a_k + add) & mask
    return b"".join(parts)[:n]


def ours(path: Path, options: ImportOptions, repo: Path | None, fsync: bool = True) -> tuple[float, Cid]:
    """Seconds to import `path` (streamed from disk) and the root CID; into a dict, or a fresh BlockStore
    through its parallel writer (as `LocalIpfs.add_*` does), timed until every block is on disk."""
    if repo is None:
        blocks: dict[Cid, bytes] = {}
        start = time.perf_counter()
        with path.open("rb") as stream:
            root = import_file(stream, blocks.__setitem__, options)
        return time.perf_counter() - start, root.cid
    shutil.rmtree(repo, ignore_errors=True)
    store = BlockStore(repo, fsync=fsync)
    start = time.perf_counter()
    with path.open("rb") as stream, store.writer() as sink:
        root = import_file(stream, sink, options)
    return time.perf_counter() - start, root.cid


def reference(path: Path, cid_version: int) -> tuple[float, str]:
    args = ["node", str(JS_SCRIPT), "--cid-version", str(cid_version), str(path)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=True, timeout=600)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return float(lines[-1]["seconds"]), str(lines[-2]["cid"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ipfs-unixfs-importer").is_dir():
        print("node and `npm ci` (ipfs-unixfs-importer) are needed for the reference importer", file=sys.stderr)
        return 2
    size = args.mib * MIB
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    print(f"python {platform.python_version()}, node {node_version}; {args.mib} MiB of lcg bytes, seed 64")
    failed = False
    with tempfile.TemporaryDirectory(prefix="ipfs-bench-") as tmp:
        data_path = Path(tmp) / "data.bin"
        data_path.write_bytes(lcg_bytes(size, 64))
        for label, options in (
            ("CIDv0, dag-pb leaves (Kubo default)", ImportOptions(cid_version=0)),
            ("CIDv1, raw leaves", ImportOptions(cid_version=1, raw_leaves=True)),
        ):
            memory = [ours(data_path, options, None) for _ in range(args.repeats)]
            no_sync = [ours(data_path, options, Path(tmp) / "repo", fsync=False) for _ in range(args.repeats)]
            disk = [ours(data_path, options, Path(tmp) / "repo") for _ in range(args.repeats)]
            js = [reference(data_path, options.cid_version) for _ in range(args.repeats)]
            cids = {str(c) for _, c in memory + no_sync + disk} | {c for _, c in js}
            same = len(cids) == 1
            failed |= not same
            js_rate = size / MIB / statistics.median(t for t, _ in js)
            print(f"\n{label}: CID {' / '.join(sorted(cids))} ({'same' if same else 'DIFFERENT'})")
            rows = (
                ("fluence-dao -> memory", memory),
                ("fluence-dao -> BlockStore, no fsync", no_sync),
                ("fluence-dao -> BlockStore, fsync", disk),
            )
            for name, runs in rows:
                value = size / MIB / statistics.median(t for t, _ in runs)
                print(f"  {name:<36} {value:8.1f} MB/s   {value / js_rate:5.2f} x reference")
            print(f"  {'reference JS importer -> memory':<36} {js_rate:8.1f} MB/s   1.00 x reference")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
