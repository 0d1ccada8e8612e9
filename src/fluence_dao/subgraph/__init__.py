"""Run subgraphs built by graph-cli without graph-node: mappings in wasmtime, entities in SQLite, GraphQL on 127.0.0.1.

build_subgraph(dir)                        `graph codegen && graph build` (offline) -> dir/build
Indexer(build_dir, Store(db), EthRpc(url)) eth_getLogs -> handlers -> versioned entities; .sync()
SubgraphServer(indexer, port)              The Graph's GraphQL conventions from the subgraph's schema

Mappings run on the marine substrate (marine.core) with graph-node's host functions (subgraph._host, one module
per namespace). The demo Governance contract's client is `fluence_dao.eth.GovernanceContract`.

The parts below the runner are exported too, for tests and tools that work on one layer: `asc` (the
AssemblyScript memory layout and value kinds), ABI types and values, BigDecimal, the manifest and schema
loaders, the host functions and the GraphQL schema.
"""

from fluence_dao.subgraph import _asc as asc
from fluence_dao.subgraph._abi_types import (
    abi_json_type,
    decode_elementary,
    parse_call_signature,
    parse_manifest_event,
    parse_type,
)
from fluence_dao.subgraph._build import build_subgraph, graph_cli
from fluence_dao.subgraph._graphql import MAX_DEPTH, SubgraphMeta, SubgraphSchema, plural
from fluence_dao.subgraph._host import HostContext, HostFailure, bind, host_functions
from fluence_dao.subgraph._indexer import Indexer, IndexerConfig
from fluence_dao.subgraph._manifest import EntitySchema, Mapping, load_manifest, load_schema
from fluence_dao.subgraph._numbers import BigDecimal, bigint_from_le, bigint_to_le
from fluence_dao.subgraph._rpc import ChainRpc, EthRpc
from fluence_dao.subgraph._runtime import HandlerError, UnsupportedHostFunctionError
from fluence_dao.subgraph._server import SubgraphServer
from fluence_dao.subgraph._store import BlockPtr, DynamicDataSource, Store

__all__ = [
    "MAX_DEPTH",
    "BigDecimal",
    "BlockPtr",
    "ChainRpc",
    "DynamicDataSource",
    "EntitySchema",
    "EthRpc",
    "HandlerError",
    "HostContext",
    "HostFailure",
    "Indexer",
    "IndexerConfig",
    "Mapping",
    "Store",
    "SubgraphMeta",
    "SubgraphSchema",
    "SubgraphServer",
    "UnsupportedHostFunctionError",
    "abi_json_type",
    "asc",
    "bigint_from_le",
    "bigint_to_le",
    "bind",
    "build_subgraph",
    "decode_elementary",
    "graph_cli",
    "host_functions",
    "load_manifest",
    "load_schema",
    "parse_call_signature",
    "parse_manifest_event",
    "parse_type",
    "plural",
]
