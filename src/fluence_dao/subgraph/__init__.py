"""Run subgraphs built by graph-cli without graph-node: mappings in wasmtime, entities in SQLite, GraphQL on 127.0.0.1.

build_subgraph(dir)                        `graph codegen && graph build` (offline) -> dir/build
Indexer(build_dir, Store(db), EthRpc(url)) eth_getLogs -> handlers -> versioned entities; .sync()
SubgraphServer(indexer, port)              The Graph's GraphQL conventions from the subgraph's schema

Mappings run on the marine substrate (marine.core) with graph-node's host functions (subgraph._host, one module
per namespace). The demo Governance contract's client is `fluence_dao.eth.GovernanceContract`.
"""

from fluence_dao.subgraph._build import build_subgraph
from fluence_dao.subgraph._indexer import Indexer, IndexerConfig
from fluence_dao.subgraph._rpc import EthRpc
from fluence_dao.subgraph._runtime import HandlerError, UnsupportedHostFunctionError
from fluence_dao.subgraph._server import SubgraphServer
from fluence_dao.subgraph._store import BlockPtr, Store

__all__ = [
    "BlockPtr",
    "EthRpc",
    "HandlerError",
    "Indexer",
    "IndexerConfig",
    "Store",
    "SubgraphServer",
    "UnsupportedHostFunctionError",
    "build_subgraph",
]
