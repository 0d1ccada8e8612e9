"""Entities in SQLite with a block range per version, so a query can read the state at any past block.

A version is visible at block B when `block_start <= B` and (`block_end` is NULL or `block_end > B`). Writing a
block closes the open version of every changed entity at that block and inserts the new one; reverting a reorged
block deletes versions that started after the fork and reopens the ones closed after it. The cursor (last
processed block), recent block hashes (for reorg detection), dynamic data sources and the indexing error live in
the same database, written in the same transaction as the block's entities, so a restart resumes exactly.

The latest version of recently read or written entities is also kept decoded in memory (`get` without a block,
what mappings read): committed blocks update it, a revert drops it. So are the last few `all(entity, block)` lists
(what GraphQL collections read) until the next write. Returned entities are shared: never mutate one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NotRequired, TypedDict, cast

from fluence_dao.errors import SubgraphError
from fluence_dao.subgraph._asc import (
    SV_ARRAY,
    SV_BIGDECIMAL,
    SV_BIGINT,
    SV_BYTES,
    StoreValue,
)
from fluence_dao.subgraph._numbers import BigDecimal
from fluence_dao.util.json_types import JsonObject, JsonValue

Entity = dict[str, StoreValue]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
  entity TEXT NOT NULL, id TEXT NOT NULL, block_start INTEGER NOT NULL, block_end INTEGER, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_key ON entities (entity, id, block_end);
CREATE INDEX IF NOT EXISTS entities_range ON entities (entity, block_start);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent_hash TEXT, timestamp INTEGER);
CREATE TABLE IF NOT EXISTS data_sources (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, template TEXT NOT NULL, address TEXT NOT NULL, context TEXT,
  creation_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def encode_value(value: StoreValue) -> JsonValue:
    """A StoreValue in the store's JSON form: [kind, payload] (big numbers as strings, bytes as 0x-hex)."""
    kind, v = value
    if kind == SV_BIGINT:
        return [kind, str(v)]
    if kind == SV_BIGDECIMAL:
        return [kind, [v.digits, v.exp]]
    if kind == SV_BYTES:
        return [kind, "0x" + v.hex()]
    if kind == SV_ARRAY:
        return [kind, [encode_value(x) for x in v]]
    return [kind, v]


def decode_value(raw: JsonValue) -> StoreValue:
    """`encode_value`'s JSON form back as a StoreValue."""
    kind = raw[0] if isinstance(raw, list) and len(raw) == 2 else None
    if not isinstance(kind, int) or not isinstance(raw, list):
        raise SubgraphError(f"not a stored value ([kind, payload]): {raw!r}")
    v = raw[1]
    if kind == SV_BIGINT:
        return kind, int(str(v))
    if kind == SV_BIGDECIMAL and isinstance(v, list):
        return kind, BigDecimal(int(str(v[0])), int(str(v[1])))
    if kind == SV_BYTES:
        return kind, bytes.fromhex(str(v)[2:])
    if kind == SV_ARRAY and isinstance(v, list):
        return kind, [decode_value(x) for x in v]
    return kind, v


def encode_entity(data: Entity) -> str:
    return json.dumps({k: encode_value(v) for k, v in data.items()}, separators=(",", ":"))


