"""The local devnet: anvil from npm on 127.0.0.1, ENS contracts from the npm artifacts, the project's names.

`Devnet(settings).up()` is idempotent and returns devnet.json (chain id, RPC URL, ENS addresses, names; `start()`
returns it typed, a `DevnetInfo`);
`down()` stops everything with SIGTERM (anvil saves its chain to `--state`), then SIGKILL. More background
processes join through `COMPONENTS` (see `_devnet.py`). devnet.json's typed model and `resolve_endpoint` live in
`fluence_dao.runtime` (a lower layer the peer reads too) and are re-exported here. `up()` keeps the state dir
private (umask 077 for what it starts; `secure_state_dir` tightens what an older run left readable).
"""

from fluence_dao.devnet._deploy import (
    REGISTRY_ARTIFACT,
    RESOLVER_ARTIFACT,
    EnsDeployment,
    deploy_ens,
    ensure_name,
    load_artifact,
)
from fluence_dao.devnet._devnet import (
    COMPONENTS,
    AnvilComponent,
    Devnet,
    DevnetComponent,
    DevnetStatus,
    IpfsServerComponent,
    PeerComponent,
    SubgraphComponent,
    anvil_binary,
    ipfs_api_version,
    rpc_chain_id,
    subgraph_build_stale,
)
from fluence_dao.devnet._permissions import STATE_SUBDIRS, secure_state_dir
from fluence_dao.runtime import STATE_VERSION, DevnetInfo, DevnetPaths, Endpoint, read_info, resolve_endpoint

__all__ = [
    "COMPONENTS",
    "REGISTRY_ARTIFACT",
    "RESOLVER_ARTIFACT",
    "STATE_SUBDIRS",
    "STATE_VERSION",
    "AnvilComponent",
    "Devnet",
    "DevnetComponent",
    "DevnetInfo",
    "DevnetPaths",
    "DevnetStatus",
    "Endpoint",
    "EnsDeployment",
    "IpfsServerComponent",
    "PeerComponent",
    "SubgraphComponent",
    "anvil_binary",
    "deploy_ens",
    "ensure_name",
    "ipfs_api_version",
    "load_artifact",
    "read_info",
    "resolve_endpoint",
    "rpc_chain_id",
    "secure_state_dir",
    "subgraph_build_stale",
]
