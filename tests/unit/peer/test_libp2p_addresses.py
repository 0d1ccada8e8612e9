"""Relay multiaddrs for the libp2p client (`run --relay`) and the daemon's libp2p port setting: no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.errors import ConfigError
from fluence_dao.peer.daemon import DaemonConfig
from fluence_dao.peer.libp2p import parse_relay_multiaddr
from fluence_dao.peer.particle import KeyPair

PEER = KeyPair.from_seed(bytes(range(32))).peer_id


def test_a_loopback_websocket_relay_is_parsed() -> None:
    relay = parse_relay_multiaddr(f" /ip4/127.0.0.1/tcp/9991/ws/p2p/{PEER} ")
    assert (relay.port, relay.websocket, relay.peer_id) == (9991, True, PEER)
    assert relay.multiaddr == f"/ip4/127.0.0.1/tcp/9991/ws/p2p/{PEER}"
    assert parse_relay_multiaddr(f"/ip4/127.0.0.1/tcp/7777/p2p/{PEER}").websocket is False


@pytest.mark.parametrize(
    ("relay", "says"),
    [
        ("127.0.0.1:4001", "not a multiaddr"),
        (f"/ip4/10.0.0.1/tcp/4001/ws/p2p/{PEER}", "only 127.0.0.1"),
        ("/ip4/127.0.0.1/tcp/4001/ws", "/p2p/PEER_ID"),
        (f"/ip4/127.0.0.1/tcp/4001/wss/p2p/{PEER}", "unsupported protocol /wss"),
        (f"/ip4/127.0.0.1/tcp/70000/ws/p2p/{PEER}", "bad tcp port"),
        ("/ip4/127.0.0.1/tcp/4001/ws/p2p/QmNotAnEd25519Id", "not an ed25519 peer id"),
    ],
)
def test_bad_relay_multiaddrs_are_config_errors_naming_the_value(relay: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_relay_multiaddr(relay)
    assert relay in info.value.message and says in info.value.message


def test_the_libp2p_port_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLUENCE_DAO_PEER__LIBP2P_PORT", "0")
    config = DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None))
    assert config.libp2p_port == 0
    monkeypatch.delenv("FLUENCE_DAO_PEER__LIBP2P_PORT")
    assert DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None)).libp2p_port is None
    assert (
        DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None), libp2p_port=0).libp2p_port
        == 0
    )
