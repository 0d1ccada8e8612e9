"""The embedded block store: one directory, blocks keyed by multihash, pins, garbage collection.

Layout (like Kubo's flatfs `next-to-last/2`):
    <root>/blocks/<XY>/<KEY>.data   KEY = base32 (upper, unpadded) of the multihash, XY = KEY[-3:-1]
    <root>/pins.json                {"version": 1, "recursive": [cid, ...], "direct": [cid, ...]}
    <root>/repo.lock                flock: shared while writing blocks, exclusive during gc
Blocks are keyed by multihash, as in Kubo since 0.12: the same bytes under a raw and a dag-pb CID are one
file. Writes go to a temp file in the same directory, are fsynced, then renamed: a reader never sees a
half-written block. Every read is checked against its hash: a file that does not hash to its CID raises
BlockCorruptedError, a missing file BlockNotFoundError; both name the CID.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from fluence_dao.errors import BlockCorruptedError, BlockNotFoundError, IpfsError
from fluence_dao.ipfs._cid import IDENTITY, RAW, Cid
from fluence_dao.ipfs._codecs import block_links

log = logging.getLogger(__name__)

PinType = Literal["recursive", "direct", "indirect"]


def _key(cid: Cid) -> str:
    return base64.b32encode(cid.multihash).decode("ascii").rstrip("=")


class BlockStore:
    """Content-addressed blocks on disk under `root` (created if missing)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.blocks_dir = self.root / "blocks"
        self.blocks_dir.mkdir(parents=True, exist_ok=True)
        self._pins_path = self.root / "pins.json"
        self._lock_path = self.root / "repo.lock"
        self._lock_path.touch(exist_ok=True)
        self._fsync = fsync
        self._pins_mutex = threading.Lock()
        self._shards: set[str] = set()  # shard directories known to exist (saves a mkdir per block)

    def __repr__(self) -> str:
        return f"BlockStore({str(self.root)!r})"

    # -- locking --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """A repo-wide flock (shared for writers, exclusive for gc), across threads and processes."""
        with open(self._lock_path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold this around a multi-block write (add then pin) so a concurrent gc cannot collect it halfway."""
        return self._locked(exclusive=False)

    # -- blocks ---------------------------------------------------------------------------------------
    def path_of(self, cid: Cid) -> Path:
        key = _key(cid)
        return self.blocks_dir / key[-3:-1] / f"{key}.data"

    def has(self, cid: Cid | str) -> bool:
        cid = Cid.parse(cid)
        if cid.hash_code == IDENTITY:
            return True
        return self.path_of(cid).is_file()

    def get(self, cid: Cid | str) -> bytes:
        """The block's bytes, verified against the CID's hash."""
        cid = Cid.parse(cid)
        if cid.hash_code == IDENTITY:
            return cid.digest
        path = self.path_of(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlockNotFoundError(f"block {cid} not found in {self.root}", cid=str(cid)) from None
        except OSError as err:
            raise IpfsError(f"cannot read block {cid} from {path}: {err}", cid=str(cid)) from err
        if not cid.verify(data):
            raise BlockCorruptedError(
                f"block {cid} is corrupted: {path} does not hash to its CID", cid=str(cid), path=str(path)
            )
        return data

    def size(self, cid: Cid | str) -> int:
        return len(self.get(cid))

    def put(self, data: bytes, codec: int = RAW, version: int = 1) -> Cid:
        """Store `data` under its sha2-256 CID with `codec`; returns the CID."""
        cid = Cid.for_data(data, codec, version)
        self.put_block(cid, data, verify=False)
        return cid

    def put_block(self, cid: Cid | str, data: bytes | memoryview, *, verify: bool = True) -> None:
        """Store `data` under `cid` (checked unless the caller just computed the CID itself)."""
        cid = Cid.parse(cid)
        if verify and not self._identity_ok(cid, data) and not cid.verify(data):
            raise BlockCorruptedError(f"refusing to store data under {cid}: it does not hash to that CID", cid=str(cid))
        with self._locked(exclusive=False):
            self._put_unlocked(cid, data)

    def _identity_ok(self, cid: Cid, data: bytes | memoryview) -> bool:
        """True for an identity CID holding `data` (nothing to store); raises for one holding other bytes."""
        if cid.multihash[0] != IDENTITY:
            return False
        if cid.digest != data:
            raise BlockCorruptedError(f"data does not match identity CID {cid}", cid=str(cid))
        return True

    def _put_unlocked(self, cid: Cid, data: bytes | memoryview) -> None:
        """Write a block whose CID is checked, under a lock the caller holds: skipped if present."""
        if self._identity_ok(cid, data):
            return
        key = _key(cid)
        shard = os.path.join(self.blocks_dir, key[-3:-1])
        path = os.path.join(shard, key + ".data")
        if os.path.isfile(path):
            return
        if shard not in self._shards:
            os.makedirs(shard, exist_ok=True)
            self._shards.add(shard)
        try:
            self._write_file(shard, path, data)
        except FileNotFoundError:  # the shard directory was removed since: make it again, once
            os.makedirs(shard, exist_ok=True)
            self._write_file(shard, path, data)

    def _write_file(self, directory: str, path: str, data: bytes | memoryview) -> None:
        """Temp file, write, fsync (if asked), rename: readers see the whole block or none."""
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
        try:
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked
                    view = view[os.write(fd, view) :]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, cid: Cid | str) -> None:
        cid = Cid.parse(cid)
        try:
            self.path_of(cid).unlink()
        except FileNotFoundError:
            raise BlockNotFoundError(f"block {cid} not found in {self.root}", cid=str(cid)) from None

    def all_cids(self) -> Iterator[Cid]:
        """Every stored block, as a raw CIDv1 (the store knows multihashes, not codecs; like `refs local`)."""
        for shard in sorted(self.blocks_dir.iterdir()):
            if not shard.is_dir():
                continue
            for entry in sorted(shard.iterdir()):
                if entry.suffix != ".data" or entry.name.startswith("."):
                    continue
                key = entry.stem
                try:
                    multihash = base64.b32decode(key + "=" * (-len(key) % 8))
                    yield Cid(1, RAW, multihash)
                except (ValueError, IpfsError):
                    log.warning("ignoring unexpected file %s in the block store", entry)

    def sync(self) -> None:
        """fsync the shard directories, so renames of new blocks survive a crash."""
        if not self._fsync:
            return
        for shard in self.blocks_dir.iterdir():
            if shard.is_dir():
                fd = os.open(shard, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- DAG walking ----------------------------------------------------------------------------------
    def walk(self, root: Cid | str) -> Iterator[tuple[Cid, bytes]]:
        """Every block reachable from `root` (root first, depth first, each once), verified."""
        seen: set[bytes] = set()
        stack = [Cid.parse(root)]
        while stack:
            cid = stack.pop()
            if cid.multihash in seen:
                continue
            seen.add(cid.multihash)
            data = self.get(cid)
            yield cid, data
            stack.extend(reversed(block_links(cid, data)))

    # -- pins -----------------------------------------------------------------------------------------
    def _read_pins(self) -> dict[str, list[str]]:
        try:
            raw = json.loads(self._pins_path.read_text("utf-8"))
        except FileNotFoundError:
            return {"recursive": [], "direct": []}
        except (OSError, ValueError) as err:
            raise IpfsError(f"cannot read the pin set {self._pins_path}: {err}", path=str(self._pins_path)) from err
        return {"recursive": list(raw.get("recursive", [])), "direct": list(raw.get("direct", []))}

    def _write_pins(self, pins: dict[str, list[str]]) -> None:
        body = {"version": 1, "recursive": sorted(set(pins["recursive"])), "direct": sorted(set(pins["direct"]))}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".pins-", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=1)
            out.flush()
            if self._fsync:
                os.fsync(out.fileno())
        os.replace(tmp, self._pins_path)

    @contextlib.contextmanager
    def _pins_locked(self) -> Iterator[dict[str, list[str]]]:
        """Read-modify-write of pins.json under a thread mutex and an flock on pins.json's lock file."""
        with self._pins_mutex, open(self.root / "pins.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                pins = self._read_pins()
                before = json.dumps(pins, sort_keys=True)
                yield pins
                if json.dumps(pins, sort_keys=True) != before:
                    self._write_pins(pins)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def pin_add(self, cid: Cid | str, *, recursive: bool = True) -> list[Cid]:
        """Pin `cid` (recursive: the whole DAG, which must be complete here). Returns the pinned CIDs."""
        cid = Cid.parse(cid)
        if recursive:
            for _ in self.walk(cid):  # every block present and intact, or BlockNotFound/Corrupted
                pass
        else:
            self.get(cid)
        text = str(cid)
        with self._pins_locked() as pins:
            if recursive:
                if text not in pins["recursive"]:
                    pins["recursive"].append(text)
                if text in pins["direct"]:
                    pins["direct"].remove(text)
            elif text not in pins["recursive"]:
                if text not in pins["direct"]:
                    pins["direct"].append(text)
            else:
                raise IpfsError(f"{cid} is already pinned recursively", cid=text)
        return [cid]

    def pin_rm(self, cid: Cid | str, *, recursive: bool = True) -> list[Cid]:
        cid = Cid.parse(cid)
        text = str(cid)
        with self._pins_locked() as pins:
            if text in pins["recursive"]:
                if not recursive:
                    raise IpfsError(f"{cid} is pinned recursively (remove it with recursive=True)", cid=text)
                pins["recursive"].remove(text)
            elif text in pins["direct"]:
                pins["direct"].remove(text)
            else:
                raise IpfsError(f"{cid} is not pinned", cid=text)
        return [cid]

    def pin_ls(
        self, cid: Cid | str | None = None, *, type: Literal["all", "recursive", "direct", "indirect"] = "all"
    ) -> dict[Cid, PinType]:
        """Pins by type; 'indirect' are blocks reachable from a recursive pin. With `cid`, only that one."""
        pins = self._read_pins()
        out: dict[Cid, PinType] = {}
        if type in ("all", "recursive"):
            out.update({Cid.parse(text): "recursive" for text in pins["recursive"]})
        if type in ("all", "direct"):
            for text in pins["direct"]:
                out.setdefault(Cid.parse(text), "direct")
        if type in ("all", "indirect"):
            explicit = {Cid.parse(text).multihash for text in pins["recursive"]}
            for text in pins["recursive"]:
                for child, _ in self.walk(text):
                    if child.multihash in explicit:
                        continue
                    explicit.add(child.multihash)
                    out.setdefault(child, "indirect")
        if cid is not None:
            wanted = Cid.parse(cid)
            found = {key: kind for key, kind in out.items() if key.multihash == wanted.multihash}
            if not found:
                raise IpfsError(f"{wanted} is not pinned", cid=str(wanted))
            return {wanted: next(iter(found.values()))}
        return out

    # -- garbage collection ---------------------------------------------------------------------------
    def gc(self) -> list[Cid]:
        """Delete every block not reachable from a recursive pin and not directly pinned. Returns them."""
        with self._locked(exclusive=True):
            pins = self._read_pins()
            keep: set[bytes] = {Cid.parse(text).multihash for text in pins["direct"]}
            for text in pins["recursive"]:
                keep.update(cid.multihash for cid, _ in self.walk(text))
            removed = []
            for cid in list(self.all_cids()):
                if cid.multihash not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        self.path_of(cid).unlink()
                    removed.append(cid)
            self._remove_stale_temp_files()
        log.info("gc removed %d blocks from %s", len(removed), self.root)
        return removed

    def _remove_stale_temp_files(self) -> None:
        for shard in self.blocks_dir.iterdir():
            if shard.is_dir():
                for entry in shard.glob(".tmp-*.part"):
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def writer(self, *, workers: int = 4, max_pending: int = 8) -> BlockWriter:
        """A sink for many new blocks (an import): written on `workers` threads, each block still
        fsynced before its rename (when the store fsyncs); at most `max_pending` blocks wait in memory.
        The threads mostly wait on the file system, so more of them than cores pays, up to a point: where
        creating files is slow (an ext4 without journal skipping recently deleted inodes, say), 8 threads
        creating files at once spend more kernel time than 4 (benchmarks/ipfs_import.py)."""
        return BlockWriter(self, workers=workers, max_pending=max_pending)

    def put_many(self, blocks: Iterable[tuple[Cid, bytes]], *, verify: bool = True) -> int:
        count = 0
        for cid, data in blocks:
            self.put_block(cid, data, verify=verify)
            count += 1
        return count


class BlockWriter:
    """Parallel block writes for imports. File creation, writes and fsync release the GIL, so a few threads
    overlap them with hashing; the repo's shared lock is taken once for the writer's life (not per block).
    `close()` waits for every write, raises the first failure, and syncs the shard directories. Use as a
    context manager: `with store.writer() as sink: import_file(stream, sink)`. Blocks may be memoryviews
    (see `import_buffer`); the caller must not change their bytes until `close()`."""

    def __init__(self, store: BlockStore, *, workers: int, max_pending: int) -> None:
        self._store = store
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(store.writing())
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="block-writer")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._failed: BaseException | None = None
        self._closed = False

    def __call__(self, cid: Cid, data: bytes | memoryview) -> None:
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise IpfsError(f"the block writer of {self._store.root} is closed; open another with store.writer()")
        self._slots.acquire()
        try:
            future = self._pool.submit(self._store._put_unlocked, cid, data)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        self._slots.release()
        error = future.exception()
        if error is not None and self._failed is None:
            self._failed = error

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._pool.shutdown(wait=True)
            if self._failed is not None:
                raise self._failed
            self._store.sync()
        finally:
            self._lock.close()

    def __enter__(self) -> BlockWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._closed = True
            try:
                self._pool.shutdown(wait=True)
            finally:
                self._lock.close()
            return
        self.close()
