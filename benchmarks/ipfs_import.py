"""UnixFS import throughput of fluence-dao next to the JS importer, on the same bytes in the same run.

    python -m benchmarks.ipfs_import [--mib 64] [--repeats 5] [--warmup 3]

The baseline is ipfs-unixfs-importer run as its README runs it (benchmarks/js/unixfs_import_bench.mjs):
one warm node process, the input read once into one Buffer, the importer's default options for CIDv1
(raw leaves) and `{cidVersion: 0, rawLeaves: false}` for CIDv0 (Kubo's `ipfs add`), a fresh store per
run, warm-up runs not timed. Stores: blockstore-core's MemoryBlockstore and blockstore-fs's FsBlockstore
(temp file + rename, no fsync). The script prints its configuration, and this one prints ours.

Ours, from the same bytes held in memory as one `bytes` object:
- into a dict (like MemoryBlockstore),
- into the on-disk BlockStore without fsync (like FsBlockstore: temp file + rename),
- into the BlockStore with fsync per block (what `fluence-dao ipfs add` does; no JS counterpart),
- and, for reference, into a dict streamed from the file on disk.
Every figure is the median of `--repeats` timed runs after `--warmup` untimed ones (min in brackets). The
baseline process runs twice, before and after ours, and the faster of its two medians counts (a shared
machine's load only ever slows a run, so this favours the baseline).
Both sides must read the same bytes (sha256) and print the same root CIDs, else this exits 1. Where a
ratio is beyond 2x either way, the line after it says why.
"""

from __future__ import annotations

import argparse
import hashlib
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fluence_dao.ipfs import BlockStore, Cid, ImportOptions, import_buffer, import_file

ROOT = Path(__file__).resolve().parent.parent
JS_SCRIPT = ROOT / "benchmarks" / "js" / "unixfs_import_bench.mjs"
MIB = 1 << 20
LAYOUTS = {
    "v0": ("CIDv0, dag-pb leaves (Kubo's `ipfs add` default)", ImportOptions(cid_version=0)),
    "v1": ("CIDv1, raw leaves (the JS importer's default)", ImportOptions(cid_version=1, raw_leaves=True)),
}
# Why a ratio may leave [0.5, 2]: measured causes, printed next to such a ratio.
WHY = {
    ("v0", "memory"): "",
    ("v1", "memory"): "",
    ("v0", "no-fsync"): "",
    ("v1", "no-fsync"): "",
    ("v0", "fsync"): "fsync per block waits for the disk; FsBlockstore never calls fsync, so this row has "
    "no like-for-like baseline and is shown against FsBlockstore only for scale",
    ("v1", "fsync"): "fsync per block waits for the disk; FsBlockstore never calls fsync, so this row has "
    "no like-for-like baseline and is shown against FsBlockstore only for scale",
}


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


def into_memory(data: bytes, options: ImportOptions) -> tuple[float, Cid]:
    blocks: dict[Cid, bytes | memoryview] = {}
    start = time.perf_counter()
    root = import_buffer(data, blocks.__setitem__, options)
    return time.perf_counter() - start, root.cid


def streamed_into_memory(path: Path, options: ImportOptions) -> tuple[float, Cid]:
    blocks: dict[Cid, bytes] = {}
    start = time.perf_counter()
    with path.open("rb") as stream:
        root = import_file(stream, blocks.__setitem__, options)
    return time.perf_counter() - start, root.cid


def into_store(data: bytes, options: ImportOptions, repo: Path, *, fsync: bool) -> tuple[float, Cid]:
    """A fresh BlockStore through its parallel writer (as `LocalIpfs.add_*` does), timed until every
    block is on disk (and, with fsync, synced)."""
    shutil.rmtree(repo, ignore_errors=True)
    store = BlockStore(repo, fsync=fsync)
    start = time.perf_counter()
    with store.writer() as sink:
        root = import_buffer(data, sink, options)
    return time.perf_counter() - start, root.cid


def measure(run: Callable[[], tuple[float, Cid]], warmup: int, repeats: int) -> tuple[list[float], set[str]]:
    for _ in range(warmup):
        run()
    runs = [run() for _ in range(repeats)]
    return [seconds for seconds, _ in runs], {str(cid) for _, cid in runs}


