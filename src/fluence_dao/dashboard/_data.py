"""What the dashboard shows, gathered from the peer, the chain and IPFS (nothing is written).

The peer's and the chain's facts come from `flows.status` (the same reads as `fluence-dao status`, with every run
the peer keeps). On top of them: the block they were read at, the history of the ENS text records (the resolver's
`TextChanged` events, scanned incrementally in chunks so a long chain is read over several refreshes), the governed
module CIDs and the root of the aggregation tree, which `tree()` browses.

No secret reaches a snapshot: the governance key is never loaded, IPFS is read without the API token, and the RPC
and IPFS URLs are cut to scheme, host and port wherever they appear (a provider's key often sits in the path).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, overload
from urllib.parse import urlsplit

from fluence_dao.config import Settings
from fluence_dao.errors import FluenceDaoError, IpfsError
from fluence_dao.flows import FlowContext, PeerSession
from fluence_dao.flows.aggregate import read_tree
from fluence_dao.flows.status import local_time, status
from fluence_dao.ipfs import Ipfs, open_ipfs
from fluence_dao.peer.remote import RemoteNetwork, connect_from_settings
from fluence_dao.peer.scheduler import HISTORY
from fluence_dao.util.json_types import JsonObject, JsonValue, to_json, to_json_object

if TYPE_CHECKING:
    from fluence_dao.eth import EnsClient

logger = logging.getLogger(__name__)

HISTORY_PER_KEY = 20  # changes kept per name and key
LOG_CHUNK_BLOCKS = 10_000  # blocks per eth_getLogs request (providers cap the range)
CHUNKS_PER_REFRESH = 20  # so the first refresh on a long chain still answers; the rest follows


def public_url(url: str) -> str:
    """`scheme://host:port` of a URL, with '/…' when it had a path, query or credentials (they may be keys)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "…"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    base = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password
    return base + ("/…" if hidden else "")


@overload
def redact(value: JsonObject, replacements: dict[str, str]) -> JsonObject: ...
@overload
def redact(value: JsonValue, replacements: dict[str, str]) -> JsonValue: ...
def redact(value: JsonValue, replacements: dict[str, str]) -> JsonValue:
    """`value` with every occurrence of each key of `replacements` in its strings (and dict keys) replaced, in one
    pass: the longest key wins where keys overlap, and replaced text is not searched again."""
    secrets = sorted(filter(None, replacements), key=len, reverse=True)
    if not secrets:
        return value
    pattern = re.compile("|".join(re.escape(secret) for secret in secrets))

    def text(item: str) -> str:
        return pattern.sub(lambda match: replacements[match.group(0)], item)

    def clean(item: JsonValue) -> JsonValue:
        if isinstance(item, str):
            return text(item)
        if isinstance(item, Mapping):
            return {text(k): clean(v) for k, v in item.items()}
        return [clean(v) for v in item] if isinstance(item, list | tuple) else item

    return clean(value)


