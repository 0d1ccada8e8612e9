"""`aqua-ipfs`: the IPFS builtin of fluencelabs/aqua-ipfs (service id, functions and result records), backed by
fluence-dao's IPFS layer instead of a mounted `ipfs` binary.

    service Ipfs("aqua-ipfs"):
      get(hash) / get_from(hash, api_multiaddr) -> IpfsGetResult {success, error, path}   (file in the vault)
      cat(hash) / cat_from(hash, api_multiaddr) -> IpfsCatResult {success, error, contents}
      dag_get(hash) / dag_get_from(hash, api_multiaddr) -> IpfsGetResult (DAG-JSON in the vault)
      put(file_path) / dag_put(file_path) -> IpfsPutResult {success, error, hash}
      connect(multiaddr) -> IpfsResult; get_/set_ {local_api, external_api, external_swarm}_multiaddr; set_timeout

Like aqua-ipfs, failures are result records with `success: false`, not call errors. Two things are stricter:
- every file fetched is re-hashed and refused unless its bytes give the requested CID (the error names both
  CIDs), so a lying or corrupted node cannot slip different code into a service;
- `*_from` dials only hosts in `allowed_hosts` (loopback by default): a particle cannot make the peer connect
  to an arbitrary address.
Who may call what: reads of the peer's own store (`get`, `cat`, `dag_get`, the getters) are open to everyone.
Everything that stores data on the peer (`put`, `dag_put`), dials another node (`*_from`, `connect`) or changes
a setting (`set_*`, `set_timeout`) is reserved to the host and management peers (the peer's own scripts and
spells run as the host): a stranger cannot fill the store, point the peer at their own server or slow it down.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from fluence_dao.errors import FluenceDaoError
from fluence_dao.ipfs import Cid, ImportOptions, Ipfs, decode_dag_json, encode_dag_json, import_file, open_ipfs
from fluence_dao.peer.args import STR, U64, arg
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, Function, export
from fluence_dao.util.json_types import Args, JsonObject

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_TIMEOUT_S = 60.0
_Read = Callable[[CallContext, str, Ipfs], JsonObject]  # a read of `cid` from a node
_MULTIADDRS = {  # setting -> what its getter's error calls it
    "local_api_multiaddr": "local api",
    "external_api_multiaddr": "external api",
    "external_swarm_multiaddr": "external swarm",
}


def multiaddr_to_url(multiaddr: str) -> tuple[str, str]:
    """`/ip4/127.0.0.1/tcp/5001[/http]` -> (host, `http://127.0.0.1:5001`). ValueError for anything else."""
    parts = [p for p in multiaddr.split("/") if p]
    if len(parts) < 4 or parts[0] not in ("ip4", "ip6", "dns", "dns4", "dns6") or parts[2] != "tcp":
        raise ValueError(f"invalid multiaddr: {multiaddr}")
    host, port = parts[1], parts[3]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid multiaddr: {multiaddr} (bad port {port!r})")
    scheme = "https" if "https" in parts[4:] else "http"
    shown = f"[{host}]" if parts[0] == "ip6" else host
    return host, f"{scheme}://{shown}:{port}"


def verify_cid(data: bytes, expected: str) -> Cid:
    """The CID of `data` when it equals `expected`; BuiltinError naming both CIDs otherwise.

    A CIDv0 is recomputed with Kubo's v0 defaults; a CIDv1 with raw leaves (Kubo's v1 default; a single chunk
    is then one raw block) and, failing that, with dag-pb leaves.
    """
    want = Cid.parse(expected)
    candidates: list[ImportOptions] = []
    if want.version == 0:
        candidates.append(ImportOptions(cid_version=0))
    else:
        candidates += [ImportOptions(cid_version=1, raw_leaves=True), ImportOptions(cid_version=1, raw_leaves=False)]
    first: Cid | None = None
    for options in candidates:
        got = import_file(io.BytesIO(data), lambda _cid, _block: None, options).cid
        first = first or got
        if got == want:
            return got
    raise BuiltinError(f"content does not match its CID: expected {want}, the bytes received hash to {first}")


class AquaIpfsService(BuiltinService):
    service_id = "aqua-ipfs"

    def __init__(
        self,
        ipfs: Ipfs,
        *,
        local_api_multiaddr: str = "",
        external_api_multiaddr: str = "",
        external_swarm_multiaddr: str = "",
        allowed_hosts: frozenset[str] = LOOPBACK_HOSTS,
        connect: Callable[[str, float], Ipfs] | None = None,
    ) -> None:
        self.ipfs = ipfs
        self.local_api_multiaddr = local_api_multiaddr
        self.external_api_multiaddr = external_api_multiaddr
        self.external_swarm_multiaddr = external_swarm_multiaddr
        self.allowed_hosts = allowed_hosts
        self.timeout_s = DEFAULT_TIMEOUT_S
        self._connect = connect or _kubo_client

    def functions(self) -> dict[str, Function]:
        """The marked methods, each read from this node and `_from` another, a getter and a setter per multiaddr."""
        table = super().functions()
        reads = {
            "get": ("path", self._get_into_vault),
            "cat": ("contents", self._cat),
            "dag_get": ("path", self._dag_get),
        }
        for name, (field, read) in reads.items():  # field: the empty field of a failed result
            table[name] = self._local_read(read)
            table[f"{name}_from"] = self._remote_read(f"{name}_from", field, read)
        for setting, what in _MULTIADDRS.items():
            table[f"get_{setting}"] = self._getter(setting, what)
            table[f"set_{setting}"] = self._setter(setting)
        return table

    # ---- reads ------------------------------------------------------------------------------------------------

    def _local_read(self, read: _Read) -> Function:
        return lambda args, ctx: read(ctx, arg(args, 0, "hash", STR), self.ipfs)

    def _remote_read(self, function: str, field: str, read: _Read) -> Function:
        """`<read>_from(hash, external_multiaddr)`: the same read from another node (host and management only)."""

        def read_from(args: Args, ctx: CallContext) -> JsonObject:
            cid = arg(args, 0, "hash", STR)
            if (refused := _refuse_unprivileged(ctx, function, field)) is not None:
                return refused
            remote = self._remote(arg(args, 1, "external_multiaddr", STR))
            return remote if isinstance(remote, dict) else read(ctx, cid, remote)

        return read_from

    # ---- writes -----------------------------------------------------------------------------------------------

    @export()
    def put(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._store(args, ctx, "put", lambda data: self.ipfs.add_bytes(data, cid_version=1, pin=True).cid)

    @export()
    def dag_put(self, args: Args, ctx: CallContext) -> JsonObject:
        return self._store(
            args, ctx, "dag_put", lambda raw: self.ipfs.dag_put(decode_dag_json(raw), store_codec="dag-cbor", pin=True)
        )

    def _store(self, args: Args, ctx: CallContext, function: str, store: Callable[[bytes], Cid]) -> JsonObject:
        """`function(file_path)`: the particle's vault file stored by `store`; its CID, or the failed result."""
        data = _vault_input(ctx, function, arg(args, 0, "file_path", STR))
        if isinstance(data, dict):
            return data
        try:
            cid = store(data)
        except (FluenceDaoError, ValueError) as err:
            return _failed("hash", f"ipfs {function.replace('_', ' ')} failed: {err}")
        return {"success": True, "error": "", "hash": str(cid)}

    # ---- configuration ----------------------------------------------------------------------------------------

    @export()
    def connect(self, args: Args, ctx: CallContext) -> JsonObject:
        multiaddr = arg(args, 0, "multiaddr", STR)
        if (refused := _refuse_unprivileged(ctx, "connect", "")) is not None:
            return refused
        remote = self._remote(multiaddr)
        if isinstance(remote, dict):
            return {"success": False, "error": remote["error"]}
        try:
            remote.id()
        except FluenceDaoError as err:
            return {"success": False, "error": f"cannot connect to {multiaddr}: {err}"}
        return {"success": True, "error": ""}

    @export()
    def set_timeout(self, args: Args, ctx: CallContext) -> None:
        seconds = arg(args, 0, "timeout_sec", U64)
        if seconds == 0:
            raise BuiltinError("Error: timeout_sec must be positive")
        if _refuse_unprivileged(ctx, "set_timeout", "") is not None:
            raise BuiltinError(_forbidden(ctx, "set_timeout"))
        self.timeout_s = float(seconds)

    def _getter(self, attribute: str, what: str) -> Function:
        return lambda args, ctx: _addr(getattr(self, attribute), what)

    def _setter(self, attribute: str) -> Function:
        def set_multiaddr(args: Args, ctx: CallContext) -> JsonObject:
            multiaddr = arg(args, 0, "multiaddr", STR)
            if (refused := _refuse_unprivileged(ctx, f"set_{attribute}", "", always=True)) is not None:
                return refused
            try:
                multiaddr_to_url(multiaddr)
            except ValueError as err:
                return {"success": False, "error": str(err)}
            setattr(self, attribute, multiaddr)
            return {"success": True, "error": ""}

        return set_multiaddr

    # ---- helpers ----------------------------------------------------------------------------------------------

    def _remote(self, multiaddr: str) -> Ipfs | JsonObject:
        """A client for the node at `multiaddr`, or a failed result when it is malformed or not allowed."""
        try:
            host, url = multiaddr_to_url(multiaddr)
        except ValueError as err:
            return _failed("path", str(err))
        if host not in self.allowed_hosts:
            return _failed(
                "path", f"dialing {host} is not allowed (allowed hosts: {', '.join(sorted(self.allowed_hosts))})"
            )
        return self._connect(url, self.timeout_s)

    def _get_into_vault(self, ctx: CallContext, cid: str, source: Ipfs) -> JsonObject:
        data = _verified_cat(source, cid, "path", "get")
        if isinstance(data, dict):
            return data
        if source is not self.ipfs:
            try:  # keep a verified local copy, so later `get` and restarts don't need the remote node
                self.ipfs.add_bytes(data, cid_version=0 if cid.startswith("Qm") else 1, pin=True)
            except FluenceDaoError as err:
                logger.warning("could not keep a local copy of %s: %s", cid, err)
        return {"success": True, "error": "", "path": ctx.peer.vault.put(ctx.particle, data, name=cid)}

    def _cat(self, ctx: CallContext, cid: str, source: Ipfs) -> JsonObject:
        data = _verified_cat(source, cid, "contents", "cat")
        if isinstance(data, dict):
            return data
        return {"success": True, "error": "", "contents": data.decode("utf-8", "replace")}

    def _dag_get(self, ctx: CallContext, cid: str, source: Ipfs) -> JsonObject:
        try:
            value = source.dag_get(cid)
        except FluenceDaoError as err:
            return _failed("path", f"ipfs dag get {cid} failed: {err.message}")
        data = encode_dag_json(value)
        return {"success": True, "error": "", "path": ctx.peer.vault.put(ctx.particle, data, name=f"{cid}.json")}