def run_js(path: Path, fs_dir: Path, warmup: int, repeats: int) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    args = ["node", "--expose-gc", str(JS_SCRIPT), "--input", str(path), "--fs-dir", str(fs_dir)]
    args += ["--repeats", str(repeats), "--warmup", str(warmup)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=True, timeout=1800)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    config = next(line["config"] for line in lines if "config" in line)
    results = {(line["layout"], line["store"]): line for line in lines if "layout" in line}
    return config, results


def faster(before: dict[tuple[str, str], Any], after: dict[tuple[str, str], Any], key: tuple[str, str]) -> Any:
    """The baseline run (one before ours, one after) with the lower median: load from others only slows it."""
    runs = [r[key] for r in (before, after) if key in r]
    return min(runs, key=lambda r: statistics.median(r["seconds"])) if runs else None


def rate(size: int, seconds: list[float]) -> tuple[float, float]:
    return size / MIB / statistics.median(seconds), size / MIB / min(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ipfs-unixfs-importer").is_dir():
        print("node and `npm ci` (ipfs-unixfs-importer) are needed for the reference importer", file=sys.stderr)
        return 2
    size = args.mib * MIB
    data = lcg_bytes(size, 64)
    digest = hashlib.sha256(data).hexdigest()
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"ours: python {platform.python_version()}, fluence-dao importer")
    print(f"input: {args.mib} MiB of lcg bytes (seed 64), sha256 {digest[:16]}..., held in memory on both sides")
    print(f"runs: {args.warmup} warm-up (not timed) + {args.repeats} timed per row; MiB/s median [min]")
    failed = False
    with tempfile.TemporaryDirectory(prefix="ipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data_path = tmp / "data.bin"
        data_path.write_bytes(data)
        js_config, js_before = run_js(data_path, tmp / "js-fs", args.warmup, args.repeats)
        print(f"baseline: {json.dumps(js_config)}")
        if js_config["input"]["sha256"] != digest:
            print(f"the JS side read different bytes (sha256 {js_config['input']['sha256']})")
            failed = True
        ours: dict[str, list[tuple[str, str, list[float], set[str]]]] = {}
        for layout, (_label, options) in LAYOUTS.items():
            rows = ours[layout] = []
            for key, name, run in (
                ("memory", "fluence-dao -> dict", lambda o=options: into_memory(data, o)),
                ("no-fsync", "fluence-dao -> BlockStore, no fsync",
                 lambda o=options: into_store(data, o, tmp / "repo", fsync=False)),
                ("fsync", "fluence-dao -> BlockStore, fsync", lambda o=options: into_store(data, o, tmp / "repo", fsync=True)),
                ("stream", "fluence-dao -> dict, from the file", lambda o=options: streamed_into_memory(data_path, o)),
            ):  # fmt: skip
                seconds, cids = measure(run, args.warmup, args.repeats)
                rows.append((key, name, seconds, cids))
        js_after = run_js(data_path, tmp / "js-fs", args.warmup, args.repeats)[1]
        for layout, (label, _options) in LAYOUTS.items():
            rows = ours[layout]
            js_memory, js_fs = (
                faster(js_before, js_after, (layout, "memory")),
                faster(js_before, js_after, (layout, "fs")),
            )
            cids = set().union(*(c for *_, c in rows)) | {js_memory["cid"]} | ({js_fs["cid"]} if js_fs else set())
            same = len(cids) == 1
            failed |= not same
            print(f"\n{label}: root {' / '.join(sorted(cids))} ({'same on both sides' if same else 'DIFFERENT'})")
            baselines = {"memory": ("JS importer -> MemoryBlockstore", js_memory)}
            if js_fs:
                baselines["fs"] = ("JS importer -> FsBlockstore (no fsync)", js_fs)
            for _key, (name, line) in baselines.items():
                median, best = rate(size, line["seconds"])
                print(f"  {name:<40} {median:8.1f} [{best:7.1f}] MiB/s")
            for key, name, seconds, _cids in rows:
                median, best = rate(size, seconds)
                base_key = "memory" if key in ("memory", "stream") else "fs"
                if base_key not in baselines:
                    print(f"  {name:<40} {median:8.1f} [{best:7.1f}] MiB/s")
                    continue
                base_name, base_line = baselines[base_key]
                ratio = median / rate(size, base_line["seconds"])[0]
                print(f"  {name:<40} {median:8.1f} [{best:7.1f}] MiB/s  {ratio:5.2f}x {base_name.split(' -> ')[1]}")
                if not 0.5 <= ratio <= 2.0:
                    why = WHY.get((layout, key)) or "not explained: profile both sides before trusting this ratio"
                    print(f"    why beyond 2x: {why}")
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