def decode_entity(text: str) -> Entity:
    return {k: decode_value(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True)
class DynamicDataSource:
    template: str
    address: str
    context: JsonObject | None
    creation_block: int


@dataclass(frozen=True)
class BlockPtr:
    number: int
    hash: str
    timestamp: int | None = None


class _StoredCursor(TypedDict):
    number: int
    hash: str
    timestamp: NotRequired[int | None]


class Store:
    """One subgraph's entities and indexing state. Thread-safe (one connection behind a lock)."""

    #: How many latest entity versions (or known absences) stay decoded in memory.
    LATEST_CACHE_ENTRIES = 50_000
    #: How many `all(entity, block)` results stay decoded until the next write.
    ALL_CACHE_ENTRIES = 8

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._latest: dict[tuple[str, str], Entity | None] = {}
        self._all: dict[tuple[str, int | None], list[Entity]] = {}
        self._generation = 0  # entity writes so far: a decoded `all` result is kept only if none came meanwhile
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise SubgraphError(f"cannot open the subgraph database {self.path}: {err}", path=self.path) from err
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta ---------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> JsonValue:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: JsonValue) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def cursor(self) -> BlockPtr | None:
        raw = cast("_StoredCursor | None", self.get_meta("cursor"))  # written by this class only
        return BlockPtr(raw["number"], raw["hash"], raw.get("timestamp")) if raw else None

    def error(self) -> JsonObject | None:
        value = self.get_meta("error")
        return value if isinstance(value, dict) else None

    def set_error(self, error: JsonObject | None) -> None:
        self.set_meta("error", error)

    def block_hash(self, number: int) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return row[0] if row else None

    def recent_blocks(self) -> list[BlockPtr]:
        """Stored block pointers, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT number, hash, timestamp FROM blocks ORDER BY number DESC").fetchall()
        return [BlockPtr(n, h, t) for n, h, t in rows]

    # -- reads --------------------------------------------------------------------------------------------
    def get(self, entity: str, entity_id: str, block: int | None = None) -> Entity | None:
        """The version visible at `block` (None: the latest), or None. Do not mutate the result."""
        with self._lock:
            if block is None:
                key = (entity, entity_id)
                try:
                    return self._latest[key]
                except KeyError:
                    pass
                row = self._db.execute(
                    "SELECT data FROM entities WHERE entity = ? AND id = ? AND block_end IS NULL", (entity, entity_id)
                ).fetchone()
                found = decode_entity(row[0]) if row else None
                self._remember(key, found)
                return found
            else:
                row = self._db.execute(
                    "SELECT data FROM entities WHERE entity = ? AND id = ? AND block_start <= ? "
                    "AND (block_end IS NULL OR block_end > ?)",
                    (entity, entity_id, block, block),
                ).fetchone()
        return decode_entity(row[0]) if row else None

    def all(self, entity: str, block: int | None = None) -> list[Entity]:
        """Every version visible at `block` (None: the latest). The list is the caller's; the entities are shared."""
        key = (entity, block)
        with self._lock:
            cached = self._all.get(key)
            if cached is not None:
                return list(cached)
            generation = self._generation
            if block is None:
                rows = self._db.execute(
                    "SELECT data FROM entities WHERE entity = ? AND block_end IS NULL", (entity,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM entities WHERE entity = ? AND block_start <= ? "
                    "AND (block_end IS NULL OR block_end > ?)",
                    (entity, block, block),
                ).fetchall()
        found = [decode_entity(r[0]) for r in rows]
        with self._lock:
            if generation == self._generation:
                if len(self._all) >= self.ALL_CACHE_ENTRIES:
                    self._all.clear()
                self._all[key] = found
        return list(found)

    def _written(self) -> None:
        """Entities changed (called with the lock held): cached `all` results are stale."""
        self._generation += 1
        self._all.clear()

    def referencing(self, entity: str, field: str, target_id: str, block: int | None = None) -> list[Entity]:
        """Entities of type `entity` whose `field` (a reference or a list of references) holds `target_id`."""
        path = '$."' + field.replace('"', "") + '"'
        visible = "block_end IS NULL" if block is None else "block_start <= ? AND (block_end IS NULL OR block_end > ?)"
        args: list[object] = [entity] + ([] if block is None else [block, block])
        sql = (
            f"SELECT data FROM entities WHERE entity = ? AND {visible} AND ("
            f"json_extract(data, '{path}[1]') = ? OR (json_extract(data, '{path}[0]') = {SV_ARRAY} AND EXISTS ("
            f"SELECT 1 FROM json_each(data, '{path}[1]') AS item WHERE json_extract(item.value, '$[1]') = ?)))"
        )
        with self._lock:
            rows = self._db.execute(sql, [*args, target_id, target_id]).fetchall()
        return [decode_entity(r[0]) for r in rows]

    def data_sources(self) -> list[DynamicDataSource]:
        with self._lock:
            rows = self._db.execute(
                "SELECT template, address, context, creation_block FROM data_sources ORDER BY seq"
            ).fetchall()
        return [DynamicDataSource(t, a, json.loads(c) if c else None, b) for t, a, c, b in rows]

    # -- writes -------------------------------------------------------------------------------------------
    def commit_block(
        self,
        block: BlockPtr,
        changes: dict[tuple[str, str], Entity | None],
        new_data_sources: Iterable[DynamicDataSource] = (),
        keep_blocks: int = 256,
    ) -> None:
        """Write one block's entity changes, data sources, hash and the cursor in one transaction."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                # A version written earlier in the same block (same-block data source reprocessing) is replaced
                # in place; an older open version is closed at this block. Each key appears once in `changes`.
                number = block.number
                db.executemany(
                    "DELETE FROM entities WHERE entity = ? AND id = ? AND block_start = ?",
                    [(entity, entity_id, number) for entity, entity_id in changes],
                )
                db.executemany(
                    "UPDATE entities SET block_end = ? WHERE entity = ? AND id = ? AND block_end IS NULL",
                    [(number, entity, entity_id) for entity, entity_id in changes],
                )
                db.executemany(
                    "INSERT INTO entities (entity, id, block_start, block_end, data) VALUES (?, ?, ?, NULL, ?)",
                    [(e, i, number, encode_entity(data)) for (e, i), data in changes.items() if data is not None],
                )
                for ds in new_data_sources:
                    db.execute(
                        "INSERT INTO data_sources (template, address, context, creation_block) VALUES (?, ?, ?, ?)",
                        (ds.template, ds.address, json.dumps(ds.context) if ds.context else None, ds.creation_block),
                    )
                self._advance(block, keep_blocks)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            for key, data in changes.items():
                self._remember(key, data)
            self._written()

    def _remember(self, key: tuple[str, str], data: Entity | None) -> None:
        if len(self._latest) >= self.LATEST_CACHE_ENTRIES:
            self._latest.clear()
        self._latest[key] = data

    def advance(self, block: BlockPtr, keep_blocks: int = 256) -> None:
        """Move the cursor to a block without entity changes."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._advance(block, keep_blocks)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _advance(self, block: BlockPtr, keep_blocks: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO blocks (number, hash, timestamp) VALUES (?, ?, ?)",
            (block.number, block.hash, block.timestamp),
        )
        self._db.execute("DELETE FROM blocks WHERE number < ?", (block.number - keep_blocks,))
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)",
            (json.dumps({"number": block.number, "hash": block.hash, "timestamp": block.timestamp}),),
        )

    def revert_to(self, block: BlockPtr) -> None:
        """Undo every block after `block` (a reorg): entity versions, data sources, hashes; cursor = block."""
        with self._lock:
            self._latest.clear()
            self._written()
            db = self._db
            db.execute("BEGIN")
            try:
                db.execute("DELETE FROM entities WHERE block_start > ?", (block.number,))
                db.execute("UPDATE entities SET block_end = NULL WHERE block_end > ?", (block.number,))
                db.execute("DELETE FROM data_sources WHERE creation_block > ?", (block.number,))
                db.execute("DELETE FROM blocks WHERE number > ?", (block.number,))
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)",
                    (json.dumps({"number": block.number, "hash": block.hash, "timestamp": block.timestamp}),),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def version_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entities").fetchone()[0])