def _failed(field: str, error: str) -> JsonObject:
    return {"success": False, "error": error, field: ""} if field else {"success": False, "error": error}


def _forbidden(ctx: CallContext, function: str) -> str:
    return (
        f"Error: Forbidden. User id '{ctx.init_peer_id}' cannot call aqua-ipfs.{function}: it stores data or dials "
        "other nodes, so only the host or a management peer can"
    )


def _verified_cat(source: Ipfs, cid: str, field: str, verb: str) -> bytes | JsonObject:
    """The bytes of `cid` from `source`, checked against the CID, or the failed result (`field` empty) to return."""
    try:
        data = source.cat(cid)
        verify_cid(data, cid)
    except BuiltinError as err:
        return _failed(field, str(err))
    except FluenceDaoError as err:
        return _failed(field, f"ipfs {verb} {cid} failed: {err.message}")
    return data


def _vault_input(ctx: CallContext, function: str, path: str) -> bytes | JsonObject:
    """The bytes of the particle's vault file `path` that `function` writes to IPFS, or the failed result to
    return (an unprivileged caller, or no such file)."""
    if (refused := _refuse_unprivileged(ctx, function, "hash")) is not None:
        return refused
    try:
        return ctx.peer.vault.read_bytes(ctx.particle, path)
    except BuiltinError:
        return _failed("hash", f"path {path} doesn't exist")


def _refuse_unprivileged(ctx: CallContext, function: str, field: str, *, always: bool = False) -> JsonObject | None:
    """Writes to the peer's store and dials to other nodes are for the host and management peers where builtins are
    restricted (the daemon; its scripts and spells run as the host); settings (`always`) on every peer."""
    policy = ctx.peer.policy
    if (not policy.restricted and not always) or policy.is_privileged(ctx.init_peer_id):  # unrestricted: 2021
        return None
    return _failed(field, _forbidden(ctx, function))


def _addr(value: str, what: str) -> JsonObject:
    if not value:
        return {"success": False, "error": f"{what} multiaddr is not set", "multiaddr": ""}
    return {"success": True, "error": "", "multiaddr": value}


def _kubo_client(url: str, timeout_s: float) -> Ipfs:
    return open_ipfs(api_url=url, timeout_s=timeout_s)