def ether(wei: int) -> str:
    """Wei as exact decimal ether text ('0.999704027096162979', '2', '0')."""
    text = format(Decimal(wei) / Decimal(10**18), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class TextHistory:
    """The latest `per_key` changes of every text record of `names`, from `from_block` on.

    Each `update` reads up to `chunks_per_refresh` chunks of `chunk_blocks` blocks of logs past `scanned_to`. A chain whose block at
    `scanned_to` changed hash (a reorg, or a devnet reset) is scanned again from `from_block`.
    """

    names: tuple[str, ...]
    from_block: int = 0
    per_key: int = HISTORY_PER_KEY
    chunk_blocks: int = LOG_CHUNK_BLOCKS
    chunks_per_refresh: int = CHUNKS_PER_REFRESH
    scanned_to: int | None = None
    scanned_hash: str | None = None
    error: str | None = None
    changes: dict[tuple[str, str], deque[JsonObject]] = field(default_factory=dict)

    def update(self, ens: EnsClient, latest: int) -> None:
        try:
            self._check_continuity(ens, latest)
            start = self.from_block if self.scanned_to is None else self.scanned_to + 1
            for _ in range(self.chunks_per_refresh):
                if start > latest:
                    break
                end = min(latest, start + self.chunk_blocks - 1)
                for change in ens.text_changes(self.names, from_block=start, to_block=end, last=self.per_key):
                    where = (change.name, change.key)
                    kept = self.changes.setdefault(where, deque(maxlen=self.per_key))
                    kept.append({k: v for k, v in change.to_dict().items() if k not in ("name", "key", "resolver")})
                self.scanned_to, start = end, end + 1
            if self.scanned_to is not None:
                self.scanned_hash = _block_hash(ens, self.scanned_to)
            self.error = None
        except FluenceDaoError as err:
            self.error = err.message
            logger.info("dashboard: the text record history could not be read: %s", err.message)

    def _check_continuity(self, ens: EnsClient, latest: int) -> None:
        if self.scanned_to is None:
            return
        if self.scanned_to > latest or _block_hash(ens, self.scanned_to) != self.scanned_hash:
            logger.info("dashboard: the chain changed under block %d; reading the record history again", latest)
            self.scanned_to, self.scanned_hash = None, None
            self.changes.clear()

    def latest(self, name: str, key: str) -> JsonObject | None:
        kept = self.changes.get((name, key))
        return kept[-1] if kept else None

    def summary(self, latest: int | None) -> JsonObject:
        return {
            "from_block": self.from_block,
            "scanned_to": self.scanned_to,
            "complete": self.scanned_to is not None and latest is not None and self.scanned_to >= latest,
            "per_key": self.per_key,
            "error": self.error,
        }


def _block_hash(ens: EnsClient, number: int) -> str | None:
    block = ens.client.rpc("eth_getBlockByNumber", [hex(number), False])
    return str(block["hash"]) if isinstance(block, dict) and block.get("hash") else None


class DashboardData:
    """Snapshots of the signer, its intervals, the ENS records and the tree, for one state dir's settings.

    Thread-safe: one lock serialises every read of the peer, the chain and IPFS, and a snapshot younger than
    `max_age_s` is served again, so many pages cost one set of reads per refresh.
    """

    def __init__(self, settings: Settings, *, from_block: int = 0, runs_shown: int | None = None) -> None:
        self.settings = settings
        self.context = FlowContext(settings)
        self.runs_shown = HISTORY if runs_shown is None else runs_shown
        ens = settings.ens
        self.history = TextHistory((ens.project_name, ens.signer_name), from_block=from_block)
        self._lock = threading.Lock()
        self._network: RemoteNetwork | None = None
        self._session: PeerSession | None = None
        self._ipfs: Ipfs | None = None
        self._snapshot: JsonObject | None = None
        self._taken: float = 0.0

    # ---- the snapshot -------------------------------------------------------------------------------------------

    def state(self, *, max_age_s: float = 0.0) -> JsonObject:
        """The latest snapshot, gathered now when the last one is older than `max_age_s`."""
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._taken > max_age_s:
                self._snapshot = self._gather()
                self._taken = time.monotonic()
            return self._snapshot

    def _gather(self) -> JsonObject:
        session = self._peer_session()
        result = status(self.context, session, runs_shown=self.runs_shown)
        if session is not None and (result.peer.error is not None or not result.peer.reachable):
            self._drop_session()  # reconnect on the next refresh
        chain = to_json_object(result.chain)
        block: int | None = None
        if result.chain.reachable:
            try:
                block = self.context.eth.block_number()
                chain.update(chain_id=self.context.chain_id, block_number=block)
                self.history.update(self.context.ens, block)
            except FluenceDaoError as err:
                chain["error"] = err.message
        signer = to_json_object(result.signer)
        if result.signer.balance_wei is not None:  # as text: JSON numbers lose wei in the browser
            signer["balance_eth"] = ether(result.signer.balance_wei)
            signer["balance_wei"] = str(result.signer.balance_wei)
        records = self._records(result.records, current=result.chain.reachable and "error" not in chain)
        tip_key = self.settings.ens.ipld_tip_key
        tip = next((r for r in records if r["name"] == self.settings.ens.signer_name and r["key"] == tip_key), None)
        now_ms = int(time.time() * 1000)
        snapshot: JsonObject = {
            "generated_ms": now_ms,
            "generated_at": local_time(now_ms),
            "peer": to_json(result.peer),
            "chain": chain,
            "signer": signer,
            "intervals": to_json(result.intervals),
            "records": records,
            "modules": [r for r in records if r["kind"] == "module"],
            "tree": {"name": self.settings.ens.signer_name, "key": tip_key, "root": (tip or {}).get("value") or None},
            "history": self.history.summary(block),
            "notes": result.notes,
        }
        return redact(snapshot, self._secrets())

    def _records(self, read: dict[str, str], *, current: bool) -> list[JsonObject]:
        """Every text record status read or the history saw, with its recent changes, project name first.
        Values only when `current` (the chain answered this time): history's last values could be stale."""
        project, signer_name = self.settings.ens.project_name, self.settings.ens.signer_name
        values: dict[tuple[str, str], str | None] = {}
        for label, value in read.items():  # status: "key" on the project name, "name key" on others
            name, _, key = label.rpartition(" ")
            values[(name or project, key)] = value if current else None
        for where in self.history.changes:
            if where not in values:
                values[where] = self._latest_value(*where) if current else None
        order = {project: 0, signer_name: 1}
        rows: list[JsonObject] = []
        for name, key in sorted(values, key=lambda w: (order.get(w[0], 2), w[0], w[1])):
            rows.append(
                {
                    "name": name,
                    "key": key,
                    "value": values[(name, key)],
                    "kind": self._kind(name, key),
                    "history": list(self.history.changes.get((name, key), ())),
                }
            )
        return rows

    def _latest_value(self, name: str, key: str) -> str | None:
        """The value of the latest change seen, else (a node without that block's state) the record read now."""
        value = (self.history.latest(name, key) or {}).get("value")
        if value is None:
            try:
                value = self.context.ens.text(name, key)
            except FluenceDaoError as err:
                logger.info("dashboard: %s %s: %s", name, key, err.message)
        return None if value is None else str(value)

    def _kind(self, name: str, key: str) -> str:
        """'module' for governed code (`wasm.*`, `air.*` on the project name), 'signer' for `signer.*`."""
        if name == self.settings.ens.project_name:
            if key.startswith((self.settings.ens.wasm_key_prefix, "air.")):
                return "module"
            if key.startswith("signer."):
                return "signer"
        return "record"

    def _secrets(self) -> dict[str, str]:
        """Strings that must not reach the page, with what to show instead."""
        replacements: dict[str, str] = {}
        urls = [self.settings.eth.rpc_url or "", self.settings.ipfs.api_url or ""]
        with contextlib.suppress(FluenceDaoError):  # no endpoint configured: nothing to hide
            urls.append(self.context.endpoint.rpc_url)
        for url in filter(None, urls):
            replacements[url] = public_url(url)
        configured = self.settings.ipfs.api_token
        token = configured.get_secret_value() if configured is not None else ""
        if token:
            replacements[token] = "…"
        return replacements

    # ---- the tree -----------------------------------------------------------------------------------------------

    def tree(self, cid: str = "", path: str = "") -> JsonObject:
        """The node at `path` under `cid` (default: the root in the signer name's tip record), links as
        {"/": cid}. FluenceDaoError when there is no root, no such node, or IPFS does not answer."""
        with self._lock:
            self._read_only_ipfs()
            root, value = read_tree(self.context, cid, path, tip_key=self.settings.ens.ipld_tip_key)
        node: JsonObject = {"root": root, "path": path.strip("/"), "value": value}
        return redact(node, self._secrets())

    def _read_only_ipfs(self) -> None:
        """IPFS for the flows' reads, opened without the API token: reads need none, and a token never held
        cannot leak."""
        if self._ipfs is None:
            repo = self.settings.state_dir / "ipfs"
            if self.context.ipfs_api_url is None and not repo.is_dir():  # opening it would create it
                raise IpfsError(
                    f"no IPFS to read the tree from: no devnet IPFS server for state dir {self.settings.state_dir} "
                    "and no store in it; run `fluence-dao devnet up` or set FLUENCE_DAO_IPFS__API_URL",
                    repo=str(repo),
                )
            self._ipfs = open_ipfs(
                api_url=self.context.ipfs_api_url,
                repo=repo,
                timeout_s=self.settings.ipfs.timeout_s,
                api_token=None,
            )
            self.context.ipfs = self._ipfs

    # ---- the peer -----------------------------------------------------------------------------------------------

    def _peer_session(self) -> PeerSession | None:
        if self._session is None:
            try:
                self._network = connect_from_settings(self.settings)
            except FluenceDaoError as err:
                logger.info("dashboard: no peer daemon: %s", err.message)
                self._network = None
            if self._network is not None:
                self._session = PeerSession(self._network)
        return self._session

    def _drop_session(self) -> None:
        network, self._network, self._session = self._network, None, None
        if network is not None:
            try:
                network.close()
            except Exception:  # best effort: the connection is being given up anyway
                logger.debug("closing the peer connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._drop_session()
            if self._ipfs is not None:
                self._ipfs.close()
            self.context.close()
