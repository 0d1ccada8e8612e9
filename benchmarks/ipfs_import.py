"""UnixFS import throughput of fluence-dao next to the JS importer, on the same bytes in the same run.

    python -m benchmarks.ipfs_import [--mib 64] [--repeats 7] [--warmup 3]

The baseline is ipfs-unixfs-importer run as its README runs it (benchmarks/js/unixfs_import_bench.mjs):
one warm node process, the input read once into one Buffer, the importer's default options for CIDv1
(raw leaves) and `{cidVersion: 0, rawLeaves: false}` for CIDv0 (Kubo's `ipfs add`), a fresh store per
run. Stores: blockstore-core's MemoryBlockstore and blockstore-fs's FsBlockstore (temp file + rename, no
fsync). That script prints its configuration (versions, options, stores, machine, load), and this one ours.

Ours, from the same bytes held in memory as one `bytes` object (`import_buffer`):
- into a dict (next to MemoryBlockstore), and the same with hashlib only (without the native library),
- into the on-disk BlockStore without fsync (next to FsBlockstore: both write a temp file and rename it),
- into the BlockStore with fsync per block (what `fluence-dao ipfs add` does; FsBlockstore has no fsync),
- and, for reference, into a dict streamed from the file on disk (`import_file`).
The machine is shared, so the two sides take turns run by run (the node process waits for each request),
`--warmup` untimed turns first; every row of ours has its own JS turns (MemoryBlockstore next to the
in-memory rows, FsBlockstore next to the disk rows); a figure is the median of `--repeats` timed runs (min
in brackets) and a ratio the median of the turns' ratios (JS time / ours). Both
sides must read the same bytes (sha256) and give the same root CIDs, else this exits 1. Where a ratio is
beyond 2x either way, the line after it says why.

On disk, every run (either side) writes into a new directory, and a row's directories are removed after
the row, not before each run: this machine's ext4 runs without a journal, and such an ext4 skips inodes
deleted in the last seconds (minutes, while their inode table is dirty) when it creates a file, so
deleting 64 MiB of blocks before each run makes every later file creation scan past more of them (kernel
time grew 4x over 16 runs here, more for whoever creates files from more threads at once).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
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

from fluence_dao.ipfs import BlockStore, Cid, ImportOptions, hash_backend, import_buffer, import_file, sha256

ROOT = Path(__file__).resolve().parent.parent
JS_SCRIPT = ROOT / "benchmarks" / "js" / "unixfs_import_bench.mjs"
MIB = 1 << 20
LAYOUTS = {
    "v0": ("CIDv0, dag-pb leaves (Kubo's `ipfs add` default)", ImportOptions(cid_version=0)),
    "v1": ("CIDv1, raw leaves (the JS importer's default)", ImportOptions(cid_version=1, raw_leaves=True)),
}
NO_FSYNC_BASELINE = (
    "fsync per block waits for the disk; FsBlockstore never calls fsync, so this row has no like-for-like "
    "baseline and is shown next to FsBlockstore only for scale"
)
HASHING = (
    "ours hashes 4 leaves at once on one core with the native SHA-NI library (about 1.7x one OpenSSL stream), "
    "the JS importer one leaf at a time through node's crypto (OpenSSL)"
)
# Why a ratio may leave [0.5, 2]: causes measured on this machine, printed under such a ratio.
WHY: dict[tuple[str, str], str] = {
    ("v0", "memory"): f"{HASHING}; ours copies each chunk once (a precomputed dag-pb frame joined around it), "
    "the JS importer twice (UnixFS marshal, then dag-pb encode)",
    ("v1", "memory"): f"{HASHING}; raw leaves are views of the input on both sides (no copy), so hashing is "
    "nearly all the work",
    ("v0", "hashlib"): "one OpenSSL sha256 stream on both sides; the difference is the copies: ours one per "
    "leaf, the JS importer two",
    ("v1", "hashlib"): "one OpenSSL sha256 stream and no copies on both sides: the difference is per-run "
    "overhead and load",
    ("v0", "no-fsync"): "both write a temp file and rename it per block, so the file system's metadata "
    "operations (about 0.1-1 ms each here, depending on other processes' disk load) set the pace: ours "
    "overlaps them on 4 writer threads holding the repo lock once, FsBlockstore runs node's fs promises on "
    "libuv's 4 threads with a mkdir -p per block",
    ("v0", "fsync"): NO_FSYNC_BASELINE,
    ("v1", "fsync"): NO_FSYNC_BASELINE,
    ("v0", "stream"): "reading the file puts every chunk in freshly allocated memory, and first touches of "
    "new pages cost about 0.5 ms per MiB on this VM; the baseline reads one Buffer that is already in memory",
}
WHY[("v1", "no-fsync")] = WHY[("v0", "no-fsync")]
WHY[("v1", "stream")] = WHY[("v0", "stream")]


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


def into_memory(data: bytes, options: ImportOptions) -> tuple[float, str]:
    blocks: dict[Cid, bytes | memoryview] = {}
    start = time.perf_counter()
    root = import_buffer(data, blocks.__setitem__, options)
    return time.perf_counter() - start, str(root.cid)


def into_memory_hashlib(data: bytes, options: ImportOptions) -> tuple[float, str]:
    """into_memory with the native hashing switched off: what the compiled library adds."""
    sha256.force_hashlib(True)
    try:
        return into_memory(data, options)
    finally:
        sha256.force_hashlib(False)


def streamed_into_memory(path: Path, options: ImportOptions) -> tuple[float, str]:
    blocks: dict[Cid, bytes] = {}
    start = time.perf_counter()
    with path.open("rb") as stream:
        root = import_file(stream, blocks.__setitem__, options)
    return time.perf_counter() - start, str(root.cid)


def into_store(data: bytes, options: ImportOptions, repo: Path, *, fsync: bool) -> tuple[float, str]:
    """A new BlockStore in `repo` through its parallel writer, as `LocalIpfs.add_bytes` does, timed until
    every block is on disk (and, with fsync, synced)."""
    store = BlockStore(repo, fsync=fsync)
    start = time.perf_counter()
    with store.writer() as sink:
        root = import_buffer(data, sink, options)
    return time.perf_counter() - start, str(root.cid)


class JsImporter:
    """The baseline's node process in --serve mode: one run per request, so runs interleave with ours."""

    def __init__(self, path: Path, fs_dir: Path) -> None:
        args = ["node", "--expose-gc", str(JS_SCRIPT), "--input", str(path), "--fs-dir", str(fs_dir), "--serve"]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.config: dict[str, Any] = json.loads(self._line())["config"]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the JS importer exited ({self.proc.wait()})")
        return line

    def run(self, layout: str, store: str, directory: Path | None = None) -> tuple[float, str]:
        assert self.proc.stdin is not None
        request = {"layout": layout, "store": store} | ({"dir": str(directory)} if directory else {})
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self._line())
        return float(reply["seconds"]), str(reply["cid"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


Run = Callable[[], tuple[float, str]]


def take_turns(ours: Run, theirs: Run | None, warmup: int, repeats: int) -> tuple[list[float], list[float], set[str]]:
    """Warm-up turns, then timed turns; who goes first alternates. Returns our and their seconds, and CIDs."""
    mine: list[float] = []
    other: list[float] = []
    cids: set[str] = set()
    for turn in range(warmup + repeats):
        order = [(ours, mine), (theirs, other)] if turn % 2 == 0 else [(theirs, other), (ours, mine)]
        for run, into in order:
            if run is None:
                continue
            seconds, cid = run()
            cids.add(cid)
            if turn >= warmup:
                into.append(seconds)
    return mine, other, cids


Row = tuple[str, str, list[float], str, list[float], set[str]]  # key, name, ours, JS store, JS's, CIDs


def measure_layout(
    js: JsImporter,
    layout: str,
    options: ImportOptions,
    data: bytes,
    tmp: Path,
    data_path: Path,
    has_fs: bool,
    warmup: int,
    repeats: int,
) -> list[Row]:
    row_dir = tmp / "stores"
    turn = itertools.count()

    def new_dir(side: str) -> Path:
        return row_dir / f"{side}-{next(turn)}"

    def js_into_fs() -> tuple[float, str]:
        return js.run(layout, "fs", new_dir("js"))

    js_memory = functools.partial(js.run, layout, "memory")
    js_fs = js_into_fs if has_fs else None
    plan: list[tuple[str, str, Run, Run | None, str]] = [
        ("memory", "dict", lambda: into_memory(data, options), js_memory, "memory"),
        ("hashlib", "dict, hashlib only", lambda: into_memory_hashlib(data, options), js_memory, "memory"),
        ("no-fsync", "BlockStore, no fsync", lambda: into_store(data, options, new_dir("ours"), fsync=False), js_fs, "fs"),
        ("fsync", "BlockStore, fsync", lambda: into_store(data, options, new_dir("ours"), fsync=True), js_fs, "fs"),
        ("stream", "dict, from the file", lambda: streamed_into_memory(data_path, options), js_memory, "memory"),
    ]  # fmt: skip
    rows: list[Row] = []
    for key, name, ours, theirs, store in plan:
        mine, other, cids = take_turns(ours, theirs, warmup, repeats)
        shutil.rmtree(row_dir, ignore_errors=True)  # not between runs: see the module docstring
        rows.append((key, name, mine, store if theirs else "", other, cids))
    return rows


def rate(size: int, seconds: list[float]) -> tuple[float, float]:
    return size / MIB / statistics.median(seconds), size / MIB / min(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ipfs-unixfs-importer").is_dir():
        print("node and `npm ci` (ipfs-unixfs-importer) are needed for the reference importer", file=sys.stderr)
        return 2
    size = args.mib * MIB
    data = lcg_bytes(size, 64)
    digest = hashlib.sha256(data).hexdigest()
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"ours: python {platform.python_version()}, import_buffer / BlockStore.writer(), sha256: {hash_backend()}")
    print(f"input: {args.mib} MiB of lcg bytes (seed 64), sha256 {digest[:16]}..., in memory on both sides")
    print(f"turns: {args.warmup} warm-up + {args.repeats} timed per row, alternating sides; MiB/s median [min]")
    failed = False
    with tempfile.TemporaryDirectory(prefix="ipfs-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data_path = tmp / "data.bin"
        data_path.write_bytes(data)
        js = JsImporter(data_path, tmp / "js-fs")
        print(f"baseline: {json.dumps(js.config)}")
        if js.config["input"]["sha256"] != digest:
            print(f"the JS side read different bytes (sha256 {js.config['input']['sha256']})")
            failed = True
        has_fs = "FsBlockstore (no fsync)" in js.config["stores"]
        try:
            for layout, (label, options) in LAYOUTS.items():
                rows = measure_layout(js, layout, options, data, tmp, data_path, has_fs, args.warmup, args.repeats)
                cids = set().union(*(row[5] for row in rows))
                same = len(cids) == 1
                failed |= not same
                print(f"\n{label}: root {' / '.join(sorted(cids))} ({'same on both sides' if same else 'DIFFERENT'})")
                names = {"memory": "MemoryBlockstore", "fs": "FsBlockstore"}
                print(f"  {'fluence-dao ->':<24} {'MiB/s':>17}   {'JS importer -> (same turns)':<38} ratio")
                for key, name, mine, store, other, _cids in rows:
                    median, best = rate(size, mine)
                    line = f"  {name:<24} {median:7.1f} [{best:7.1f}]"
                    if not store:
                        print(line)
                        continue
                    # the median of each turn's ratio: robust to load that drifts during a row
                    ratio = statistics.median(theirs / ours for ours, theirs in zip(mine, other, strict=True))
                    js_median, js_best = rate(size, other)
                    print(f"{line}   {names[store]:<16} {js_median:7.1f} [{js_best:7.1f}]  {ratio:5.2f}x")
                    if not 0.5 <= ratio <= 2.0:
                        why = WHY.get((layout, key)) or "not explained: profile both sides before trusting this ratio"
                        print(f"    why beyond 2x: {why}")
        finally:
            js.close()
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
