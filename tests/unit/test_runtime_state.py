"""devnet.json as a typed record, and the one endpoint resolver both the devnet and the peer use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.errors import ConfigError, DevnetError
from fluence_dao.runtime import (
    DevnetInfo,
    DevnetPaths,
    PeerInfo,
    read_devnet_info,
    read_info,
    resolve_endpoint,
    write_info,
)

RECORD = {
    "chain_id": 31337,
    "rpc_url": "http://127.0.0.1:8545",
    "ens": {"registry": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "public_resolver": "0xe7f1"},
    "ipfs": {"api_url": "http://127.0.0.1:5001", "api_token_file": "/x/ipfs/api-token"},
    "processes": {"anvil": {"pid": 10, "port": 8545, "log": "/x/anvil.log", "started_now": True}},
    "names": {"public-record.eth": {"owner": "0xf39f"}},
    "explorer": {"url": "http://127.0.0.1:4000"},
}


def test_devnet_json_reads_typed_and_keeps_unknown_keys(tmp_path: Path) -> None:
    write_info(DevnetPaths.under(tmp_path), RECORD)
    info = read_devnet_info(tmp_path)
    assert info is not None
    assert info.rpc_url == "http://127.0.0.1:8545" and info.ens.registry == RECORD["ens"]["registry"]
    assert info.ipfs is not None and info.ipfs.api_url == "http://127.0.0.1:5001" and info.subgraph is None
    assert info.processes["anvil"].port == 8545
    assert info.names["public-record.eth"].owner == "0xf39f" and info.names["public-record.eth"].resolver is None
    assert info.to_json()["explorer"] == RECORD["explorer"]  # kept, though the model does not name it
    assert info.to_json() == {**RECORD, "version": 1}  # written back as it was: no defaults added


def test_write_info_takes_the_typed_record(tmp_path: Path) -> None:
    paths = DevnetPaths.under(tmp_path)
    write_info(paths, DevnetInfo(rpc_url="http://127.0.0.1:8545", peer=PeerInfo(address="127.0.0.1:7777")))
    assert json.loads(paths.info_file.read_text()) == {
        "rpc_url": "http://127.0.0.1:8545",
        "peer": {"address": "127.0.0.1:7777"},
        "version": 1,
    }
    info = read_info(paths)
    assert info is not None and info == read_devnet_info(tmp_path)
    assert info.peer is not None and info.peer.address == "127.0.0.1:7777" and info.ipfs is None


def test_no_devnet_is_none_and_a_broken_record_names_the_file(tmp_path: Path) -> None:
    assert read_devnet_info(tmp_path) is None
    paths = DevnetPaths.under(tmp_path)
    paths.root.mkdir(parents=True)
    paths.info_file.write_text(json.dumps({"version": 1, "chain_id": "not a number"}))
    with pytest.raises(DevnetError, match=r"devnet\.json does not hold a devnet record"):
        read_devnet_info(tmp_path)
    with pytest.raises(Exception, match="chain_id"):
        write_info(paths, {"chain_id": "not a number"})


def test_resolve_endpoint_fills_devnet_values_and_lets_settings_win(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    with pytest.raises(ConfigError, match="run `fluence-dao devnet up`"):
        resolve_endpoint(settings)
    write_info(DevnetPaths.under(tmp_path), RECORD)
    endpoint = resolve_endpoint(settings)
    assert (endpoint.rpc_url, endpoint.chain_id, endpoint.ens_registry) == (
        "http://127.0.0.1:8545",
        31337,
        RECORD["ens"]["registry"],
    )
    mine = load_settings({"state_dir": tmp_path, "eth": {"rpc_url": "http://127.0.0.1:9"}}, env_file=None)
    assert resolve_endpoint(mine).rpc_url == "http://127.0.0.1:9"
