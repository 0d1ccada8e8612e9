"""Finding the peer daemon (no sockets): loopback-only addresses, daemon.json, the configured port, the CLI key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.errors import ConfigError
from fluence_dao.peer import KeyPair
from fluence_dao.peer.daemon import DaemonConfig, client_key_path, daemon_file
from fluence_dao.peer.remote import client_key_pair, daemon_address, parse_address


def test_parse_address_is_loopback_only() -> None:
    assert parse_address("127.0.0.1:4001") == ("127.0.0.1", 4001)
    assert parse_address("localhost:4001") == ("127.0.0.1", 4001)
    assert parse_address(("127.0.0.1", 9)) == ("127.0.0.1", 9)
    with pytest.raises(ConfigError, match=r"peer\.invalid:4001: only 127\.0\.0\.1 is supported"):
        parse_address("peer.invalid:4001")  # a reserved name: never resolves, never dialed
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        parse_address("127.0.0.1")
    with pytest.raises(ConfigError, match="bad port"):
        parse_address("127.0.0.1:70000")


def test_daemon_address_from_daemon_json_or_the_configured_port(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    assert daemon_address(settings) is None
    path = daemon_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"address": "127.0.0.1:5555", "peer_id": "x", "pid": 1}))
    assert daemon_address(settings) == "127.0.0.1:5555"
    path.write_text("{not json")
    assert daemon_address(settings) is None
    configured = load_settings({"state_dir": tmp_path, "peer": {"port": 6000}}, env_file=None)
    assert daemon_address(configured) == "127.0.0.1:6000"


def test_the_cli_key_persists(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    first = client_key_pair(settings)
    assert client_key_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert client_key_pair(settings).peer_id == first.peer_id


def test_daemon_config_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {"state_dir": tmp_path, "peer": {"port": 7000}, "ipfs": {"api_url": "http://127.0.0.1:5001"}}, env_file=None
    )
    config = DaemonConfig.from_settings(settings, ipfs_local_api_multiaddr=None, management_peer_ids=None)
    assert config.port == 7000 and config.state_dir == tmp_path and config.ipfs_api_url == "http://127.0.0.1:5001"
    assert config.management_peer_ids is None  # None: the CLI key decides at start
    assert DaemonConfig.from_settings(settings, port=0).port == 0


def test_management_peer_ids_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = KeyPair.generate().peer_id
    monkeypatch.setenv("FLUENCE_DAO_PEER__MANAGEMENT_PEER_IDS", json.dumps([manager]))
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    assert DaemonConfig.from_settings(settings).management_peer_ids == frozenset({manager})
    monkeypatch.setenv("FLUENCE_DAO_PEER__MANAGEMENT_PEER_IDS", json.dumps(["not-a-peer-id"]))
    with pytest.raises(ConfigError, match="management peer id 'not-a-peer-id' is not an ed25519 libp2p peer id"):
        DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None))
