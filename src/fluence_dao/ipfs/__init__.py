"""IPFS for fluence-dao: an embedded, Kubo-compatible node and a client for real Kubo nodes.

    LocalIpfs(repo)        the embedded node over a BlockStore directory (CIDs equal Kubo's `ipfs add`)
    KuboClient(api_url)    the same `Ipfs` interface over Kubo's RPC API (httpx, imported lazily)
    KuboServer(node)       serves a LocalIpfs on 127.0.0.1 through the same RPC endpoints
    open_ipfs(...)         one of the first two, from `api_url` or `repo`
    api_token_for(...)     the secret for the RPC API: configured, else the devnet's <state_dir>/ipfs/api-token

Lower layers: `Cid`; UnixFS `import_file` / `iter_file`; DAG-CBOR and DAG-JSON codecs; CAR v1.
This subpackage is a leaf: it imports only `errors` and `util`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fluence_dao.ipfs._api import (
    AddedEntry,
    AddOptions,
    BlockStat,
    FileAddFlags,
    Ipfs,
    PathAddFlags,
    PinFilter,
    PinKind,
)
from fluence_dao.ipfs._auth import (
    api_token_for,
    api_token_path,
    authorization_header,
    ensure_api_token_file,
    load_server_token,
    read_api_token_file,
)
from fluence_dao.ipfs._car import read_car, write_car
from fluence_dao.ipfs._cid import (
    DAG_CBOR,
    DAG_JSON,
    DAG_PB,
    RAW,
    Cid,
    b58decode,
    b58encode,
    codec_code,
    decode_varint,
    encode_varint,
)
from fluence_dao.ipfs._codecs import (
    IpldValue,
    decode_block,
    decode_dag_cbor,
    decode_dag_json,
    encode_block,
    encode_dag_cbor,
    encode_dag_json,
)
from fluence_dao.ipfs._dagpb import (
    FILE,
    PBLink,
    PBNode,
    UnixFSData,
    decode_node,
    decode_unixfs,
    encode_node,
    encode_unixfs,
    encode_unixfs_node,
)
from fluence_dao.ipfs._node import LocalIpfs, split_path
from fluence_dao.ipfs._store import BlockStore
from fluence_dao.ipfs._unixfs import (
    CHUNK_SIZE,
    MAX_LINKS,
    ImportedNode,
    ImportOptions,
    import_buffer,
    import_file,
    iter_file,
)
from fluence_dao.ipfs.sha256 import backend as hash_backend

if TYPE_CHECKING:
    from pydantic import SecretStr

    from fluence_dao.ipfs._kubo_client import KuboClient
    from fluence_dao.ipfs._kubo_server import KuboServer

__all__ = [
    "CHUNK_SIZE",
    "DAG_CBOR",
    "DAG_JSON",
    "DAG_PB",
    "FILE",
    "MAX_LINKS",
    "RAW",
    "AddOptions",
    "AddedEntry",
    "BlockStat",
    "BlockStore",
    "Cid",
    "FileAddFlags",
    "ImportOptions",
    "ImportedNode",
    "Ipfs",
    "IpldValue",
    "KuboClient",
    "KuboServer",
    "LocalIpfs",
    "PBLink",
    "PBNode",
    "PathAddFlags",
    "PinFilter",
    "PinKind",
    "UnixFSData",
    "api_token_for",
    "api_token_path",
    "authorization_header",
    "b58decode",
    "b58encode",
    "codec_code",
    "decode_block",
    "decode_dag_cbor",
    "decode_dag_json",
    "decode_node",
    "decode_unixfs",
    "decode_varint",
    "encode_block",
    "encode_dag_cbor",
    "encode_dag_json",
    "encode_node",
    "encode_unixfs",
    "encode_unixfs_node",
    "encode_varint",
    "ensure_api_token_file",
    "hash_backend",
    "import_buffer",
    "import_file",
    "iter_file",
    "load_server_token",
    "open_ipfs",
    "read_api_token_file",
    "read_car",
    "split_path",
    "write_car",
]


def __getattr__(name: str) -> type[KuboClient] | type[KuboServer]:
    # KuboClient and KuboServer are loaded on first use only: http.server, tarfile and tempfile add ~30 ms to
    # every `import fluence_dao.ipfs` (the peer's builtins and most commands need neither).
    if name == "KuboClient":
        from fluence_dao.ipfs._kubo_client import KuboClient  # lazy: see above

        return KuboClient
    if name == "KuboServer":
        from fluence_dao.ipfs._kubo_server import KuboServer  # lazy: see above

        return KuboServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_ipfs(
    *,
    api_url: str | None = None,
    repo: str | Path | None = None,
    timeout_s: float = 60.0,
    api_token: str | SecretStr | None = None,
) -> Ipfs:
    """A KuboClient when `api_url` is given (a real Kubo node or `fluence-dao ipfs serve`; `api_token` is sent
    to it, see `api_token_for`), else the embedded LocalIpfs over `repo`."""
    if api_url:
        from fluence_dao.ipfs._kubo_client import KuboClient  # lazy: see __getattr__

        client: Ipfs = KuboClient(api_url, timeout_s=timeout_s, api_token=api_token)
        return client
    if repo is None:
        raise ValueError("open_ipfs needs api_url or repo")
    return LocalIpfs(repo)
